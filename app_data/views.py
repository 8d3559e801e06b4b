"""Pure helpers that shape query results for the pages: no database, no Streamlit.

Items, compare rows and the Home page's next steps; a job's status line (phase, time so far against the usual
duration, ETA, when a cancel takes effect); a typed tag's stored form; a decision's message with what it left as a
person decided it; evaluation coverage and its warning; log-axis ticks; blank cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app_data.queries import ItemDetail, ReviewProgress
from betag_engine.catalog.normalize import is_rewritten
from betag_engine.curation.decisions import stored_form
from betag_engine.evaluation.protocol import cell_label
from betag_engine.vocabulary import (
    APPROVED,
    BASE,
    BETAG,
    CURATED,
    EDITED,
    JOB_CANCELLED,
    JOB_DONE,
    JOB_PENDING,
    JOB_RUNNING,
    PENDING,
    POPULAR,
    REJECTED,
    REMOVED,
    SYSTEM_ORDER,
)

STATE_ICONS = {APPROVED: "✔", REJECTED: "✘", EDITED: "✎", REMOVED: "−", PENDING: "·"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """Escape untrusted text for st.markdown/st.subheader (markdown specials and angle brackets)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def tag_line(tag: Any, show_count: bool = True) -> str:
    """A proposed tag on the Review page: "fantasy (count 3 · conf 0.82)"; the count only where counts differ."""
    extra = [f"count {tag.count:g}"] if show_count else []
    if tag.confidence is not None:
        extra.append(f"conf {tag.confidence:.2f}")
    return f"{tag.tag}  ({' · '.join(extra)})" if extra else tag.tag


def state_label(state: str) -> str:
    """A tag's review state with its icon, e.g. "✔ approved"."""
    return f"{STATE_ICONS.get(state, '')} {state}"


def compare_rows(detail: ItemDetail, states: dict[str, str] | None = None,
                 systems: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per tag: each system's count and confidence, how many systems share it, and its review state.

    Args:
        systems: the systems compared (default: every system of ``detail``); "shared" counts only these.
    """
    names = [n for n in (systems if systems is not None else detail.tags) if n in detail.tags]
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        for ts in detail.tags[name]:
            row = table.setdefault(ts.tag, {"tag": ts.tag})
            row[f"{name} count"] = ts.count
            row[f"{name} conf"] = ts.confidence
    rows = []
    for tag, row in table.items():
        shared = sum(1 for n in names if n != CURATED and f"{n} count" in row)
        row["shared by"] = shared
        row["shared"] = "★ shared" if shared > 1 else ""
        row["state"] = (states or {}).get(tag, "")
        rows.append(row)
    rows.sort(key=lambda r: (-r["shared by"], r["tag"]))
    return rows


def default_compare_systems(names: list[str]) -> list[str]:
    """The systems Compare shows first: those of ``SYSTEM_ORDER`` present, else the first four."""
    chosen = [n for n in SYSTEM_ORDER if n in names]
    return chosen or list(names[:4])


def next_steps(by_name: dict, progress: ReviewProgress, jobs: list[dict]) -> list[str]:
    """What the Home page suggests next, from the systems' stats, the review progress and the recent jobs."""
    steps = []
    if any(j["status"] in (JOB_PENDING, JOB_RUNNING) for j in jobs):
        steps.append("A job is running: follow it on **Generate**.")
    if not by_name.get(BASE) or not by_name[BASE].items_tagged:
        steps.append("Generate **base tags** (one LLM prompt per item) on **Generate**.")
    elif not by_name.get(BETAG) or not by_name[BETAG].items_tagged:
        steps.append("Finetune on behaviour and generate **BETag** tags on **Generate**.")
    if progress.curated_tags == 0:
        steps.append("Approve tags on **Review** (one item) or **Bulk review & export** (many items).")
    else:
        steps.append("Check what approved tags change in **Retrieval preview**, then run an evaluation.")
    steps.append("Bring your own catalog on **Import** (or `python -m betag_engine import`).")
    return steps


# --- jobs -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobStatus:
    """How the Generate page shows one job: the progress bar's value (None: no units yet, no bar), its line, and
    when a requested cancel takes effect ("" when none was requested)."""

    fraction: float | None
    line: str
    cancel_note: str = ""


def job_message(message: str) -> str:
    """A job's message as a person reads it (an evaluation's unit key such as "-|popular|item|test" of a job
    recorded before messages were written out becomes "Popular, item-based, test")."""
    return cell_label(message) if message.count("|") == 3 and " " not in message else message


def _seconds(since: str | datetime | None, now: datetime) -> float | None:
    if not since:
        return None
    start = datetime.fromisoformat(since) if isinstance(since, str) else since
    return max(0.0, (now - start).total_seconds())


def job_status(job: dict, now: datetime) -> JobStatus:
    """The line of a job row (``queries.recent_jobs``): a long step's name, time so far and usual duration; units
    done with the message and the ETA text the job wrote; or the outcome. ``now`` is UTC like the job's times."""
    progress = job.get("progress") or {}
    done, total, status = job["done"], job["total"], job["status"]
    message = job_message(job.get("message") or "")
    counted = f"{done:,}/{total:,}"
    if status == JOB_PENDING:
        return JobStatus(None, "waiting for its worker process to start", _cancel_note(job, progress))
    if status == JOB_RUNNING:
        if progress.get("phase"):
            return JobStatus(None, _phase_line(progress, now), _cancel_note(job, progress))
        if total:
            eta = f" · {progress['eta']}" if progress.get("eta") else ""
            return JobStatus(min(1.0, done / total), f"{counted} · {message}{eta}", _cancel_note(job, progress))
        elapsed = _seconds(job.get("started"), now)
        since = f" · {elapsed:.0f} s so far" if elapsed is not None else ""
        doing = f": {message}" if message and message != "starting" else ""
        return JobStatus(None, f"starting{doing}{since}", _cancel_note(job, progress))
    fraction = min(1.0, done / total) if total else None
    if status == JOB_DONE:
        took = job.get("ran_s")  # every run of the job, a resumed one's summed (Job.run_seconds)
        return JobStatus(1.0, "done" + (f" · {counted}" if total else "") + (f" in {took:.0f} s" if took else ""))
    if status == JOB_CANCELLED:
        return JobStatus(fraction, f"cancelled after {counted}; finished units are kept, Resume continues")
    first = (job.get("error") or "").strip().splitlines()
    return JobStatus(fraction, f"{status} after {counted}" + (f": {first[-1][:200]}" if first else ""))


def _phase_line(progress: dict, now: datetime) -> str:
    line = f"{progress['phase']}: {progress.get('detail') or ''}".rstrip(": ")
    elapsed = _seconds(progress.get("since"), now)
    if elapsed is None:
        return line
    line += f" · {elapsed:.0f} s so far"
    expected = progress.get("expected_s")
    if expected:
        low, high = expected
        line += (f", usually {low:.0f}-{high:.0f} s" if elapsed <= high else
                 f", longer than the usual {low:.0f}-{high:.0f} s (the CPU is busy with other work)")
    return line


def _cancel_note(job: dict, progress: dict) -> str:
    if not job.get("cancel_requested"):
        return ""
    if progress.get("phase"):
        expected = progress.get("expected_s")
        usual = f" (usually {expected[0]:.0f}-{expected[1]:.0f} s in all)" if expected else ""
        return (f"Cancel requested: the job stops when '{progress['phase']}' ends{usual}; its result is kept for "
                "the next job.")
    step = progress.get("step_s")
    took = f" (the last batch took {step:.0f} s)" if step else ""
    return f"Cancel requested: the job stops at the end of its current batch{took}; finished units are kept."


# --- tags on the way in ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagPreview:
    """What a typed tag will be stored as: ``stored`` ("" when it cannot be), whether that differs from what was
    typed beyond case and spacing (``rewritten``: the reviewer confirms it first), and the line to show."""

    stored: str
    rewritten: bool
    message: str


def tag_preview(typed: str) -> TagPreview:
    """The stored form of a tag a reviewer typed (curation's own rule), and how to tell them."""
    typed = (typed or "").strip()
    if not typed:
        return TagPreview("", False, "")
    try:
        stored = stored_form(typed)
    except ValueError as exc:
        return TagPreview("", False, str(exc))
    if is_rewritten(typed, stored):
        return TagPreview(stored, True, f"Will be saved as '{stored}' (tags keep letters, digits, spaces and "
                                        "& ' + # % . / - inside; list marks, quotes and leading symbols go).")
    if stored != typed:
        return TagPreview(stored, False, f"Will be saved as '{stored}'.")
    return TagPreview(stored, False, "")


# --- decisions ------------------------------------------------------------------------------------------------

def decision_message(done: str, result: Any) -> tuple[str, str]:
    """(flash kind, message) after a decision call: "success", or "warning" when tags were left as a person
    decided them (the message names each, with the reason)."""
    skipped = result.skip_summary() if result is not None else ""
    changed = len(result.decision_ids) if result is not None else 0
    text = done.format(n=changed)
    return ("warning", f"{text} {skipped}") if skipped else ("success", text)


# --- evaluation -----------------------------------------------------------------------------------------------

COVERAGE_WARNING = 0.5  # a system tagging fewer items than this share is scored on a catalog it barely covers


def coverage_by_system(payload: dict) -> dict[str, float]:
    """Share of the evaluated items each system tags, from a report's tag statistics (n_tagged_items / n_items)."""
    out = {}
    for name, stats in (payload.get("tag_stats") or {}).items():
        n = stats.get("n_items") or 0
        if n:
            out[name] = stats.get("n_tagged_items", 0) / n
    return out


def low_coverage(coverage: dict[str, float], threshold: float = COVERAGE_WARNING) -> list[str]:
    """One line per system below ``threshold``, saying what its scores mean."""
    return [f"{name} tags {share:.1%} of the items: its scores rank items that mostly have no tags at all, so they "
            "say little about its tags; compare systems at similar coverage."
            for name, share in sorted(coverage.items(), key=lambda kv: kv[1]) if share < threshold]


def coverage_text(share: float | None, retriever: str = "") -> str:
    """A coverage cell: "0.4% ⚠" below the warning threshold, "uses no tags" for Popular, "" when unknown."""
    if retriever == POPULAR:
        return "uses no tags"
    if share is None:
        return ""
    return f"{share:.1%}" + (" ⚠" if share < COVERAGE_WARNING else "")


def as_text(frame, formats: dict[str, str]):
    """A copy of ``frame`` whose ``formats`` columns are text ("" where a value is missing, never "None")."""
    out = frame.copy()
    for column, fmt in formats.items():
        if column in out.columns:
            out[column] = [fmt.format(v) if blank(v) != "" else "" for v in out[column]]
    return out


def log_ticks(values) -> tuple[list[float], list[str]]:
    """Tick positions and labels 1, 10, 100, 1,000 ... covering ``values`` (a log axis)."""
    top = max([float(v) for v in values if v] or [1.0])
    ticks, v = [], 1.0
    while v <= top * 10:
        ticks.append(v)
        v *= 10
    return ticks, [f"{t:,.0f}" for t in ticks]


def blank(value: Any) -> Any:
    """A cell with no value shown as "" instead of None/NaN ("None" reads as a tag or a name)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value

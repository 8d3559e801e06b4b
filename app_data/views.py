"""Pure helpers that shape query results for the pages: no database, no Streamlit."""

from __future__ import annotations

import re
from typing import Any

from app_data.queries import ItemDetail, ReviewProgress
from betag_engine.vocabulary import (
    APPROVED,
    BASE,
    BETAG,
    CURATED,
    EDITED,
    JOB_PENDING,
    JOB_RUNNING,
    PENDING,
    REJECTED,
    REMOVED,
    SYSTEM_ORDER,
)

STATE_ICONS = {APPROVED: "✔", REJECTED: "✘", EDITED: "✎", REMOVED: "−", PENDING: "·"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """Escape untrusted text for st.markdown/st.subheader (markdown specials and angle brackets)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


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

"""Run the fuzz corpus (corpus.py) through the importer and count what happened, case by case.

Counts: refused cleanly (refused, naming the mutated file, row and field, nothing changed), accepted cleanly
(a legitimate variant: exactly the fresh rows added), tracebacks (any exception but the import's own refusal),
silent changes (a malformed file accepted, or a value stored other than the file says), partial writes (refused,
yet something changed), lost rows (accepted, yet a row that should be there is not), wrongly located (refused
without naming the right row or field), wrongly refused (a legitimate file refused). With ``--skip-invalid`` a
share of the malformed cases runs again: the report must list the mutated row and the database must hold exactly
the rows that were not refused.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import random
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus import BASE_INTERACTIONS, BASE_ITEMS, BASE_TAGS, COLUMNS, Case, Table, build_corpus, write_table
from sqlalchemy import select

from betag_engine.catalog.importer import ImportOptions, import_files
from betag_engine.errors import ImportValidationError
from db.models import Interaction, Item, ItemTag, TaggingSystem, User
from db.session import session_scope

IN_PLACE = ("ts-", "rating-", "control-", "newline-in-", "long-id-", "empty-", "long-title", "long-metadata",
            "long-tag-in", "bad-tag-in", "unknown-item", "latin1-", "json-nested", "conflicts-with-stored")


@dataclass
class FuzzCounts:
    cases: int = 0
    malformed_files: int = 0
    wellformed_files: int = 0
    option_errors: int = 0
    refused_cleanly: int = 0
    accepted_cleanly: int = 0
    tracebacks: int = 0
    silent_changes: int = 0
    partial_writes: int = 0
    lost_rows: int = 0
    wrongly_located: int = 0
    wrongly_refused: int = 0
    skip_invalid_runs: int = 0
    skip_invalid_exact: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, case: Case, what: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(f"case {case.number} {case.kind} ({case.fmt}, {case.target}): {what}")


def fingerprint(url: str) -> dict[str, Any]:
    """Everything an import can change, by external ids (not row ids)."""
    with session_scope(url) as s:
        items = {ext: (title, desc, dict(meta or {})) for ext, title, desc, meta in
                 s.execute(select(Item.external_id, Item.title, Item.description, Item.metadata_json))}
        users = set(s.scalars(select(User.external_id)))
        interactions = {(u, i, float(ts)): (None if r is None else float(r)) for u, i, ts, r in s.execute(
            select(User.external_id, Item.external_id, Interaction.timestamp, Interaction.rating)
            .join(User, User.id == Interaction.user_id).join(Item, Item.id == Interaction.item_id))}
        tags: dict[str, list[str]] = {}
        for ext, tag in s.execute(select(Item.external_id, ItemTag.tag).join(Item, Item.id == ItemTag.item_id)
                                  .join(TaggingSystem, TaggingSystem.id == ItemTag.system_id)
                                  .where(TaggingSystem.name == "native").order_by(ItemTag.id)):
            tags.setdefault(ext, []).append(tag)
    return {"items": items, "users": users, "interactions": interactions, "tags": tags}


def _merged(before: dict, fresh: dict) -> dict:
    out = copy.deepcopy(before)
    out["items"].update(fresh["items"])
    out["users"] |= fresh["users"]
    out["interactions"].update(fresh["interactions"])
    out["tags"].update(fresh["tags"])
    return out


def load_base(url: str, folder: Path) -> None:
    """Import the clean base catalog (what every case re-states)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, rows in (("items", BASE_ITEMS), ("interactions", BASE_INTERACTIONS), ("tags", BASE_TAGS)):
        paths[kind] = folder / f"base-{kind}.csv"
        write_table(Table(kind, list(COLUMNS[kind]), [list(r) for r in rows]), "csv", paths[kind])
    import_files(url, paths["items"], paths["interactions"], paths["tags"])


def _located(problems: list, case: Case) -> bool:
    name = case.files[case.target].name
    for p in problems:
        if p.file != name or not p.reason:
            continue
        if case.row == "any":
            return True
        if case.row is None:
            if case.field is None or p.field == case.field:
                return True
        elif p.row == case.row and (case.field is None or p.field == case.field):
            return True
    return False


def _import(url: str, case: Case, **options) -> tuple[str, Any]:
    try:
        summary = import_files(url, case.files["items"], case.files["interactions"], case.files["tags"],
                               options=ImportOptions(**case.options, **options))
        return "accepted", summary
    except ImportValidationError as exc:
        return "refused", exc.problems
    except Exception:  # noqa: BLE001 - counting tracebacks is the point
        return "traceback", traceback.format_exc()


def run_case(url: str, case: Case, counts: FuzzCounts) -> None:
    before = fingerprint(url)
    outcome, detail = _import(url, case)
    after = fingerprint(url)
    counts.cases += 1
    if outcome == "traceback":
        counts.tracebacks += 1
        counts.fail(case, detail.strip().splitlines()[-1])
    if case.expect == "refuse":
        counts.malformed_files += 1
        if after != before:
            counts.partial_writes += outcome != "accepted"
            counts.silent_changes += outcome == "accepted"
            counts.fail(case, f"{outcome}, database changed")
        elif outcome == "refused":
            if _located(detail, case):
                counts.refused_cleanly += 1
            else:
                counts.wrongly_located += 1
                counts.fail(case, f"expected row {case.row} field {case.field}: {[str(p) for p in detail[:3]]}")
        elif outcome == "accepted":
            counts.silent_changes += 1
            counts.fail(case, "malformed file accepted")
        return
    counts.wellformed_files += 1
    if outcome == "refused":
        counts.wrongly_refused += 1
        counts.fail(case, f"legitimate file refused: {[str(p) for p in detail[:3]]}")
        return
    if outcome == "accepted":
        _compare(case, counts, _merged(before, case.fresh), after, lambda: counts.__setattr__(
            "accepted_cleanly", counts.accepted_cleanly + 1))


def _compare(case: Case, counts: FuzzCounts, expected: dict, after: dict, ok) -> bool:
    if after == expected:
        ok()
        return True
    lost = any(k not in after[part] for part in ("items", "interactions", "tags") for k in expected[part])
    lost = lost or bool(expected["users"] - after["users"])
    if lost:
        counts.lost_rows += 1
    else:
        counts.silent_changes += 1
    diff = {part: (sorted(map(str, set(after[part]) ^ set(expected[part])))[:3] or
                   [k for k in expected[part] if after[part].get(k) != expected[part].get(k)][:3])
            for part in ("items", "interactions", "tags") if after[part] != expected[part]}
    counts.fail(case, f"{'lost rows' if lost else 'stored other values'}: {diff}")
    return False


def run_skip_invalid(url: str, case: Case, clean_row: list, report: Path, counts: FuzzCounts) -> None:
    """Run a malformed case again with skip_invalid: exactly the rows that were not refused must be stored."""
    before = fingerprint(url)
    outcome, detail = _import(url, case, skip_invalid=True, report_path=str(report))
    after = fingerprint(url)
    counts.skip_invalid_runs += 1
    if outcome != "accepted":
        counts.tracebacks += outcome == "traceback"
        counts.fail(case, f"skip-invalid: {outcome}: {str(detail)[-300:]}")
        return
    with report.open(newline="", encoding="utf-8", errors="replace") as fh:
        listed = {(r["file"], r["row"]) for r in csv.DictReader(fh)}
    if (case.files[case.target].name, str(case.row)) not in listed:
        counts.wrongly_located += 1
        counts.fail(case, f"skip-invalid: row {case.row} not in the report {sorted(listed)[:5]}")
        return
    _compare(case, counts, _expected_after_skip(case, clean_row, before), after, lambda: counts.__setattr__(
        "skip_invalid_exact", counts.skip_invalid_exact + 1))


def _expected_after_skip(case: Case, clean: list, before: dict) -> dict:
    """The database after importing every row but the mutated one (``clean``: its values before the mutation).

    An import replaces the native tags of each item it names, so leaving out a tags row leaves out that tag; an
    items row refused for a reason other than its id takes the rows that name its item with it; one refused for
    its id cannot be connected to them, so the item's tags come from the tags file alone."""
    from betag_engine.catalog.normalize import normalize_tag

    exp = _merged(before, case.fresh)
    if case.target == "items":
        item = clean[0]
        if case.field == "item_id" and item in before["items"]:
            exp["tags"][item] = [normalize_tag(t) for it, t in BASE_TAGS if it == item]
        else:
            if item not in before["items"]:
                exp["items"].pop(item, None)
                exp["tags"].pop(item, None)
            exp["interactions"] = {k: v for k, v in exp["interactions"].items()
                                   if k[1] != item or k in before["interactions"]}
    elif case.target == "interactions":
        key = (clean[0], clean[1], float(clean[2]))
        if key not in before["interactions"]:
            exp["interactions"].pop(key, None)
    elif case.target == "tags":
        tag = normalize_tag(str(clean[1]))
        exp["tags"][clean[0]] = [t for t in exp["tags"].get(clean[0], []) if t != tag]
    exp["users"] = before["users"] | {k[0] for k in exp["interactions"]}
    return exp


def run_cli_case(url: str, case: Case, counts: FuzzCounts) -> None:
    from betag_engine.cli import main

    before = fingerprint(url)
    err = io.StringIO()
    counts.cases += 1
    counts.option_errors += 1
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["--database-url", url, "import", "--items", str(case.files["items"]), *case.cli])
    except BaseException:  # noqa: BLE001 - an exception out of main is a traceback for the user
        counts.tracebacks += 1
        counts.fail(case, traceback.format_exc().strip().splitlines()[-1])
        return
    text = err.getvalue()
    if fingerprint(url) != before:
        counts.partial_writes += 1
        counts.fail(case, f"{case.cli}: database changed")
    elif code == 2 and text.startswith("error: ") and case.field in text and "Traceback" not in text:
        counts.refused_cleanly += 1
    else:
        counts.wrongly_located += 1
        counts.fail(case, f"{case.cli}: exit {code}, {text[:200]!r}")


def run_corpus(url: str, folder: Path, count: int, seed: int = 15, skip_share: float = 0.25,
               sample: int | None = None) -> FuzzCounts:
    """Load the base catalog into ``url``, build the corpus in ``folder`` and run it; returns the counts."""
    load_base(url, folder / "base")
    cases = build_corpus(count, seed, folder)
    if sample is not None and sample < len(cases):
        cases = random.Random(seed).sample(cases, sample)
    counts = FuzzCounts()
    rng = random.Random(seed + 1)
    for case in cases:
        if case.cli is not None:
            run_cli_case(url, case, counts)
            continue
        run_case(url, case, counts)
        if case.expect == "refuse" and isinstance(case.row, int) and case.kind.startswith(IN_PLACE) \
                and rng.random() < skip_share and case.clean_row is not None:
            run_skip_invalid(url, case, case.clean_row, folder / f"refused-{case.number}.csv", counts)
            load_base(url, folder / "base")  # a skip run may leave base items with fewer tags: restore them
    return counts

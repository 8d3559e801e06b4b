"""The reliability suite on a sample (tests/reliability/run.py runs all of it): malformed files, kill -9 of a real
job, two writers at once; on SQLite and PostgreSQL. Every count of harm must be zero."""

import json

import pytest
from sizes import DECISIONS, FILES, KILLS


def _zero(counts: dict, *keys: str) -> None:
    shown = json.dumps({k: v for k, v in counts.items() if k != "failures"}, default=str)
    assert all(counts[k] == 0 for k in keys), f"{shown}\n" + "\n".join(counts.get("failures", [])[:20])


def test_malformed_files_are_refused_cleanly_and_good_ones_imported_exactly(make_db, tmp_path):
    from dataclasses import asdict

    from fuzz import run_corpus

    counts = asdict(run_corpus(make_db(), tmp_path / "corpus", FILES))
    _zero(counts, "tracebacks", "silent_changes", "partial_writes", "lost_rows", "wrongly_located",
          "wrongly_refused")
    assert counts["malformed_files"] == FILES and counts["refused_cleanly"] == FILES + counts["option_errors"]
    assert counts["accepted_cleanly"] == counts["wellformed_files"] > 0
    assert counts["skip_invalid_exact"] == counts["skip_invalid_runs"] > 0


def test_the_suite_sees_a_lax_importer(db_url, tmp_path, monkeypatch):
    """The counts mean something: an importer that takes 'now' for the import time is caught changing data."""
    import time

    from corpus import build_case
    from fuzz import FuzzCounts, load_base, run_case

    from betag_engine.catalog import rules

    real = rules._parse_text
    monkeypatch.setattr(rules, "_parse_text", lambda text, rule: time.time() if text.lower() == "now" else
                        real(text, rule))
    load_base(db_url, tmp_path / "base")
    case = build_case(1, __import__("random").Random(0), tmp_path / "case", kind="ts-relative")
    for row in case.files["interactions"].read_text().splitlines():
        if any(w in row.lower() for w in ("today", "yesterday", "tomorrow", "ago", "last")):
            pytest.skip("this seed drew another relative word")
    counts = FuzzCounts()
    run_case(db_url, case, counts)
    assert counts.silent_changes == 1 and counts.refused_cleanly == 0


def test_kill_minus_9_loses_and_duplicates_nothing_and_the_status_tells(make_db, tmp_path):
    from kill import kill_points

    counts = kill_points(make_db, tmp_path / "kill", KILLS)
    _zero(counts, "status_wrong", "lost_tags", "duplicated_tags", "extra_job_rows")
    assert counts["kill_points"] == KILLS and counts["status_correct"] == KILLS
    assert counts["final_status"] == "done"


def test_two_writers_at_once(make_db, tmp_path):
    from concurrency import run_all

    results = run_all(make_db, tmp_path / "writers", DECISIONS, import_rows=10_000, job_import_rows=50_000)
    for part in results.values():
        _zero(part, *(k for k in ("crashes", "lost_rows", "duplicated_rows", "lost_updates") if k in part))
        assert part["exact_totals"], part
    assert results["import_x_job"]["job_status"] == "done"
    assert results["reviewer_x_reviewer"]["decisions_made"] > DECISIONS  # both reviewers' decisions, all stored


def test_kill_minus_9_during_an_import_leaves_all_or_nothing(make_db, tmp_path):
    from kill_import import kill_import

    result = kill_import(make_db(), tmp_path / "kill-import", delays=(1.0, 3.0, 5.0))
    before, final = result["before"], result["final"]
    assert final[0] > before[0] and final[1] > before[1]
    for point in result["after_kills"]:
        assert point["counts"] in (before, final), result  # never a part of the import
    assert any(p["counts"] == before and not p["finished_first"] for p in result["after_kills"]), result

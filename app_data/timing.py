"""``python -m app_data.timing``: each page's data calls, timed cold (caches empty) and warm, then each page
rendered whole (Streamlit's AppTest), on the database of the settings (``BETAG_DATABASE_URL``).
``python -m betag_engine bench scale`` runs it as its "pages" step.

The calls are the ones the pages make, with the sidebar's default filter and the catalog's first item; a
page's time is the sum of its calls. Cold: right after ``services.changed()`` (what a first visit, or the first
visit after a write, pays); warm: the same calls again (what moving between pages pays). Streamlit's caches work
here without a server (an in-memory store).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from collections.abc import Callable

from app_data import queries, services
from betag_engine.curation.audit import AuditFilter, audit_rows, reviewers
from betag_engine.curation.export import export_curated
from betag_engine.curation.preview import titles
from betag_engine.curation.state import tag_states
from betag_engine.vocabulary import BM25, NATIVE

SEARCH = "Blender Zephyr"  # two words, in the other order than titles hold them
BULK_BATCH = 1000  # pages/bulk.py's batch


def pages(item_id: int) -> dict[str, list[tuple[str, Callable[[], object]]]]:
    """Page -> its data calls (name, call), as the pages make them."""
    f = queries.ItemFilter()
    draft = {"draft tag": 1.0}
    return {
        "sidebar": [("native tags", services.native_tags), ("systems", services.systems),
                    ("current item", lambda: services.first_id(f))],
        "Home": [("counts", services.counts), ("system stats", services.stats),
                 ("review progress", lambda: services.read(queries.review_progress)),
                 ("recent jobs", lambda: services.read(queries.recent_jobs, 8))],
        "Catalog": [("page 1 of the filter", lambda: services.read(queries.search_items, f, page=1, page_size=25)),
                    ("item detail", lambda: services.read(queries.item_detail, item_id))],
        "Catalog search": [(f"'{SEARCH}'", lambda: services.read(queries.search_items,
                                                                 queries.ItemFilter(text=SEARCH), page=1))],
        "Compare": [("position in the filter", lambda: services.position(f, item_id)),
                    ("item detail", lambda: services.read(queries.item_detail, item_id)),
                    ("tag states", lambda: services.read(tag_states, item_id)),
                    ("co-consumed", lambda: services.co_items(item_id))],
        "Review": [("queue", lambda: services.read(queries.review_queue, f, NATIVE, limit=20)),
                   ("item detail", lambda: services.read(queries.item_detail, item_id)),
                   ("tag states", lambda: services.read(tag_states, item_id)),
                   ("last decision", lambda: services.read(audit_rows, AuditFilter(live_only=True), limit=1))],
        "Bulk review & export": [
            ("count", lambda: services.filter_count(f)),
            ("versions of one batch", lambda: services.read(queries.filtered_versions, f, BULK_BATCH)),
            ("curated tags in the filter", lambda: services.read(queries.curated_count, f)),
            ("export preview", lambda: services.read(export_curated, "csv",
                                                     services.read(queries.filtered_item_ids, f, 50)))],
        "Bulk: export (on click)": [("csv of the whole filter", services.export_filter("csv", f)),
                                    ("json of the whole filter", services.export_filter("json", f))],
        "Retrieval preview": [
            ("item detail", lambda: services.read(queries.item_detail, item_id)),
            ("rankings before/after a draft",
             lambda: services.preview_draft(NATIVE, BM25, item_id, item_id, draft, 10)),
            ("titles", lambda: services.read(titles, [item_id]))],
        "Evaluation": [("reports", lambda: services.read(queries.reports))],
        "Audit": [("reviewers", lambda: services.read(reviewers)),
                  ("decisions", lambda: services.read(audit_rows, AuditFilter()))],
        "Generate": [("recent jobs", lambda: services.read(queries.recent_jobs, 8))],
    }


def measure() -> list[dict]:
    """One row per page: cold and warm seconds (sums of its calls) and the slowest call."""
    first = services.read(queries.search_items, queries.ItemFilter(), page=1, page_size=1).rows[0]["id"]
    rows = []
    for page, calls in pages(first).items():
        services.changed()
        times = {}
        for phase in ("cold", "warm"):
            for name, call in calls:
                t = time.perf_counter()
                call()
                times.setdefault(name, {})[phase] = time.perf_counter() - t
        slowest = max(times, key=lambda n: times[n]["cold"])
        rows.append({"name": page, "cold_s": round(sum(t["cold"] for t in times.values()), 4),
                     "warm_s": round(sum(t["warm"] for t in times.values()), 4),
                     "note": f"slowest: {slowest} ({times[slowest]['cold']:.3f} s cold)",
                     "calls": {n: {k: round(v, 4) for k, v in t.items()} for n, t in times.items()}})
    return rows


PAGE_FILES = ("home", "catalog", "compare", "review", "bulk", "retrieval", "evaluation", "audit", "generate")


def render() -> list[dict]:
    """Each page rendered whole by Streamlit's ``AppTest`` (router, sidebar, widgets, data): the first render
    after the caches are emptied (cold) and the next one (warm)."""
    from streamlit.testing.v1 import AppTest

    from betag_engine.settings import PROJECT_ROOT

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=600)
    at.session_state["reviewer"] = "bench"
    t = time.perf_counter()
    at.run()
    rows = [{"name": "render: app start (Home)", "cold_s": round(time.perf_counter() - t, 4), "warm_s": 0.0,
             "note": "imports, first-start check, sidebar"}]
    for page in PAGE_FILES:
        times = []
        services.changed()  # the page's first render starts from empty caches, like a first visit
        for _ in range(2):
            t = time.perf_counter()
            at.switch_page(f"pages/{page}.py").run()
            times.append(time.perf_counter() - t)
        rows.append({"name": f"render: {page}", "cold_s": round(times[0], 4), "warm_s": round(times[1], 4),
                     "note": "exception" if at.exception else ""})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app_data.timing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", help="Also write the rows as JSON.")
    args = parser.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    rows = measure() + render()
    for r in rows:
        print(f"{r['name']:<22} cold {r['cold_s']:>7.3f} s  warm {r['warm_s']:>7.3f} s  {r['note']}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak memory {peak:.0f} MB")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"rows": rows, "peak_mb": round(peak, 1)}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Every page under AppTest on the demo catalog, with the key interactions (approve, bulk, undo, what-if, export)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from betag_engine.catalog.store import item_tags
from betag_engine.experiments.evaluate import save_report
from db.models import Item, Job, ReviewDecision
from db.session import session_scope

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(demo_url, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BETAG_REVIEWER", "alice")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def goto(at, page: str):
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def table(at, *columns: str):
    """The first dataframe holding all ``columns`` (display-only dataframes carry no key in AppTest)."""
    for frame in at.dataframe:
        if all(c in frame.value.columns for c in columns):
            return frame.value
    raise AssertionError(f"no dataframe with columns {columns}")


def _session(url):
    return session_scope(url)


def test_home_shows_figures_and_systems(app):
    assert [m.value for m in app.metric][:3] == ["1,682", "943", "100,000"]
    systems = table(app, "system", "coverage")
    assert list(systems["system"]) == ["native"] and systems["coverage"].iloc[0] == 1.0


def test_first_start_creates_and_imports(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from betag_engine.settings import get_settings

    monkeypatch.setenv("BETAG_DATABASE_URL", f"sqlite:///{tmp_path / 'new' / 'fresh.sqlite'}")
    monkeypatch.setenv("BETAG_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("Imported 1682 items" in s.label for s in at.status)
    assert [m.value for m in at.metric][:1] == ["1,682"]


def test_catalog_search_filter_and_detail(app):
    goto(app, "catalog")
    app.sidebar.text_input(key="f_text").input("star wars").run()
    rows = table(app, "native_tags", "review_status")
    assert rows["title"].str.contains("Star Wars").all() and len(rows) >= 1
    assert "Star Wars" in app.subheader[0].value
    app.sidebar.text_input(key="f_text").input("").run()
    app.sidebar.selectbox(key="f_native").select("documentary").run()
    assert table(app, "native_tags", "review_status")["native_tags"].str.contains("documentary").all()
    app.number_input(key="catalog_page").set_value(2).run()
    assert not app.exception


def test_compare_side_by_side_and_navigation(app, demo_url):
    with _session(demo_url) as s:
        first = s.scalar(select(Item.id).order_by(Item.id).limit(1))
        from betag_engine.catalog.store import ensure_system, set_item_tags

        set_item_tags(s, ensure_system(s, "base", "base"), first, {"animation": 1.0, "toys": 1.0})
        s.commit()
    goto(app, "compare")
    assert app.dataframe[1].value["tag"].tolist() == ["animation", "toys"]
    native = app.dataframe[0].value
    assert native.loc[native["tag"] == "animation", ""].iloc[0] == "★"
    assert not table(app, "times adjacent").empty
    app.button(key="compare_next").click().run()
    assert app.session_state["item_id"] != first


def test_review_approve_then_undo(app, demo_url):
    goto(app, "review")
    app.button(key="review_approve_0").click().run()
    assert not app.exception and app.success
    with _session(demo_url) as s:
        item = s.scalar(select(Item).order_by(Item.id).limit(1))
        assert len(item_tags(s, "curated", [item.id])[item.id]) == 1
        d = s.scalar(select(ReviewDecision))
        assert (d.reviewer, d.action) == ("alice", "approve")
    app.button(key="review_undo").click().run()
    with _session(demo_url) as s:
        assert not item_tags(s, "curated")
    goto(app, "audit")
    audit = table(app, "reviewer", "before", "after")
    assert list(audit["action"]) == ["undo", "approve"]


def test_review_conflict_is_shown_not_overwritten(app, demo_url):
    goto(app, "review")
    with _session(demo_url) as s:  # another reviewer decides on the same item meanwhile
        from betag_engine.curation import reject_tags

        item = s.scalar(select(Item).order_by(Item.id).limit(1))
        tag = item_tags(s, "native", [item.id])[item.id][0].tag
        reject_tags(s, item.id, [tag], "native", "bob", item.review_version)
        s.commit()
    app.button(key="review_approve_0").click().run()
    assert any("was changed by bob" in e.value for e in app.error)
    with _session(demo_url) as s:
        assert not item_tags(s, "curated")


def test_review_edit_and_add(app, demo_url):
    goto(app, "review")
    app.text_input(key="review_add_text").input("=HYPERLINK(\"http://x\")")
    app.button(key="review_add_save").click().run()
    app.text_input(key="review_edit_new").input("Pixar Films")
    app.button(key="review_edit_save").click().run()
    assert not app.exception
    with _session(demo_url) as s:
        tags = {t.tag for v in item_tags(s, "curated").values() for t in v}
    assert "pixar films" in tags and not any(t.startswith("=") for t in tags)


def test_review_shows_the_stored_form_before_saving(app, demo_url):
    """Symbols that product tags use are kept as typed; a tag changed on the way in is shown as it will be saved,
    and nothing is saved until the reviewer has seen that."""
    goto(app, "review")
    app.text_input(key="review_add_text").input("C++").run()  # Enter: the page shows the stored form
    assert any("Will be saved as 'c++'" in c.value for c in app.caption)
    app.button(key="review_add_save").click().run()
    assert any("Added 'c++'" in s.value for s in app.success)
    app.text_input(key="review_add_text").input("-2+3")
    app.button(key="review_add_save").click().run()  # typed and saved at once: shown first, nothing saved
    assert any("'-2+3' will be saved as '2+3'" in w.value for w in app.warning)
    with _session(demo_url) as s:
        assert {t.tag for v in item_tags(s, "curated").values() for t in v} == {"c++"}
    app.button(key="review_add_save").click().run()  # the second press saves what was shown
    app.text_input(key="review_add_text").input("   ").run()
    app.text_input(key="review_edit_new").input("100% Cotton").run()
    app.button(key="review_edit_save").click().run()
    app.text_input(key="review_add_text").input("…").run()
    assert any("needs a letter or a digit" in w.value for w in app.warning)
    with _session(demo_url) as s:
        tags = {t.tag for v in item_tags(s, "curated").values() for t in v}
    assert {"c++", "2+3", "100% cotton"} <= tags


def test_bulk_approve_keeps_a_rejection_and_says_so(app, demo_url):
    """approve -> reject -> bulk approve: the rejection stays and the message names it."""
    goto(app, "review")
    app.button(key="review_approve_0").click().run()
    app.button(key="review_reject_0").click().run()
    goto(app, "bulk")
    app.sidebar.text_input(key="f_text").input("Toy Story").run()
    app.number_input(key="bulk_k").set_value(3).run()
    app.button(key="bulk_apply").click().run()
    assert any("rejected by alice ('animation' on Toy Story" in w.value for w in app.warning)
    with _session(demo_url) as s:
        item = s.scalar(select(Item).where(Item.title.like("Toy Story%")))
        curated = {t.tag for t in item_tags(s, "curated", [item.id])[item.id]}
    assert "animation" not in curated and curated == {"children's", "comedy"}


def test_bulk_approve_and_export(app, demo_url):
    goto(app, "bulk")
    app.sidebar.selectbox(key="f_native").select("film-noir").run()
    app.number_input(key="bulk_k").set_value(1).run()  # callbacks bind what the reviewer saw
    app.button(key="bulk_apply").click().run()
    assert not app.exception and app.success
    with _session(demo_url) as s:
        curated = item_tags(s, "curated")
        s.execute(update(Item).where(Item.id == next(iter(curated))).values(title="<script>alert(1)</script>"))
        s.commit()
    assert len(curated) == 24 and all(len(v) == 1 for v in curated.values())
    goto(app, "bulk")
    with _session(demo_url) as s:
        from betag_engine.curation.export import export_curated

        rows = list(csv.DictReader(io.StringIO(export_curated(s, "csv", list(curated)))))
    assert len(rows) == 24 and "<script>alert(1)</script>" in {r["title"] for r in rows}
    assert "<script>alert(1)</script>" in app.code[0].value  # the preview shows it as plain text
    goto(app, "audit")
    batch = app.selectbox(key="audit_undo_batch").value
    app.button(key="audit_undo_batch_btn").click().run()
    with _session(demo_url) as s:
        assert not item_tags(s, "curated")
        assert s.scalar(select(ReviewDecision).where(ReviewDecision.batch_id == batch)).undone_by


def test_what_if_draft_changes_the_ranking(app, demo_url):
    goto(app, "retrieval")
    app.radio(key="rp_qtype").set_value("tags").run()
    app.text_input(key="rp_tags").input("animation, documentary").run()
    before = app.dataframe[0].value
    assert before["change"].eq("=").all()
    draft = [t for t in app.text_input if t.key.startswith("rp_draft_")][0]
    draft.input("animation, documentary").run()
    after = app.dataframe[1].value
    edited = after[after["title"].str.startswith("✎ Toy Story")]
    assert len(edited) == 1 and edited["change"].iloc[0] == "new"
    assert not before["title"].str.contains("Toy Story").any()
    moved = app.dataframe[0].value["change"]
    assert moved.isin(["out"]).any() and moved.str.fullmatch(r"=|out|→ \d+").all()  # read from before to after
    app.button(key="rp_approve").click().run()
    with _session(demo_url) as s:
        item = s.scalar(select(Item).order_by(Item.id).limit(1))
        assert {t.tag for t in item_tags(s, "curated", [item.id])[item.id]} == {"animation", "documentary"}


def test_generate_starts_a_worker_and_shows_it(app, demo_url):
    goto(app, "generate")
    app.selectbox(key="gen_kind").select("import-builtin").run()
    app.button(key="gen_start").click().run()
    assert not app.exception
    deadline = time.time() + 90
    with _session(demo_url) as s:
        while True:
            job = s.scalar(select(Job))
            s.refresh(job)
            if job.status in ("done", "failed") or time.time() > deadline:
                break
            time.sleep(0.5)
    assert job.status == "done", job.error
    goto(app, "generate")
    assert any("done" in e.label for e in app.expander)


def test_generate_refuses_bad_parameters_before_starting(app, demo_url):
    goto(app, "generate")
    app.selectbox(key="gen_kind").select("base-tags").run()
    app.text_area(key="gen_extra").input('{"beams": 4}').run()
    assert any("unknown parameter(s) beams" in e.value for e in app.error)
    assert app.button(key="gen_start").disabled
    for extra, message in (('{"limit": -5}', "limit must be an integer (>= 1), or null (every item); got -5"),
                           ('{"limit": 0}', "got 0"), ('{"batch_size": "8"}', "batch_size must be an integer"),
                           ('{"system": "curated"}', "reviewers' decisions"), ("[1, 2]", "must be a JSON object")):
        app.text_area(key="gen_extra").input(extra).run()
        assert any(message in e.value for e in app.error), (extra, [e.value for e in app.error])
    app.text_area(key="gen_extra").input("{}").run()
    app.radio(key="gen_subset").set_value("Items in the current filter").run()
    app.sidebar.text_input(key="f_text").input("no such title anywhere").run()
    assert any("item_ids must be a list of integers (not empty" in e.value for e in app.error)
    assert app.button(key="gen_start").disabled
    with _session(demo_url) as s:
        assert s.scalar(select(Job)) is None


def test_generate_marks_a_dead_worker_and_resumes_it(app, demo_url):
    from betag_engine.jobs.runner import create_job

    job_id = create_job("import-builtin", {"dataset": "ml-100k"}, url=demo_url)
    with _session(demo_url) as s:  # a worker that was killed: "running" with a pid that no longer exists
        s.execute(update(Job).where(Job.id == job_id).values(status="running", worker_pid=2**22 + 7))
        s.commit()
    goto(app, "generate")
    with _session(demo_url) as s:
        assert s.get(Job, job_id).status == "interrupted"  # seen as such by any reader; Resume continues it
    app.button(key=f"gen_resume_{job_id}").click().run()
    assert not app.exception
    deadline = time.time() + 90
    while time.time() < deadline:
        with _session(demo_url) as s:
            status = s.get(Job, job_id).status
        if status in ("done", "failed"):
            break
        time.sleep(0.5)
    assert status == "done"


def test_evaluation_dashboard_and_comparison(app, demo_url):
    def payload(ndcg):
        res = {"test": {"hr": 0.5, "ndcg": ndcg}, "params": {"k1": 1.2}}
        return {"rows": [{"system": s, "retriever": "bm25", "results": {"user": res, "item": res}}
                         for s in ("native", "betag-m1", "betag-m5")],
                "tag_stats": {"native": {"popularity": [["drama", 725], ["comedy", 505], ["war", 71]]}}}

    with _session(demo_url) as s:
        save_report(s, payload(0.2), "run a", "ml-100k")
        save_report(s, payload(0.3), "run b", "ml-100k")
        s.commit()
    goto(app, "evaluation")
    assert len(app.get("plotly_chart")) == 3
    compare = table(app, "Δ")
    assert compare["Δ"].eq("+0.1000").all()  # run b (newest) against run a: two different runs by default
    assert app.selectbox(key="eval_other").value != app.selectbox(key="eval_report").value


def test_evaluation_dashboard_reads_a_pipeline_report(app, demo_url):
    from db.models import Report

    res = {"test": {"hr": 0.4, "ndcg": 0.2}, "params": {}}
    rows = [{"system": s, "retriever": r, "results": {"user": res, "item": res}}
            for s, r in (("-", "popular"), ("betag", "bm25"), ("betag-m2", "birank"))]
    payload = {"profile": "quick", "subset": "the 100 most-interacted items", "rows": rows,
               "models": {"base": "transformers:gemma3-270m"}, "stage_seconds": {"base": 12.5},
               "loss_curve": [{"epoch": 1, "step": 1, "loss": 1.8}, {"epoch": 1, "step": 2, "loss": 1.5}],
               "tag_stats": {"betag": {"popularity": [["drama", 9], ["war", 2]]}}}
    with _session(demo_url) as s:
        s.add(Report(kind="pipeline", name="pipeline-quick", dataset="ml-100k", payload=payload))
        s.commit()
    goto(app, "evaluation")
    assert "Popular" in set(table(app, "system", "retriever")["system"])
    assert table(app, "stage", "seconds")["seconds"].tolist() == [12.5]
    assert len(app.get("plotly_chart")) == 4  # loss curve, metrics, beams, tag popularity


def test_import_page_lists_bad_rows(app, tmp_path):
    goto(app, "import_data")
    assert app.button(key="import_run").disabled
    bad = b"item_id,title\nA1,One\nA1,Again\nB2,Ti\x00tle\n"
    app.file_uploader(key="import_items").set_value(("items.csv", bad, "text/csv"))
    app.run()
    app.button(key="import_run").click().run()
    assert not app.exception
    assert "Import refused: 2 problem(s). Nothing was changed." in app.error[0].value
    problems = app.dataframe[0].value
    assert problems[["file", "row", "field"]].values.tolist() == [["items.csv", 3, "item_id"],
                                                                  ["items.csv", 4, "title"]]


def test_import_page_skips_invalid_rows_when_asked(app, demo_url):
    goto(app, "import_data")
    app.file_uploader(key="import_items").set_value(("items.csv", b"item_id,title\nN1,New\nN2,\n", "text/csv"))
    app.checkbox(key="import_skip_invalid").check()
    app.run()
    app.button(key="import_run").click().run()
    assert not app.exception and not app.error
    assert "1 items added" in app.success[0].value and "1 row(s) were refused" in app.warning[0].value


def test_popular_preview_after_an_import_that_adds_items(app):
    """An import that adds items invalidates every cached query: Popular's counts used to stay cached with one value
    per old item while the tag matrix grew ("popular needs popularity counts with one value per item row")."""
    goto(app, "retrieval")
    app.selectbox(key="rp_retriever").select("popular").run()
    assert not app.error and not app.exception
    goto(app, "import_data")
    app.file_uploader(key="import_items").set_value(("items.csv", b"item_id,title\nNEW1,A new film\n", "text/csv"))
    app.run()
    app.button(key="import_run").click().run()
    assert app.success and "1 items added" in app.success[0].value
    goto(app, "retrieval")
    app.selectbox(key="rp_retriever").select("popular").run()
    assert not app.error, [e.value for e in app.error]
    assert len(app.dataframe[0].value) == 10


def test_a_page_url_opened_directly_opens_that_page(demo_url, monkeypatch):
    """serve.py redirects /review-tags to /?page=review-tags (no 404 probes); the router opens the page and drops
    the parameter."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BETAG_REVIEWER", "alice")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = "review-tags"
    at.run()
    assert not at.exception and at.title[0].value == "Review"
    assert "page" not in at.query_params


def test_serve_redirects_every_page_url_to_the_router():
    import asyncio

    from starlette.requests import Request

    import serve
    from app_data.navigation import URL_PATHS

    request = Request({"type": "http", "method": "GET", "path": "/review-tags", "query_string": b"x=1",
                       "headers": [], "server": ("127.0.0.1", 80), "scheme": "http"})
    response = asyncio.run(serve.open_page(request))
    assert response.status_code == 307 and response.headers["location"] == "/?page=review-tags&x=1"
    assert {r.path.strip("/") for r in serve.app._user_routes} == set(URL_PATHS)


def test_generate_offers_the_pipeline_on_the_current_catalog(app, demo_url):
    goto(app, "generate")
    app.selectbox(key="gen_kind").select("pipeline").run()
    assert app.radio(key="gen_pipe_catalog").value == "current"
    assert any("as recorded with the catalog (movies)" in o for o in app.selectbox(key="gen_pipe_domain").options)
    app.selectbox(key="gen_pipe_domain").select("products").run()
    shown = json.loads(app.code[0].value)
    assert shown == {"dataset": "current", "profile": "quick", "domain": "products"}
    assert not app.button(key="gen_start").disabled
    app.checkbox(key="gen_pipe_parallel").check().run()
    assert json.loads(app.code[0].value)["parallel"] is True
    app.checkbox(key="gen_pipe_interim").check().run()
    assert json.loads(app.code[0].value)["interim"] is True


def test_evaluation_page_shows_case_sets_and_betags_comparisons(app, demo_url):
    from betag_engine.catalog.store import tag_matrix, user_sequences
    from betag_engine.evaluation.protocol import EvalConfig, prepare
    from betag_engine.evaluation.table import evaluate_table
    from betag_engine.experiments.evaluation_plan import comparisons
    from betag_engine.experiments.report import pipeline_report
    from betag_engine.tagging.common import popular_item_ids
    from db.models import Report

    with _session(demo_url) as s:
        pool = np.array(sorted(popular_item_ids(s, 60)))
        native, seqs = tag_matrix(s, "native", item_ids=pool), user_sequences(s)
    prepared = prepare(pool, seqs, EvalConfig())
    systems = {"native": native, "betag": native}
    tables = {"all": evaluate_table(systems, None, prepared=prepared),
              "cold": evaluate_table(systems, None, prepared=prepared.by_target(pool[:10], label="cold"))}
    evaluation = {"tables": tables, "stats": {}, "coverage": {}, "cold_items": pool[:10].tolist(),
                  "comparisons": {k: comparisons(t) for k, t in tables.items()}}
    report = pipeline_report("ml-100k", "quick", "test", {}, evaluation, 1.0)
    report["unfinished_stages"] = ["betag-paper"]  # an interim report (pipeline --interim)
    with _session(demo_url) as s:
        s.add(Report(kind="pipeline", name="case-sets", dataset="ml-100k", payload=report))
        s.commit()
    goto(app, "evaluation")
    assert app.radio(key="eval_cases").options == ["every test case",
                                                   "targets held out of every behaviour stage (cold)"]
    assert "±" in str(table(app, "system", "retriever").iloc[0].tolist())
    verdicts = table(app, "baseline", "win", "tie", "loss")
    assert set(verdicts["baseline"]) == {"Popular", "native"}
    assert verdicts.loc[verdicts["baseline"] == "native", "tie"].iloc[0] == 8  # the same tags: tied everywhere
    app.radio(key="eval_cases").set_value("cold").run()
    assert not app.exception
    assert any("Interim report" in w.value and "betag-paper" in w.value for w in app.warning)

"""Evaluation dashboard: the latest reports as tables and charts, and a comparison of two runs."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_data import queries, services, views
from betag_engine.experiments.report import beam_rows, case_sets, comparison_rows, metric_rows, popularity_rows

CASE_LABELS = {"all": "every test case", "warm": "targets with behaviour (warm)",
               "cold": "targets held out of every behaviour stage (cold)"}


def main() -> None:
    st.title("Evaluation")
    reports = services.read(queries.reports)
    if not reports:
        st.info("No evaluation report yet. Start an **Evaluation** job on Generate (or run "
                "`python -m betag_engine evaluate`).")
        st.stop()
    labels = {r["id"]: f"#{r['id']} {r['name']} · {r['dataset']} · {r['created']:%Y-%m-%d %H:%M}" for r in reports}
    by_id = {r["id"]: r for r in reports}
    chosen = st.selectbox("Report", list(by_id), format_func=labels.get, key="eval_report")
    payload = by_id[chosen]["payload"]
    sets = case_sets(payload)
    cases = st.radio("Test cases", sets, format_func=CASE_LABELS.get, horizontal=True, key="eval_cases",
                     help="A pipeline run holds a share of its items out of every behaviour stage (cold items); "
                          "its tables cover every case, the cases whose target is warm, and those whose target is "
                          "cold.") if len(sets) > 1 else "all"
    rows = pd.DataFrame(metric_rows(payload, cases))
    if rows.empty:
        st.warning("This report holds no metric rows.")
        st.stop()
    coverage = views.coverage_by_system(payload)
    for line in views.low_coverage(coverage):
        st.warning(line, icon=":material/warning:")
    metric = st.radio("Metric", ("NDCG@k", "HR@k"), horizontal=True, key="eval_metric")
    table = rows.pivot_table(index=["system", "retriever"], columns="task", values=metric).reset_index()
    errors = rows.pivot_table(index=["system", "retriever"], columns="task", values=f"{metric} se").reset_index() \
        if rows[f"{metric} se"].notna().any() else None
    table.insert(2, "coverage", [views.coverage_text(coverage.get(s), r) for s, r in zip(table["system"],
                                                                                        table["retriever"])])
    tasks = [c for c in table.columns if c not in ("system", "retriever", "coverage")]
    if errors is not None:  # each score with its standard error: a difference within two is a tie
        for t in tasks:
            table[t] = [f"{v:.4f} ± {e:.4f}" if pd.notna(e) else f"{v:.4f}" for v, e in zip(table[t], errors[t])]
    st.dataframe(views.as_text(table, {} if errors is not None else {t: "{:.4f}" for t in tasks}), hide_index=True,
                 key="eval_table",
                 column_config={"coverage": st.column_config.TextColumn(
                     "coverage", help="Share of the evaluated items this system tags (Popular uses no tags). Below "
                                      f"{views.COVERAGE_WARNING:.0%} (⚠) the scores say little about the tags.")})
    bar = px.bar(rows, x="system", y=metric, color="retriever", facet_col="task", barmode="group",
                 title=f"{metric} by system × retriever × task (test split)",
                 labels={"system": "tagging system", metric: f"{metric} (test)", "retriever": "retriever"})
    st.plotly_chart(bar, key="eval_bar")

    comparisons = pd.DataFrame(comparison_rows(payload, cases))
    if not comparisons.empty:
        st.subheader("BETag against each baseline (paired, same test cases)")
        counts = comparisons.groupby("baseline", sort=False)["verdict"].value_counts().unstack(fill_value=0)
        st.dataframe(counts.reindex(columns=["win", "tie", "loss"], fill_value=0).reset_index(), hide_index=True,
                     key="eval_verdicts")
        with st.expander("Every difference (mean ± standard error; within two standard errors it is a tie)"):
            st.dataframe(views.as_text(comparisons, {"difference": "{:+.4f}", "se": "{:.4f}"}), hide_index=True,
                         key="eval_differences")
    beams = pd.DataFrame(beam_rows(payload))
    if not beams.empty:
        st.plotly_chart(px.line(beams, x="beams", y=metric, color="series", markers=True,
                                title=f"{metric} vs number of beams",
                                labels={"beams": "beams per item (m)", metric: f"{metric} (test)",
                                        "series": "retriever / task"}), key="eval_beams")
    pop = pd.DataFrame(popularity_rows(payload))
    if not pop.empty:
        st.plotly_chart(popularity_chart(pop), key="eval_pop")
    if payload.get("profile"):
        with st.expander("How this pipeline run was made: subset, models, stage times, finetuning loss"):
            pipeline_details(payload)
    compare_runs(by_id, labels, chosen, rows, metric)


def popularity_chart(pop: pd.DataFrame):
    """Items per tag against the tag's popularity rank, both log scaled, ticks at 1, 10, 100, ..."""
    fig = px.line(pop, x="rank", y="items", color="system", log_x=True, log_y=True,
                  title="Tag popularity: items per tag, tags ranked by popularity (log-log)",
                  labels={"rank": "tag rank (1 = most used tag)", "items": "items with the tag", "system": "system"})
    for axis, column in ((fig.update_xaxes, "rank"), (fig.update_yaxes, "items")):
        ticks, text = views.log_ticks(pop[column])
        axis(tickvals=ticks, ticktext=text, minor=dict(showgrid=False))
    return fig


def compare_runs(by_id: dict, labels: dict, chosen: int, rows: pd.DataFrame, metric: str) -> None:
    st.subheader("Compare two runs")
    others = [i for i in by_id if i != chosen]
    if not others:
        st.info("Only one report exists, so there is nothing to compare it with: run another evaluation (another "
                "system, or the same after curating tags) and its differences to this one show here.")
        return
    other = st.selectbox("Against", others, format_func=labels.get, key="eval_other",
                         help="Defaults to the newest other report.")
    base = pd.DataFrame(metric_rows(by_id[other]["payload"]))
    if base.empty:
        st.caption("The other report holds no metric rows.")
        return
    keys = ["system", "retriever", "task"]
    merged = rows[keys + [metric]].merge(base[keys + [metric]], on=keys, how="outer", suffixes=(" this", " other"))
    merged["Δ"] = merged[f"{metric} this"] - merged[f"{metric} other"]
    if merged["Δ"].fillna(0).abs().max() == 0:
        st.caption("The two reports have the same scores on every row they share.")
    st.dataframe(views.as_text(merged, {f"{metric} this": "{:.4f}", f"{metric} other": "{:.4f}", "Δ": "{:+.4f}"}),
                 hide_index=True, key="eval_compare")


def pipeline_details(payload: dict) -> None:
    """What a pipeline report adds: its subset, models, stage times and the finetuning loss curve."""
    st.caption(f"Pipeline profile {payload['profile']}: {payload.get('subset', '')}")
    if payload.get("unfinished_stages"):
        st.warning("Interim report: written before these stages had finished, so their systems are not in the "
                   "tables: " + ", ".join(payload["unfinished_stages"]))
    cols = st.columns(2)
    cols[0].dataframe(pd.DataFrame([{"stage": k, "model": v} for k, v in (payload.get("models") or {}).items()]),
                      hide_index=True, key="eval_models")
    cols[1].dataframe(pd.DataFrame([{"stage": k, "seconds": v}
                                    for k, v in (payload.get("stage_seconds") or {}).items()]),
                      hide_index=True, key="eval_stages")
    loss = pd.DataFrame(payload.get("loss_curve") or [])
    if not loss.empty:
        loss["step"] = range(1, len(loss) + 1)
        st.plotly_chart(px.line(loss, x="step", y="loss", color="epoch", title="Finetuning loss"), key="eval_loss")


main()

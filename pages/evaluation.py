"""Evaluation dashboard: the latest reports as tables and charts, and a comparison of two runs."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_data import queries, services
from betag_engine.experiments.report import beam_rows, metric_rows, popularity_rows


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
    rows = pd.DataFrame(metric_rows(payload))
    if rows.empty:
        st.warning("This report holds no metric rows.")
        st.stop()
    metric = st.radio("Metric", ("NDCG@k", "HR@k"), horizontal=True, key="eval_metric")
    st.dataframe(rows.pivot_table(index=["system", "retriever"], columns="task", values=metric).reset_index(),
                 hide_index=True, key="eval_table")
    st.plotly_chart(px.bar(rows, x="system", y=metric, color="retriever", facet_col="task", barmode="group",
                           title=f"{metric} by system × retriever × task"), key="eval_bar")

    beams = pd.DataFrame(beam_rows(payload))
    if not beams.empty:
        st.plotly_chart(px.line(beams, x="beams", y=metric, color="series", markers=True,
                                title=f"{metric} vs number of beams"), key="eval_beams")
    pop = pd.DataFrame(popularity_rows(payload))
    if not pop.empty:
        st.plotly_chart(px.line(pop, x="rank", y="items", color="system", log_x=True, log_y=True,
                                title="Tag popularity (items per tag, by rank; log-log)"), key="eval_pop")
    if payload.get("profile"):
        with st.expander("How this pipeline run was made: subset, models, stage times, finetuning loss"):
            pipeline_details(payload)

    st.subheader("Compare two runs")
    other = st.selectbox("Against", [i for i in by_id if i != chosen] or [chosen], format_func=labels.get,
                         key="eval_other")
    base = pd.DataFrame(metric_rows(by_id[other]["payload"]))
    if base.empty:
        st.caption("Nothing to compare.")
        st.stop()
    keys = ["system", "retriever", "task"]
    merged = rows[keys + [metric]].merge(base[keys + [metric]], on=keys, how="outer", suffixes=(" this", " other"))
    merged["Δ"] = merged[f"{metric} this"] - merged[f"{metric} other"]
    st.dataframe(merged, hide_index=True, key="eval_compare",
                 column_config={"Δ": st.column_config.NumberColumn(format="%+.4f")})


def pipeline_details(payload: dict) -> None:
    """What a pipeline report adds: its subset, models, stage times and the finetuning loss curve."""
    st.caption(f"Pipeline profile {payload['profile']}: {payload.get('subset', '')}")
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

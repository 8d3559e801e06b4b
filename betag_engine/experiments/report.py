"""Reports: the one format evaluations and pipeline runs store, the rows the app shows, the pipeline's Markdown.

Every report payload holds ``meta`` and ``rows`` (``evaluation.table.Table.as_dict()``: one row per system x
retriever with each task's chosen parameters, validation and test metrics and grid) and ``tag_stats`` (per
system). An evaluation report adds ``text`` (the printed table); a pipeline report adds its profile and subset,
stage times, models, the finetuning loss curve, the Table 2 / Table 4 / beam-sweep views and the behaviour
diagnosis. :func:`metric_rows`, :func:`beam_rows` and :func:`popularity_rows` turn any report into the flat rows
of the app's tables and charts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from betag_engine.evaluation.table import Table, format_table
from betag_engine.vocabulary import (
    ABLATION_SYSTEMS,
    BEAM_SWEEP_PREFIX,
    BETAG,
    FINETUNE,
    POPULAR_LABEL,
    TABLE2_SYSTEMS,
    TAG_RETRIEVERS,
    TASKS,
    row_label,
)

BEAM_SYSTEM = re.compile(r"^(?P<prefix>.+)-m(?P<beams>\d+)$")  # <name>-m<beams>: a beam-sweep system


def evaluation_report(table: Table, stats: dict) -> dict:
    """An evaluation's report: the table (rows, chosen params, grid, metadata), tag statistics, the printed table."""
    return {**table.as_dict(), "tag_stats": stats, "text": format_table(table)}


def metric_rows(report: dict) -> list[dict]:
    """One row per system x retriever x task with test HR@k / NDCG@k and the chosen parameters."""
    out = []
    for row in report.get("rows", []):
        for task, res in (row.get("results") or {}).items():
            test = res.get("test", {})
            out.append({"system": row_label(row.get("system"), row.get("retriever")), "retriever": row.get("retriever"),
                        "task": task, "HR@k": test.get("hr"), "NDCG@k": test.get("ndcg"),
                        "params": str(res.get("params", ""))})
    return out


def beam_rows(report: dict) -> list[dict]:
    """Rows of systems named <prefix>-m<beams> (BETag's beam sweep) with their beam count."""
    out = []
    for r in metric_rows(report):
        match = BEAM_SYSTEM.match(str(r["system"]))
        if match:
            out.append({**r, "beams": int(match["beams"]), "series": f"{r['retriever']} / {r['task']}"})
    return sorted(out, key=lambda r: r["beams"])


def popularity_rows(report: dict) -> list[dict]:
    """(system, rank, items) points of each system's tag-popularity curve."""
    out = []
    for system, stats in (report.get("tag_stats") or {}).items():
        for rank, (_tag, n) in enumerate(stats.get("popularity", []), 1):
            out.append({"system": system, "rank": rank, "items": n})
    return out


def _row_metrics(row: dict) -> dict[str, float | None]:
    out = {}
    for task in TASKS:
        res = row["results"].get(task)
        out[f"{task}_H@10"] = None if res is None else res["test"]["hr"]
        out[f"{task}_N@10"] = None if res is None else res["test"]["ndcg"]
    return out


def pipeline_report(dataset, profile, description, stages, table, stats, eval_seconds, n_pool) -> dict:
    """A pipeline run's report (JSON-serialisable); ``table`` is an ``evaluation.table.Table``."""
    tdict = json.loads(json.dumps(table.as_dict(), default=str))
    rows = [{"system": row_label(r["system"], r["retriever"]), "retriever": r["retriever"], **_row_metrics(r)}
            for r in tdict["rows"]]
    by = {(r["system"], r["retriever"]): r for r in rows}
    order = {name: n for n, name in enumerate((POPULAR_LABEL, *TABLE2_SYSTEMS))}
    table2 = sorted((r for r in rows if r["system"] in order), key=lambda r: order[r["system"]])
    betag = stages.get(BETAG, {}).get("params", {})
    main, prefix = betag.get("system", BETAG), betag.get("sweep_prefix", BEAM_SWEEP_PREFIX)
    table4 = [r for r in rows if r["system"] in (*ABLATION_SYSTEMS, f"{prefix}1")]
    sweep_ms = sorted({int(s[len(prefix):]) for s, _ in by if s.startswith(prefix) and s[len(prefix):].isdigit()})
    m_main = betag.get("m")
    sweep = []
    for m in sorted(set(sweep_ms + ([m_main] if m_main else []))):
        name = main if m == m_main else f"{prefix}{m}"
        for retr in TAG_RETRIEVERS:
            if (name, retr) in by:
                r = by[(name, retr)]
                sweep.append({"m": m, "retriever": retr, "user_N@10": r["user_N@10"], "item_N@10": r["item_N@10"]})
    models = {name: st.get("result", {}).get("model") for name, st in stages.items()}
    times = {name: st.get("seconds") for name, st in stages.items()}
    times["evaluation"] = eval_seconds
    return {"dataset": dataset, "profile": profile, "subset": description, "n_items_evaluated": n_pool,
            "meta": tdict["meta"], "table2": table2, "table4": table4, "beam_sweep": sweep,
            "tag_stats": stats, "stage_seconds": times, "models": models,
            "finetune": {k: v for k, v in stages.get(FINETUNE, {}).get("result", {}).items() if k != "loss_curve"},
            "loss_curve": stages.get(FINETUNE, {}).get("result", {}).get("loss_curve", []),
            "stages": {n: {"kind": st.get("kind"), "params": st.get("params")} for n, st in stages.items()},
            "rows": tdict["rows"]}


def _f(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def _metric_table(rows: list[dict]) -> list[str]:
    out = ["| system | retriever | user H@10 | user N@10 | item H@10 | item N@10 |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['system']} | {r['retriever']} | {_f(r['user_H@10'])} | {_f(r['user_N@10'])} | "
                   f"{_f(r['item_H@10'])} | {_f(r['item_N@10'])} |")
    return out


def to_markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [f"# BETag pipeline report: {report['dataset']} ({report['profile']})", "",
             f"Subset: {report['subset']}.", "",
             f"Evaluated items: {report['n_items_evaluated']}; users: {meta.get('n_users')}; interactions: "
             f"{meta.get('n_interactions')}; test cases: {meta.get('n_test_cases')}; negatives per case: "
             f"{meta.get('config', {}).get('n_negatives')} (capped at pool - 1); ties: "
             f"{meta.get('config', {}).get('ties')}.", "",
             "## Table 2: retrieval quality (test, leave-one-last)", "", *_metric_table(report["table2"]), "",
             "## Table 4: ablations (noft = base model without finetuning; m1 = finetuned, one beam)", "",
             *_metric_table(report["table4"]), "", "## Beam sweep (N@10 vs m)", "",
             "| m | retriever | user N@10 | item N@10 |", "|---|---|---|---|"]
    for r in report["beam_sweep"]:
        lines.append(f"| {r['m']} | {r['retriever']} | {_f(r['user_N@10'])} | {_f(r['item_N@10'])} |")
    lines += _diagnosis_lines(report.get("diagnosis"))
    lines += ["", "## Tag statistics", "",
              "| system | tagged items | tags/item (mean) | count/item (mean) | distinct tags | single-item share |",
              "|---|---|---|---|---|---|"]
    for name, st in report["tag_stats"].items():
        lines.append(f"| {name} | {st['n_tagged_items']}/{st['n_items']} | {st['tags_per_item_mean']:.2f} | "
                     f"{st['tag_count_per_item_mean']:.2f} | {st['distinct_tags']} | "
                     f"{st['single_item_tag_share']:.3f} |")
    lines += ["", "## Run time per stage (s; the last run of each stage: stages finished earlier and resumed "
              "show only the resumed part)", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["stage_seconds"].items()]
    total = sum(report["stage_seconds"].values())
    lines.append(f"| total | {total:.1f} ({int(total // 60)} min {int(total % 60)} s) |")
    lines += ["", "## Models", "", "| stage | model |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["models"].items() if v]
    ft = report.get("finetune", {})
    if ft:
        lines += ["", f"Finetuning: {ft.get('users')} users, {ft.get('epochs')} epoch(s), loss "
                  f"{ft.get('first_loss')} -> {ft.get('last_loss')}, data hash {ft.get('data_hash')}, "
                  f"adapter {ft.get('adapter_dir')}."]
    return "\n".join(lines) + "\n"


def _diagnosis_lines(diagnosis: dict | None) -> list[str]:
    """The behaviour diagnosis (experiments.diagnosis): what the beams learned, and the oracle ceiling."""
    if not diagnosis:
        return []
    m = diagnosis["oracle_m"]
    lines = ["", "## Behaviour diagnosis", "",
             "Beams compared with the base-tag lines of the pool's items (`python -m betag_engine diagnose`):", "",
             "| system | beams | reproduce an item's line | distinct items | top-k successor | chance |",
             "|---|---|---|---|---|---|"]
    for b in diagnosis["beams"]:
        lines.append(f"| {b['system']} | {b['beams']} | {b['exact_line_share']:.3f} | {b['distinct_items']} | "
                     f"{b['successor_share']:.3f} (k={b['top_k']}) | {b['chance_share']:.3f} |")
    rows = [{"system": row_label(r["system"], r["retriever"]), "retriever": r["retriever"], **_row_metrics(r)}
            for r in diagnosis["oracle_table"]["rows"]]
    lines += ["", f"Oracle BETags (eqs. 4-5 over the item's base tags and those of its {m} most frequent training "
              "successors: what perfect finetuning would produce; the method's ceiling on these base tags):", "",
              *_metric_table(rows)]
    return lines


def write_report(report: dict, name: str, reports_dir: Path) -> dict[str, Path]:
    """Write ``<reports_dir>/<name>.md`` and ``.json``; returns both paths."""
    out = Path(reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{name}.md", out / f"{name}.json"
    md.write_text(to_markdown(report))
    js.write_text(json.dumps(report, indent=1, default=str))
    return {"markdown": md, "json": js}

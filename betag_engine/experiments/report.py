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

ALL_RUNS = "all_runs"  # in a pipeline's stage record: its seconds sum every run of the stage's job
BEAM_SYSTEM = re.compile(r"^(?P<prefix>.+)-m(?P<beams>\d+)$")  # <name>-m<beams>: a beam-sweep system


def evaluation_report(table: Table, stats: dict) -> dict:
    """An evaluation's report: the table (rows, chosen params, grid, metadata), tag statistics, the printed table."""
    return {**table.as_dict(), "tag_stats": stats, "text": format_table(table)}


def metric_rows(report: dict, cases: str = "all") -> list[dict]:
    """One row per system x retriever x task with test HR@k / NDCG@k (and their standard errors) and the chosen
    parameters; ``cases``: a pipeline report's case set ("warm", "cold") instead of every test case."""
    out = []
    rows = report.get("rows", []) if cases == "all" else (report.get("case_sets") or {}).get(cases, {}).get("rows", [])
    for row in rows:
        for task, res in (row.get("results") or {}).items():
            test = res.get("test", {})
            out.append({"system": row_label(row.get("system"), row.get("retriever")), "retriever": row.get("retriever"),
                        "task": task, "HR@k": test.get("hr"), "NDCG@k": test.get("ndcg"),
                        "HR@k se": test.get("hr_se"), "NDCG@k se": test.get("ndcg_se"),
                        "params": str(res.get("params", ""))})
    return out


def case_sets(report: dict) -> list[str]:
    """The test-case sets a report has tables for: "all", then a pipeline run's "warm" and "cold"."""
    return ["all", *(report.get("case_sets") or {})]


def comparison_rows(report: dict, cases: str = "all") -> list[dict]:
    """BETag's paired comparisons with each baseline on a case set (pipeline reports), one row each."""
    return [{"baseline": c["baseline"], "retriever": c["retriever"], "task": c["task"], "metric": c["metric"],
             "difference": c["mean"], "se": c["se"], "verdict": c["verdict"]}
            for c in (report.get("comparisons") or {}).get(cases, [])]


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
    """Test HR@10 / NDCG@10 of a report row per task, with their standard errors (``_se``)."""
    out: dict[str, float | None] = {}
    for task in TASKS:
        res = row["results"].get(task)
        test = {} if res is None else res["test"]
        for key, name in (("hr", "H@10"), ("ndcg", "N@10")):
            out[f"{task}_{name}"] = test.get(key)
            out[f"{task}_{name}_se"] = test.get(f"{key}_se")
    return out


def view_rows(rows: list[dict]) -> list[dict]:
    """Report rows flattened for tables: system (Popular labelled), retriever, metrics with standard errors."""
    return [{"system": row_label(r["system"], r["retriever"]), "retriever": r["retriever"], **_row_metrics(r)}
            for r in rows]


def _table2(rows: list[dict]) -> list[dict]:
    order = {name: n for n, name in enumerate((POPULAR_LABEL, *TABLE2_SYSTEMS))}
    return sorted((r for r in view_rows(rows) if r["system"] in order), key=lambda r: order[r["system"]])


def pipeline_report(dataset, profile, description, stages, evaluation, eval_seconds, catalog=None) -> dict:
    """A pipeline run's report (JSON-serialisable).

    Args:
        evaluation: ``experiments.evaluation_plan.evaluate_pipeline``'s result: tables per case set (all, and warm /
            cold when items were held out), tag statistics, coverage, cold items and BETag's comparisons.
        catalog: ``CatalogSummary.as_dict()`` of the catalog the run used.
    """
    tables = {k: json.loads(json.dumps(t.as_dict(), default=str)) for k, t in evaluation["tables"].items()}
    main = tables["all"]
    rows = view_rows(main["rows"])
    by = {(r["system"], r["retriever"]): r for r in rows}
    betag = stages.get(BETAG, {}).get("params", {})
    name, prefix = betag.get("system", BETAG), betag.get("sweep_prefix", BEAM_SWEEP_PREFIX)
    table4 = [r for r in rows if r["system"] in (*ABLATION_SYSTEMS, f"{prefix}1")]
    sweep_ms = sorted({int(s[len(prefix):]) for s, _ in by if s.startswith(prefix) and s[len(prefix):].isdigit()})
    m_main = betag.get("m")
    sweep = []
    for m in sorted(set(sweep_ms + ([m_main] if m_main else []))):
        system = name if m == m_main else f"{prefix}{m}"
        for retr in TAG_RETRIEVERS:
            if (system, retr) in by:
                r = by[(system, retr)]
                sweep.append({"m": m, "retriever": retr, "user_N@10": r["user_N@10"], "item_N@10": r["item_N@10"]})
    models = {n: st.get("result", {}).get("model") for n, st in stages.items()}
    times = {n: st.get("seconds") for n, st in stages.items()}
    times["evaluation"] = eval_seconds
    # a stage run beside another (--parallel) adds to the wall time only what the pipeline waited for it after
    beside = {n: st["beside"] for n, st in stages.items() if st.get("beside")}
    return {"dataset": dataset, "profile": profile, "subset": description, "catalog": catalog or {},
            "n_items_evaluated": main["meta"].get("n_items"), "cold_items": evaluation.get("cold_items", []),
            "meta": main["meta"], "rows": main["rows"],
            "case_sets": {k: {"meta": t["meta"], "rows": t["rows"]} for k, t in tables.items() if k != "all"},
            "table2": _table2(main["rows"]), "table2_by_cases": {k: _table2(t["rows"]) for k, t in tables.items()},
            "table4": table4, "beam_sweep": sweep, "comparisons": evaluation.get("comparisons", {}),
            "seed_spread": seed_spread(rows, name),
            "coverage": evaluation.get("coverage", {}), "tag_stats": evaluation.get("stats", {}),
            "stage_seconds": times, "stages_beside": beside,
            "stage_code": {n: st["code"] for n, st in stages.items() if st.get("code")},
            "stages_all_runs": [n for n, st in stages.items() if st.get(ALL_RUNS)],
            "wall_seconds": round(sum(v or 0 for n, v in times.items() if n not in beside)
                                  + sum(b.get("waited", 0) for b in beside.values()), 1),
            "models": models,
            "finetunes": {n: {k: v for k, v in st.get("result", {}).items() if k != "loss_curve"}
                          for n, st in stages.items() if st.get("kind") == FINETUNE and st.get("result")},
            "loss_curve": stages.get(FINETUNE, {}).get("result", {}).get("loss_curve", []),
            "stages": {n: {"kind": st.get("kind"), "params": st.get("params")} for n, st in stages.items()}}


METRIC_KEYS = ("user_H@10", "user_N@10", "item_H@10", "item_N@10")


def seed_spread(rows: list[dict], system: str = BETAG) -> list[dict]:
    """BETag's best configuration over its finetuning seeds (``system`` and ``<system>-s<seed>`` rows): per
    retriever and metric the mean, sample standard deviation, min and max; empty with a single seed."""
    out = []
    for retriever in TAG_RETRIEVERS:
        runs = [r for r in rows if r["retriever"] == retriever and (r["system"] == system or
                                                                     r["system"].startswith(f"{system}-s"))]
        if len(runs) < 2:
            continue
        for key in METRIC_KEYS:
            values = [r[key] for r in runs if r[key] is not None]
            mean = sum(values) / len(values)
            sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
            out.append({"retriever": retriever, "metric": key, "seeds": len(values), "mean": mean, "sd": sd,
                        "min": min(values), "max": max(values)})
    return out


def _f(v, se=None) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if se is None else f"{v:.4f} ± {se:.4f}"


def _metric_table(rows: list[dict], with_se: bool = True) -> list[str]:
    out = ["| system | retriever | user H@10 | user N@10 | item H@10 | item N@10 |", "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [_f(r[k], r.get(f"{k}_se") if with_se else None) for k in ("user_H@10", "user_N@10", "item_H@10",
                                                                           "item_N@10")]
        out.append(f"| {r['system']} | {r['retriever']} | " + " | ".join(cells) + " |")
    return out


CASE_SET_TITLES = {"all": "every test case", "warm": "test cases whose target is warm",
                   "cold": "test cases whose target is cold (no behaviour in any stage)"}


def _comparison_lines(entries: list[dict]) -> list[str]:
    """BETag against each baseline: wins / ties / losses over retriever x task x metric, then each difference."""
    if not entries:
        return []
    lines = ["| BETag vs | wins | ties | losses | differences (retriever task metric: mean ± se) |",
             "|---|---|---|---|---|"]
    for base in dict.fromkeys(e["baseline"] for e in entries):
        mine = [e for e in entries if e["baseline"] == base]
        count = {v: sum(e["verdict"] == v for e in mine) for v in ("win", "tie", "loss")}
        detail = "; ".join(f"{e['retriever']} {e['task']} {e['metric']}: {e['mean']:+.4f} ± {e['se']:.4f}"
                           for e in mine)
        lines.append(f"| {base} | {count['win']} | {count['tie']} | {count['loss']} | {detail} |")
    return lines


def _llm_line(llm: dict | None) -> list[str]:
    """The LLM settings of the run's last invocation (reports before they were recorded have none)."""
    if not llm:
        return []
    return [f"LLM: {llm.get('model')} via {llm.get('backend')}, device {llm.get('device')}, quantization "
            f"{llm.get('quantization')}, finetuning dtype {llm.get('training_dtype')}.", ""]


def _code_line(code: str | None) -> list[str]:
    """The commit that wrote the report (its evaluation); each stage's is in the run-time table."""
    return [f"Code: commit {code} (this report and its evaluation; each stage's commit is in the run-time table).",
            ""] if code else []


def to_markdown(report: dict) -> str:
    meta, catalog = report["meta"], report.get("catalog") or {}
    lines = [f"# BETag pipeline report: {report['dataset']} ({report['profile']})", "",
             f"Catalog: {catalog.get('items')} items, {catalog.get('users')} users, {catalog.get('interactions')} "
             f"interactions; content hash {catalog.get('content_hash')}; source {catalog.get('source') or 'import'}."
             if catalog else "", "", *_llm_line(report.get("llm")), *_code_line(report.get("code")),
             f"Subset: {report['subset']}.", "",
             f"Evaluated items: {report['n_items_evaluated']} ({len(report.get('cold_items', []))} cold); users: "
             f"{meta.get('n_users')}; interactions: {meta.get('n_interactions')}; test cases: "
             f"{meta.get('n_test_cases')}; negatives per case: {meta.get('config', {}).get('n_negatives')} (capped "
             f"at pool - 1); ties: {meta.get('config', {}).get('ties')}. Each cell: test metric ± its standard "
             "error; a difference within two standard errors is a tie."]
    if report.get("unfinished_stages"):
        lines += ["", "**Interim report**: written while these stages had not finished, so their systems are not "
                  f"in the tables: {', '.join(report['unfinished_stages'])}."]
    missing = [s for s in TABLE2_SYSTEMS if s not in {r["system"] for r in report["table2"]}
               and s not in report.get("unfinished_stages", ())]
    if missing:
        lines += ["", f"Not in the tables (no tags in this catalog): {', '.join(missing)}."]
    for key, rows in report.get("table2_by_cases", {"all": report["table2"]}).items():
        lines += ["", f"## Table 2 over {CASE_SET_TITLES.get(key, key)}", "", *_metric_table(rows)]
        comp = (report.get("comparisons") or {}).get(key)
        if comp:
            lines += ["", f"BETag against each baseline on these cases (paired, {comp[0]['n']} cases):", "",
                      *_comparison_lines(comp)]
    if report.get("seed_spread"):
        n = report["seed_spread"][0]["seeds"]
        lines += ["", f"## BETag over {n} finetuning seeds (mean ± sample standard deviation [min, max])", "",
                  "| retriever | " + " | ".join(k.replace("_", " ") for k in METRIC_KEYS) + " |",
                  "|---" * (len(METRIC_KEYS) + 1) + "|"]
        for retriever in TAG_RETRIEVERS:
            cells = {e["metric"]: e for e in report["seed_spread"] if e["retriever"] == retriever}
            if cells:
                lines.append(f"| {retriever} | " + " | ".join(
                    f"{cells[k]['mean']:.4f} ± {cells[k]['sd']:.4f} [{cells[k]['min']:.4f}, {cells[k]['max']:.4f}]"
                    for k in METRIC_KEYS) + " |")
    lines += ["", "## Table 4: ablations (betag-paper = the paper's configuration; betag-noft = base model without "
              "finetuning, same prompts; m1 = one beam)", "", *_metric_table(report["table4"]), "",
              "## Beam sweep (N@10 vs m)", "", "| m | retriever | user N@10 | item N@10 |", "|---|---|---|---|"]
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
    # reports before the code was recorded have neither the column nor the line
    code = {**report["stage_code"], "evaluation": report.get("code")} if report.get("stage_code") else {}
    summed = report.get("stages_all_runs")  # None in reports from before a stage's runs were summed
    last_only = [k for k in report["stage_seconds"] if summed is not None and k != "evaluation" and k not in summed]
    what = ("the last run of each stage: stages finished earlier and resumed show only the resumed part"
            if summed is None else "each stage's runs summed, a resumed stage's included" +
            ("; * = recorded before runs were summed: its last run only" if last_only else ""))
    lines += ["", f"## Run time per stage (s; {what}" + ("; commit: the code it finished under" if code else "") +
              ")", "", "| stage | seconds |" + (" commit |" if code else ""), "|---|---|" + ("---|" if code else "")]
    beside = report.get("stages_beside") or {}
    lines += [f"| {k} | {v}" + ("*" if k in last_only else "") +
              (f" (beside {beside[k]['stage']})" if k in beside else "") + " |" +
              (f" {code.get(k) or '-'} |" if code else "")
              for k, v in report["stage_seconds"].items()]
    total = report.get("wall_seconds") or sum(v for v in report["stage_seconds"].values() if v)
    lines.append(f"| total | {total:.1f} ({int(total // 60)} min {int(total % 60)} s) |" + (" |" if code else ""))
    lines += ["", "## Models", "", "| stage | model |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["models"].items() if v]
    # reports written before "finetunes" held the main stage's summary only, under "finetune"
    finetunes = report.get("finetunes") or ({FINETUNE: report["finetune"]} if report.get("finetune") else {})
    if finetunes:
        lines.append("")
    for stage, ft in finetunes.items():  # first and last loss: one step each, not epoch means
        lines.append(f"Finetuning ({stage}): {ft.get('users')} training users, {ft.get('epochs')} epoch(s), step "
                     f"loss {ft.get('first_loss')} -> {ft.get('last_loss')}, data hash {ft.get('data_hash')}, "
                     f"adapter {ft.get('adapter')}.")
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
    rows = view_rows(diagnosis["oracle_table"]["rows"])
    lines += ["", f"Oracle BETags (eqs. 4-5 over the item's base tags and those of its {m} most frequent training "
              "successors: what perfect finetuning would produce; the method's ceiling on these base tags). No item is "
              "held out here: the successors and Popular count every training interaction, cold items' included, so "
              "this Popular row differs from Table 2's; cf-tags in Table 2 is the same formula with the cold items "
              "held out:", "",
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

"""Pipeline report: Table 2, Table 4 (ablations), beam sweep, tag statistics, stage times, models."""

from __future__ import annotations

import json
from pathlib import Path

from betag_engine.vocabulary import (
    ABLATION_SYSTEMS,
    BEAM_SWEEP_PREFIX,
    BETAG,
    POPULAR_LABEL,
    TABLE2_SYSTEMS,
    TAG_RETRIEVERS,
    TASKS,
    row_label,
)


def _row_metrics(row: dict) -> dict[str, float | None]:
    out = {}
    for task in TASKS:
        res = row["results"].get(task)
        out[f"{task}_H@10"] = None if res is None else res["test"]["hr"]
        out[f"{task}_N@10"] = None if res is None else res["test"]["ndcg"]
    return out


def build_report(dataset, profile, description, plan, stages, table, stats, eval_seconds, n_pool) -> dict:
    """A JSON-serialisable report; ``table`` is an ``evaluation.table.Table``."""
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
            "finetune": {k: v for k, v in stages.get("finetune", {}).get("result", {}).items() if k != "loss_curve"},
            "loss_curve": stages.get("finetune", {}).get("result", {}).get("loss_curve", []),
            "stages": {n: {"kind": st.get("kind"), "params": st.get("params")} for n, st in stages.items()},
            "full_table": tdict}


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
    """The behaviour diagnosis (betag_engine.tagging.diagnosis): what the beams learned, and the oracle ceiling."""
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


def write_report(report: dict, name: str) -> dict[str, Path]:
    """Write ``<reports_dir>/<name>.md`` and ``.json``; returns both paths."""
    from betag_engine.settings import get_settings

    out = Path(get_settings().reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{name}.md", out / f"{name}.json"
    md.write_text(to_markdown(report))
    js.write_text(json.dumps(report, indent=1, default=str))
    return {"markdown": md, "json": js}

"""Behaviour diagnosis: successor counts, oracle BETags and the beam comparison on a hand-computed case."""

from collections import Counter

from betag_engine.experiments.diagnosis import diagnose_beams, oracle_tags, successor_counts, without_popular_lines
from betag_engine.tagging.common import aggregate_beams

BASE = {1: ["space", "war"], 2: ["toys", "kids"], 3: ["space", "robots"], 4: ["romance"]}


def test_successors_and_oracle_follow_eqs_4_5():
    succ = successor_counts({10: [1, 3, 1, 3], 11: [1, 2], 12: [4]})
    assert succ[1] == Counter({3: 2, 2: 1}) and succ[3] == Counter({1: 1}) and 4 not in succ
    oracle = oracle_tags(BASE, succ, [1, 4], m=1)
    # item 1: its own line (beam 0) and its most frequent successor's (3): 'space' is in both beams
    assert oracle[1] == {"space": 2, "war": 1, "robots": 1} and oracle[4] == {"romance": 1}


def test_beam_diagnosis_counts_lines_successors_and_chance():
    succ = successor_counts({10: [1, 3, 1, 3], 11: [1, 2]})
    beams = {1: [["robots", "space"], ["kids", "toys"], ["romance"], ["made", "up"]]}
    d = diagnose_beams("betag", beams, BASE, succ, pool=[1, 2, 3, 4], top_k=1)
    assert d.beams == 4 and d.exact_line_share == 0.75  # 3 of 4 beams are some item's line (order-free)
    assert d.successor_share == 0.25  # only item 3's line is the top-1 successor of item 1
    assert d.chance_share == 0.25 and d.distinct_items == 3


def test_leaving_out_lines_that_many_items_chose_recounts_the_rest():
    beams = {1: [["space", "robots"], ["toys", "kids"]], 2: [["toys", "kids"]], 3: [["toys", "kids"], ["romance"]]}
    first = {1: ["space", "war"], 3: ["space", "robots"]}
    # ["toys", "kids"] is in the beams of 3 items: with at most 2 it goes, beam 0 stays
    assert without_popular_lines(beams, first, 2) == {1: {"space": 2, "war": 1, "robots": 1}, 2: {},
                                                      3: {"space": 1, "robots": 1, "romance": 1}}
    # with K >= the number of items nothing goes: the system's own counts (eqs. 4-5, beam 0 first)
    assert without_popular_lines(beams, first, 3) == {i: aggregate_beams(([first[i]] if i in first else []) + b)
                                                      for i, b in beams.items()}


def test_seed_spread_over_betag_and_its_reruns():
    from betag_engine.experiments.report import seed_spread

    row = lambda system, v: {"system": system, "retriever": "bm25", "user_H@10": v, "user_N@10": v / 2,  # noqa: E731
                             "item_H@10": v, "item_N@10": v / 2}
    rows = [row("betag", 0.30), row("betag-s2025", 0.32), row("betag-s2026", 0.28), row("betag-noft", 0.9)]
    spread = {e["metric"]: e for e in seed_spread(rows)}
    assert spread["user_H@10"]["seeds"] == 3 and abs(spread["user_H@10"]["mean"] - 0.30) < 1e-12
    assert abs(spread["user_H@10"]["sd"] - 0.02) < 1e-12 and spread["user_H@10"]["max"] == 0.32
    assert seed_spread(rows[:1]) == []  # one seed: no spread


def test_extra_seeds_add_a_finetune_and_a_betag_stage_each():
    from betag_engine.experiments.profiles import stage_plan

    plan = stage_plan("quick", 2024, seeds=[7])
    extra = {s.name: s for s in plan[-2:]}
    assert set(extra) == {"finetune-s7", "betag-s7"}
    assert extra["finetune-s7"].params["seed"] == 7 and extra["finetune-s7"].params["adapter"] == "betag-quick-s7"
    assert extra["betag-s7"].params["adapter"] == "betag-quick-s7" and extra["betag-s7"].params["system"] == "betag-s7"

"""Behaviour diagnosis: successor counts, oracle BETags and the beam comparison on a hand-computed case."""

from collections import Counter

from betag_engine.experiments.diagnosis import diagnose_beams, oracle_tags, successor_counts

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

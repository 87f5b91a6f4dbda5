"""BMN post-processing and ActivityNet proposal metrics on inputs whose answers are worked out by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from videohub.tasks.proposals import bmn_candidates, bmn_proposals, boundary_mask, soft_nms
from videohub.train.metrics import area_under_curve, average_recall_vs_num_proposals, evaluate_proposals

THRESHOLDS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


# --------------------------------------------------------------------------------------- post-processing

def _peak_maps(tscale=100, s_peak=20, e_peak=59):
    start = np.full(tscale, 0.1, dtype=np.float32)
    end = np.full(tscale, 0.1, dtype=np.float32)
    start[s_peak], end[e_peak] = 0.9, 0.9
    bm = np.full((1, 2, tscale, tscale), 0.1, dtype=np.float32)
    bm[0, :, e_peak - s_peak, s_peak] = 0.95
    return bm, start[None], end[None]


def test_boundary_mask_high_or_peak():
    s = np.array([0.2, 0.1, 0.3, 0.25, 1.0, 0.4, 0.45, 0.45, 0.1], dtype=np.float32)
    # > 0.5: index 4; strict local peaks (zero padding): 0, 2, 4; 6/7 tie, so neither is a strict peak
    assert boundary_mask(s).tolist() == [True, False, True, False, True, False, False, False, False]


def test_single_peak_pair_gives_that_segment_first():
    bm, start, end = _peak_maps()
    props = bmn_proposals(bm, start, end, duration=50.0)
    # start 20, end 59 -> [20/100, 60/100] of 50 s
    assert props[0]["segment"] == pytest.approx([10.0, 30.0], abs=1e-9)
    assert props[0]["score"] == pytest.approx(0.9 * 0.9 * 0.95 * 0.95, rel=1e-6)
    # candidates: starts {0, 20} x ends {59, 99} (start 0 and the last end are always candidates)
    cands = bmn_candidates(bm, start, end)
    assert sorted(map(tuple, np.round(cands[:, :2] * 100).astype(int).tolist())) == [
        (0, 60), (0, 100), (20, 60), (20, 100)]
    for p in props:
        assert 0.0 <= p["segment"][0] <= p["segment"][1] <= 50.0


def test_candidate_order_and_scores():
    bm, start, end = _peak_maps()
    cands = bmn_candidates(bm, start, end)
    # duration-major order: (20,59) d=39, (0,59) d=59, (20,99) d=79, (0,99) d=99
    assert np.round(cands[:, :2] * 100).astype(int).tolist() == [[20, 60], [0, 60], [20, 100], [0, 100]]
    assert cands[1, 2] == pytest.approx(0.1 * 0.9 * 0.01, rel=1e-6)
    assert cands[3, 2] == pytest.approx(0.1 * 0.1 * 0.01, rel=1e-6)


def test_soft_nms_gaussian_decay_by_hand():
    props = np.array([[0.1, 0.5, 0.9],     # A, kept first; width 0.4 -> threshold 0.55 + 0.35 * 0.4 = 0.69
                      [0.2, 0.5, 0.8],     # B, IoU(A, B) = 0.3 / 0.4 = 0.75 > 0.69 -> decayed
                      [0.6, 0.9, 0.5],     # C, disjoint -> untouched
                      [0.95, 1.0, 0.01]])  # D, left last -> dropped, as in the original loop
    kept = soft_nms(props)
    b_score = 0.8 * math.exp(-0.75 ** 2 / 0.4)     # 0.8 * e^-1.40625 = 0.19601...
    assert kept.shape == (3, 3)
    assert kept[:, :2].tolist() == [[0.1, 0.5], [0.6, 0.9], [0.2, 0.5]]
    assert kept[:, 2] == pytest.approx([0.9, 0.5, b_score], rel=1e-12)


def test_soft_nms_threshold_grows_with_width():
    # A spans [0, 1] (width 1 -> threshold 0.9); B has IoU 0.8 with it: not decayed.
    props = np.array([[0.0, 1.0, 0.9], [0.0, 0.8, 0.7], [0.0, 0.05, 0.01]])
    kept = soft_nms(props)
    assert kept[:, 2] == pytest.approx([0.9, 0.7])
    # with a narrower kept proposal the same IoU (0.8) is decayed: width 0.5 -> threshold 0.725
    props = np.array([[0.0, 0.5, 0.9], [0.0, 0.4, 0.7], [0.9, 0.95, 0.01]])
    kept = soft_nms(props)
    assert kept[1, 2] == pytest.approx(0.7 * math.exp(-0.8 ** 2 / 0.4), rel=1e-9)


def test_soft_nms_keeps_at_most_101_and_top_k():
    rng = np.random.default_rng(0)
    bm = rng.uniform(0, 1, (1, 2, 100, 100)).astype(np.float32)
    start = rng.uniform(0, 1, (1, 100)).astype(np.float32)
    end = rng.uniform(0, 1, (1, 100)).astype(np.float32)
    cands = bmn_candidates(bm, start, end)
    assert cands.shape[0] > 101
    assert soft_nms(cands).shape[0] == 101
    props = bmn_proposals(bm, start, end, duration=10.0)
    assert len(props) == 100
    scores = [p["score"] for p in props]
    assert scores == sorted(scores, reverse=True)
    top5 = bmn_proposals(bm, start, end, duration=10.0, top_k=5)
    assert top5 == props[:5]
    assert bmn_proposals(bm, start, end, duration=10.0, top_k=0) == []


# --------------------------------------------------------------------------------------- evaluation

def _gt(videos):
    return {"version": "VERSION 1.3", "taxonomy": [],
            "database": {v: {"subset": "validation", "duration": 100.0,
                             "annotations": [{"segment": s, "label": "a"} for s in segs]}
                         for v, segs in videos.items()}}


def _props(videos):
    return {"version": "VERSION 1.3", "external_data": {},
            "results": {v: [{"segment": s, "score": sc} for s, sc in lst] for v, lst in videos.items()}}


def test_perfect_proposal_recalls_every_threshold():
    gt = _gt({"v1": [[10.0, 20.0]]})
    recall, avg, ppv = average_recall_vs_num_proposals(gt, _props({"v1": [([10.0, 20.0], 0.9)]}))
    assert recall.shape == (10, 100)
    assert np.all(recall == 1.0)
    # one proposal for one video with a budget of 100: the AN axis is 1, 2, ..., 100
    assert ppv == pytest.approx(np.arange(1, 101))
    # AUC = (area of a constant 1 from AN=1 to AN=100) / 100 = 99 / 100
    assert area_under_curve(avg, ppv) == pytest.approx(0.99)


def test_partial_overlap_recalls_only_lower_thresholds(tmp_path):
    # GT [10, 20], proposal [10, 16.25]: tIoU = 6.25 / 10 = 0.625 -> recalled at 0.5, 0.55, 0.6 only
    gt = _gt({"v1": [[10.0, 20.0]]})
    props = _props({"v1": [([10.0, 16.25], 0.7)]})
    gt_file, prop_file = tmp_path / "gt.json", tmp_path / "props.json"
    gt_file.write_text(json.dumps(gt))
    prop_file.write_text(json.dumps(props))
    recall, avg, ppv = average_recall_vs_num_proposals(gt_file, prop_file)
    expected = [1.0 if 0.625 >= t else 0.0 for t in THRESHOLDS]
    assert expected == [1.0, 1.0, 1.0] + [0.0] * 7
    assert recall[:, 0].tolist() == expected
    assert np.all(recall == recall[:, :1])
    assert avg == pytest.approx(np.full(100, 0.3))
    m = evaluate_proposals(gt, props)
    assert m["AR@1"] == pytest.approx(0.3) and m["AR@100"] == pytest.approx(0.3)
    assert m["AUC"] == pytest.approx(0.3 * 99 / 100)


def test_recall_grows_with_number_of_proposals():
    # Two videos, two proposals each, budget 2 per video. v1's best-scored proposal misses, its second hits;
    # v2's best one hits. Columns: 1..100 % of the budget -> 2 * k / 100 proposals per video (floored).
    gt = _gt({"v1": [[10.0, 20.0]], "v2": [[30.0, 60.0]]})
    props = _props({"v1": [([50.0, 60.0], 0.9), ([10.0, 20.0], 0.5)],
                    "v2": [([30.0, 60.0], 0.9), ([0.0, 5.0], 0.1)]})
    recall, avg, ppv = average_recall_vs_num_proposals(gt, props, max_avg_nr_proposals=2)
    assert ppv == pytest.approx(np.arange(1, 101) / 50.0)          # 0.02 ... 2.0 proposals per video
    expected = np.zeros(100)
    expected[49:99] = 0.5     # k = 50..99: one proposal per video -> only v2 recalled
    expected[99] = 1.0        # k = 100: both proposals -> both recalled
    assert avg == pytest.approx(expected)
    # trapezoids: 0.02 * (0 + 0.5) / 2 + 0.98 * 0.5 + 0.02 * (0.5 + 1) / 2 = 0.51, divided by AN_max = 2
    assert area_under_curve(avg, ppv) == pytest.approx(0.255)
    m = evaluate_proposals(gt, props, max_avg_nr_proposals=2, an=(1, 2))
    assert m == pytest.approx({"AR@1": 0.5, "AR@2": 1.0, "AUC": 0.255})


def test_video_without_proposals_counts_as_missed_and_other_subsets_ignored():
    gt = _gt({"v1": [[10.0, 20.0], [40.0, 50.0]], "v2": [[0.0, 10.0]]})
    gt["database"]["t1"] = {"subset": "training", "annotations": [{"segment": [0, 1], "label": "a"}]}
    props = _props({"v1": [([10.0, 20.0], 0.9)]})
    # 3 ground-truth instances, one recalled at every threshold
    recall, avg, _ = average_recall_vs_num_proposals(gt, props)
    assert avg[-1] == pytest.approx(1 / 3)
    assert np.all(recall[:, -1] == pytest.approx(1 / 3))


def test_evaluation_rejects_malformed_input():
    with pytest.raises(ValueError):
        average_recall_vs_num_proposals({"v1": []}, _props({}))
    with pytest.raises(ValueError):
        average_recall_vs_num_proposals(_gt({"v1": [[0.0, 1.0]]}), {"v1": []})

"""Metrics against values worked out by hand."""
import numpy as np
import pytest

from videohub.train import metrics

# 4 videos, 3 classes. True labels 0, 1, 2, 2.
SCORES = np.array([[0.7, 0.2, 0.1],    # true 0: rank 0
                   [0.5, 0.3, 0.2],    # true 1: rank 1
                   [0.1, 0.3, 0.6],    # true 2: rank 0
                   [0.6, 0.3, 0.1]])   # true 2: rank 2
LABELS = np.array([0, 1, 2, 2])


def test_topk_and_mean_class_accuracy_by_hand():
    acc = metrics.topk_accuracy(SCORES, LABELS, ks=(1, 2, 3))
    assert acc == {"top1": 2 / 4, "top2": 3 / 4, "top3": 1.0}
    # class 0: 1/1, class 1: 0/1, class 2: 1/2 -> (1 + 0 + 0.5) / 3
    assert metrics.mean_class_accuracy(SCORES, LABELS) == pytest.approx(0.5)
    report = metrics.classification_report(SCORES, LABELS)
    assert report["top3"] == 1.0 and report["top1"] == 0.5 and "top5" not in report  # k capped at C
    cm = metrics.confusion_matrix(SCORES.argmax(1), LABELS, 3)
    assert cm.tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]


def test_multi_view_averages_views():
    # video 0: view A says class 1, view B says class 0 strongly -> average says 0
    views = np.array([[[0.4, 0.6], [0.9, 0.1]],
                      [[0.2, 0.8], [0.3, 0.7]]])
    avg = metrics.average_views(views)
    assert avg == pytest.approx(np.array([[0.65, 0.35], [0.25, 0.75]]))
    assert metrics.average_views(views.reshape(4, 2), num_views=2) == pytest.approx(avg)
    single = metrics.topk_accuracy(views[:, 0], np.array([0, 1]), ks=(1,))["top1"]
    multi = metrics.topk_accuracy(avg, np.array([0, 1]), ks=(1,))["top1"]
    assert (single, multi) == (0.5, 1.0)
    with pytest.raises(ValueError):
        metrics.average_views(np.zeros((3, 2)), num_views=2)


def test_yt8m_hit1_perr_gap_by_hand():
    scores = np.array([[0.9, 0.8, 0.1, 0.3],
                       [0.2, 0.7, 0.6, 0.1]])
    targets = np.array([[1, 0, 0, 1],
                        [0, 0, 1, 0]])
    # Hit@1: video 0 top is class 0 (a label); video 1 top is class 1 (not) -> 1/2
    assert metrics.hit_at_one(scores, targets) == 0.5
    # PERR: video 0 has 2 labels, top-2 = {0, 1} -> 1/2; video 1 has 1 label, top-1 = {1} -> 0 -> mean 0.25
    assert metrics.perr(scores, targets) == 0.25
    # GAP top_k=2: pooled (0.9 hit), (0.8 miss), (0.7 miss), (0.6 hit); P = 3 labels (class 3 of video 0 is
    # outside its top 2). AP = (1/1 + 2/4) / 3 = 0.5
    assert metrics.gap(scores, targets, top_k=2) == pytest.approx(0.5)
    # top_k=4: sorted 0.9h 0.8 0.7 0.6h 0.3h 0.2 0.1 0.1 -> (1/1 + 2/4 + 3/5) / 3 = 0.7
    assert metrics.gap(scores, targets, top_k=4) == pytest.approx(0.7)
    report = metrics.yt8m_report(scores, targets, top_k=2)
    assert report["GAP"] == pytest.approx(0.5) and report["Hit@1"] == 0.5 and report["PERR"] == 0.25


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        metrics.topk_accuracy(SCORES, LABELS[:3])
    with pytest.raises(ValueError):
        metrics.topk_accuracy(SCORES, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError):
        metrics.gap(SCORES, np.zeros((4, 2)))

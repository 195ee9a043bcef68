"""Mean average precision of rotated detections, as DOTA's evaluation
computes it (PASCAL VOC's protocol, Everingham et al., IJCV 2010, with the
IoU of rotated boxes).

Per class: detections are matched in order of decreasing score, within
their image, to the ground-truth box they overlap most; at IoU >= the
threshold the detection is a true positive if that box is still unmatched,
a false positive if it was matched already, and *neither* if the box is
ignored (difficult). Detections below the threshold are false positives.
Recall counts the boxes that are not ignored. AP is the VOC07 11-point
average (``use_07_metric=True``, DOTA's default) or the area under the
interpolated precision-recall curve. The mean runs over the classes that
have at least one box that is not ignored.
"""
from typing import Dict, List, Sequence

import numpy as np
import torch

from mmdet_losses.structures import rbox_overlaps


def average_precision(recalls: np.ndarray,
                      precisions: np.ndarray,
                      use_07_metric: bool = True) -> float:
    """AP from a precision-recall curve (recall increasing).

    ``use_07_metric``: mean over recall levels 0, 0.1, ..., 1 of the best
    precision at a recall at least that level; otherwise the area under the
    curve after making precision non-increasing in recall.
    """
    if use_07_metric:
        points = []
        for level in np.linspace(0, 1, 11):
            reached = precisions[recalls >= level]
            points.append(reached.max() if reached.size else 0.0)
        return float(np.mean(points))
    recall = np.concatenate([[0.0], recalls, [1.0]])
    precision = np.concatenate([[0.0], precisions, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(
        np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def match_detections(dets: np.ndarray, gts: np.ndarray, gts_ignore: np.ndarray,
                     iou_thr: float) -> np.ndarray:
    """Match one image's detections of one class.

    Args:
        dets: ``(n, 6)`` rboxes and scores.
        gts, gts_ignore: ``(m, 5)`` and ``(k, 5)`` rboxes.

    Returns:
        ``(n,)`` int8 in score order of ``dets`` as given: 1 true positive,
        0 false positive, -1 matched an ignored box (not counted).
    """
    outcome = np.zeros(len(dets), np.int8)
    boxes = np.concatenate([gts, gts_ignore]).reshape(-1, 5)
    if len(dets) == 0 or len(boxes) == 0:
        return outcome
    ious = rbox_overlaps(
        torch.from_numpy(dets[:, :5]).float(),
        torch.from_numpy(boxes).float()).numpy()
    best = ious.argmax(axis=1)
    best_iou = ious.max(axis=1)
    matched = np.zeros(len(boxes), bool)
    for i in np.argsort(-dets[:, 5], kind='stable'):
        if best_iou[i] < iou_thr:
            continue  # a false positive
        j = best[i]
        if j >= len(gts):
            outcome[i] = -1
        elif not matched[j]:
            matched[j] = True
            outcome[i] = 1
    return outcome


def eval_rbbox_map(det_results: Sequence[Sequence[np.ndarray]],
                   annotations: Sequence[Dict[str, np.ndarray]],
                   iou_thr: float = 0.5,
                   use_07_metric: bool = True) -> List[Dict]:
    """Per-class AP of rotated detections.

    Args:
        det_results: per image, per class, ``(n, 6)`` rboxes and scores.
        annotations: per image, ``bboxes`` ``(m, 5)``, ``labels`` ``(m,)``,
            and optionally ``bboxes_ignore`` / ``labels_ignore``.
        iou_thr: IoU for a match.
        use_07_metric: VOC07 11-point AP, else the area.

    Returns:
        Per class: ``num_gts``, ``num_dets``, ``recall`` (final), ``ap``.
    """
    if len(det_results) != len(annotations):
        raise ValueError(f'{len(det_results)} images of detections for '
                         f'{len(annotations)} images of annotations')
    num_classes = len(det_results[0]) if det_results else 0
    results = []
    for cls in range(num_classes):
        scores, outcomes, num_gts = [], [], 0
        for dets, ann in zip(det_results, annotations):
            dets = np.asarray(dets[cls], np.float64).reshape(-1, 6)
            gts = ann['bboxes'][ann['labels'] == cls].reshape(-1, 5)
            ignore = ann.get('bboxes_ignore', np.zeros((0, 5)))
            ignore_labels = ann.get('labels_ignore', np.zeros(0, int))
            ignore = ignore[ignore_labels == cls].reshape(-1, 5)
            num_gts += len(gts)
            outcomes.append(match_detections(dets, gts, ignore, iou_thr))
            scores.append(dets[:, 5])
        scores = np.concatenate(scores) if scores else np.zeros(0)
        outcome = np.concatenate(outcomes) if outcomes else np.zeros(0)
        counted = outcome >= 0
        order = np.argsort(-scores[counted], kind='stable')
        hits = outcome[counted][order]
        tp, fp = np.cumsum(hits == 1), np.cumsum(hits == 0)
        recalls = tp / max(num_gts, 1)
        precisions = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        results.append(
            dict(
                num_gts=num_gts,
                num_dets=int(counted.sum()),
                recall=float(recalls[-1]) if len(recalls) else 0.0,
                ap=average_precision(recalls, precisions, use_07_metric)
                if num_gts else 0.0))
    return results


def mean_ap(class_results: Sequence[Dict]) -> float:
    """Mean AP over the classes that have ground truth (0 if none has)."""
    aps = [r['ap'] for r in class_results if r['num_gts'] > 0]
    return float(np.mean(aps)) if aps else 0.0

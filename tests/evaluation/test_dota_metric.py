"""DOTA mAP against an independent evaluation written here with shapely
polygons (DOTA devkit's procedure: detections of all images in one score
order, polygon IoU, difficult boxes neither hits nor misses)."""
import math

import numpy as np
import pytest
import shapely
import torch
from mmengine.structures import InstanceData

import mmdet_losses
from mmdet_losses.evaluation import (DOTAMetric, average_precision,
                                     eval_rbbox_map, merge_patch_detections,
                                     parse_patch_name, patch_name)
from mmdet_losses.structures import RotatedBoxes, rbox2qbox

mmdet_losses.register_all_modules(init_default_scope=False)
CLASSES = ('a', 'b', 'c')


def polygon(rbox):
    return shapely.Polygon(
        rbox2qbox(torch.as_tensor(rbox,
                                  dtype=torch.float64)).reshape(4, 2).numpy())


def reference_ap(images, cls, iou_thr, use_07):
    """images: list of dict(gts=[(rbox, label, difficult)],
    dets=[(rbox, label, score)])."""
    dets = [(score, i, rbox) for i, image in enumerate(images)
            for rbox, label, score in image['dets'] if label == cls]
    dets.sort(key=lambda d: -d[0])
    gts = [[(polygon(rbox), difficult)
            for rbox, label, difficult in image['gts'] if label == cls]
           for image in images]
    npos = sum(not d for image in gts for _, d in image)
    used = [[False] * len(image) for image in gts]
    tp, fp = [], []
    for score, i, rbox in dets:
        pd = polygon(rbox)
        best, best_j = -1.0, -1
        for j, (pg, _) in enumerate(gts[i]):
            inter = pd.intersection(pg).area
            iou = inter / (pd.area + pg.area - inter)
            if iou > best:
                best, best_j = iou, j
        if best >= iou_thr:
            if gts[i][best_j][1]:
                continue
            if not used[i][best_j]:
                used[i][best_j] = True
                tp.append(1)
                fp.append(0)
            else:
                tp.append(0)
                fp.append(1)
        else:
            tp.append(0)
            fp.append(1)
    if npos == 0:
        return None
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    recall = tp / npos
    precision = tp / np.maximum(tp + fp, 1e-12)
    if use_07:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = precision[recall >= t].max() if (recall >= t).any() else 0
            ap += p / 11
        return ap
    # all points: area under the precision envelope
    mrec = [0.0] + list(recall) + [1.0]
    mpre = [0.0] + list(precision) + [0.0]
    for k in range(len(mpre) - 2, -1, -1):
        mpre[k] = max(mpre[k], mpre[k + 1])
    return sum((mrec[k + 1] - mrec[k]) * mpre[k + 1]
               for k in range(len(mrec) - 1) if mrec[k + 1] != mrec[k])


def random_images(seed, num_images=6):
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(num_images):
        gts = []
        for _ in range(rng.integers(0, 8)):
            rbox = [
                rng.uniform(0, 300),
                rng.uniform(0, 300),
                rng.uniform(10, 60),
                rng.uniform(5, 30),
                rng.uniform(-math.pi / 2, math.pi / 2)
            ]
            gts.append((rbox, int(rng.integers(3)), bool(rng.random() < 0.2)))
        dets = []
        for rbox, label, _ in gts:  # near misses and hits, some duplicated
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, [4, 4, 4, 2, 0.15])
                dets.append(
                    (list(np.array(rbox) + jitter),
                     label if rng.random() < 0.85 else int(rng.integers(3)),
                     float(rng.random())))
        for _ in range(rng.integers(0, 6)):  # false alarms
            dets.append(([
                rng.uniform(0, 300),
                rng.uniform(0, 300),
                rng.uniform(10, 60),
                rng.uniform(5, 30),
                rng.uniform(-2, 2)
            ], int(rng.integers(3)), float(rng.random())))
        images.append(dict(gts=gts, dets=dets))
    return images


def as_inputs(images):
    det_results, annotations = [], []
    for image in images:
        rows = [(label, rbox + [score])
                for rbox, label, score in image['dets']]
        det_results.append([
            np.array([r for label, r in rows if label == c]).reshape(-1, 6)
            for c in range(len(CLASSES))
        ])
        boxes = np.array([g[0] for g in image['gts']]).reshape(-1, 5)
        labels = np.array([g[1] for g in image['gts']], np.int64)
        hard = np.array([g[2] for g in image['gts']], bool)
        annotations.append(
            dict(
                bboxes=boxes[~hard],
                labels=labels[~hard],
                bboxes_ignore=boxes[hard],
                labels_ignore=labels[hard]))
    return det_results, annotations


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
@pytest.mark.parametrize('use_07', [True, False])
@pytest.mark.parametrize('iou_thr', [0.5, 0.7])
def test_matches_independent_polygon_evaluation(seed, use_07, iou_thr):
    images = random_images(seed)
    results = eval_rbbox_map(*as_inputs(images), iou_thr, use_07)
    for cls, result in enumerate(results):
        expected = reference_ap(images, cls, iou_thr, use_07)
        if expected is None:
            assert result['num_gts'] == 0 and result['ap'] == 0
        else:
            assert result['ap'] == pytest.approx(expected, abs=1e-6), cls


def test_perfect_and_empty_detections():
    images = random_images(5)
    perfect = [
        dict(gts=im['gts'], dets=[(r, l, 0.9) for r, l, _ in im['gts']])
        for im in images
    ]
    results = eval_rbbox_map(*as_inputs(perfect))
    assert all(r['ap'] == pytest.approx(1.0) for r in results if r['num_gts'])
    nothing = [dict(gts=im['gts'], dets=[]) for im in images]
    assert all(r['ap'] == 0 for r in eval_rbbox_map(*as_inputs(nothing)))


def test_average_precision_closed_forms():
    recall = np.array([0.5, 0.5, 1.0])
    precision = np.array([1.0, 0.5, 2 / 3])
    # area: 0.5 * 1 + 0.5 * 2/3
    assert average_precision(recall, precision,
                             False) == pytest.approx(0.5 + 1 / 3)
    # 11 points: 6 levels up to 0.5 at 1.0, 5 above at 2/3
    assert average_precision(recall, precision, True) == pytest.approx(
        (6 + 5 * 2 / 3) / 11)


def data_sample(image):
    gts = [g for g in image['gts'] if not g[2]]
    hard = [g for g in image['gts'] if g[2]]

    def instances(items):
        data = InstanceData()
        data.bboxes = RotatedBoxes(
            torch.tensor([g[0] for g in items]).reshape(-1, 5))
        data.labels = torch.tensor([g[1] for g in items], dtype=torch.long)
        return data.to_dict()

    pred = dict(
        bboxes=torch.tensor([d[0] for d in image['dets']]).reshape(-1, 5),
        scores=torch.tensor([d[2] for d in image['dets']]),
        labels=torch.tensor([d[1] for d in image['dets']], dtype=torch.long))
    return dict(
        img_path=f'/data/{image["name"]}.png',
        pred_instances=pred,
        gt_instances=instances(gts),
        ignored_instances=instances(hard))


def test_metric_on_data_samples():
    images = random_images(11)
    for i, image in enumerate(images):
        image['name'] = f'P{i}'
    metric = DOTAMetric(iou_thrs=[0.5, 0.75], classwise=True)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [data_sample(im) for im in images])
    out = metric.evaluate(len(images))
    per_class = [
        reference_ap(images, c, 0.5, True) for c in range(len(CLASSES))
    ]
    present = [ap for ap in per_class if ap is not None]
    assert out['dota/AP50'] == pytest.approx(np.mean(present), abs=1e-4)
    assert out['dota/mAP'] == pytest.approx(
        (out['dota/AP50'] + out['dota/AP75']) / 2, abs=1e-4)
    assert out['dota/AP50_a'] == pytest.approx(per_class[0] or 0, abs=1e-4)
    with pytest.raises(ValueError, match='mAP'):
        DOTAMetric(metric='recall')


def test_format_only_writes_task1_and_merges_patches(tmp_path):
    images = [
        dict(
            name=patch_name('P7', 1.0, 0, 0),
            gts=[],
            dets=[([50., 50., 20., 10., 0.2], 1, 0.9)]),
        dict(
            name=patch_name('P7', 1.0, 40, 0),
            gts=[],
            # the same object seen from the next patch, 40 px to the right
            dets=[([10., 50., 20., 10., 0.2], 1, 0.8),
                  ([100., 100., 20., 10., 0.0], 0, 0.5)]),
    ]
    metric = DOTAMetric(
        format_only=True, merge_patches=True, outfile_prefix=str(tmp_path))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [data_sample(im) for im in images])
    assert metric.evaluate(2) == {}
    lines = open(tmp_path / 'Task1_b.txt').read().splitlines()
    assert len(lines) == 1 and lines[0].startswith('P7 0.9000')
    line_a = open(tmp_path / 'Task1_a.txt').read().split()
    corners = rbox2qbox(torch.tensor([140., 100., 20., 10., 0.])).tolist()
    assert np.allclose([float(v) for v in line_a[2:]], corners, atol=0.01)
    with pytest.raises(ValueError, match='outfile_prefix'):
        DOTAMetric(format_only=True)


def test_patch_names_round_trip_and_merge_scales_back():
    name = patch_name('P0001', 0.5, 824, 1648)
    assert name == 'P0001__0.5__824___1648'
    assert parse_patch_name(name) == ('P0001', 0.5, 824, 1648)
    assert parse_patch_name('a__b__1.0__0___0')[0] == 'a__b'
    with pytest.raises(ValueError, match='not a patch name'):
        parse_patch_name('P0001')
    merged = merge_patch_detections([
        (name, np.array([[10., 20., 30., 40.,
                          0.1]]), np.array([0.7]), np.array([2]))
    ])
    boxes, scores, labels = merged['P0001']
    assert np.allclose(boxes, [[(10 + 824) / 0.5,
                                (20 + 1648) / 0.5, 60., 80., 0.1]])
    assert scores.tolist() == pytest.approx([0.7]) and labels.tolist() == [2]


def test_eval_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match='images'):
        eval_rbbox_map([[np.zeros((0, 6))]], [])

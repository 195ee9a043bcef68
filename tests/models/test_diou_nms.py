"""DIoU-NMS against a plain greedy reference, alone, batched through mmcv's
``batched_nms`` and inside an mmdet dense head's post-processing."""
import importlib
import math

import pytest
import torch
from mmcv.ops import batched_nms
from mmengine.config import ConfigDict

import mmdet_losses.models  # noqa: F401  (registers 'diou_nms' with mmcv)
from mmdet_losses.models.task_modules.diou_nms import diou_nms

# the module; its package exports the function under the same name
diou_nms_module = importlib.import_module(
    'mmdet_losses.models.task_modules.diou_nms')

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def reference_criterion(a, b, beta):
    """IoU - (rho^2 / c^2)^beta of two xyxy boxes, in Python floats."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
             inter)
    iou = inter / union if union > 0 else 0.0
    rho2 = (((a[0] + a[2]) - (b[0] + b[2]))**2 + ((a[1] + a[3]) -
                                                  (b[1] + b[3]))**2) / 4
    c2 = ((max(a[2], b[2]) - min(a[0], b[0]))**2 +
          (max(a[3], b[3]) - min(a[1], b[1]))**2)
    penalty = rho2 / c2 if c2 > 0 else 0.0
    return iou - penalty**beta


def reference_diou_nms(boxes, scores, threshold, beta=1.0):
    """Textbook greedy DIoU-NMS: highest score first, ties by index."""
    boxes, scores = boxes.tolist(), scores.tolist()
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep, suppressed = [], set()
    for pos, i in enumerate(order):
        if i in suppressed:
            continue
        keep.append(i)
        for j in order[pos + 1:]:
            if j not in suppressed and reference_criterion(
                    boxes[i], boxes[j], beta) >= threshold:
                suppressed.add(j)
    return keep


def random_boxes(n, seed, spread=60.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=dtype) * spread
    wh = torch.rand(n, 2, generator=g, dtype=dtype) * 30 + 1
    return torch.cat([xy, xy + wh], 1)


def tied_scores(n, seed, levels=4):
    """Scores with many exact ties."""
    g = torch.Generator().manual_seed(seed + 1000)
    return torch.randint(0, levels, (n, ), generator=g).double() / levels


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('beta', [1.0, 0.6, 2.0])
@pytest.mark.parametrize('threshold', [0.3, 0.5, 0.7])
@pytest.mark.parametrize('seed', range(4))
def test_equals_greedy_reference(seed, threshold, beta, device):
    boxes = random_boxes(150, seed)
    scores = torch.rand(150, generator=torch.Generator().manual_seed(seed))
    scores = scores.double()
    dets, keep = diou_nms(
        boxes.to(device), scores.to(device), threshold, beta=beta)
    assert keep.device.type == device and keep.dtype == torch.long
    assert keep.cpu().tolist() == reference_diou_nms(boxes, scores, threshold,
                                                     beta)
    # dets are the kept boxes with their scores, best first
    assert torch.equal(dets[:, :4].cpu(), boxes[keep.cpu()])
    assert torch.equal(dets[:, 4].cpu(), scores[keep.cpu()])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('seed', range(4))
def test_tied_scores_and_duplicate_boxes(seed, device):
    boxes = random_boxes(120, seed)
    # exact duplicates: a box and its copy score the same, the first wins
    boxes[60:80] = boxes[:20]
    scores = tied_scores(120, seed)
    scores[60:80] = scores[:20]
    _, keep = diou_nms(boxes.to(device), scores.to(device), 0.5)
    expected = reference_diou_nms(boxes, scores, 0.5)
    assert keep.cpu().tolist() == expected
    assert not set(expected) & set(range(60, 80))


def test_more_boxes_than_one_block():
    boxes = random_boxes(300, 5, spread=200.0)
    scores = tied_scores(300, 5, levels=50)
    _, keep = diou_nms(boxes, scores, 0.4, beta=0.8)
    assert keep.tolist() == reference_diou_nms(boxes, scores, 0.4, 0.8)


def test_float32_input_equals_reference():
    boxes = random_boxes(200, 7).float()
    scores = torch.rand(200, generator=torch.Generator().manual_seed(7))
    _, keep = diou_nms(boxes, scores, 0.5)
    assert keep.tolist() == reference_diou_nms(boxes.double(), scores.double(),
                                               0.5)


def test_suppresses_at_the_threshold_itself():
    # same centre, so the distance term is 0; IoU = 4 / 16 exactly
    boxes = torch.tensor([[0., 0., 4., 4.], [1., 1., 3., 3.]])
    scores = torch.tensor([0.9, 0.8])
    assert diou_nms(boxes, scores, 0.25)[1].tolist() == [0]
    assert diou_nms(boxes, scores, 0.2501)[1].tolist() == [0, 1]


def test_keeps_overlapping_boxes_with_distant_centres():
    # IoU 1/3 but centres far apart: plain NMS at 0.3 would suppress
    boxes = torch.tensor([[0., 0., 2., 1.], [1., 0., 3., 1.]])
    scores = torch.tensor([0.9, 0.8])
    criterion = reference_criterion(boxes[0].tolist(), boxes[1].tolist(), 1)
    assert math.isclose(criterion, 1 / 3 - 1 / 10)
    assert diou_nms(boxes, scores, 0.3)[1].tolist() == [0, 1]
    assert diou_nms(boxes, scores, 0.2)[1].tolist() == [0]


@pytest.mark.parametrize('device', DEVICES)
def test_empty_input(device):
    boxes = torch.zeros(0, 4, device=device)
    scores = torch.zeros(0, device=device)
    dets, keep = diou_nms(boxes, scores, 0.5)
    assert dets.shape == (0, 5) and keep.shape == (0, )
    assert keep.dtype == torch.long and keep.device.type == device


def test_score_threshold_and_max_num():
    boxes = random_boxes(100, 3)
    scores = torch.rand(100, generator=torch.Generator().manual_seed(3))
    scores = scores.double()
    high = (scores > 0.5).nonzero().squeeze(1)
    expected = [
        int(high[i])
        for i in reference_diou_nms(boxes[high], scores[high], 0.5)
    ]
    _, keep = diou_nms(boxes, scores, 0.5, score_threshold=0.5)
    assert keep.tolist() == expected
    _, keep = diou_nms(boxes, scores, 0.5, score_threshold=0.5, max_num=3)
    assert keep.tolist() == expected[:3]


def test_gradient_flows_to_kept_boxes_like_mmcv_nms():
    boxes = random_boxes(20, 0).float().requires_grad_()
    dets, keep = diou_nms(boxes, torch.rand(20), 0.5)
    dets[:, :4].sum().backward()
    assert boxes.grad[keep].eq(1).all()
    assert boxes.grad.sum() == 4 * len(keep)


@pytest.mark.parametrize('bad, message', [
    (lambda b, s:
     (b.index_fill(0, torch.tensor([3]), float('nan')), s), 'box 3'),
    (lambda b, s: (b.index_put(
        (torch.tensor([5]), torch.tensor([2])), torch.tensor(-1.0)), s),
     'box 5'),
    (lambda b, s:
     (b, s.index_fill(0, torch.tensor([2]), float('inf'))), 'box 2'),
    (lambda b, s: (b[:, :3], s), 'shape'),
    (lambda b, s: (b, s[:-1]), 'scores must have shape'),
])
def test_bad_input_names_the_problem(bad, message):
    boxes, scores = bad(random_boxes(10, 0).float(), torch.rand(10))
    with pytest.raises(ValueError, match=message):
        diou_nms(boxes, scores, 0.5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(iou_threshold=-0.1), 'iou_threshold'),
    (dict(iou_threshold=1.5), 'iou_threshold'),
    (dict(iou_threshold=0.5, beta=0), 'beta'),
])
def test_bad_parameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diou_nms(random_boxes(4, 0), torch.rand(4).double(), **kwargs)


def reference_batched(boxes, scores, labels, threshold, beta):
    keep = []
    for label in labels.unique().tolist():
        idx = (labels == label).nonzero().squeeze(1)
        keep += [
            int(idx[i]) for i in reference_diou_nms(boxes[idx], scores[idx],
                                                    threshold, beta)
        ]
    return sorted(keep, key=lambda i: (-float(scores[i]), i))


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('split_thr', [10000, 50])
def test_mmcv_batched_nms_dispatches_per_class(split_thr, device):
    """``type='diou_nms'`` resolves inside mmcv.ops.batched_nms, classes do
    not suppress each other, on both of its code paths (one call with
    class offsets, and one call per class above ``split_thr`` boxes)."""
    boxes = random_boxes(300, 11, spread=40.0)
    # distinct scores: the per-class path re-sorts with an unstable sort
    scores = torch.randperm(
        300, generator=torch.Generator().manual_seed(11)).double() / 300
    labels = torch.randint(
        0, 4, (300, ), generator=torch.Generator().manual_seed(12))
    cfg = dict(
        type='diou_nms', iou_threshold=0.5, beta=0.6, split_thr=split_thr)
    dets, keep = batched_nms(
        boxes.to(device), scores.to(device), labels.to(device), cfg)
    assert keep.cpu().tolist() == reference_batched(boxes, scores, labels, 0.5,
                                                    0.6)
    assert torch.equal(dets[:, :4].cpu(), boxes[keep.cpu()])


def test_mmdet_dense_head_uses_it_from_test_cfg():
    """An unmodified mmdet head (RetinaHead) post-processes with DIoU-NMS
    when its test_cfg asks for it: its detections equal the reference
    applied to the head's own boxes before NMS."""
    from mmdet.models.dense_heads import RetinaHead
    torch.manual_seed(0)
    test_cfg = ConfigDict(
        nms_pre=200,
        min_bbox_size=0,
        score_thr=0.0,
        nms=dict(type='diou_nms', iou_threshold=0.5, beta=0.6),
        max_per_img=50)
    head = RetinaHead(
        num_classes=3,
        in_channels=4,
        feat_channels=4,
        stacked_convs=1,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=1,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16]),
        test_cfg=test_cfg).eval()
    feats = [torch.randn(1, 4, 8, 8), torch.randn(1, 4, 4, 4)]
    cls_scores, bbox_preds = head(feats)
    meta = [dict(img_shape=(64, 64), scale_factor=(1.0, 1.0))]
    raw = head.predict_by_feat(
        cls_scores, bbox_preds, batch_img_metas=meta, with_nms=False)[0]
    result = head.predict_by_feat(
        cls_scores, bbox_preds, batch_img_metas=meta)[0]
    expected = reference_batched(raw.bboxes.double(), raw.scores.double(),
                                 raw.labels, 0.5, 0.6)[:50]
    assert len(result) == len(expected) > 0
    assert torch.equal(result.bboxes, raw.bboxes[expected])
    assert torch.equal(result.labels, raw.labels[expected])
    # and it differs from plain NMS on these boxes
    head.test_cfg.nms = dict(type='nms', iou_threshold=0.5)
    plain = head.predict_by_feat(
        cls_scores, bbox_preds, batch_img_metas=meta)[0]
    assert len(plain) != len(result) or not torch.equal(
        plain.bboxes, result.bboxes)


def test_registration_is_idempotent_and_does_not_clobber(monkeypatch):
    mmcv_nms = importlib.import_module('mmcv.ops.nms')
    assert mmcv_nms.diou_nms is diou_nms
    diou_nms_module.register_with_mmcv()
    assert mmcv_nms.diou_nms is diou_nms
    monkeypatch.setattr(mmcv_nms, 'diou_nms', lambda *a: None)
    with pytest.raises(RuntimeError, match='different "diou_nms"'):
        diou_nms_module.register_with_mmcv()

"""DIoU-NMS against a plain greedy reference, alone, batched through mmcv's
``batched_nms`` and inside an mmdet dense head's post-processing; its
explicit install into mmcv."""
import importlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmcv.ops import batched_nms, nms
from mmengine.config import Config, ConfigDict

import mmdet_losses.models  # noqa: F401
from mmdet_losses.models.task_modules.diou_nms import (
    diou_nms, register_diou_nms, register_diou_nms_if_used, uses_diou_nms)

REPO = Path(__file__).resolve().parents[2]
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def mmcv_nms_module():
    # not `import mmcv.ops.nms as ...`: mmcv.ops exports the function nms
    return importlib.import_module('mmcv.ops.nms')


@pytest.fixture
def installed():
    """register_diou_nms() for one test, undone afterwards so that every
    test sees mmcv as an import of this package leaves it."""
    module = mmcv_nms_module()
    had = hasattr(module, 'diou_nms')
    register_diou_nms()
    yield
    if not had:
        del module.diou_nms


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
    (lambda b, s: (b.index_put(
        (torch.tensor([5]), torch.tensor([2])), torch.tensor(-1.0)), s),
     'box 5 is inverted'),
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
    (dict(iou_threshold=0.5, offset=2), 'offset must be 0 or 1'),
    (dict(iou_threshold=0.5, offset=-1), 'offset must be 0 or 1'),
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


@pytest.mark.usefixtures('installed')
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
    when its test_cfg asks for it, once the runner's call made for that
    config installed it: its detections equal the reference applied to the
    head's own boxes before NMS."""
    from mmdet.models.dense_heads import RetinaHead
    torch.manual_seed(0)
    test_cfg = ConfigDict(
        nms_pre=200,
        min_bbox_size=0,
        score_thr=0.0,
        nms=dict(type='diou_nms', iou_threshold=0.5, beta=0.6),
        max_per_img=50)
    module = mmcv_nms_module()
    had = hasattr(module, 'diou_nms')
    try:
        assert register_diou_nms_if_used(dict(test_cfg=test_cfg))
        _check_head(RetinaHead, test_cfg)
    finally:
        if not had:
            del module.diou_nms


def _check_head(RetinaHead, test_cfg):
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


@pytest.mark.usefixtures('installed')
def test_registration_is_idempotent_and_does_not_clobber(monkeypatch):
    module = mmcv_nms_module()
    assert module.diou_nms is diou_nms
    register_diou_nms()
    assert module.diou_nms is diou_nms
    monkeypatch.setattr(module, 'diou_nms', lambda *a: None)
    with pytest.raises(RuntimeError, match='different "diou_nms"'):
        register_diou_nms()


def test_import_alone_leaves_mmcv_alone_and_install_is_explicit():
    """In a fresh interpreter (this one's mmcv state depends on the tests
    run before): importing the package, its models and this module adds
    nothing to mmcv.ops.nms; register_diou_nms() does, and batched_nms then
    resolves the name."""
    script = '\n'.join([
        'import importlib, torch',
        'import mmdet_losses, mmdet_losses.models',
        'import mmdet_losses.models.task_modules.diou_nms as m',
        'nms_module = importlib.import_module("mmcv.ops.nms")',
        'print(hasattr(nms_module, "diou_nms"))',
        'from mmcv.ops import batched_nms',
        'cfg = dict(type="diou_nms", iou_threshold=0.5)',
        'boxes, scores = torch.rand(3, 4), torch.rand(3)',
        'boxes[:, 2:] += 1',
        'try:',
        '    batched_nms(boxes, scores, torch.zeros(3), cfg)',
        'except NameError as e:',
        '    print("NameError", e)',
        'from mmdet_losses.models.task_modules.diou_nms import '
        'register_diou_nms, diou_nms',
        'register_diou_nms()',
        'print(nms_module.diou_nms is diou_nms)',
        'print(len(batched_nms(boxes, scores, torch.zeros(3), cfg)[1]) > 0)',
    ])
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(REPO), os.environ.get('PYTHONPATH', '')]),
        OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable, '-c', script],
                         cwd=REPO,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        'False', "NameError name 'diou_nms' is not defined", 'True', 'True'
    ]


def test_install_fails_loudly_without_mmcv_ops(monkeypatch):
    # None in sys.modules makes the import raise, as a missing mmcv.ops does
    monkeypatch.delattr(mmcv_nms_module(), 'diou_nms', raising=False)
    monkeypatch.setitem(sys.modules, 'mmcv.ops.nms', None)
    with pytest.raises(
            ImportError,
            match='DIoU-NMS cannot be installed: mmcv.ops failed '
            'to import') as info:
        register_diou_nms()
    assert isinstance(info.value.__cause__, ImportError)
    cfg = dict(model=dict(test_cfg=dict(nms=dict(type='diou_nms'))))
    with pytest.raises(ImportError, match='DIoU-NMS cannot be installed'):
        register_diou_nms_if_used(cfg)
    # a config without DIoU-NMS needs no mmcv.ops and installs nothing
    plain = dict(model=dict(test_cfg=dict(nms=dict(type='nms'))))
    assert register_diou_nms_if_used(plain) is False


def test_uses_diou_nms_finds_it_anywhere():
    assert uses_diou_nms([dict(a=(1, dict(type='diou_nms')))])
    assert uses_diou_nms(ConfigDict(x=dict(nms=dict(type='diou_nms'))))
    assert not uses_diou_nms(dict(type='nms', name='diou_nms'))
    assert not uses_diou_nms(dict(nms=dict(type='soft_nms')))


def diou_nms_configs():
    """Every shipped config that names diou_nms, found by text."""
    return sorted(
        p.relative_to(REPO / 'configs').as_posix()
        for p in (REPO / 'configs').rglob('*.py')
        if 'diou_nms' in p.read_text())


def test_shipped_diou_nms_configs_are_found():
    configs = diou_nms_configs()
    assert 'gfl/gfl_r50_fpn_ciou_diou-nms_1x_coco.py' in configs
    for name in configs:
        cfg = Config.fromfile(str(REPO / 'configs' / name))
        assert uses_diou_nms(cfg), name
    plain = Config.fromfile(str(REPO / 'configs/gfl/gfl_r50_fpn_1x_coco.py'))
    assert not uses_diou_nms(plain)
    assert not uses_diou_nms(torch.nn.Linear(1, 1))


def offset_boxes(boxes, offset):
    """The continuous boxes mmcv's ``offset`` describes: x2, y2 + offset."""
    return torch.cat([boxes[:, :2], boxes[:, 2:] + offset], 1)


def test_offset_closed_form():
    # widths 3 + offset; x-overlap 1 + offset; centres 2 apart in x
    boxes = torch.tensor([[0., 0., 3., 3.], [2., 0., 5., 3.]])
    scores = torch.tensor([0.9, 0.8])
    # offset 0: IoU 3 / 15, rho^2 4, c^2 5^2 + 3^2
    assert math.isclose(
        reference_criterion(boxes[0].tolist(), boxes[1].tolist(), 1),
        0.2 - 4 / 34)
    # offset 1: IoU 8 / 24, rho^2 4, c^2 6^2 + 4^2
    wide = offset_boxes(boxes, 1)
    assert math.isclose(
        reference_criterion(wide[0].tolist(), wide[1].tolist(), 1),
        1 / 3 - 4 / 52)
    assert diou_nms(boxes, scores, 0.2)[1].tolist() == [0, 1]
    assert diou_nms(boxes, scores, 0.2, offset=1)[1].tolist() == [0]
    assert diou_nms(boxes, scores, 0.26, offset=1)[1].tolist() == [0, 1]
    # mmcv's plain NMS with the same offset sees IoU 1/3 > 0.3
    assert nms(boxes, scores, 0.3, offset=1)[1].tolist() == [0]
    assert diou_nms(boxes, scores, 0.3, offset=1)[1].tolist() == [0, 1]


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('threshold', [0.31, 0.53, 0.77])
def test_offset_equals_mmcv_nms_on_concentric_boxes(seed, threshold):
    """Boxes sharing one centre have no distance term, so DIoU-NMS is plain
    NMS there: with offset=1 it must keep what mmcv.ops.nms(offset=1)
    keeps, and differ from offset=0 somewhere (the widths matter)."""
    g = torch.Generator().manual_seed(seed)
    half = torch.randint(0, 12, (80, 2), generator=g).float()
    boxes = torch.cat([20 - half, 20 + half], 1)  # x1 + x2 = 40 for all
    scores = torch.randperm(80, generator=g).float() / 80
    for offset in (0, 1):
        _, expected = nms(boxes, scores, threshold, offset=offset)
        _, keep = diou_nms(boxes, scores, threshold, offset=offset)
        assert keep.tolist() == expected.tolist(), offset
    assert not torch.equal(
        diou_nms(boxes, scores, threshold, offset=1)[1],
        diou_nms(boxes, scores, threshold, offset=0)[1])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('seed', range(3))
def test_offset_equals_reference_on_widened_boxes(seed, device):
    boxes = random_boxes(120, seed).round()
    scores = torch.rand(
        120, generator=torch.Generator().manual_seed(seed)).double()
    _, keep = diou_nms(
        boxes.to(device), scores.to(device), 0.45, beta=0.6, offset=1)
    assert keep.cpu().tolist() == reference_diou_nms(
        offset_boxes(boxes, 1), scores, 0.45, 0.6)


@pytest.mark.usefixtures('installed')
def test_offset_through_batched_nms():
    boxes = random_boxes(100, 4).round()
    scores = torch.rand(
        100, generator=torch.Generator().manual_seed(4)).double()
    labels = torch.zeros(100, dtype=torch.long)
    cfg = dict(type='diou_nms', iou_threshold=0.4, offset=1)
    _, keep = batched_nms(boxes, scores, labels, cfg)
    assert keep.tolist() == reference_diou_nms(
        offset_boxes(boxes, 1), scores, 0.4)


@pytest.mark.parametrize('device', DEVICES)
def test_non_finite_boxes_are_dropped_with_a_warning(device):
    boxes = random_boxes(50, 8)
    scores = torch.rand(50, generator=torch.Generator().manual_seed(8))
    scores = scores.double()
    boxes[3, 1] = float('nan')
    boxes[17, 2] = float('inf')
    boxes[30, 0] = -float('inf')
    scores[9] = float('nan')
    with pytest.warns(
            RuntimeWarning, match=r'dropped 4 of 50 boxes .*\[3, 9, 17, 30\]'):
        dets, keep = diou_nms(boxes.to(device), scores.to(device), 0.5)
    rest = [i for i in range(50) if i not in (3, 9, 17, 30)]
    expected = [
        rest[i] for i in reference_diou_nms(boxes[rest], scores[rest], 0.5)
    ]
    assert keep.cpu().tolist() == expected
    assert torch.isfinite(dets).all()


def test_all_boxes_non_finite_gives_an_empty_result():
    boxes = torch.full((4, 4), float('nan'))
    with pytest.warns(RuntimeWarning, match='dropped 4 of 4'):
        dets, keep = diou_nms(boxes, torch.rand(4), 0.5)
    assert dets.shape == (0, 5) and keep.shape == (0, )


@pytest.mark.usefixtures('installed')
def test_non_finite_boxes_in_batched_nms():
    boxes = random_boxes(60, 9)
    scores = torch.rand(
        60, generator=torch.Generator().manual_seed(9)).double()
    labels = torch.randint(
        0, 3, (60, ), generator=torch.Generator().manual_seed(10))
    boxes[5] = float('nan')
    cfg = dict(type='diou_nms', iou_threshold=0.5)
    rest = [i for i in range(60) if i != 5]
    # class-agnostic, the boxes reach diou_nms as they are
    with pytest.warns(RuntimeWarning, match='dropped 1 of 60'):
        _, keep = batched_nms(boxes, scores, labels, cfg, class_agnostic=True)
    assert keep.tolist() == [
        rest[i] for i in reference_diou_nms(boxes[rest], scores[rest], 0.5)
    ]
    # with class offsets mmcv shifts by boxes.max(), NaN: every box becomes
    # NaN before diou_nms sees them; the image loses its detections, but
    # with a warning and without an exception
    with pytest.warns(RuntimeWarning, match='dropped 60 of 60'):
        _, keep = batched_nms(boxes, scores, labels, cfg)
    assert len(keep) == 0

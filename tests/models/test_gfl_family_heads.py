"""The heads that bring QFL and DFL to other detectors and to the GFL
paper's ablations: GFLAblationHead, FCOSGFLHead, RetinaQFLHead.

References: mmdet's own GFLHead and ATSSHead, with mmdet's losses, given
the same weights (the two ends of GFLAblationHead's switches), and losses
assembled in this file from mmdet's target assignment, ``bbox_overlaps``,
``Integral`` and losses. The heads under test run in this package's scope,
with its losses, as a config with ``default_scope='mmdet_losses'`` builds
them.
"""
import pytest
import torch
from mmdet.models.dense_heads.gfl_head import Integral
from mmdet.models.utils import images_to_levels
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmdet_losses
from mmdet_losses.registry import MODELS

mmdet_losses.register_all_modules(init_default_scope=False)

IMG = 64
METAS = [
    dict(
        img_shape=(IMG, IMG),
        pad_shape=(IMG, IMG),
        batch_input_shape=(IMG, IMG),
        scale_factor=(1., 1.))
] * 2
QFL = dict(
    type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0)
FOCAL = dict(
    type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)
DFL = dict(type='DistributionFocalLoss', loss_weight=0.25)
CENTERNESS = dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)
ATSS_CODER = dict(
    type='DeltaXYWHBBoxCoder',
    target_means=[.0, .0, .0, .0],
    target_stds=[0.1, 0.1, 0.2, 0.2])
TEST_CFG = ConfigDict(
    nms_pre=100,
    min_bbox_size=0,
    score_thr=0.0,
    nms=dict(type='nms', iou_threshold=0.6),
    max_per_img=30)
# a GFL / ATSS head, tiny: 8 channels, 2 levels
GFL_COMMON = dict(
    num_classes=3,
    in_channels=8,
    feat_channels=8,
    stacked_convs=1,
    norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
    anchor_generator=dict(
        type='AnchorGenerator',
        ratios=[1.0],
        octave_base_scale=8,
        scales_per_octave=1,
        strides=[8, 16]),
    loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
    train_cfg=ConfigDict(
        assigner=dict(type='ATSSAssigner', topk=9),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=TEST_CFG)


@pytest.fixture(autouse=True)
def our_scope():
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        yield


def mmdet_build(cfg):
    """Build with mmdet's classes only: ``type`` and every loss type get
    mmdet's scope prefix."""
    cfg = dict(cfg, type='mmdet.' + cfg['type'])
    for key, value in cfg.items():
        if key.startswith('loss_') and value:
            cfg[key] = dict(value, type='mmdet.' + value['type'])
    return MMDET_MODELS.build(cfg)


def ground_truth():
    return [
        InstanceData(
            bboxes=torch.tensor([[5., 6., 40., 50.], [20., 10., 60., 30.]]),
            labels=torch.tensor([0, 2])),
        InstanceData(
            bboxes=torch.tensor([[1., 1., 30., 62.], [40., 36., 56., 52.]]),
            labels=torch.tensor([1, 1]))
    ]


def features(seed=0, sizes=(8, 4)):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 8, s, s, generator=g) for s in sizes]


def copy_weights(src, dst, rename=()):
    state = src.state_dict()
    for old, new in rename:
        state = {k.replace(old, new): v for k, v in state.items()}
    missing, unexpected = dst.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    return missing


def total(losses):
    return {k: sum(v) if isinstance(v, list) else v for k, v in losses.items()}


def assert_same_losses(ours, ref):
    ours, ref = total(ours), total(ref)
    assert set(ours) == set(ref)
    for key in ref:
        torch.testing.assert_close(
            ours[key], ref[key], rtol=1e-5, atol=1e-6, msg=key)


def assert_same_detections(ours, ref):
    for a, b in zip(ours, ref):
        assert len(a) == len(b) > 0
        torch.testing.assert_close(a.bboxes, b.bboxes, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(a.scores, b.scores, rtol=1e-5, atol=1e-6)
        assert torch.equal(a.labels, b.labels)


def assert_every_parameter_learns(head, losses):
    sum(total(losses).values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None, f'{name} gets no gradient'


def ablation_head(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(GFL_COMMON, type='GFLAblationHead', **kwargs))


# GFLAblationHead ------------------------------------------------------------


def test_general_joint_equals_mmdet_gfl_head():
    ours = ablation_head(loss_cls=QFL)
    ref = mmdet_build(dict(GFL_COMMON, type='GFLHead', loss_cls=QFL))
    assert copy_weights(ours, ref) == ['integral.project']
    feats = features()
    cls, box, centerness = ours(feats)
    assert centerness == [None, None]
    assert_same_losses(
        ours.loss_by_feat(cls, box, centerness, ground_truth(), METAS),
        ref.loss_by_feat(*ref(feats), ground_truth(), METAS))
    assert_same_detections(
        ours.predict_by_feat(cls, box, centerness, batch_img_metas=METAS),
        ref.predict_by_feat(*ref(feats), batch_img_metas=METAS))


def test_dirac_centerness_equals_mmdet_atss_head():
    ours = ablation_head(
        loss_cls=FOCAL,
        bbox_repr='dirac',
        bbox_coder=ATSS_CODER,
        loss_dfl=None,
        loss_centerness=CENTERNESS)
    ref = mmdet_build(
        dict(
            GFL_COMMON,
            type='ATSSHead',
            loss_cls=FOCAL,
            bbox_coder=ATSS_CODER,
            loss_centerness=CENTERNESS))
    assert copy_weights(ours, ref, [('gfl_', 'atss_')]) == []
    feats = features()
    assert_same_losses(
        ours.loss_by_feat(*ours(feats), ground_truth(), METAS),
        ref.loss_by_feat(*ref(feats), ground_truth(), METAS))
    assert_same_detections(
        ours.predict_by_feat(*ours(feats), batch_img_metas=METAS),
        ref.predict_by_feat(*ref(feats), batch_img_metas=METAS))


@pytest.mark.parametrize('kwargs, losses', [
    (dict(loss_cls=QFL), {'loss_cls', 'loss_bbox', 'loss_dfl'}),
    (dict(loss_cls=QFL, loss_dfl=None), {'loss_cls', 'loss_bbox'}),
    (dict(
        loss_cls=QFL, bbox_repr='dirac', bbox_coder=ATSS_CODER,
        loss_dfl=None), {'loss_cls', 'loss_bbox'}),
    (dict(loss_cls=FOCAL, loss_centerness=CENTERNESS, bin_interval=2.0),
     {'loss_cls', 'loss_bbox', 'loss_dfl', 'loss_centerness'}),
])
def test_every_combination_trains_every_parameter(kwargs, losses):
    head = ablation_head(**kwargs)
    result = head.loss_by_feat(*head(features()), ground_truth(), METAS)
    assert set(result) == losses
    assert_every_parameter_learns(head, result)


@pytest.mark.parametrize('interval', [0.5, 2.0])
def test_bin_interval_scales_the_decoded_distances(interval):
    head = ablation_head(loss_cls=QFL, bin_interval=interval)
    logits = torch.randn(5, 4 * 17, dtype=torch.float64)
    anchors = torch.tensor([[0., 0., 64., 64.]] * 5, dtype=torch.float64)
    boxes = head.decode(anchors, logits, stride=16)
    # closed form: each side at centre -+ stride * sum_i softmax_i i delta
    probs = logits.reshape(5, 4, 17).softmax(-1)
    dist = 16 * (probs * torch.arange(17.) * interval).sum(-1)
    expected = torch.cat([32 - dist[:, :2], 32 + dist[:, 2:]], 1)
    torch.testing.assert_close(boxes, expected)


@pytest.mark.parametrize('interval', [0.5, 1.0, 4.0])
def test_bin_interval_reaches_dfl(interval, monkeypatch):
    """DFL gets the ground-truth distances in strides, kept below the last
    bin, and the head's interval as its delta."""
    head = ablation_head(loss_cls=QFL, reg_max=4, bin_interval=interval)
    assert head.loss_dfl.delta == interval
    seen = []
    original = type(head.loss_dfl).forward

    def spy(module, pred, target, *args, **kwargs):
        seen.append(target)
        return original(module, pred, target, *args, **kwargs)

    monkeypatch.setattr(type(head.loss_dfl), 'forward', spy)
    head.loss_by_feat(*head(features()), ground_truth(), METAS)
    targets = torch.cat(seen)
    assert targets.numel() > 0 and targets.min() >= 0
    assert targets.max() <= (4 - 0.1) * interval + 1e-6
    if interval == 4.0:  # 16 strides: nothing here is clamped
        assert targets.max() < (4 - 0.1) * interval


def test_interval_one_leaves_dfl_unchanged_and_mismatch_is_refused():
    assert ablation_head(loss_cls=QFL).loss_dfl.delta == 1.0
    with pytest.raises(ValueError, match='differs from the head'):
        ablation_head(
            loss_cls=QFL, bin_interval=2.0, loss_dfl=dict(DFL, delta=0.5))


@pytest.mark.parametrize('kwargs, message', [
    (dict(bbox_repr='gaussian'), 'bbox_repr must be one of'),
    (dict(bbox_repr='dirac', bbox_coder=ATSS_CODER), 'use loss_dfl=None'),
    (dict(bbox_repr='dirac', loss_dfl=None), 'needs no DistancePoint'),
    (dict(bbox_coder=ATSS_CODER), 'needs a DistancePoint'),
    (dict(bin_interval=0), 'bin_interval must be positive'),
])
def test_inconsistent_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ablation_head(loss_cls=QFL, **kwargs)


@pytest.mark.parametrize('kwargs', [
    dict(loss_cls=QFL),
    dict(loss_cls=FOCAL, loss_centerness=CENTERNESS),
])
def test_image_without_objects_gives_zero_box_losses_in_the_graph(kwargs):
    head = ablation_head(**kwargs)
    empty = [
        InstanceData(
            bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    ] * 2
    losses = total(head.loss_by_feat(*head(features()), empty, METAS))
    assert losses['loss_bbox'] == 0 and losses['loss_dfl'] == 0
    assert losses['loss_cls'] > 0
    assert_every_parameter_learns(head, losses)


# FCOSGFLHead ----------------------------------------------------------------

FCOS_COMMON = dict(
    num_classes=3,
    in_channels=8,
    feat_channels=8,
    stacked_convs=1,
    strides=[8, 16],
    regress_ranges=((-1, 32), (32, 1e8)),
    center_sampling=True,
    norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
    test_cfg=TEST_CFG)


def fcos_gfl_head(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(FCOS_COMMON, type='FCOSGFLHead', **kwargs))


def reference_fcos_gfl_losses(head, cls_scores, bbox_preds, gts):
    """The head's losses assembled from mmdet: FCOS' targets, Integral,
    bbox_overlaps, QFL, GIoU and DFL, weighted as GFL."""
    fcos = mmdet_build(dict(FCOS_COMMON, type='FCOSHead', norm_on_bbox=True))
    sizes = [s.shape[-2:] for s in cls_scores]
    points = fcos.prior_generator.grid_priors(sizes, device='cpu')
    labels, targets = fcos.get_targets(points, gts)
    integral = Integral(16)
    qfl = MMDET_MODELS.build(dict(QFL, type='mmdet.QualityFocalLoss'))
    giou = MMDET_MODELS.build(dict(type='mmdet.GIoULoss', loss_weight=2.0))
    dfl = MMDET_MODELS.build(dict(DFL, type='mmdet.DistributionFocalLoss'))
    cls_all, quality_all, labels_all = [], [], []
    weighted = dict(loss_bbox=0., loss_dfl=0.)
    weights = []
    for level, stride in enumerate((8, 16)):
        cls = cls_scores[level].permute(0, 2, 3, 1).reshape(-1, 3)
        pred = bbox_preds[level].permute(0, 2, 3, 1).reshape(-1, 68)
        pts = points[level].repeat(2, 1) / stride
        pos = (labels[level] < 3).nonzero()[:, 0]
        pred_boxes = fcos.bbox_coder.decode(pts[pos], integral(pred[pos]))
        target_boxes = fcos.bbox_coder.decode(pts[pos], targets[level][pos])
        quality = torch.zeros(len(cls))
        quality[pos] = bbox_overlaps(
            pred_boxes.detach(), target_boxes, is_aligned=True)
        weight = cls.detach().sigmoid().max(1)[0][pos]
        weights.append(weight)
        weighted['loss_bbox'] += giou(
            pred_boxes, target_boxes, weight=weight, reduction_override='sum')
        weighted['loss_dfl'] += dfl(
            pred[pos].reshape(-1, 17),
            targets[level][pos].clamp(max=16 - 0.1).reshape(-1),
            weight=weight.repeat_interleave(4),
            reduction_override='sum')
        cls_all.append(cls)
        quality_all.append(quality)
        labels_all.append(labels[level])
    labels_all = torch.cat(labels_all)
    weight_sum = max(float(torch.cat(weights).sum()), 1.0)
    return dict(
        loss_cls=qfl(
            torch.cat(cls_all), (labels_all, torch.cat(quality_all)),
            avg_factor=max(float((labels_all < 3).sum()), 1.0)),
        loss_bbox=weighted['loss_bbox'] / weight_sum,
        loss_dfl=weighted['loss_dfl'] / (4 * weight_sum))


def test_fcos_gfl_losses_equal_a_reference_from_mmdet_parts():
    head = fcos_gfl_head()
    cls_scores, bbox_preds = head(features())
    assert [p.shape[1] for p in bbox_preds] == [68, 68]
    assert_same_losses(
        head.loss_by_feat(cls_scores, bbox_preds, ground_truth(), METAS),
        reference_fcos_gfl_losses(head, cls_scores, bbox_preds,
                                  ground_truth()))


def test_fcos_gfl_has_no_centerness_and_trains_every_parameter():
    head = fcos_gfl_head()
    assert not hasattr(head, 'conv_centerness')
    assert not hasattr(head, 'loss_centerness')
    losses = head.loss_by_feat(*head(features()), ground_truth(), METAS)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl'}
    assert_every_parameter_learns(head, losses)


def test_fcos_gfl_predicts_the_expected_distances():
    head = fcos_gfl_head(bin_interval=0.5).eval()
    head.test_cfg = ConfigDict(TEST_CFG, nms_pre=-1)
    cls_scores, bbox_preds = head(features())
    det = head.predict_by_feat(
        cls_scores, bbox_preds, batch_img_metas=METAS, with_nms=False)[0]
    # closed form for the best-scoring point of the first level
    scores = cls_scores[0][0].sigmoid().reshape(3, -1)
    best = int(scores.max(0)[0].argmax())
    y, x = divmod(best, 8)
    probs = bbox_preds[0][0, :, y, x].reshape(4, 17).softmax(-1)
    dist = 8 * 0.5 * (probs * torch.arange(17.)).sum(-1)
    centre = torch.tensor([x + 0.5, y + 0.5]) * 8  # FCOS' points
    expected = torch.cat([centre - dist[:2], centre + dist[2:]])
    expected = expected.clamp(0, IMG)
    assert (det.bboxes - expected).abs().sum(1).min() < 1e-4


def test_fcos_gfl_refuses_distances_in_pixels():
    with pytest.raises(ValueError, match='norm_on_bbox must be True'):
        fcos_gfl_head(norm_on_bbox=False)


# RetinaQFLHead --------------------------------------------------------------

RETINA_COMMON = dict(
    num_classes=3,
    in_channels=8,
    feat_channels=8,
    stacked_convs=1,
    anchor_generator=dict(
        type='AnchorGenerator',
        octave_base_scale=4,
        scales_per_octave=2,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16]),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[.0, .0, .0, .0],
        target_stds=[1.0, 1.0, 1.0, 1.0]),
    train_cfg=ConfigDict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0,
            ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=TEST_CFG)


@pytest.mark.parametrize('decoded', [False, True])
def test_retina_qfl_equals_a_reference_from_mmdet_parts(decoded):
    box_loss = (
        dict(type='GIoULoss', loss_weight=2.0) if decoded else dict(
            type='L1Loss', loss_weight=1.0))
    common = dict(RETINA_COMMON, reg_decoded_bbox=decoded, loss_bbox=box_loss)
    torch.manual_seed(0)
    head = MODELS.build(dict(common, type='RetinaQFLHead', loss_cls=QFL))
    ref = mmdet_build(dict(common, type='RetinaHead', loss_cls=FOCAL))
    copy_weights(head, ref)
    feats = features()
    cls_scores, bbox_preds = head(feats)
    ours = head.loss_by_feat(cls_scores, bbox_preds, ground_truth(), METAS)

    # reference: mmdet's targets, decoded boxes, bbox_overlaps and QFL
    sizes = [s.shape[-2:] for s in cls_scores]
    anchors, valid = ref.get_anchors(sizes, METAS, device='cpu')
    (labels, label_weights, targets, _,
     avg_factor) = ref.get_targets(anchors, valid, ground_truth(), METAS)
    num_level = [a.size(0) for a in anchors[0]]
    anchors = images_to_levels([torch.cat(a) for a in anchors], num_level)
    qfl = MMDET_MODELS.build(dict(QFL, type='mmdet.QualityFocalLoss'))
    loss_cls, qualities = 0, []
    for level in range(2):
        a = anchors[level].reshape(-1, 4)
        pred = bbox_preds[level].permute(0, 2, 3, 1).reshape(-1, 4)
        lab, tgt = labels[level].reshape(-1), targets[level].reshape(-1, 4)
        pos = (lab < 3).nonzero()[:, 0]
        gt_boxes = tgt[pos] if decoded else ref.bbox_coder.decode(
            a[pos], tgt[pos])
        quality = torch.zeros(len(lab))
        quality[pos] = bbox_overlaps(
            ref.bbox_coder.decode(a[pos], pred[pos]),
            gt_boxes,
            is_aligned=True)
        qualities.append(quality[pos])
        loss_cls += qfl(
            cls_scores[level].permute(0, 2, 3, 1).reshape(-1, 3),
            (lab, quality),
            label_weights[level].reshape(-1),
            avg_factor=avg_factor)
    assert torch.cat(qualities).max() > 0  # the scene has soft targets
    torch.testing.assert_close(sum(ours['loss_cls']), loss_cls)
    # the box loss is RetinaHead's own
    theirs = ref.loss_by_feat(*ref(feats), ground_truth(), METAS)
    torch.testing.assert_close(
        sum(ours['loss_bbox']), sum(theirs['loss_bbox']))


def test_retina_qfl_head_quality_of_rotated_boxes():
    """In mmrotate's rotated RetinaNet the QFL target is the rotated IoU of
    each positive's decoded box with its ground truth, as mmrotate's
    RBboxOverlaps2D computes it."""
    from mmrotate.models.task_modules.assigners import RBboxOverlaps2D

    from mmdet_losses.models.dense_heads import RetinaQFLHead
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(
        50, 5, generator=gen) * torch.tensor(
            [100., 100., 40., 40., 3.]) + torch.tensor([0., 0., 2., 2., -1.5])
    target = pred + torch.randn(
        50, 5, generator=gen) * torch.tensor([3., 3., 2., 2., 0.2])
    target[:, 2:4] = target[:, 2:4].abs() + 1
    quality = RetinaQFLHead._quality(pred.requires_grad_(), target)
    expected = RBboxOverlaps2D()(pred.detach(), target, is_aligned=True)
    torch.testing.assert_close(quality, expected)
    assert not quality.requires_grad
    assert 0.2 < float(quality.mean()) < 1

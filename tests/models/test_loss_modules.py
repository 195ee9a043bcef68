"""The registered loss modules: mmdet's module API and values, the options
this package adds (box formats, CIoU gating, DFL bin interval), and mmdet's
own heads training on them unchanged when their configs resolve here."""
import copy
import inspect

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmdet_losses
from mmdet_losses.functional.boxes import convert_boxes
from mmdet_losses.registry import MODELS

mmdet_losses.register_all_modules(init_default_scope=False)

NAMES = ('L1Loss', 'SmoothL1Loss', 'MSELoss', 'CrossEntropyLoss', 'NLLLoss',
         'FocalLoss', 'QualityFocalLoss', 'DistributionFocalLoss', 'IoULoss',
         'GIoULoss', 'DIoULoss', 'CIoULoss')


def build(cfg, scope='mmdet_losses'):
    from mmdet.registry import MODELS as MMDET_MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return MMDET_MODELS.build(cfg)


@pytest.mark.parametrize('name', NAMES)
def test_registered_in_our_scope_under_mmdets_name(name):
    module = build(dict(type=name))
    assert type(module).__module__.startswith('mmdet_losses.')
    assert MODELS.get(name) is type(module)
    if name != 'NLLLoss':
        mmdet_module = build(dict(type=name), scope='mmdet')
        assert type(mmdet_module).__module__.startswith('mmdet.')


def boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 50 + 1
    return torch.cat([xy, xy + wh], 1)


def case(name, n=64, seed=0):
    """Inputs ``(pred, target, weight)`` for a loss module."""
    g = torch.Generator().manual_seed(seed)
    if name.endswith('IoULoss'):
        pred, target = boxes(n, seed), boxes(n, seed + 1)
        target[::2] = pred[::2] + torch.randn(n // 2, 4, generator=g)
        return pred, target, torch.rand(n, generator=g)
    if name in ('L1Loss', 'SmoothL1Loss', 'MSELoss'):
        return (torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g),
                torch.rand(n, 4, generator=g))
    logits = torch.randn(n, 6, generator=g) * 3
    labels = torch.randint(0, 6, (n, ), generator=g)
    weight = torch.rand(n, generator=g)
    if name == 'CrossEntropyLoss':
        return logits, labels.clamp(max=5), weight
    if name == 'QualityFocalLoss':
        return logits, (labels, torch.rand(n, generator=g)), weight
    if name == 'DistributionFocalLoss':
        return (logits.repeat(1, 3)[:, :17], torch.rand(n, generator=g) * 15,
                weight)
    return logits, labels, weight


CONFIGS = [
    dict(type='L1Loss', loss_weight=2.0),
    dict(type='SmoothL1Loss', beta=1 / 9),
    dict(type='MSELoss'),
    dict(type='CrossEntropyLoss'),
    dict(type='CrossEntropyLoss', use_sigmoid=True),
    dict(type='CrossEntropyLoss', class_weight=[1, 2, 3, 1, 1, 0.5]),
    dict(type='FocalLoss', gamma=1.5, alpha=0.4),
    dict(type='QualityFocalLoss', beta=2.0, loss_weight=0.5),
    dict(type='DistributionFocalLoss', loss_weight=0.25),
    dict(type='IoULoss'),
    dict(type='IoULoss', mode='square'),
    dict(type='GIoULoss', loss_weight=2.0),
    dict(type='DIoULoss'),
    dict(type='CIoULoss'),
]


@pytest.mark.parametrize('cfg', CONFIGS, ids=lambda c: str(sorted(c.items())))
@pytest.mark.parametrize('call', [
    dict(),
    dict(weight=True, avg_factor=13.0),
    dict(weight=True, reduction_override='sum'),
    dict(weight=True, reduction_override='none'),
])
def test_matches_mmdets_module(cfg, call):
    ours, theirs = build(cfg), build(cfg, scope='mmdet')
    pred, target, weight = case(cfg['type'])
    kwargs = dict(call)
    if kwargs.pop('weight', False):
        kwargs['weight'] = weight
    results = []
    for module in (ours, theirs):
        x = pred.clone().requires_grad_()
        loss = module(x, target, **kwargs)
        loss.sum().backward()
        results.append((loss.detach(), x.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_ciou_defaults_to_mmdets_gating_and_documents_it():
    ciou = build(dict(type='CIoULoss'))
    assert ciou.alpha_iou_threshold == 0.5
    assert '0.5' in type(ciou).__doc__
    pred, target, _ = case('CIoULoss')
    ungated = build(dict(type='CIoULoss', alpha_iou_threshold=None))
    assert not torch.allclose(ungated(pred, target), ciou(pred, target))


@pytest.mark.parametrize('name',
                         ['IoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss'])
def test_box_formats_convert_once_to_the_same_loss(name):
    pred, target, weight = case(name)
    points = (pred[:, :2] + pred[:, 2:]) / 2 + 0.3
    xyxy = build(dict(type=name))
    want = xyxy(pred, target, weight)
    for fmt, extra in (('cxcywh', {}), ('ltrb', {'points': points})):
        module = build(dict(type=name, box_format=fmt))
        p = convert_boxes(pred, 'xyxy', fmt, extra.get('points'))
        t = convert_boxes(target, 'xyxy', fmt, extra.get('points'))
        torch.testing.assert_close(
            module(p, t, weight, **extra), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='needs the points'):
        build(dict(type=name, box_format='ltrb'))(pred, target)
    with pytest.raises(ValueError, match='box_format'):
        build(dict(type=name, box_format='xywh'))


@pytest.mark.parametrize('name', NAMES)
def test_reduction_override_is_checked(name):
    module = build(dict(type=name))
    pred, target, _ = case(name)
    with pytest.raises(AssertionError, match="got 'avg'"):
        module(pred, target, reduction_override='avg')
    with pytest.raises(ValueError, match='reduction must be one of'):
        build(dict(type=name, reduction='avg'))


@pytest.mark.parametrize(
    'name',
    ['IoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss', 'L1Loss', 'SmoothL1Loss'])
def test_all_zero_weight_returns_an_attached_zero(name):
    module = build(dict(type=name))
    pred, target, weight = case(name)
    pred = pred.clone().requires_grad_()
    loss = module(pred, target, torch.zeros_like(weight), avg_factor=3.0)
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_iou_family_averages_a_box_weight():
    module = build(dict(type='GIoULoss'))
    pred, target, weight = case('GIoULoss')
    box_weight = torch.rand(len(pred), 4)
    torch.testing.assert_close(
        module(pred, target, box_weight),
        module(pred, target, box_weight.mean(1)))


def test_dfl_delta_and_nll():
    dfl = build(dict(type='DistributionFocalLoss', delta=0.5))
    pred, target, weight = case('DistributionFocalLoss')
    torch.testing.assert_close(
        dfl(pred, target * 0.5, weight),
        build(dict(type='DistributionFocalLoss'))(pred, target, weight))
    logits, labels, _ = case('CrossEntropyLoss')
    torch.testing.assert_close(
        build(dict(type='NLLLoss'))(logits.log_softmax(1), labels),
        build(dict(type='CrossEntropyLoss'))(logits, labels))


def test_bad_labels_reach_the_user_named():
    focal = build(dict(type='FocalLoss'))
    logits, labels, _ = case('FocalLoss')
    labels[11] = 9
    with pytest.raises(ValueError, match=r'labels\[11\] = 9'):
        focal(logits, labels)


# -- mmdet's heads on these losses -------------------------------------------

HEADS = [
    'gfl/gfl_r50_fpn_1x_coco.py',
    'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'atss/atss_r50_fpn_1x_coco.py',
]

# heads of mmdet whose losses call ours in other ways: soft sigmoid CE and
# IoULoss 'square' (YOLOX), QFL and GIoU (RTMDet), Focal with per-class
# weights (FSAF), SmoothL1 (FoveaBox), GIoU refinement (VFNet), GIoU under
# 'none' (AutoAssign, CenterNet-update), CE + SmoothL1 buckets (SABL),
# centerness CE (NAS-FCOS); and the number of feature levels each takes
MORE_HEADS = [
    ('yolox/yolox_s_8xb8-300e_coco.py', 3),
    ('rtmdet/rtmdet_s_8xb32-300e_coco.py', 3),
    ('fsaf/fsaf_r50_fpn_1x_coco.py', 5),
    ('foveabox/fovea_r50_fpn_4xb4-1x_coco.py', 5),
    ('vfnet/vfnet_r50_fpn_1x_coco.py', 5),
    ('autoassign/autoassign_r50-caffe_fpn_1x_coco.py', 5),
    ('centernet/centernet-update_r50-caffe_fpn_ms-1x_coco.py', 5),
    ('sabl/sabl-retinanet_r50_fpn_1x_coco.py', 5),
    ('nas_fcos/nas-fcos_r50-caffe_fpn_nashead-gn-head_4xb4-1x_coco.py', 5),
]


def head_cfg(path, tmp_path, channels=8):
    file = tmp_path / 'cfg.py'
    file.write_text(f"_base_ = 'mmdet::{path}'\n")
    model = Config.fromfile(str(file)).model
    head = model.bbox_head
    head.update(in_channels=channels, feat_channels=channels)
    if 'stacked_convs' in head:
        head.stacked_convs = 1
    if channels < 32:  # too few channels for GN's 32 groups
        head.norm_cfg = None
    head.train_cfg = model.get('train_cfg')
    head.test_cfg = model.get('test_cfg')
    return head


@pytest.mark.parametrize('path, levels, channels',
                         [(path, 5, 8)
                          for path in HEADS] + [(p, n, 32)
                                                for p, n in MORE_HEADS])
def test_mmdet_heads_compute_the_same_losses_on_ours(path, levels, channels,
                                                     tmp_path):
    cfg = head_cfg(path, tmp_path, channels)
    torch.manual_seed(0)
    theirs = build(cfg, scope='mmdet')
    ours = build(cfg)
    ours.load_state_dict(theirs.state_dict())
    loss_names = [
        name for name, module in ours.named_children()
        if name.startswith('loss_')
        and type(module).__module__.startswith('mmdet_losses.')
    ]
    assert loss_names, 'the head uses none of our losses'
    for name in loss_names:
        assert type(getattr(theirs, name)).__module__.startswith('mmdet.')
    g = torch.Generator().manual_seed(1)
    feats = [
        torch.randn(2, channels, s, s, generator=g)
        for s in (16, 8, 4, 2, 1)[:levels]
    ]
    gts = []
    for _ in range(2):
        xy = torch.rand(3, 2, generator=g) * 80
        bboxes = torch.cat([xy, xy + torch.rand(3, 2, generator=g) * 40 + 8],
                           1)
        gts.append(
            InstanceData(
                bboxes=bboxes, labels=torch.randint(0, 80, (3, ),
                                                    generator=g)))
    metas = [
        dict(
            img_shape=(128, 128),
            pad_shape=(128, 128),
            batch_input_shape=(128, 128),
            scale_factor=(1., 1.))
    ] * 2
    results = []
    for head in (ours, theirs):
        inputs = [f.clone().requires_grad_() for f in feats]
        torch.manual_seed(2)  # heads that sample
        losses = head.loss_by_feat(*head(inputs), gts, metas)
        total = {
            k: sum(v) if isinstance(v, (list, tuple)) else v
            for k, v in losses.items()
        }
        sum(v for v in total.values() if v.requires_grad).backward()
        results.append((total, [x.grad for x in inputs]))
    (ours_losses, ours_grads), (their_losses, their_grads) = results
    assert ours_losses.keys() == their_losses.keys()
    for key in ours_losses:
        torch.testing.assert_close(
            ours_losses[key], their_losses[key], rtol=1e-5, atol=1e-6)
    for a, b in zip(ours_grads, their_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# DETR-family heads: softmax CE with a background class weight (DETR),
# sigmoid Focal with labels (Deformable / Conditional / DAB-DETR), L1 and
# GIoU on the matched queries
DETR_HEADS = [
    'detr/detr_r50_8xb2-150e_coco.py',
    'deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
    'conditional_detr/conditional-detr_r50_8xb2-50e_coco.py',
    'dab_detr/dab-detr_r50_8xb2-50e_coco.py',
]


@pytest.mark.parametrize('path', DETR_HEADS)
def test_mmdet_detr_heads_compute_the_same_losses_on_ours(path, tmp_path):
    file = tmp_path / 'cfg.py'
    file.write_text(f"_base_ = 'mmdet::{path}'\n")
    model = Config.fromfile(str(file)).model
    cfg = model.bbox_head
    cfg.update(
        embed_dims=16,
        train_cfg=model.get('train_cfg'),
        test_cfg=model.get('test_cfg'))
    torch.manual_seed(0)
    # DETRHead turns its loss config's class_weight into a tensor in place
    theirs = build(copy.deepcopy(cfg), scope='mmdet')
    ours = build(copy.deepcopy(cfg))
    ours.load_state_dict(theirs.state_dict())
    for name in ('loss_cls', 'loss_bbox', 'loss_iou'):
        assert type(getattr(ours, name)).__module__.startswith('mmdet_losses.')
        assert type(getattr(theirs, name)).__module__.startswith('mmdet.')
    g = torch.Generator().manual_seed(1)
    # 2 decoder layers, 2 images, 10 queries
    scores = torch.randn(2, 2, 10, theirs.cls_out_channels, generator=g)
    boxes = torch.rand(2, 2, 10, 4, generator=g) * 0.5 + 0.25
    gts = []
    for _ in range(2):
        xy = torch.rand(3, 2, generator=g) * 80
        gts.append(
            InstanceData(
                bboxes=torch.cat(
                    [xy, xy + torch.rand(3, 2, generator=g) * 40 + 8], 1),
                labels=torch.randint(0, 80, (3, ), generator=g)))
    metas = [dict(img_shape=(128, 128), batch_input_shape=(128, 128))] * 2
    results = []
    for head in (ours, theirs):
        inputs = [
            scores.clone().requires_grad_(),
            boxes.clone().requires_grad_()
        ]
        # Deformable DETR's also takes the encoder's (two-stage) outputs
        encoder = ([None, None] if 'enc_cls_scores' in inspect.signature(
            head.loss_by_feat).parameters else [])
        losses = head.loss_by_feat(*inputs, *encoder, gts, metas)
        sum(losses.values()).backward()
        results.append((losses, [x.grad for x in inputs]))
    (ours_losses, ours_grads), (their_losses, their_grads) = results
    assert ours_losses.keys() == their_losses.keys()
    for key in their_losses:
        torch.testing.assert_close(
            ours_losses[key], their_losses[key], rtol=1e-5, atol=1e-6)
    for a, b in zip(ours_grads, their_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# RoI heads: softmax CE over C + 1 classes with L1 (Faster R-CNN), smooth
# L1 (Cascade R-CNN's stages), GIoU on decoded boxes (the GIoU config)
ROI_HEADS = [
    ('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', None),
    ('cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', 0),
    ('faster_rcnn/faster-rcnn_r50_fpn_giou_1x_coco.py', None),
]


@pytest.mark.parametrize('path, stage', ROI_HEADS)
def test_mmdet_roi_bbox_heads_compute_the_same_losses_on_ours(
        path, stage, tmp_path):
    file = tmp_path / 'cfg.py'
    file.write_text(f"_base_ = 'mmdet::{path}'\n")
    cfg = Config.fromfile(str(file)).model.roi_head.bbox_head
    if stage is not None:
        cfg = cfg[stage]
    cfg.update(in_channels=8, fc_out_channels=16, roi_feat_size=2)
    torch.manual_seed(0)
    theirs = build(copy.deepcopy(cfg), scope='mmdet')
    ours = build(copy.deepcopy(cfg))
    ours.load_state_dict(theirs.state_dict())
    for name in ('loss_cls', 'loss_bbox'):
        assert type(getattr(ours, name)).__module__.startswith('mmdet_losses.')
    g = torch.Generator().manual_seed(1)
    n = 12
    labels = torch.randint(0, 81, (n, ), generator=g)
    labels[:3] = torch.tensor([80, 5, 80])
    xy = torch.rand(n, 2, generator=g) * 60
    rois = torch.cat(
        [torch.zeros(n, 1), xy, xy + torch.rand(n, 2, generator=g) * 30 + 4],
        1)
    if ours.reg_decoded_bbox:
        bbox_targets = rois[:, 1:] + torch.randn(n, 4, generator=g)
    else:
        bbox_targets = torch.randn(n, 4, generator=g) * 0.1
    bbox_weights = (labels < 80).float()[:, None].expand(n, 4).clone()
    feats = torch.randn(n, 8, 2, 2, generator=g)
    results = []
    for head in (ours, theirs):
        x = feats.clone().requires_grad_()
        cls_score, bbox_pred = head(x)
        losses = head.loss(cls_score, bbox_pred, rois, labels, torch.ones(n),
                           bbox_targets, bbox_weights)
        sum(v for v in losses.values() if v.requires_grad).backward()
        results.append((losses, x.grad))
    (ours_losses, ours_grad), (their_losses, their_grad) = results
    assert ours_losses.keys() == their_losses.keys()
    for key in their_losses:
        torch.testing.assert_close(
            ours_losses[key], their_losses[key], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours_grad, their_grad, rtol=1e-4, atol=1e-6)

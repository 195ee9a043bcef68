"""Rotated RetinaNet and FCOS heads: targets, losses, gradients, decoding,
the pluggable angle branch and the boxes handed to a decoded-box loss."""
import math

import numpy as np
import pytest
import shapely
import torch
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from torch import nn

import mmdet_losses
from mmdet_losses.registry import MODELS
from mmdet_losses.structures import RotatedBoxes, rbox2qbox, regularize_rboxes

mmdet_losses.register_all_modules(init_default_scope=False)


@pytest.fixture(autouse=True)
def one_thread():
    """Convolutions this small run no faster on two threads, and a second
    thread only spins when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def our_scope():
    """Build as a config with default_scope='mmdet_losses' does: the parts
    mmdet's heads build (coders, assigners, losses) come from this package
    first."""
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        yield


IMG = 128
STRIDES = [8, 16, 32]
METAS = [
    dict(img_shape=(IMG, IMG), pad_shape=(IMG, IMG), scale_factor=(1., 1.))
] * 2


@MODELS.register_module(force=True)
class RecordingBoxLoss(nn.Module):
    """Records what a head hands its box loss; returns a graph-attached
    sum so training code runs."""

    calls: list = []

    def forward(self, pred, target, weight=None, avg_factor=None, **kwargs):
        RecordingBoxLoss.calls.append(
            (pred.detach().clone(), target.detach().clone(),
             None if weight is None else weight.detach().clone()))
        return (pred * 0).sum() + pred.abs().mean() * 0


def gt_instances():
    gts = []
    for boxes, labels in (([[40., 40., 40., 16., 0.5],
                            [90., 80., 30., 30.,
                             -1.2]], [0, 2]), ([[64., 64., 70., 20.,
                                                 2.0]], [1])):
        gt = InstanceData()
        gt.bboxes = RotatedBoxes(torch.tensor(boxes))
        gt.labels = torch.tensor(labels)
        gts.append(gt)
    return gts


def features(channels=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(2, channels, IMG // s, IMG // s, generator=gen)
        for s in STRIDES)


def retina_cfg(**overrides):
    cfg = dict(
        type='RotatedRetinaHead',
        num_classes=3,
        in_channels=16,
        stacked_convs=1,
        feat_channels=16,
        anchor_generator=dict(
            type='FakeRotatedAnchorGenerator',
            angle_version='le90',
            octave_base_scale=4,
            scales_per_octave=1,
            ratios=[1.0, 0.5, 2.0],
            strides=STRIDES),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1 / 9, loss_weight=1.0),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.4,
                min_pos_iou=0,
                ignore_iof_thr=-1,
                iou_calculator=dict(type='RBboxOverlaps2D')),
            sampler=dict(type='PseudoSampler'),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        test_cfg=ConfigDict(
            nms_pre=200,
            min_bbox_size=0,
            score_thr=0.0,
            nms=dict(type='nms_rotated', iou_threshold=0.1),
            max_per_img=50))
    cfg.update(overrides)
    return cfg


def total(losses):
    return sum(
        sum(v) if isinstance(v, (list, tuple)) else v for v in losses.values())


def test_retina_head_trains_and_decodes_rotated_boxes():
    head = MODELS.build(retina_cfg())
    outs = head(features())
    assert outs[1][0].shape[1] == 3 * 5  # 3 anchors, 5 deltas
    losses = head.loss_by_feat(*outs, gt_instances(), METAS)
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    value = total(losses)
    assert torch.isfinite(value) and value > 0
    value.backward()
    assert head.retina_reg.weight.grad.abs().sum() > 0
    head.eval()
    results = head.predict_by_feat(
        *head(features()), batch_img_metas=METAS, rescale=True)
    assert isinstance(results[0].bboxes, RotatedBoxes)
    assert results[0].bboxes.tensor.shape[1] == 5
    assert len(results[0]) <= 50
    box = results[0].bboxes.tensor
    assert (box[:, 2] >= box[:, 3]).all()  # le90


def test_retina_head_fits_one_box():
    torch.manual_seed(0)
    head = MODELS.build(retina_cfg())
    feats = features()
    gts = gt_instances()
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)
    first = None
    for _ in range(25):
        loss = total(head.loss_by_feat(*head(feats), gts, METAS))
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_retina_head_needs_a_rotated_coder():
    with pytest.raises(ValueError, match='rotated box coder'):
        MODELS.build(retina_cfg(bbox_coder=dict(type='DeltaXYWHBBoxCoder')))


def test_decoded_box_loss_gets_rboxes_and_regularised_targets():
    RecordingBoxLoss.calls.clear()
    head = MODELS.build(
        retina_cfg(
            reg_decoded_bbox=True, loss_bbox=dict(type='RecordingBoxLoss')))
    gts = gt_instances()
    # a ground truth in another convention: h > w, angle out of range
    gts[1].bboxes = RotatedBoxes(torch.tensor([[64., 64., 20., 70., 3.5]]))
    head.loss_by_feat(*head(features()), gts, METAS)
    preds = torch.cat([c[0] for c in RecordingBoxLoss.calls])
    targets = torch.cat([c[1] for c in RecordingBoxLoss.calls])
    weights = torch.cat([c[2] for c in RecordingBoxLoss.calls])
    assert preds.shape[1] == 5 and targets.shape[1] == 5
    positive = targets[weights[:, 0] > 0]
    assert len(positive) > 0
    allowed = regularize_rboxes(
        torch.cat([g.bboxes.tensor for g in gts]), 'le90')
    for row in positive:
        assert ((row - allowed).abs().max(dim=1).values < 1e-5).any()


def angle_branch_cfg(**overrides):
    cfg = retina_cfg(
        type='AngleBranchRetinaHead',
        angle_coder=dict(type='PseudoAngleCoder'),
        loss_angle=dict(type='L1Loss', loss_weight=0.2),
        bbox_coder=dict(
            type='DeltaXYWHTRBBoxCoder', angle_version='le90',
            edge_swap=False))
    cfg.update(overrides)
    return cfg


def test_angle_branch_head_trains_its_angle():
    head = MODELS.build(angle_branch_cfg())
    outs = head(features())
    assert len(outs) == 3
    assert outs[1][0].shape[1] == 3 * 4 and outs[2][0].shape[1] == 3 * 1
    losses = head.loss_by_feat(*outs, gt_instances(), METAS)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_angle'}
    total(losses).backward()
    assert head.retina_angle.weight.grad.abs().sum() > 0


def test_angle_branch_decodes_its_predicted_angle():
    head = MODELS.build(angle_branch_cfg())
    head.eval()
    with torch.no_grad():
        head.retina_angle.weight.zero_()
        head.retina_angle.bias.fill_(0.3)
    results = head.predict_by_feat(*head(features()), batch_img_metas=METAS)
    angles = results[0].bboxes.tensor[:, 4]
    # every box turned by 0.3, or by 0.3 - pi/2 where le90 swapped sides
    assert torch.allclose(
        torch.minimum((angles - 0.3).abs(),
                      (angles - 0.3 + math.pi / 2).abs()),
        torch.zeros_like(angles),
        atol=1e-5)


def test_angle_branch_with_csl():
    head = MODELS.build(
        angle_branch_cfg(
            angle_coder=dict(
                type='CSLCoder',
                angle_version='le90',
                omega=4,
                window='gaussian',
                radius=3),
            loss_angle=dict(
                type='FocalLoss', use_sigmoid=True, loss_weight=0.8)))
    outs = head(features())
    assert outs[2][0].shape[1] == 3 * 45
    losses = head.loss_by_feat(*outs, gt_instances(), METAS)
    assert all(torch.isfinite(torch.stack(v)).all() for v in losses.values())


def test_angle_branch_configuration_errors():
    with pytest.raises(ValueError, match='edge_swap=False'):
        MODELS.build(
            angle_branch_cfg(
                bbox_coder=dict(type='DeltaXYWHTRBBoxCoder', edge_swap=True)))
    with pytest.raises(ValueError, match='loss_angle'):
        MODELS.build(angle_branch_cfg(loss_angle=None))
    # with a loss on decoded boxes the angle may learn through it alone
    MODELS.build(
        angle_branch_cfg(
            loss_angle=None,
            reg_decoded_bbox=True,
            loss_bbox=dict(type='RotatedIoULoss')))


def fcos_cfg(**overrides):
    cfg = dict(
        type='RotatedFCOSHead',
        num_classes=3,
        in_channels=16,
        stacked_convs=1,
        feat_channels=16,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        strides=STRIDES,
        regress_ranges=((-1, 32), (32, 64), (64, 1e8)),
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        loss_bbox=dict(type='RotatedIoULoss', loss_weight=1.0),
        test_cfg=ConfigDict(
            nms_pre=200,
            min_bbox_size=0,
            score_thr=0.0,
            nms=dict(type='nms_rotated', iou_threshold=0.1),
            max_per_img=50))
    cfg.update(overrides)
    return cfg


def naive_fcos_targets(head, points, gts):
    """Labels and distances of FCOS's rules, one point and box at a time,
    with shapely for the geometry."""
    boxes = regularize_rboxes(gts.bboxes.tensor.double())
    labels, distances = [], []
    level_of = np.repeat(
        np.arange(len(STRIDES)), [(IMG // s)**2 for s in STRIDES])
    for p, level in zip(points.double(), level_of):
        best, best_area, best_d = head.num_classes, math.inf, None
        for box, label in zip(boxes, gts.labels):
            corners = rbox2qbox(box).reshape(4, 2).numpy()
            poly = shapely.Polygon(corners)
            point = shapely.Point(p.numpy())
            if not poly.contains(point):
                continue
            d = [
                shapely.LineString(corners[[a, b]]).distance(point)
                for a, b in ((3, 0), (0, 1), (1, 2), (2, 3))
            ]
            u, v = (d[0] - d[2]) / 2, (d[1] - d[3]) / 2
            radius = STRIDES[level] * head.center_sample_radius
            low, high = head.regress_ranges[level]
            if abs(u) >= radius or abs(v) >= radius or \
                    not low <= max(d) <= high:
                continue
            area = float(box[2] * box[3])
            if area < best_area:
                best, best_area, best_d = int(label), area, d
        labels.append(best)
        distances.append(best_d)
    return labels, distances


def test_fcos_targets_against_naive_rules():
    head = MODELS.build(fcos_cfg())
    points = torch.cat(
        head.prior_generator.grid_priors([(IMG // s, IMG // s)
                                          for s in STRIDES],
                                         device='cpu'))
    gts = gt_instances()[0]
    ranges = torch.cat([
        torch.tensor(r, dtype=torch.float32)[None].expand((IMG // s)**2, 2)
        for r, s in zip(head.regress_ranges, STRIDES)
    ])
    radii = torch.cat([
        torch.full(((IMG // s)**2, ), s * head.center_sample_radius)
        for s in STRIDES
    ])
    labels, distances, angles = head._get_targets_single(
        gts, points, ranges, radii)
    expected_labels, expected_distances = naive_fcos_targets(head, points, gts)
    assert labels.tolist() == expected_labels
    positive = labels < head.num_classes
    assert positive.sum() > 3
    for i in positive.nonzero()[:, 0]:
        assert np.allclose(
            distances[i].numpy(), expected_distances[i], atol=1e-3)
    box_angles = regularize_rboxes(gts.bboxes.tensor)[:, 4]
    assert all((box_angles - angles[i]).abs().min() < 1e-6
               for i in positive.nonzero()[:, 0])


def test_fcos_head_trains_and_decodes():
    head = MODELS.build(fcos_cfg())
    outs = head(features())
    assert [o[0].shape[1] for o in outs] == [3, 4, 1, 1]
    losses = head.loss_by_feat(*outs, gt_instances(), METAS)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    value = total(losses)
    assert torch.isfinite(value)
    value.backward()
    assert head.conv_angle.weight.grad.abs().sum() > 0
    assert head.conv_reg.weight.grad.abs().sum() > 0
    head.eval()
    results = head.predict_by_feat(*head(features()), batch_img_metas=METAS)
    assert isinstance(results[0].bboxes, RotatedBoxes)


def test_fcos_hands_pixel_boxes_to_the_box_loss():
    """With norm_on_bbox the distances are in strides; the loss must still
    see the ground-truth boxes themselves, in pixels."""
    RecordingBoxLoss.calls.clear()
    head = MODELS.build(fcos_cfg(loss_bbox=dict(type='RecordingBoxLoss')))
    gts = gt_instances()
    head.loss_by_feat(*head(features()), gts, METAS)
    (pred, target, weight), = RecordingBoxLoss.calls
    assert pred.shape == target.shape and target.shape[1] == 5
    allowed = regularize_rboxes(torch.cat([g.bboxes.tensor for g in gts]))
    distance = (target[:, None] - allowed[None]).abs().max(dim=-1).values
    assert (distance.min(dim=1).values < 1e-3).all()
    assert weight.shape == (len(target), )


def test_fcos_with_horizontal_loss_and_csl_angle():
    head = MODELS.build(
        fcos_cfg(
            use_hbbox_loss=True,
            loss_bbox=dict(type='IoULoss', loss_weight=1.0),
            angle_coder=dict(type='CSLCoder', omega=2),
            loss_angle=dict(
                type='FocalLoss', use_sigmoid=True, loss_weight=0.2)))
    outs = head(features())
    assert outs[2][0].shape[1] == 90
    losses = head.loss_by_feat(*outs, gt_instances(), METAS)
    assert set(losses) == {
        'loss_cls', 'loss_bbox', 'loss_angle', 'loss_centerness'
    }
    total(losses).backward()
    assert head.conv_angle.weight.grad.abs().sum() > 0
    head.eval()
    results = head.predict_by_feat(*head(features()), batch_img_metas=METAS)
    # CSL bins of 2 degrees: every angle is a bin centre
    degrees = torch.rad2deg(results[0].bboxes.tensor[:, 4])
    assert torch.allclose(degrees % 2, torch.ones_like(degrees), atol=1e-3) \
        or torch.allclose((degrees + 90) % 2, torch.ones_like(degrees),
                          atol=1e-3)


def test_fcos_configuration_errors_and_empty_images():
    with pytest.raises(ValueError, match='loss_angle'):
        MODELS.build(
            fcos_cfg(use_hbbox_loss=True, loss_bbox=dict(type='IoULoss')))
    with pytest.raises(ValueError, match='rotated point coder'):
        MODELS.build(fcos_cfg(bbox_coder=dict(type='DistancePointBBoxCoder')))
    head = MODELS.build(fcos_cfg())
    empty = InstanceData(
        bboxes=RotatedBoxes(torch.zeros(0, 5)),
        labels=torch.zeros(0, dtype=torch.long))
    losses = head.loss_by_feat(*head(features()), [empty, empty], METAS)
    value = total(losses)
    value.backward()
    assert value.item() > 0  # the classification loss of all negatives
    assert head.conv_angle.weight.grad is not None

"""The pruned all-pairs rotated IoU equals mmcv's dense box_iou_rotated."""
import math

import numpy as np
import pytest
import torch
from mmcv.ops import box_iou_rotated

from mmdet_losses.models.task_modules import (FakeRotatedAnchorGenerator,
                                              RBboxOverlaps2D)
from mmdet_losses.structures import QuadriBoxes, RotatedBoxes, rbox_overlaps


def random_boxes(n, seed, extent=512, side=(2, 120)):
    gen = torch.Generator().manual_seed(seed)
    r = torch.rand(n, 5, generator=gen)
    return torch.stack([
        r[:, 0] * extent, r[:, 1] * extent, side[0] + r[:, 2] *
        (side[1] - side[0]), side[0] + r[:, 3] * (side[1] - side[0]),
        (r[:, 4] - 0.5) * 2 * math.pi
    ], 1)


def anchors(size=256):
    generator = FakeRotatedAnchorGenerator(
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128])
    sizes = [(math.ceil(size / s), ) * 2 for s in (8, 16, 32, 64, 128)]
    return torch.cat(
        [level.tensor for level in generator.grid_priors(sizes, device='cpu')])


def assert_equal_to_dense(boxes1, boxes2, mode='iou'):
    dense = box_iou_rotated(boxes1, boxes2, mode=mode)
    pruned = rbox_overlaps(boxes1, boxes2, mode=mode)
    assert pruned.shape == dense.shape
    assert (pruned - dense).abs().max() <= 1e-5
    return dense


@pytest.mark.parametrize('mode', ['iou', 'iof'])
def test_random_boxes_against_anchors(mode):
    dense = assert_equal_to_dense(random_boxes(20, 0, 256), anchors(), mode)
    assert (dense > 0).any() and (dense == 0).any()


def test_random_pairs_both_ways():
    a, b = random_boxes(60, 1), random_boxes(80, 2)
    assert_equal_to_dense(a, b)
    assert_equal_to_dense(b, a)


def test_all_pairs_overlapping():
    a = random_boxes(30, 3, extent=10, side=(50, 100))
    dense = assert_equal_to_dense(a, a)
    assert (dense > 0).all()


def test_identical_touching_tiny_and_degenerate_boxes():
    boxes = torch.tensor([
        [10., 10., 4., 2., 0.],  # and itself: IoU 1
        [14., 10., 4., 2., 0.],  # shares an edge with the first
        [12., 12., 4., 2., 0.],  # shares a corner region
        [10., 10., 4., 2., math.pi],  # the first turned by half a turn
        [10., 10., 1e-3, 1e-3, 0.3],  # tiny
        [10., 10., 0., 5., 0.2],  # zero width
        [10., 13., 2., 2., math.pi / 4],  # a diamond touching the top
        [1e4, 1e4, 5., 5., 0.1],  # far away, large coordinates
        [1e4 + 1., 1e4, 5., 5., 0.4],
    ])
    dense = assert_equal_to_dense(boxes, boxes)
    assert dense[0, 0] == pytest.approx(1, abs=1e-5)
    assert dense[0, 3] == pytest.approx(1, abs=1e-5)
    assert dense[7, 8] > 0


def test_aligned_and_empty():
    a, b = random_boxes(10, 4), random_boxes(10, 5)
    assert torch.allclose(
        rbox_overlaps(a, b, is_aligned=True),
        box_iou_rotated(a, b, aligned=True))
    assert rbox_overlaps(a[:0], b).shape == (0, 10)
    assert rbox_overlaps(a, b[:0]).shape == (10, 0)
    assert rbox_overlaps(a[:0], b[:0], is_aligned=True).shape == (0, )


def test_dtype_follows_the_input():
    a = random_boxes(5, 6).double()
    out = rbox_overlaps(a, a)
    assert out.dtype == torch.float64
    assert torch.allclose(out.float(), box_iou_rotated(a.float(), a.float()))


def test_pruning_memory_is_blocked(monkeypatch):
    """Blocks of a few pairs give the same matrix as one block."""
    from mmdet_losses.structures.bbox import rotated_overlaps
    a, b = random_boxes(40, 7), random_boxes(50, 8)
    whole = rbox_overlaps(a, b)
    monkeypatch.setattr(rotated_overlaps, 'BLOCK_PAIRS', 60)
    assert torch.equal(rbox_overlaps(a, b), whole)


def test_bad_input_is_named():
    a = random_boxes(5, 9)
    with pytest.raises(ValueError, match=r'boxes1 must be \(n, 5\)'):
        rbox_overlaps(a[:, :4], a)
    bad = a.clone()
    bad[3, 2] = float('nan')
    with pytest.raises(ValueError, match=r'boxes2\[3\] is not finite'):
        rbox_overlaps(a, bad)
    with pytest.raises(ValueError, match='mode'):
        rbox_overlaps(a, a, mode='giou')
    with pytest.raises(ValueError, match='aligned'):
        rbox_overlaps(a, a[:3], is_aligned=True)


def test_calculator_takes_box_types_and_tensors():
    calc = RBboxOverlaps2D()
    a, b = random_boxes(8, 10), random_boxes(9, 11)
    expected = box_iou_rotated(a, b)
    assert torch.allclose(calc(a, b), expected, atol=1e-5)
    assert torch.allclose(
        calc(RotatedBoxes(a), RotatedBoxes(b)), expected, atol=1e-5)
    quads = RotatedBoxes(b).convert_to('qbox')
    assert isinstance(quads, QuadriBoxes)
    assert torch.allclose(calc(RotatedBoxes(a), quads), expected, atol=1e-4)
    assert torch.allclose(
        calc(a, b, mode='iof'), box_iou_rotated(a, b, mode='iof'), atol=1e-5)
    dense = RBboxOverlaps2D(prune=False)
    assert torch.equal(dense(a, b), expected)
    with pytest.raises(TypeError, match=r'\(n, 5\)'):
        calc(a[:, :4], b)


def test_anchor_generator_gives_rotated_anchors():
    from mmdet.models.task_modules.prior_generators import AnchorGenerator
    args = dict(
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16])
    horizontal = AnchorGenerator(**args).grid_priors([(4, 4), (2, 2)],
                                                     device='cpu')
    rotated = FakeRotatedAnchorGenerator(**args).grid_priors([(4, 4), (2, 2)],
                                                             device='cpu')
    for h, r in zip(horizontal, rotated):
        assert isinstance(r, RotatedBoxes)
        assert torch.allclose(r.convert_to('hbox').tensor, h, atol=1e-4)
        assert (r.tensor[:, 4] == 0).all()
    regular = FakeRotatedAnchorGenerator(angle_version='le90', **args)
    for h, r in zip(horizontal,
                    regular.grid_priors([(4, 4), (2, 2)], device='cpu')):
        assert (r.tensor[:, 2] >= r.tensor[:, 3]).all()
        assert torch.allclose(r.convert_to('hbox').tensor, h, atol=1e-4)
    sparse = FakeRotatedAnchorGenerator(**args).sparse_priors(
        torch.tensor([0, 5]), (4, 4), 0, device='cpu')
    assert isinstance(sparse, RotatedBoxes)
    assert np.allclose(sparse.tensor.numpy(), rotated[0].tensor[[0, 5]])

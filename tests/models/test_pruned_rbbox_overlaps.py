"""PrunedRBboxOverlaps2D equals mmrotate's RBboxOverlaps2D: on the cases of
mmrotate's own calculator tests (aligned, box types, a score column, empty
sets, iou / iof, the published values), on anchors against random boxes,
and on edge cases; bad input is named."""
import math

import pytest
import torch
from mmrotate.models.task_modules.assigners import RBboxOverlaps2D
from mmrotate.models.task_modules.prior_generators import \
    FakeRotatedAnchorGenerator
from mmrotate.structures.bbox import RotatedBoxes

from mmdet_losses.models.task_modules.assigners import PrunedRBboxOverlaps2D
from mmdet_losses.models.task_modules.assigners import \
    pruned_iou_calculator as module
from mmdet_losses.models.task_modules.assigners import pruned_rbbox_overlaps

THEIRS, OURS = RBboxOverlaps2D(), PrunedRBboxOverlaps2D()


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
        angle_version='le90',
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128])
    sizes = [(math.ceil(size / s), ) * 2 for s in (8, 16, 32, 64, 128)]
    return torch.cat(
        [level.tensor for level in generator.grid_priors(sizes, device='cpu')])


def assert_same(*args, **kwargs):
    theirs, ours = THEIRS(*args, **kwargs), OURS(*args, **kwargs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0)
    return theirs


def test_mmrotate_calculator_cases():
    # the shapes and types of mmrotate's test_rotated_iou2d_calculator
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        n = int(torch.randint(1, 10, (1, ), generator=gen))
        h, w = torch.randint(3, 1000, (2, ), generator=gen).tolist()
        a, b = (
            torch.rand(n, 5, generator=gen) * torch.tensor([w, h, w, h, 1.])
            for _ in range(2))
        assert_same(a, b, 'iou', True).shape == (n, )
        assert_same(RotatedBoxes(a), RotatedBoxes(b), 'iou', True)
        scores = torch.rand(n, 1, generator=gen)
        assert_same(
            torch.cat([a, scores], 1), torch.cat([b, scores], 1), 'iou', True)
        assert_same(a, b[:max(1, n - 1)], 'iou')
        assert_same(a, b, 'iof')
        assert_same(a, b, 'iof', True)
    empty = torch.empty(0, 5)
    assert assert_same(empty, empty, 'iou', True).shape == (0, 1)
    assert assert_same(empty, random_boxes(3, 0)).shape == (0, 3)
    assert assert_same(random_boxes(3, 0), empty).shape == (3, 0)


def test_published_values():
    # the four-decimal IoUs of mmrotate's test (from the original official
    # implementation)
    boxes1 = torch.tensor([[1.0, 1.0, 3.0, 4.0,
                            0.5], [2.0, 2.0, 3.0, 4.0, 0.6],
                           [7.0, 7.0, 8.0, 8.0, 0.4]])
    boxes2 = torch.tensor([[0.0, 2.0, 2.0, 5.0,
                            0.3], [2.0, 1.0, 3.0, 3.0, 0.5],
                           [5.0, 5.0, 6.0, 7.0, 0.4]])
    ious = OURS(boxes1, boxes2, 'iou', True)
    assert torch.allclose(
        ious, torch.tensor([0.3708, 0.4487, 0.3622]), atol=1e-4)
    assert torch.allclose(
        OURS(boxes1, boxes2).diagonal(), ious, atol=1e-6, rtol=0)


@pytest.mark.parametrize('mode', ['iou', 'iof'])
def test_anchors_against_random_boxes(mode):
    theirs = assert_same(random_boxes(20, 0, 256), anchors(), mode)
    assert (theirs > 0).any() and (theirs == 0).any()
    assert_same(anchors(), random_boxes(20, 1, 256), mode)


def test_random_pairs_and_all_overlapping():
    assert_same(random_boxes(60, 1), random_boxes(80, 2))
    close = random_boxes(30, 3, extent=10, side=(50, 100))
    assert (assert_same(close, close) > 0).all()


def test_edge_cases_including_mmrotate_clamps():
    boxes = torch.tensor([
        [10., 10., 4., 2., 0.],  # and itself: IoU 1
        [14., 10., 4., 2., 0.],  # shares an edge with the first
        [10., 10., 4., 2., math.pi],  # the first turned by half a turn
        [10., 10., 1e-5, 1e-5, 0.3],  # below mmrotate's 1e-3 clamp
        [10., 10., 0., 5., 0.2],  # zero width
        [10., 13., 2., 2., math.pi / 4],  # a diamond touching the top
        [1e4, 1e4, 5., 5., 0.1],  # far away, large coordinates
        [3e7, 10., 5., 5., 0.],  # beyond mmrotate's 1e7 clamp
    ])
    theirs = assert_same(boxes, boxes)
    assert theirs[0, 0] == pytest.approx(1, abs=1e-5)
    assert theirs[0, 2] == pytest.approx(1, abs=1e-5)


def test_blocks_and_dense_switch(monkeypatch):
    a, b = random_boxes(40, 7), random_boxes(50, 8)
    whole = OURS(a, b)
    monkeypatch.setattr(module, 'BLOCK_PAIRS', 60)
    assert torch.equal(OURS(a, b), whole)
    assert torch.equal(PrunedRBboxOverlaps2D(prune=False)(a, b), THEIRS(a, b))


def test_float64_in_float64_out():
    a = random_boxes(5, 6).double()
    out = pruned_rbbox_overlaps(a, a)
    assert out.dtype == torch.float64
    assert torch.allclose(out.float(), THEIRS(a.float(), a.float()))


def test_bad_input_is_named():
    a = random_boxes(5, 9)
    with pytest.raises(ValueError, match=r'bboxes1 must be \(n, 5\)'):
        OURS(a[:, :4], a)
    bad = a.clone()
    bad[3, 2] = float('nan')
    with pytest.raises(ValueError, match=r'bboxes2\[3\] is not finite'):
        OURS(a, bad)
    with pytest.raises(ValueError, match='mode'):
        OURS(a, a, mode='giou')
    with pytest.raises(ValueError, match='aligned'):
        OURS(a, a[:3], is_aligned=True)


def test_registered_under_its_own_name_only():
    from mmengine.registry import TASK_UTILS as ROOT

    import mmdet_losses.models.task_modules  # noqa: F401
    from mmdet_losses.registry import TASK_UTILS
    assert TASK_UTILS.get('PrunedRBboxOverlaps2D') is PrunedRBboxOverlaps2D
    assert 'RBboxOverlaps2D' not in TASK_UTILS.module_dict
    built = ROOT.build(dict(type='mmdet_losses.PrunedRBboxOverlaps2D'))
    assert isinstance(built, PrunedRBboxOverlaps2D)

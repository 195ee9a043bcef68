"""RotatedBoxes ('rbox') and QuadriBoxes ('qbox') in mmdet's box-type
machinery, and what mmdet's transforms do with them."""
import math

import numpy as np
import pytest
import shapely
import torch
from mmdet.structures.bbox import (HorizontalBoxes, convert_box_type,
                                   get_box_type)
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from mmdet_losses.structures import (QuadriBoxes, RotatedBoxes, rbox2qbox,
                                     regularize_rboxes)


def boxes(n=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    r = torch.rand(n, 5, generator=gen)
    return torch.stack([
        50 + r[:, 0] * 200, 50 + r[:, 1] * 200, 4 + r[:, 2] * 60,
        4 + r[:, 3] * 30, (r[:, 4] - 0.5) * math.pi
    ], 1)


def corner_sets_equal(a, b, tol=1e-3):
    a, b = a.reshape(-1, 4, 2), b.reshape(-1, 4, 2)
    distance = (a[:, :, None] - b[:, None]).norm(dim=-1)
    return bool((distance.min(dim=2).values < tol).all())


def test_registered_with_mmdet():
    assert get_box_type('rbox')[1] is RotatedBoxes
    assert get_box_type('qbox')[1] is QuadriBoxes
    rb = RotatedBoxes(boxes())
    assert isinstance(rb.convert_to('qbox'), QuadriBoxes)
    assert isinstance(rb.convert_to('hbox'), HorizontalBoxes)
    back = rb.convert_to('qbox').convert_to('rbox')
    assert torch.allclose(back.tensor, regularize_rboxes(rb.tensor), atol=1e-3)
    # numpy in, numpy out
    array = convert_box_type(boxes().numpy(), src_type='rbox', dst_type='hbox')
    assert isinstance(array, np.ndarray) and array.shape == (20, 4)


def test_properties():
    rb = RotatedBoxes(boxes())
    t = boxes()
    assert torch.equal(rb.centers, t[:, :2])
    assert torch.allclose(rb.areas, t[:, 2] * t[:, 3])
    assert torch.equal(rb.widths, t[:, 2]) and torch.equal(rb.heights, t[:, 3])
    assert torch.allclose(rb.regularize_boxes('le90'), regularize_rboxes(t))
    qb = rb.convert_to('qbox')
    assert torch.allclose(qb.areas, rb.areas, rtol=1e-4)
    assert torch.allclose(qb.centers, rb.centers, atol=1e-4)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_rbox_and_qbox_agree(direction):
    rb = RotatedBoxes(boxes())
    qb = rb.convert_to('qbox')
    rb.flip_((300, 400), direction)
    qb.flip_((300, 400), direction)
    assert corner_sets_equal(rbox2qbox(rb.tensor), qb.tensor)


def test_translate_rotate_project_agree():
    rb = RotatedBoxes(boxes())
    qb = rb.convert_to('qbox')
    rb.translate_((5, -3))
    qb.translate_((5, -3))
    assert corner_sets_equal(rbox2qbox(rb.tensor), qb.tensor)
    rb.rotate_((150, 150), 37)
    qb.rotate_((150, 150), 37)
    assert corner_sets_equal(rbox2qbox(rb.tensor), qb.tensor)
    # a rotation as a homography: same boxes as rotate_
    import cv2
    matrix = np.vstack(
        [cv2.getRotationMatrix2D((100, 80), -20, 1.0), [0, 0, 1]])
    projected = RotatedBoxes(rb.tensor)
    projected.project_(matrix)
    rb.rotate_((100, 80), 20)
    assert corner_sets_equal(rbox2qbox(projected.tensor), rbox2qbox(rb.tensor))


def test_rescale_isotropic_is_exact_and_anisotropic_keeps_area():
    t = boxes()
    rb = RotatedBoxes(t)
    rb.rescale_((2.0, 2.0))
    assert torch.allclose(rb.tensor[:, :4], t[:, :4] * 2)
    assert torch.equal(rb.tensor[:, 4], t[:, 4])
    rb = RotatedBoxes(t)
    rb.rescale_((2.0, 0.5))
    assert torch.allclose(rb.areas, t[:, 2] * t[:, 3], rtol=1e-5)
    # the w side maps onto the image of the w side
    w_side = torch.stack([torch.cos(t[:, 4]), torch.sin(t[:, 4])], 1)
    mapped = w_side * t[:, 2:3] * torch.tensor([2.0, 0.5])
    got = torch.stack([torch.cos(rb.tensor[:, 4]),
                       torch.sin(rb.tensor[:, 4])], 1) * rb.tensor[:, 2:3]
    assert torch.allclose(got, mapped, atol=1e-4)


def test_resize_scales_sides_about_centres():
    rb = RotatedBoxes(boxes())
    before = rb.tensor.clone()
    rb.resize_((2.0, 3.0))
    assert torch.equal(rb.tensor[:, :2], before[:, :2])
    assert torch.allclose(rb.tensor[:, 2], before[:, 2] * 2)
    assert torch.allclose(rb.tensor[:, 3], before[:, 3] * 3)


def test_clip_leaves_boxes_alone():
    rb = RotatedBoxes(torch.tensor([[-5., -5., 40., 10., 0.5]]))
    before = rb.tensor.clone()
    rb.clip_((20, 20))
    assert torch.equal(rb.tensor, before)


def test_is_inside():
    rb = RotatedBoxes(
        torch.tensor([[50., 50., 20., 10., 0.3], [-20., 50., 10., 10., 0.],
                      [98., 50., 10., 10., 0.]]))
    assert rb.is_inside((100, 100)).tolist() == [True, False, True]
    assert rb.is_inside((100, 100), all_inside=True).tolist() == \
        [True, False, False]


def test_find_inside_points_against_shapely():
    rb = RotatedBoxes(boxes(10, 1))
    qb = rb.convert_to('qbox')
    rng = np.random.default_rng(0)
    points = torch.from_numpy(rng.uniform(0, 300, (300, 2))).float()
    inside = rb.find_inside_points(points)
    inside_q = qb.find_inside_points(points)
    for j, corners in enumerate(rbox2qbox(rb.tensor).double()):
        poly = shapely.Polygon(corners.reshape(4, 2).numpy())
        expected = shapely.contains_xy(poly, points[:, 0].double().numpy(),
                                       points[:, 1].double().numpy())
        assert np.array_equal(inside[:, j].numpy(), expected)
        assert np.array_equal(inside_q[:, j].numpy(), expected)
    aligned = rb.find_inside_points(rb.centers, is_aligned=True)
    assert aligned.all()


def test_overlaps():
    from mmcv.ops import box_iou_quadri, box_iou_rotated
    a, b = RotatedBoxes(boxes(10, 2)), RotatedBoxes(boxes(12, 3))
    assert torch.allclose(
        RotatedBoxes.overlaps(a, b), box_iou_rotated(a.tensor, b.tensor))
    qa, qb = a.convert_to('qbox'), b.convert_to('qbox')
    assert torch.allclose(
        QuadriBoxes.overlaps(qa, qb), box_iou_quadri(qa.tensor, qb.tensor))
    assert torch.allclose(
        QuadriBoxes.overlaps(qa, qb), RotatedBoxes.overlaps(a, b), atol=1e-4)
    assert QuadriBoxes.overlaps(qa[:0], qb).shape == (0, 12)


def test_from_instance_masks():
    mask = np.zeros((1, 60, 60), np.uint8)
    mask[0, 10:20, 5:45] = 1  # 40 x 10 pixels
    rb = RotatedBoxes.from_instance_masks(BitmapMasks(mask, 60, 60))
    w, h = sorted(rb.tensor[0, 2:4].tolist(), reverse=True)
    # OpenCV fits the pixel centres: one pixel less than the extent
    assert w == pytest.approx(39, abs=1e-3) and h == pytest.approx(9, abs=1e-3)
    square = [np.array([10., 0., 20., 10., 10., 20., 0., 10.])]
    qb = QuadriBoxes.from_instance_masks(PolygonMasks([square], 30, 30))
    assert qb.areas[0] == pytest.approx(200, rel=1e-4)
    with pytest.raises(TypeError, match='BitmapMasks'):
        RotatedBoxes.from_instance_masks([mask])


def test_indexing_and_cat_keep_the_type():
    rb = RotatedBoxes(boxes())
    assert isinstance(rb[:3], RotatedBoxes) and len(rb[:3]) == 3
    assert isinstance(RotatedBoxes.cat([rb, rb]), RotatedBoxes)
    assert RotatedBoxes([]).tensor.shape == (0, 5)

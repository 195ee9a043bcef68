"""Rotated box conventions and conversions, against independent geometry:
OpenCV's minAreaRect and rotation matrices, shapely polygons, and corners
computed here by hand."""
import math

import cv2
import numpy as np
import pytest
import shapely
import torch

from mmdet_losses.structures import (flip_rboxes, hbox2qbox, hbox2rbox,
                                     norm_angle, points_in_rbox_frame,
                                     qbox2hbox, qbox2rbox, qbox_areas,
                                     rbox2hbox, rbox2qbox,
                                     rboxes_contain_points, regularize_rboxes,
                                     rotate_rboxes)

VERSIONS = {
    'le90': (-math.pi / 2, True),
    'le135': (-math.pi / 4, True),
    'oc': (-math.pi / 2, False)
}


def random_rboxes(n, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    r = torch.rand(n, 5, generator=gen, dtype=dtype)
    return torch.stack([
        r[:, 0] * 500, r[:, 1] * 500, 1 + r[:, 2] * 100, 1 + r[:, 3] * 100,
        (r[:, 4] - 0.5) * 4 * math.pi
    ], 1)


def polygon(corners):
    return shapely.Polygon(np.asarray(corners, np.float64).reshape(4, 2))


def same_rectangles(a, b, tol=1e-6):
    """Rows of two (n, 5) sets describe the same rectangles: their corner
    sets coincide."""
    ca = rbox2qbox(a).reshape(-1, 4, 2)
    cb = rbox2qbox(b).reshape(-1, 4, 2)
    distance = (ca[:, :, None] - cb[:, None]).norm(dim=-1)
    return bool((distance.min(dim=2).values < tol).all()
                and (distance.min(dim=1).values < tol).all())


def test_rbox2qbox_corners_by_hand():
    # w side along (cos t, sin t), h side along (-sin t, cos t)
    box = torch.tensor([10., 20., 8., 4., math.pi / 6], dtype=torch.float64)
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    expected = []
    for u, v in ((-4, -2), (4, -2), (4, 2), (-4, 2)):
        expected += [10 + u * c - v * s, 20 + u * s + v * c]
    assert torch.allclose(
        rbox2qbox(box), torch.tensor(expected, dtype=torch.float64))


def test_positive_angle_turns_clockwise_on_screen():
    # y points down: a quarter turn sends the w side from +x to +y
    box = torch.tensor([0., 0., 2., 0., math.pi / 2], dtype=torch.float64)
    corners = rbox2qbox(box).reshape(4, 2)
    assert torch.allclose(
        corners[1], torch.tensor([0., 1.]).double(), atol=1e-12)


def test_corners_agree_with_mmcv_iou():
    """mmcv's box_iou_rotated (clockwise=True) sees our rbox as our corners
    say: its IoU equals the shapely IoU of the corner polygons."""
    from mmcv.ops import box_iou_rotated
    a, b = random_rboxes(200, 1), random_rboxes(200, 2)
    b[:, :2] = a[:, :2] + torch.randn(200, 2, dtype=torch.float64) * 20
    mmcv = box_iou_rotated(a.float(), b.float(), aligned=True)
    for i in range(200):
        pa, pb = polygon(rbox2qbox(a[i])), polygon(rbox2qbox(b[i]))
        exact = pa.intersection(pb).area / pa.union(pb).area
        assert abs(mmcv[i].item() - exact) < 1e-4, i


@pytest.mark.parametrize('version', VERSIONS)
def test_regularize_ranges_sides_and_same_rectangle(version):
    start, width_longer = VERSIONS[version]
    boxes = random_rboxes(500, 3)
    out = regularize_rboxes(boxes, version)
    assert ((out[:, 4] >= start) & (out[:, 4] < start + math.pi)).all()
    if width_longer:
        assert (out[:, 2] >= out[:, 3]).all()
    else:
        assert (out[:, 4] < start + math.pi / 2).all()
    assert same_rectangles(boxes, out)
    # idempotent
    assert torch.equal(regularize_rboxes(out, version), out)


@pytest.mark.parametrize('version', VERSIONS)
def test_regularize_boundaries(version):
    start, _ = VERSIONS[version]
    # exactly on the range ends, and a hair below the start
    angles = torch.tensor(
        [start, start + math.pi, start - 1e-12,
         start + math.pi - 1e-12]).double()
    boxes = torch.stack([
        torch.zeros(4),
        torch.zeros(4),
        torch.full((4, ), 6.),
        torch.full((4, ), 3.)
    ], 1).double()
    boxes = torch.cat([boxes, angles[:, None]], 1)
    out = regularize_rboxes(boxes, version)
    assert ((out[:, 4] >= start) & (out[:, 4] < start + math.pi)).all()
    # float32 rounding of the remainder must not escape the range either
    out32 = regularize_rboxes(boxes.float(), version)
    assert ((out32[:, 4] >= start) & (out32[:, 4] < start + math.pi)).all()


def test_regularize_keeps_square_sides():
    square = torch.tensor([[0., 0., 5., 5., 0.3]])
    assert torch.equal(regularize_rboxes(square, 'le90'), square)


def test_regularize_rejects_unknown_version():
    with pytest.raises(ValueError, match='le90'):
        regularize_rboxes(random_rboxes(2), 'le180')


def test_norm_angle_is_a_half_turn_shift():
    angles = torch.linspace(-10, 10, 101).double()
    out = norm_angle(angles, 'le135')
    assert ((out >= -math.pi / 4) & (out < 3 * math.pi / 4)).all()
    turns = (angles - out) / math.pi
    assert torch.allclose(turns, turns.round(), atol=1e-9)


def test_qbox2rbox_round_trip():
    boxes = regularize_rboxes(random_rboxes(300, 4), 'le90')
    back = qbox2rbox(rbox2qbox(boxes))
    assert same_rectangles(boxes, back, 1e-6)
    assert torch.allclose(back[:, 2:4], boxes[:, 2:4], atol=1e-6)


def test_qbox2rbox_matches_opencv_on_quadrilaterals():
    rng = np.random.default_rng(0)
    for _ in range(200):
        # a random convex-ish quadrilateral: jittered rectangle corners,
        # or any four points (corner order does not matter)
        points = rng.uniform(0, 100, (4, 2))
        ours = qbox2rbox(torch.from_numpy(points.reshape(1, 8)))[0]
        (_, _), (w, h), _ = cv2.minAreaRect(points.astype(np.float32))
        assert ours[2] * ours[3] == pytest.approx(w * h, rel=1e-4, abs=1e-3)
        # and it contains every point
        inside = rboxes_contain_points(
            ours[None],
            torch.from_numpy(points) * (1 - 1e-9) + ours[:2] * 1e-9)
        assert inside.all()


def test_qbox2rbox_of_degenerate_quadrilateral_is_finite():
    line = torch.tensor([[0., 0., 10., 0., 20., 0., 30., 0.]])
    out = qbox2rbox(line)
    assert torch.isfinite(out).all() and out[0, 3] == 0


def test_hulls_are_corner_extremes():
    boxes = random_rboxes(100, 5)
    hull = rbox2hbox(boxes)
    assert torch.allclose(hull, qbox2hbox(rbox2qbox(boxes)), atol=1e-9)
    # numpy in, numpy out, same values
    assert np.allclose(rbox2hbox(boxes.numpy()), hull.numpy())


def test_horizontal_conversions():
    hboxes = torch.tensor([[1., 2., 5., 10.], [0., 0., 3., 1.]])
    rboxes = hbox2rbox(hboxes)
    assert torch.equal(
        rboxes, torch.tensor([[3., 6., 4., 8., 0.], [1.5, 0.5, 3., 1., 0.]]))
    assert torch.allclose(rbox2hbox(rboxes), hboxes)
    assert torch.allclose(qbox2hbox(hbox2qbox(hboxes)), hboxes)
    assert torch.allclose(rbox2qbox(rboxes), hbox2qbox(hboxes))


def test_qbox_areas_against_shapely():
    boxes = random_rboxes(50, 6)
    corners = rbox2qbox(boxes)
    expected = [polygon(c).area for c in corners]
    assert torch.allclose(
        qbox_areas(corners), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_moves_the_corners(direction):
    boxes = random_rboxes(50, 7)
    height, width = 480, 640
    flipped = flip_rboxes(boxes, (height, width), direction)
    corners = rbox2qbox(boxes).reshape(-1, 4, 2).clone()
    if direction in ('horizontal', 'diagonal'):
        corners[..., 0] = width - corners[..., 0]
    if direction in ('vertical', 'diagonal'):
        corners[..., 1] = height - corners[..., 1]
    for a, expected in zip(flipped, corners):
        got = rbox2qbox(a).reshape(4, 2)
        distance = (got[:, None] - expected[None]).norm(dim=-1)
        assert (distance.min(dim=1).values < 1e-9).all()


def test_flip_rejects_unknown_direction():
    with pytest.raises(ValueError, match='direction'):
        flip_rboxes(random_rboxes(1), (10, 10), 'sideways')


@pytest.mark.parametrize('angle', [30.0, -75.0, 90.0, 180.0])
def test_rotate_matches_opencv(angle):
    """mmdet's convention: positive degrees turn clockwise on screen, which
    is OpenCV's getRotationMatrix2D with the angle negated."""
    boxes = random_rboxes(20, 8)
    center = (320.0, 240.0)
    turned = rotate_rboxes(boxes, center, angle)
    matrix = cv2.getRotationMatrix2D(center, -angle, 1.0)
    corners = rbox2qbox(boxes).reshape(-1, 4, 2).numpy()
    expected = corners @ matrix[:, :2].T + matrix[:, 2]
    got = rbox2qbox(turned).reshape(-1, 4, 2).numpy()
    assert np.allclose(got, expected, atol=1e-8)


def test_points_in_frame_and_containment_against_shapely():
    boxes = random_rboxes(30, 9)
    rng = np.random.default_rng(1)
    points = torch.from_numpy(rng.uniform(-50, 550, (400, 2)))
    inside = rboxes_contain_points(boxes[None], points[:, None])
    for j, box in enumerate(boxes):
        poly = polygon(rbox2qbox(box))
        expected = shapely.contains_xy(poly, points[:, 0].numpy(),
                                       points[:, 1].numpy())
        assert np.array_equal(inside[:, j].numpy(), expected)
    # (u, v) reproduce the points
    u, v = points_in_rbox_frame(boxes[None], points[:, None])
    t = boxes[None, :, 4]
    x = boxes[None, :, 0] + u * torch.cos(t) - v * torch.sin(t)
    assert torch.allclose(x, points[:, None, 0].expand_as(x))

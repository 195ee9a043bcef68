"""YOLOv1's loss, targets and decoding against hand-worked numbers and a
naive cell-by-cell reference."""
import math

import pytest
import torch

from mmdet_losses.functional.yolov1 import (SQRT_EPS, safe_sqrt, yolov1_decode,
                                            yolov1_encode_targets, yolov1_loss,
                                            yolov1_loss_terms)

F64 = torch.float64


def cell(x, y, w, h, c):
    return [x, y, w, h, c]


def hand_worked_example():
    """S = 2, B = 2, C = 2 on a 200 x 200 input (cells of 100 pixels).

    One object, class 1, box (34, 35, 66, 85): centre (50, 60), 32 x 50,
    so in cell (row 0, col 0) at x = 0.5, y = 0.6, w = 0.16, h = 0.25
    (sqrt: 0.4, 0.5).

    Cell (0, 0) predicts
      box 0: x 0.5, y 0.5, w 0.25, h 0.36, conf 0.6 -> (25, 14, 75, 86),
             which holds the object: IoU = 1600 / 3600 = 4/9
      box 1: x 0.3, y 0.6, w 0.09, h 0.16, conf 0.3 -> (21, 44, 39, 76):
             intersection 5 x 32 = 160, union 576 + 1600 - 160 = 2016,
             IoU = 160 / 2016 = 5/63
    so box 0 is responsible, and class probabilities (0.3, 0.7).
    The other cells' confidences: 0.1, 0.2 | 0.0, 0.4 | 0.1, 0.1.

      xy      = 5 * ((0.5 - 0.5)^2 + (0.5 - 0.6)^2)             = 0.05
      wh      = 5 * ((0.5 - 0.4)^2 + (0.6 - 0.5)^2)             = 0.1
      conf    = (0.6 - 4/9)^2                                    = 49/2025
      noobj   = 0.5 * (0.3^2 + 0.1^2 + 0.2^2 + 0 + 0.4^2 + 0.1^2 + 0.1^2)
              = 0.5 * 0.32                                       = 0.16
      cls     = (0.3 - 0)^2 + (0.7 - 1)^2                        = 0.18
      total   = 0.49 + 49/2025
    """
    pred = torch.tensor([[
        [
            cell(0.5, 0.5, 0.25, 0.36, 0.6) + cell(0.3, 0.6, 0.09, 0.16, 0.3) +
            [0.3, 0.7],
            cell(0.1, 0.9, 0.5, 0.5, 0.1) + cell(0.7, 0.2, 0.3, 0.1, 0.2) +
            [0.9, 0.1],
        ],
        [
            cell(0.5, 0.5, 0.5, 0.5, 0.0) + cell(0.2, 0.2, 0.2, 0.2, 0.4) +
            [0.5, 0.5],
            cell(0.9, 0.1, 0.1, 0.9, 0.1) + cell(0.4, 0.4, 0.6, 0.6, 0.1) +
            [0.0, 1.0],
        ],
    ]],
                        dtype=F64,
                        requires_grad=True)
    gt_boxes = [torch.tensor([[34., 35., 66., 85.]], dtype=F64)]
    gt_labels = [torch.tensor([1])]
    return pred, gt_boxes, gt_labels


def test_hand_worked_example_equals_the_closed_form():
    pred, gt_boxes, gt_labels = hand_worked_example()
    target = yolov1_encode_targets(gt_boxes, gt_labels, 2, 2, (200, 200))
    assert target.labels.tolist() == [[[1, 2], [2, 2]]]
    torch.testing.assert_close(target.boxes[0, 0, 0],
                               torch.tensor([0.5, 0.6, 0.16, 0.25], dtype=F64))
    terms = yolov1_loss_terms(pred, target)
    expected = dict(
        xy=0.05, wh=0.1, conf_obj=49 / 2025, conf_noobj=0.16, cls=0.18)
    for name, value in expected.items():
        torch.testing.assert_close(terms[name], torch.tensor([value],
                                                             dtype=F64))
    loss = yolov1_loss(pred, target)
    torch.testing.assert_close(loss, torch.tensor([0.49 + 49 / 2025],
                                                  dtype=F64))

    loss.sum().backward()
    grad = pred.grad[0, 0, 0]
    # d/dy 5 (y - 0.6)^2 = 10 (0.5 - 0.6); d/dw 5 (sqrt w - 0.4)^2 =
    # 5 (sqrt w - 0.4) / sqrt w = 1 at w = 0.25: the IoU in the confidence
    # target (which depends on w) carries no gradient
    torch.testing.assert_close(
        grad[:5],
        torch.tensor([0, -1, 1, 5 * 0.1 / 0.6, 2 * (0.6 - 4 / 9)], dtype=F64))
    # box 1 of the cell is not responsible: only its confidence, towards 0
    torch.testing.assert_close(grad[5:10],
                               torch.tensor([0, 0, 0, 0, 0.3], dtype=F64))
    torch.testing.assert_close(grad[10:], torch.tensor([0.6, -0.6], dtype=F64))
    # cells without an object: no class or box gradient
    assert pred.grad[0, 0, 1, 10:].abs().sum() == 0
    assert pred.grad[0, 1, 1, :4].abs().sum() == 0


def _naive_loss(pred, boxes, labels, num_boxes, l_coord, l_noobj):
    """Cell by cell, predictor by predictor, in plain Python floats."""

    def corners(x, y, w, h, row, col, grid):
        cx, cy = (col + x) / grid, (row + y) / grid
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2

    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) *
                 (b[3] - b[1]) - inter)
        return inter / union if union > 0 else 0.0

    num_images, grid = pred.shape[:2]
    num_classes = pred.shape[-1] - 5 * num_boxes
    totals = []
    for n in range(num_images):
        total = 0.0
        for i in range(grid):
            for j in range(grid):
                p = pred[n, i, j].tolist()
                label = int(labels[n, i, j])
                if label == num_classes:
                    total += l_noobj * sum(p[5 * b + 4]**2
                                           for b in range(num_boxes))
                    continue
                t = boxes[n, i, j].tolist()
                gt = corners(*t, i, j, grid)
                ious = [
                    iou(corners(*p[5 * b:5 * b + 4], i, j, grid), gt)
                    for b in range(num_boxes)
                ]
                best = ious.index(max(ious))
                for b in range(num_boxes):
                    x, y, w, h, c = p[5 * b:5 * b + 5]
                    if b != best:
                        total += l_noobj * c**2
                        continue
                    total += l_coord * ((x - t[0])**2 + (y - t[1])**2)
                    total += l_coord * ((math.sqrt(w) - math.sqrt(t[2]))**2 +
                                        (math.sqrt(h) - math.sqrt(t[3]))**2)
                    total += (c - ious[b])**2
                probs = p[5 * num_boxes:]
                total += sum(
                    (probs[k] - (k == label))**2 for k in range(num_classes))
        totals.append(total)
    return torch.tensor(totals, dtype=F64)


@pytest.mark.parametrize('num_boxes,num_classes,grid', [(2, 3, 4), (3, 1, 5),
                                                        (1, 20, 7)])
def test_matches_a_naive_cell_by_cell_reference(num_boxes, num_classes, grid):
    gen = torch.Generator().manual_seed(num_boxes * 100 + grid)
    num_images, size = 3, (120, 160)
    gt_boxes, gt_labels = [], []
    for n in range(num_images):
        k = 2 * n + 1
        xy = torch.rand(k, 2, generator=gen, dtype=F64) * 0.7
        wh = torch.rand(k, 2, generator=gen, dtype=F64) * 0.3 + 0.01
        scale = torch.tensor([size[1], size[0]], dtype=F64)
        gt_boxes.append(torch.cat([xy, xy + wh], 1) * scale.repeat(2))
        gt_labels.append(torch.randint(num_classes, (k, ), generator=gen))
    target = yolov1_encode_targets(gt_boxes, gt_labels, grid, num_classes,
                                   size)
    pred = torch.rand(
        num_images,
        grid,
        grid,
        5 * num_boxes + num_classes,
        generator=gen,
        dtype=F64)
    expected = _naive_loss(pred, target.boxes, target.labels, num_boxes, 5.0,
                           0.5)
    torch.testing.assert_close(yolov1_loss(pred, target, num_boxes), expected)
    # lambda weights scale their terms only
    expected = _naive_loss(pred, target.boxes, target.labels, num_boxes, 2.0,
                           0.25)
    torch.testing.assert_close(
        yolov1_loss(
            pred, target, num_boxes, lambda_coord=2.0, lambda_noobj=0.25),
        expected)


def test_gradcheck_float64_and_no_gradient_through_the_iou_target():
    pred, gt_boxes, gt_labels = hand_worked_example()
    target = yolov1_encode_targets(gt_boxes, gt_labels, 2, 2, (200, 200))
    pred = pred.detach().requires_grad_()

    def without_conf_obj(p):
        terms = yolov1_loss_terms(p, target)
        return sum(v for k, v in terms.items() if k != 'conf_obj')

    assert torch.autograd.gradcheck(without_conf_obj, (pred, ))
    # (c - IoU)^2 moves the confidence only, although the IoU depends on the
    # box: finite differences through the IoU would move w too
    conf_obj = yolov1_loss_terms(pred, target)['conf_obj'].sum()
    grad, = torch.autograd.grad(conf_obj, pred)
    assert grad[0, 0, 0, :4].abs().sum() == 0 and grad[0, 0, 0, 4] != 0
    h = 1e-6
    moved = pred.detach().clone()
    moved[0, 0, 0, 2] += h
    numerical = (yolov1_loss_terms(moved, target)['conf_obj'].sum() -
                 conf_obj.detach()) / h
    assert abs(float(numerical)) > 0.1


def _one_cell(boxes_and_confs, gt_xywh, num_classes=1):
    """A 1 x 1 grid on a unit input: pred for the given predictors, and the
    target of one object of class 0."""
    probs = [1.0] + [0.0] * (num_classes - 1)
    pred = torch.tensor([[[sum(boxes_and_confs, []) + probs]]],
                        dtype=F64,
                        requires_grad=True)
    x, y, w, h = gt_xywh
    target = yolov1_encode_targets([
        torch.tensor([[x - w / 2, y - h / 2, x + w / 2, y + h / 2]], dtype=F64)
    ], [torch.tensor([0])], 1, num_classes, (1, 1))
    return pred, target


def _responsible_index(pred, target, num_boxes):
    """Which predictor the loss treated as responsible: the one whose
    coordinates receive a gradient."""
    yolov1_loss(pred, target, num_boxes).sum().backward()
    coords = pred.grad[0, 0, 0, :5 * num_boxes].view(num_boxes, 5)[:, :4]
    moved = [b for b in range(num_boxes) if coords[b].abs().sum() > 0]
    assert len(moved) == 1, pred.grad
    return moved[0]


def test_responsible_is_the_highest_iou_not_the_first_or_the_most_confident():
    # box 1 overlaps the object best although box 0 is more confident
    pred, target = _one_cell([[0.2, 0.2, 0.2, 0.2, 0.9],
                              [0.5, 0.5, 0.4, 0.4, 0.1],
                              [0.8, 0.8, 0.3, 0.3, 0.5]], (0.5, 0.5, 0.5, 0.5))
    assert _responsible_index(pred, target, 3) == 1


def test_tie_between_equal_ious_goes_to_the_lowest_index():
    # boxes 1 and 2 are the same box: equal IoU, above box 0's
    same = [0.5, 0.5, 0.4, 0.4]
    pred, target = _one_cell([[0.1, 0.1, 0.1, 0.1, 0.5], same + [0.2],
                              same + [0.8]], (0.5, 0.5, 0.5, 0.5))
    assert _responsible_index(pred, target, 3) == 1
    # mirrored boxes: the same IoU by symmetry, not by identity (binary
    # fractions, so that rounding cannot break the tie)
    pred, target = _one_cell([[0.25, 0.5, 0.25, 0.25, 0.1],
                              [0.75, 0.5, 0.25, 0.25, 0.9]],
                             (0.5, 0.5, 0.5, 0.5))
    assert _responsible_index(pred, target, 2) == 0


def test_tie_at_zero_iou_goes_to_the_first_predictor():
    pred, target = _one_cell([[0.05, 0.05, 0.05, 0.05, 0.3],
                              [0.95, 0.95, 0.05, 0.05, 0.3]],
                             (0.5, 0.5, 0.2, 0.2))
    assert _responsible_index(pred, target, 2) == 0
    # and its confidence target is that IoU, 0
    pred.grad = None
    terms = yolov1_loss_terms(pred, target, 2)
    torch.testing.assert_close(terms['conf_obj'],
                               torch.tensor([0.3**2], dtype=F64))


def test_several_objects_in_a_cell_the_largest_wins():
    # 2 x 2 grid on 100 x 100: three centres in cell (0, 0), one elsewhere
    boxes = torch.tensor(
        [
            [10., 10., 20., 20.],  # centre (15, 15), area 100
            [0., 0., 40., 30.],  # centre (20, 15), area 1200: wins
            [30., 20., 40., 30.],  # centre (35, 25), area 100
            [60., 60., 90., 90.],  # cell (1, 1)
        ],
        dtype=F64)
    labels = torch.tensor([0, 1, 2, 3])
    target = yolov1_encode_targets([boxes], [labels], 2, 4, (100, 100))
    assert target.labels[0].tolist() == [[1, 4], [4, 3]]
    torch.testing.assert_close(target.boxes[0, 0, 0],
                               torch.tensor([0.4, 0.3, 0.4, 0.3], dtype=F64))
    # the order of the annotations does not matter
    order = torch.tensor([3, 2, 1, 0])
    again = yolov1_encode_targets([boxes[order]], [labels[order]], 2, 4,
                                  (100, 100))
    assert torch.equal(again.labels, target.labels)
    assert torch.equal(again.boxes, target.boxes)


def test_several_objects_in_a_cell_responsibility_follows_the_winner():
    """1 x 1 grid on 100 x 100: two objects, the larger one wins the cell.
    Box 1 matches the smaller object exactly, box 0 overlaps the larger
    one: box 0 is responsible, and the smaller object costs nothing."""
    large = [20., 20., 80., 80.]  # centre (50, 50), 60 x 60
    small = [40., 40., 60., 60.]  # centre (50, 50), 20 x 20
    target = yolov1_encode_targets([torch.tensor([small, large], dtype=F64)],
                                   [torch.tensor([0, 1])], 1, 2, (100, 100))
    assert target.labels.tolist() == [[[1]]]
    pred = torch.tensor([[[[0.4, 0.4, 0.5, 0.5, 0.5] +
                           [0.5, 0.5, 0.2, 0.2, 0.5] + [0.5, 0.5]]]],
                        dtype=F64,
                        requires_grad=True)
    assert _responsible_index(pred, target, 2) == 0
    # box 1's confidence is pushed to 0 although it sits on an object
    assert pred.grad[0, 0, 0, 9] == pytest.approx(0.5 * 2 * 0.5)


def test_several_objects_in_a_cell_equal_areas_the_first_listed_wins():
    boxes = torch.tensor([[10., 10., 20., 20.], [30., 20., 40., 30.]])
    target = yolov1_encode_targets([boxes], [torch.tensor([0, 1])], 2, 2,
                                   (100, 100))
    assert target.labels[0, 0, 0] == 0
    target = yolov1_encode_targets([boxes.flip(0)], [torch.tensor([1, 0])], 2,
                                   2, (100, 100))
    assert target.labels[0, 0, 0] == 1


def test_centres_on_cell_borders_and_the_input_edge():
    # 4 x 4 grid on 80 x 40 (cells 20 wide, 10 high)
    boxes = torch.tensor(
        [
            [10., 5., 30., 15.],  # centre (20, 10): on a corner of 4 cells
            [70., 30., 80., 40.],  # centre (75, 35): last cell
            [78., 38., 80., 40.],  # centre (79, 39), same cell, smaller
            [0., 0., 0., 0.],  # a point at the origin: first cell
        ],
        dtype=torch.float32)
    target = yolov1_encode_targets([boxes], [torch.tensor([0, 1, 2, 3])], 4, 4,
                                   (40, 80))
    labels = target.labels[0]
    assert labels[1, 1] == 0 and labels[3, 3] == 1 and labels[0, 0] == 3
    assert (labels < 4).sum() == 3
    torch.testing.assert_close(target.boxes[0, 1, 1],
                               torch.tensor([0.0, 0.0, 0.25, 0.25]))
    torch.testing.assert_close(target.boxes[0, 3, 3],
                               torch.tensor([0.75, 0.5, 0.125, 0.25]))


def test_encode_then_decode_gives_back_the_boxes():
    gen = torch.Generator().manual_seed(0)
    size = (300, 500)
    # one centre in each of five cells, anywhere inside it
    cells = torch.tensor([[0, 0], [1, 3], [2, 6], [4, 2], [6, 5]])
    offsets = torch.rand(5, 2, generator=gen) * 0.8 + 0.1
    centres = (cells.flip(1) + offsets) * torch.tensor([500 / 7, 300 / 7])
    half = torch.rand(5, 2, generator=gen) * 20 + 1
    boxes = torch.cat([centres - half, centres + half], 1)
    target = yolov1_encode_targets([boxes], [torch.arange(5)], 7, 5, size)
    assert target.labels[0][cells[:, 0], cells[:,
                                               1]].tolist() == [0, 1, 2, 3, 4]
    # pred = the targets, confidence 1, one-hot classes
    pred = torch.cat([
        target.boxes,
        torch.ones(1, 7, 7, 1),
        torch.nn.functional.one_hot(target.labels, 6)[..., :5].float()
    ], -1)
    decoded, scores = yolov1_decode(pred, 1, size)
    assert decoded.shape == (1, 49, 4) and scores.shape == (1, 49, 5)
    has_object = target.labels.flatten() < 5
    found = decoded[0, has_object]
    order = scores[0, has_object].argmax(1)
    torch.testing.assert_close(found, boxes[order], rtol=0, atol=1e-4)


def test_decode_layout_and_class_specific_confidence():
    # 2 x 2 grid, B = 2, C = 3 on a 100 (h) x 200 (w) input
    pred = torch.zeros(1, 2, 2, 13)
    # row 1, col 0, predictor 1: centre (0.5, 0.5) of the cell, 0.5 x 0.2
    pred[0, 1, 0, 5:10] = torch.tensor([0.5, 0.5, 0.5, 0.2, 0.8])
    pred[0, 1, 0, 10:] = torch.tensor([0.1, 0.6, 0.3])
    boxes, scores = yolov1_decode(pred, 2, (100, 200))
    index = (1 * 2 + 0) * 2 + 1  # row-major cells, predictors together
    torch.testing.assert_close(boxes[0, index],
                               torch.tensor([0., 65., 100., 85.]))
    torch.testing.assert_close(scores[0, index],
                               torch.tensor([0.08, 0.48, 0.24]))
    others = torch.ones(8, dtype=torch.bool)
    others[index] = False
    assert scores[0, others].abs().sum() == 0


def test_safe_sqrt_is_exact_above_eps_and_has_finite_slopes_below():
    x = torch.tensor([SQRT_EPS, 1e-3, 0.25, 1.0, 4.0], dtype=F64)
    torch.testing.assert_close(safe_sqrt(x), x.sqrt())
    x = torch.tensor([-1.0, -1e-3, 0.0, 1e-6, SQRT_EPS / 2, SQRT_EPS, 0.5],
                     dtype=F64,
                     requires_grad=True)
    safe_sqrt(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    slope = 1 / (2 * math.sqrt(SQRT_EPS))
    torch.testing.assert_close(x.grad[:5], torch.full((5, ), slope, dtype=F64))
    # continuous with a continuous slope at eps (finite differences)
    h = 1e-9
    for fn in (safe_sqrt, ):
        left = (fn(torch.tensor(SQRT_EPS, dtype=F64)) -
                fn(torch.tensor(SQRT_EPS - h, dtype=F64))) / h
        right = (fn(torch.tensor(SQRT_EPS + h, dtype=F64)) -
                 fn(torch.tensor(SQRT_EPS, dtype=F64))) / h
        assert abs(float(left - right)) < 1e-3 * slope


@pytest.mark.parametrize('dtype', [torch.float32, F64])
@pytest.mark.parametrize('size', [0.0, -0.05])
def test_zero_and_negative_predicted_size_gives_finite_gradients(dtype, size):
    pred, target = _one_cell([[0.5, 0.5, size, size, 0.5]],
                             (0.5, 0.5, 0.25, 0.16))
    pred = pred.detach().to(dtype).requires_grad_()
    target = target._replace(boxes=target.boxes.to(dtype))
    loss = yolov1_loss(pred, target, 1)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(pred.grad).all()
    # d/dw 5 (s(w) - sqrt(0.25))^2 with s the tangent below eps
    root_eps = math.sqrt(SQRT_EPS)
    s = root_eps + (size - SQRT_EPS) / (2 * root_eps)
    expected = 5 * 2 * (s - 0.5) / (2 * root_eps)
    torch.testing.assert_close(pred.grad[0, 0, 0, 2],
                               torch.tensor(expected, dtype=dtype))
    assert pred.grad[0, 0, 0, 2] < 0  # gradient descent grows the box


def test_zero_size_ground_truth_is_accepted():
    target = yolov1_encode_targets([torch.tensor([[5., 5., 5., 9.]])],
                                   [torch.tensor([0])], 2, 1, (20, 20))
    pred = torch.full((1, 2, 2, 6), 0.5, requires_grad=True)
    loss = yolov1_loss(pred, target, 1)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(pred.grad).all()


def test_images_without_objects_cost_only_the_noobj_confidences():
    pred = torch.rand(
        2,
        3,
        3,
        2 * 5 + 2,
        generator=torch.Generator().manual_seed(1),
        dtype=F64)
    target = yolov1_encode_targets([torch.zeros(0, 4, dtype=F64)] * 2,
                                   [torch.zeros(0, dtype=torch.long)] * 2, 3,
                                   2, (30, 30))
    assert (target.labels == 2).all()
    expected = 0.5 * (pred[..., [4, 9]]**2).flatten(1).sum(1)
    torch.testing.assert_close(yolov1_loss(pred, target), expected)


@pytest.mark.parametrize('boxes,labels,match', [
    ([[1., 1., 5., 5.], [2., 2., 4., 4.]], [0, 3], 'image 0, gt 1: '
     'label 3 is outside \\[0, 2\\]'),
    ([[1., 1., 5., 5.]], [-1], 'gt 0: label -1'),
    ([[1., 1., 5., 5.], [8., 2., 4., 6.]], [0, 0], 'gt 1: box '
     '\\[8.0, 2.0, 4.0, 6.0\\].*inverted'),
    ([[1., 1., 5., 5.], [10., 10., 25., 12.]
      ], [0, 0], 'gt 1: box.*outside the 20 x 10 input'),
    ([[-3., 1., 5., 5.]], [0], 'gt 0: box.*outside'),
    ([[1., -3., 5., 5.]], [0], 'gt 0: box.*outside'),
    ([[1., 1., 5., 5.], [1., 1., 5., 12.]], [0, 0], 'gt 1: box.*outside'),
    ([[1., 1., float('nan'), 5.]], [0], 'gt 0: box.*not finite'),
])
def test_bad_ground_truth_names_the_object_and_value(boxes, labels, match):
    with pytest.raises(ValueError, match=match):
        yolov1_encode_targets([torch.tensor(boxes)], [torch.tensor(labels)], 2,
                              3, (10, 20))


def test_bad_ground_truth_names_the_image():
    good = torch.tensor([[1., 1., 5., 5.]])
    with pytest.raises(ValueError, match='image 1, gt 0: label 7'):
        yolov1_encode_targets([good, good],
                              [torch.tensor([0]),
                               torch.tensor([7])], 2, 3, (10, 20))


def test_boxes_within_the_tolerance_are_accepted():
    box = torch.tensor([[-0.5, 0., 20.5, 10.]])
    target = yolov1_encode_targets([box], [torch.tensor([0])], 2, 1, (10, 20))
    assert (target.labels < 1).sum() == 1
    with pytest.raises(ValueError, match='outside'):
        yolov1_encode_targets([box], [torch.tensor([0])],
                              2,
                              1, (10, 20),
                              tolerance=0.0)


def test_bad_pred_and_target_shapes_are_reported():
    target = yolov1_encode_targets([torch.tensor([[1., 1., 5., 5.]])],
                                   [torch.tensor([0])], 2, 3, (10, 10))
    with pytest.raises(ValueError, match='too few'):
        yolov1_loss(torch.rand(1, 2, 2, 10), target, num_boxes=2)
    with pytest.raises(ValueError, match='do not match'):
        yolov1_loss(torch.rand(1, 3, 3, 13), target, num_boxes=2)
    # 13 channels read as B = 1 would leave 8 classes, not 3
    with pytest.raises(
            ValueError,
            match='leaves 8 class channels, but the '
            'targets were encoded for 3 classes'):
        yolov1_loss(torch.rand(1, 2, 2, 13), target, num_boxes=1)
    with pytest.raises(ValueError, match='shaped \\(N, S, S'):
        yolov1_loss(torch.rand(2, 2, 13), target, num_boxes=2)
    bad = target._replace(labels=target.labels.clone())
    bad.labels[0, 1, 0] = 4
    with pytest.raises(
            ValueError, match='label 4 in image 0, cell \\(1, 0\\)'):
        yolov1_loss(torch.rand(1, 2, 2, 13), bad, num_boxes=2)

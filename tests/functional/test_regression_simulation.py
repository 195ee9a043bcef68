"""The DIoU paper's regression simulation: cases, schedule, the authors'
gradient rules (hand-computed cases) and the exact gradients (finite
differences of closed forms written here)."""
import math

import pytest
import torch

from mmdet_losses.functional import regression_simulation as sim

DOUBLE = torch.float64


def _box(*values):
    return torch.tensor([values], dtype=DOUBLE)


# ---------------------------------------------------------------- the cases


def test_cases_follow_the_paper():
    cases = sim.make_cases(num_centres=6, seed=0)
    assert cases.anchors.shape == (6, 343, 4)
    assert cases.targets.shape == (343, 4)
    assert cases.num_cases == 6 * 343
    assert cases.anchors.dtype == DOUBLE
    # centres in the disc of radius 3 around (10, 10)
    offset = cases.centres - torch.tensor([10.0, 10.0], dtype=DOUBLE)
    assert (offset.norm(dim=1) <= 3).all()
    assert torch.equal(cases.anchors[:, :, :2],
                       cases.centres[:, None].expand(-1, 343, -1))
    # case k = (target * 7 + area) * 7 + ratio
    k = torch.arange(343)
    target_i, area_i, ratio_i = k // 49, (k // 7) % 7, k % 7
    ratios = torch.tensor(sim.ASPECT_RATIOS, dtype=DOUBLE)
    areas = torch.tensor(sim.ANCHOR_AREAS, dtype=DOUBLE)
    t = cases.targets
    assert torch.equal(t[:, :2], torch.full((343, 2), 10.0, dtype=DOUBLE))
    torch.testing.assert_close(t[:, 2] * t[:, 3],
                               torch.ones(343, dtype=DOUBLE))
    torch.testing.assert_close(t[:, 2] / t[:, 3], ratios[target_i])
    a = cases.anchors[3]
    torch.testing.assert_close(a[:, 2] * a[:, 3], areas[area_i])
    torch.testing.assert_close(a[:, 2] / a[:, 3], ratios[ratio_i])
    # 1:4 is w = 0.5, h = 2, as in the paper
    torch.testing.assert_close(t[0, 2:], torch.tensor([0.5, 2.0],
                                                      dtype=DOUBLE))


def test_fewer_centres_are_the_first_centres_of_the_full_run():
    small = sim.make_cases(num_centres=3, seed=7)
    large = sim.make_cases(num_centres=50, seed=7)
    assert torch.equal(small.centres, large.centres[:3])
    assert torch.equal(small.anchors, large.anchors[:3])
    other = sim.make_cases(num_centres=3, seed=8)
    assert not torch.equal(small.centres, other.centres)


def test_centres_fill_the_disc_uniformly():
    centres = sim.make_cases(num_centres=4000, seed=0).centres
    radius = (centres - 10).norm(dim=1)
    # uniform in the disc: P(r < 3 / sqrt 2) = 1/2 (a uniform radius: 0.71)
    inner = (radius < 3 / math.sqrt(2)).double().mean().item()
    assert abs(inner - 0.5) < 0.03


def test_learning_rate_steps_at_160_and_180():
    rates = [sim.learning_rate(t) for t in range(1, 201)]
    assert rates[:160] == [0.1] * 160
    assert rates[160:180] == pytest.approx([0.01] * 20)
    assert rates[180:] == pytest.approx([0.001] * 20)


def test_bad_arguments_are_named():
    cases = sim.make_cases(1)
    with pytest.raises(ValueError, match='num_centres'):
        sim.make_cases(0)
    with pytest.raises(ValueError, match='gradient mode'):
        sim.simulate(cases, 'iou', mode='analytic')
    with pytest.raises(ValueError, match="authors mode simulates"):
        sim.simulate(cases, 'l1', mode='authors')
    with pytest.raises(ValueError, match="not 'focal'"):
        sim.simulate(cases, 'focal', mode='exact')
    with pytest.raises(ValueError, match='rules for'):
        sim.authors_ascent(_box(10, 10, 1, 1), _box(10, 10, 1, 1), 'l1')


# ------------------------------------------- the authors' rules, by hand


def test_authors_iou_rule_overlapping_boxes():
    # pred edges t, b, l, r = 9.5, 10.5, 10, 11; target 9.5, 10.5, 9.5, 10.5
    # I = 0.5, U = 1.5; dI = (0, 0, -1, 0); dU = (-1, 1, -1, 1) - dI
    # dIoU = (U dI - I dU) / U^2 = (2/9, -2/9, -2/3, -2/9)
    g, iou = sim.authors_ascent(
        _box(10.5, 10, 1, 1), _box(10, 10, 1, 1), 'iou')
    assert iou.item() == pytest.approx(1 / 3)
    expected = [-8 / 9, 0.0, 4 / 9, -4 / 9]  # (dl+dr, dt+db, dr-dl, db-dt)
    assert g[0].tolist() == pytest.approx(expected)


def test_authors_giou_rule_uses_the_signed_intersection_when_apart():
    # apart in x by 1: iw = -1, ih = 1, so I = -1 and U = 3 (not 2);
    # dI = (0, 0, -1, 0), dU = (-1, 1, 0, 1); C = 3, dC = (0, 0, 0, 1)
    # (C dU - U dC) / C^2 = (-1/3, 1/3, 0, 0): no x step at all
    g, iou = sim.authors_ascent(_box(12, 10, 1, 1), _box(10, 10, 1, 1), 'giou')
    assert iou.item() == 0.0
    assert g[0].tolist() == pytest.approx([0.0, 0.0, 0.0, 2 / 3])
    # the exact GIoU ascent moves x towards the target: -2 / (x - 9)^2
    exact, _ = sim.exact_descent(
        _box(12, 10, 1, 1), _box(10, 10, 1, 1), 'giou')
    assert exact[0, 0].item() == pytest.approx(-2 / 9, rel=1e-6)


def test_authors_diou_rule_distance_part():
    # apart in x: no IoU part; only the right enclosing edge is the
    # prediction's: D = (1, 0, 0.5, 0) stands for cw and ch alike,
    # cw = 2.5, ch = 1, K = 2 cw D + 2 ch D = (7, 0, 3.5, 0),
    # rho^2 = 2.25, c^2 = 7.25
    g, iou = sim.authors_ascent(
        _box(11.5, 10, 1, 1), _box(10, 10, 1, 1), 'diou')
    assert iou.item() == 0.0
    c4 = 7.25**2
    expected = [(2 * -1.5 * 7.25 - 7 * 2.25) / c4, 0.0, 3.5 * 2.25 / c4, 0.0]
    assert g[0].tolist() == pytest.approx(expected)
    # exact: d(rho^2/c^2)/dx = (2 (x - xg) c^2 - rho^2 dc^2/dx) / c^4 with
    # dc^2/dx = 2 cw: the enclosing term has the opposite sign
    exact, _ = sim.exact_descent(
        _box(11.5, 10, 1, 1), _box(10, 10, 1, 1), 'diou')
    expected_x = -(2 * 1.5 * 7.25 - 2.25 * 2 * 2.5) / c4
    assert exact[0, 0].item() == pytest.approx(expected_x, rel=1e-6)


def test_authors_diou_rule_when_the_prediction_spans_the_target():
    # l = 8.7 < 9.5 and r = 11.7 > 10.5: D = (0, 0, 1, 0), cw's w entry -1
    # K = 2 * 3 * (0, 0, -1, 0) + 2 * 1 * (0, 0, 1, 0) = (0, 0, -4, 0)
    # rho^2 = 0.04, c^2 = 10; IoU part: I = 1, U = 3, dI = 0,
    # dIoU = -I dA / U^2 = (3, -3, 1, -1) / 9 -> box (0, 0, -2/9, -2/3)
    g, iou = sim.authors_ascent(
        _box(10.2, 10, 3, 1), _box(10, 10, 1, 1), 'diou')
    assert iou.item() == pytest.approx(1 / 3)
    expected = [2 * -0.2 * 10 / 100, 0.0, -2 / 9 + (-4 * 0.04) / 100, -2 / 3]
    assert g[0].tolist() == pytest.approx(expected)


def test_authors_ciou_rule_aspect_term():
    # same centre (no distance part); I = 1, U = 2, dI = 0,
    # dIoU = -dA / 4 = (0.5, -0.5, 0.25, -0.25) -> box (0, 0, -0.5, -1);
    # aspect: alpha (8 / pi^2) (atan 1 - atan 2) times h on w, -w on h
    g, iou = sim.authors_ascent(_box(10, 10, 2, 1), _box(10, 10, 1, 1), 'ciou')
    assert iou.item() == pytest.approx(0.5)
    delta = math.atan(1) - math.atan(2)
    v = 4 / math.pi**2 * delta**2
    alpha = v / (1 - 0.5 + v + 1e-7)
    step = alpha * 8 / math.pi**2 * delta
    assert g[0].tolist() == pytest.approx(
        [0.0, 0.0, -0.5 + step * 1, -1 - step * 2])


def test_authors_rules_on_a_degenerate_box_move_nothing_but_the_distance():
    # w < 0: never overlapping, so the IoU part is 0 (the authors' copy of
    # the r value onto l changes nothing)
    g, iou = sim.authors_ascent(
        _box(10, 10, -0.5, 1), _box(10, 10, 1, 1), 'iou')
    assert iou.item() == 0.0
    assert g.abs().max().item() == 0.0


def _random_overlapping_pairs(n, seed):
    gen = torch.Generator().manual_seed(seed)
    targets = torch.cat([
        10 + torch.rand(n, 2, generator=gen, dtype=DOUBLE),
        0.5 + 2 * torch.rand(n, 2, generator=gen, dtype=DOUBLE)
    ], 1)
    boxes = targets.clone()
    boxes[:, :2] += 0.3 * (torch.rand(n, 2, generator=gen, dtype=DOUBLE) -
                           0.5) * targets[:, 2:]
    boxes[:, 2:] *= 0.6 + 0.8 * torch.rand(n, 2, generator=gen, dtype=DOUBLE)
    return boxes, targets


@pytest.mark.parametrize('loss', ['iou', 'giou'])
def test_authors_iou_and_giou_are_exact_but_for_doubled_size_steps(loss):
    """Where the boxes overlap and no edges tie, the edge rules are the
    exact derivative; only the edges-to-box map doubles dw and dh."""
    boxes, targets = _random_overlapping_pairs(200, seed=1)
    g, iou = sim.authors_ascent(boxes, targets, loss)
    assert (iou > 0).all()
    exact, _ = sim.exact_descent(boxes, targets, loss)  # -dL/dB = dIoU/dB
    torch.testing.assert_close(g[:, :2], exact[:, :2], rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(
        g[:, 2:], 2 * exact[:, 2:], rtol=1e-6, atol=1e-9)


# ------------------------------------------------------ the exact gradients


def _closed_form(loss, box, target, alpha=None):
    """Loss of one (cx, cy, w, h) pair in plain float64 python: the
    definitions of the papers, written independently of the package.
    CIoU's ``alpha`` is a constant (no gradient): pass it to hold it."""
    x, y, w, h = box
    xg, yg, wg, hg = target
    l, r, t, b = x - w / 2, x + w / 2, y - h / 2, y + h / 2
    lg, rg, tg, bg = xg - wg / 2, xg + wg / 2, yg - hg / 2, yg + hg / 2
    inter = max(min(r, rg) - max(l, lg), 0) * max(min(b, bg) - max(t, tg), 0)
    union = w * h + wg * hg - inter
    iou = inter / union
    cw, ch = max(r, rg) - min(l, lg), max(b, bg) - min(t, tg)
    if loss == 'iou':
        return 1 - iou
    if loss == 'giou':
        return 1 - iou + (cw * ch - union) / (cw * ch)
    diou = 1 - iou + ((x - xg)**2 + (y - yg)**2) / (cw**2 + ch**2)
    if loss == 'diou':
        return diou
    v = 4 / math.pi**2 * (math.atan(wg / hg) - math.atan(w / h))**2
    if alpha is None:
        alpha = v / (1 - iou + v)
    return diou + alpha * v


def _ciou_alpha(box, target):
    v_plus_diou = _closed_form('ciou', box, target, alpha=1.0)
    v = v_plus_diou - _closed_form('diou', box, target)
    iou = 1 - _closed_form('iou', box, target)
    return v / (1 - iou + v)


def _finite_difference(loss, box, target, step=1e-6):
    alpha = _ciou_alpha(box, target) if loss == 'ciou' else None
    grad = []
    for i in range(4):
        plus, minus = list(box), list(box)
        plus[i] += step
        minus[i] -= step
        grad.append((_closed_form(loss, plus, target, alpha) -
                     _closed_form(loss, minus, target, alpha)) / (2 * step))
    return grad


CASES = [
    # overlapping, shifted and resized
    ((10.3, 9.8, 1.2, 0.7), (10.0, 10.0, 1.0, 1.0)),
    # apart on both axes
    ((12.5, 8.0, 0.8, 1.5), (10.0, 10.0, 0.5, 2.0)),
    # inside the target
    ((10.1, 10.05, 0.4, 0.3), (10.0, 10.0, 1.4142, 0.7071)),
]


@pytest.mark.parametrize('loss', sim.IOU_LOSSES)
@pytest.mark.parametrize('box,target', CASES)
def test_exact_descent_is_minus_the_finite_difference_gradient(
        loss, box, target):
    direction, iou = sim.exact_descent(_box(*box), _box(*target), loss)
    expected = [-g for g in _finite_difference(loss, box, target)]
    assert direction[0].tolist() == pytest.approx(expected, rel=1e-5, abs=1e-8)
    value = _closed_form('iou', box, target)
    assert iou.item() == pytest.approx(max(1 - value, 1e-6), abs=1e-9)


@pytest.mark.parametrize('loss', sim.LOSSES)
def test_exact_descent_matches_autograd_of_the_package_losses(loss):
    boxes, targets = _random_overlapping_pairs(50, seed=2)
    boxes[::2, 0] += 3  # half of them apart from their target
    direction, _ = sim.exact_descent(boxes, targets, loss)
    leaf = boxes.clone().requires_grad_(True)
    value = sim._exact_loss(loss)(sim.cxcywh_to_xyxy(leaf),
                                  sim.cxcywh_to_xyxy(targets)).sum()
    value.backward()
    torch.testing.assert_close(direction, -leaf.grad)
    assert torch.isfinite(direction).all()


# ------------------------------------------------------------ the descent


def test_step_follows_the_update_rule_and_clamps_sizes_in_exact_mode():
    boxes = torch.tensor([[10.3, 9.8, 1.2, 0.7], [10.0, 10.0, 0.002, 1.0]],
                         dtype=DOUBLE)
    targets = torch.tensor([[10.0, 10.0, 1.0, 1.0], [10.0, 10.0, 1.0, 1.0]],
                           dtype=DOUBLE)
    direction, iou = sim.exact_descent(boxes, targets, 'giou')
    stepped = sim.simulation_step(boxes, targets, 'giou', 'exact', lr=0.1)
    expected = boxes + 0.1 * (2 - iou)[:, None] * direction
    torch.testing.assert_close(stepped[0], expected[0])
    # a huge step through w = 0 stops at 1e-3
    shrink = sim.simulation_step(boxes, targets, 'giou', 'exact', lr=100.0)
    assert (shrink[:, 2:] >= sim.MIN_SIZE).all()
    # the authors' mode has no clamp
    g, a_iou = sim.authors_ascent(boxes, targets, 'giou')
    stepped = sim.simulation_step(boxes, targets, 'giou', 'authors', lr=0.1)
    torch.testing.assert_close(stepped, boxes + 0.1 * (2 - a_iou)[:, None] * g)


@pytest.mark.parametrize('mode', sim.MODES)
def test_iou_loss_stalls_on_boxes_that_do_not_overlap(mode):
    boxes = torch.tensor([[13.0, 10.0, 1.0, 1.0], [10.2, 10.0, 1.0, 1.0]],
                         dtype=DOUBLE)
    targets = torch.full((2, 4), 10.0, dtype=DOUBLE)
    targets[:, 2:] = 1.0
    stepped = sim.simulation_step(boxes, targets, 'iou', mode, lr=0.1)
    assert torch.equal(stepped[0], boxes[0])  # apart: no gradient
    assert abs(stepped[1, 0] - 10.0) < abs(boxes[1, 0] - 10.0)  # overlap


@pytest.mark.parametrize('mode', sim.MODES)
def test_simulate_sums_the_errors_of_every_case(mode):
    cases = sim.make_cases(num_centres=3, seed=0)
    result = sim.simulate(cases, 'ciou', mode, iterations=12, chunk_centres=2)
    start = (cases.anchors - cases.targets).abs().sum()
    assert result.error.shape == (13, )
    assert result.error[0].item() == pytest.approx(start.item())
    assert result.final_error.shape == (3, )
    assert result.final_error.sum().item() == pytest.approx(
        result.error[-1].item())
    assert result.error[-1] < 0.9 * result.error[0]
    # chunking changes nothing
    whole = sim.simulate(cases, 'ciou', mode, iterations=12, chunk_centres=3)
    torch.testing.assert_close(whole.error, result.error)
    torch.testing.assert_close(whole.final_error, result.final_error)
    # the same as stepping the cases one by one through simulation_step
    boxes = cases.anchors.reshape(-1, 4)
    targets = cases.targets.repeat(3, 1)
    for t in range(1, 13):
        boxes = sim.simulation_step(boxes, targets, 'ciou', mode,
                                    sim.learning_rate(t))
    assert result.error[-1].item() == pytest.approx(
        (boxes - targets).abs().sum().item())


def test_simulate_reports_progress_per_chunk():
    lines = []
    sim.simulate(
        sim.make_cases(3),
        'iou',
        'exact',
        iterations=2,
        chunk_centres=2,
        progress=lines.append)
    assert len(lines) == 2 and lines[-1].startswith('iou/exact: 3/3')

"""tools/analysis/plot_losses.py: the figures, and the curves they draw
against closed forms written here."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import assert_image, load_tool


def test_tool_writes_png_and_svg(tmp_path):
    tool = load_tool('analysis', 'plot_losses.py')
    written = tool.main(['--out-dir', str(tmp_path)])
    assert sorted(osp.basename(p) for p in written) == [
        'loss_classification.png', 'loss_classification.svg',
        'loss_regression.png', 'loss_regression.svg'
    ]
    for path in written:
        assert_image(path)


P = torch.tensor([0.01, 0.2, 0.5, 0.8, 0.99], dtype=torch.float64)


def test_classification_curves_of_a_positive():
    from mmdet_losses.visualization.loss_landscape import classification_curves
    curves = classification_curves(P, 1.0)
    p = P.numpy()
    loss, grad = (c.numpy() for c in curves['BCE'])
    np.testing.assert_allclose(loss, -np.log(p))
    np.testing.assert_allclose(grad, 1 - p)  # |d BCE / d logit|
    for gamma in (0.0, 0.5, 1.0, 2.0, 5.0):
        loss, grad = (c.numpy() for c in curves[f'focal, gamma {gamma:g}'])
        np.testing.assert_allclose(loss, -(1 - p)**gamma * np.log(p))
        # d/dx of -(1-p)^g log p with dp/dx = p (1 - p)
        expected = (1 - p)**gamma * (gamma * p * np.log(p) - (1 - p))
        np.testing.assert_allclose(grad, np.abs(expected), rtol=1e-6)
    loss, grad = (c.numpy() for c in curves['MSE of sigmoid'])
    np.testing.assert_allclose(loss, (1 - p)**2)
    np.testing.assert_allclose(grad, 2 * p * (1 - p)**2)


def test_classification_curves_of_a_negative_and_a_soft_target():
    from mmdet_losses.visualization.loss_landscape import classification_curves
    p = P.numpy()
    curves = classification_curves(P, 0.0)
    np.testing.assert_allclose(curves['BCE'][0].numpy(), -np.log(1 - p))
    np.testing.assert_allclose(curves['focal, gamma 2'][0].numpy(),
                               -p**2 * np.log(1 - p))
    np.testing.assert_allclose(curves['MSE of sigmoid'][0].numpy(), p**2)

    y = 0.6
    curves = classification_curves(P, y)
    assert sorted(curves) == [
        'QFL, beta 0', 'QFL, beta 1', 'QFL, beta 2', 'QFL, beta 4'
    ]
    for beta in (0, 1, 2, 4):
        loss = curves[f'QFL, beta {beta}'][0].numpy()
        bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        np.testing.assert_allclose(loss, np.abs(y - p)**beta * bce)


def test_mse_of_the_sigmoid_is_not_convex_in_the_logit_and_bce_is():
    from mmdet_losses.visualization.loss_landscape import logit_curves
    logits = torch.linspace(-8, 8, 401, dtype=torch.float64)
    curves = logit_curves(logits)
    bce = curves['BCE'][0].numpy()
    mse = curves['MSE of sigmoid'][0].numpy()
    assert (np.diff(bce, 2) >= -1e-12).all()
    second = np.diff(mse, 2)
    assert second.min() < -1e-6 and second.max() > 1e-6
    # confidently wrong: BCE still pushes (|grad| -> 1), MSE has let go
    assert curves['BCE'][1][0] > 0.99
    assert curves['MSE of sigmoid'][1][0] < 1e-3


def _unit_square_terms(move, value):
    """IoU, union, enclosing area, squared centre distance and squared
    enclosing diagonal of a moved prediction against the unit square."""
    if move == 'offset':
        d = abs(value)
        inter = max(1 - d, 0)
        union = 2 - inter
        return inter / union, union, 1 + d, d * d, (1 + d)**2 + 1
    if move == 'scale':
        inter = min(value, 1)**2
        union = value * value + 1 - inter
        side = max(value, 1)
        return inter / union, union, side * side, 0.0, 2 * side * side
    w, h = math.sqrt(value), 1 / math.sqrt(value)
    inter = min(w, 1) * min(h, 1)
    union = 2 - inter
    cw, ch = max(w, 1), max(h, 1)
    return inter / union, union, cw * ch, 0.0, cw * cw + ch * ch


@pytest.mark.parametrize('move,values', [
    ('offset', [-2.5, -0.4, 0.3, 0.9, 1.7]),
    ('scale', [0.2, 0.7, 1.3, 3.0]),
    ('aspect', [0.2, 0.5, 2.0, 6.0]),
])
def test_regression_curves_against_closed_forms(move, values):
    from mmdet_losses.visualization.loss_landscape import regression_curves
    curves = regression_curves(move, torch.tensor(values, dtype=torch.float64))
    for i, value in enumerate(values):
        iou, union, enclose, rho2, diag2 = _unit_square_terms(move, value)
        expected = {
            'IoU (1 - IoU)': 1 - iou,
            'GIoU': 1 - iou + (enclose - union) / enclose,
            'DIoU': 1 - iou + rho2 / diag2,
        }
        v = 0.0
        if move == 'aspect':
            v = 4 / math.pi**2 * (math.atan(1) - math.atan(value))**2
        alpha = v / (1 - iou + v) if v else 0.0
        expected['CIoU'] = expected['DIoU'] + alpha * v
        if move == 'offset':
            d = abs(value)
            expected['L1'] = 2 * d
            expected['SmoothL1 (beta 1)'] = 2 * (0.5 * d * d if d < 1 else d -
                                                 0.5)
        elif move == 'scale':
            expected['L1'] = 4 * abs(value - 1) / 2
        for name, target in expected.items():
            assert curves[name][0][i].item() == pytest.approx(
                target, rel=1e-5, abs=1e-6), (name, value)


def test_iou_loss_stalls_apart_and_giou_does_not():
    from mmdet_losses.visualization.loss_landscape import regression_curves
    curves = regression_curves('offset',
                               torch.tensor([1.5, 2.5], dtype=torch.float64))
    assert (curves['IoU (1 - IoU)'][1] == 0).all()
    for name in ('GIoU', 'DIoU', 'CIoU'):
        assert (curves[name][1] > 1e-3).all(), name
    # L1 moves x1 and x2 by one unit each: gradient norm sqrt(2)
    torch.testing.assert_close(
        curves['L1'][1], torch.full((2, ), math.sqrt(2), dtype=torch.float64))


def test_unknown_move_is_named():
    from mmdet_losses.visualization.loss_landscape import moved_boxes
    with pytest.raises(ValueError, match="unknown move 'rotate'"):
        moved_boxes('rotate', torch.zeros(1))


def test_the_same_figure_gives_the_same_bytes(tmp_path):
    from mmdet_losses.visualization.loss_landscape import \
        plot_regression_losses
    for suffix in ('png', 'svg'):
        first = plot_regression_losses(str(tmp_path / f'a.{suffix}'))
        second = plot_regression_losses(str(tmp_path / f'b.{suffix}'))
        with open(first, 'rb') as a, open(second, 'rb') as b:
            assert a.read() == b.read(), suffix

"""Loss landscapes: each loss of :mod:`mmdet_losses.functional` and its
gradient magnitude along one-parameter families of predictions.

Classification: the loss of one sigmoid output against the predicted
probability ``p`` of a positive (target 1), a negative (target 0) and a soft
QFL target; and BCE against MSE through the sigmoid as functions of the
logit, where MSE's non-convexity shows (Lin et al., ICCV 2017 Fig. 1 plots
the focal loss the same way).

Regression: a unit square target at the origin and a prediction moved off
it along the x axis, scaled about its centre, or reshaped at constant area
(aspect ratio ``w/h`` times ``r``); the losses see ``xyxy`` boxes, the
gradient magnitude is the l2 norm of ``dL/d(x1, y1, x2, y2)``.
"""
import math
from typing import Callable, Dict, Sequence, Tuple

import torch
from torch import Tensor

from mmdet_losses.functional import (binary_cross_entropy, ciou_loss,
                                     diou_loss, giou_loss, iou_loss, l1_loss,
                                     mse_loss, quality_focal_loss,
                                     sigmoid_focal_loss, smooth_l1_loss)
from .figures import new_figure, save_figure

FOCAL_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
QFL_BETAS = (0.0, 1.0, 2.0, 4.0)
QFL_SOFT_TARGET = 0.6
# (loss, gradient magnitude) of each named curve
Curves = Dict[str, Tuple[Tensor, Tensor]]


def _with_gradient(fn: Callable[[Tensor], Tensor],
                   inputs: Tensor) -> Tuple[Tensor, Tensor]:
    """``fn`` of each row of ``inputs`` (one loss per row) and the l2 norm
    of its gradient with respect to that row."""
    leaf = inputs.detach().clone().requires_grad_(True)
    loss = fn(leaf)
    grad, = torch.autograd.grad(loss.sum(), leaf)
    grad = grad.reshape(len(leaf), -1).norm(dim=1)
    return loss.detach().reshape(len(leaf)), grad


def probability_grid(num: int = 400, dtype=torch.float64) -> Tensor:
    """``num`` probabilities in ``(0, 1)``, denser near the ends."""
    logits = torch.linspace(-7, 7, num, dtype=dtype)
    return torch.sigmoid(logits)


def classification_curves(probabilities: Tensor, target: float) -> Curves:
    """Loss and ``|dL/d logit|`` of one sigmoid output with predicted
    probability ``p`` against ``target`` (0, 1, or a soft QFL score).

    Hard targets: BCE, focal loss for :data:`FOCAL_GAMMAS` (without the
    alpha class weight, so gamma = 0 is BCE) and MSE through the sigmoid.
    Soft targets: QFL for :data:`QFL_BETAS` (beta = 0 is soft BCE).
    """
    logits = torch.logit(probabilities)[:, None]
    y = torch.full_like(logits, target)
    curves: Curves = {}
    if target in (0.0, 1.0):
        curves['BCE'] = _with_gradient(
            lambda x: binary_cross_entropy(x, y, reduction='none'), logits)
        for gamma in FOCAL_GAMMAS:
            curves[f'focal, gamma {gamma:g}'] = _with_gradient(
                lambda x, g=gamma: sigmoid_focal_loss(
                    x, y, gamma=g, alpha=None, reduction='none'),
                logits)
        curves['MSE of sigmoid'] = _with_gradient(
            lambda x: mse_loss(torch.sigmoid(x), y, reduction='none'), logits)
    else:
        for beta in QFL_BETAS:
            curves[f'QFL, beta {beta:g}'] = _with_gradient(
                lambda x, b=beta: quality_focal_loss(
                    x, y, beta=b, reduction='none'),
                logits)
    return curves


def logit_curves(logits: Tensor) -> Curves:
    """BCE and MSE through the sigmoid of a positive, against the logit:
    BCE is convex, MSE of the sigmoid is not (it flattens for confidently
    wrong logits, where its gradient vanishes)."""
    x = logits[:, None]
    y = torch.ones_like(x)
    return {
        'BCE':
        _with_gradient(lambda v: binary_cross_entropy(v, y, reduction='none'),
                       x),
        'MSE of sigmoid':
        _with_gradient(
            lambda v: mse_loss(torch.sigmoid(v), y, reduction='none'), x),
    }


#: regression losses of (N, 4) xyxy pairs, per box (N,)
REGRESSION_LOSSES: Dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    'L1':
    lambda p, t: l1_loss(p, t, reduction='none').sum(-1),
    'SmoothL1 (beta 1)':
    lambda p, t: smooth_l1_loss(p, t, beta=1.0, reduction='none').sum(-1),
    'IoU (1 - IoU)':
    lambda p, t: iou_loss(p, t, mode='linear'),
    'GIoU':
    giou_loss,
    'DIoU':
    diou_loss,
    'CIoU':
    ciou_loss,
}
MOVES = ('offset', 'scale', 'aspect')
# log-scale ticks of the scale and aspect panels
MOVE_TICKS = {
    'scale': ([0.1, 0.25, 0.5, 1, 2, 4], ['0.1', '1/4', '1/2', '1', '2', '4']),
    'aspect': ([1 / 8, 1 / 4, 1 / 2, 1, 2, 4,
                8], ['1/8', '1/4', '1/2', '1', '2', '4', '8']),
}
MOVE_LABELS = {
    'offset': 'centre offset along x (target widths)',
    'scale': 'scale of the prediction (same centre)',
    'aspect': 'aspect-ratio change r (w/h times r, same area)',
}


def moved_boxes(move: str, values: Tensor) -> Tensor:
    """``xyxy`` predictions: the unit square target centred at the origin,
    moved by ``values`` along ``move``."""
    zero = torch.zeros_like(values)
    if move == 'offset':
        cx, w, h = values, zero + 1, zero + 1
    elif move == 'scale':
        cx, w, h = zero, values, values
    elif move == 'aspect':
        cx, w, h = zero, values.sqrt(), values.rsqrt()
    else:
        raise ValueError(f'unknown move {move!r}; choose from {MOVES}')
    return torch.stack([cx - w / 2, -h / 2, cx + w / 2, h / 2], -1)


def move_grid(move: str, num: int = 400, dtype=torch.float64) -> Tensor:
    """``num`` values of ``move``; an even ``num`` leaves out the exact
    match, where the IoU losses' gradient is a subgradient (0)."""
    if move == 'offset':
        return torch.linspace(-3, 3, num, dtype=dtype)
    if move == 'scale':
        return torch.logspace(math.log10(0.1), math.log10(4), num, dtype=dtype)
    if move == 'aspect':
        return torch.logspace(-math.log10(8), math.log10(8), num, dtype=dtype)
    raise ValueError(f'unknown move {move!r}; choose from {MOVES}')


def regression_curves(move: str, values: Tensor) -> Curves:
    """Loss and ``||dL/d(x1, y1, x2, y2)||`` of every regression loss for
    the predictions :func:`moved_boxes` makes."""
    boxes = moved_boxes(move, values)
    target = moved_boxes('offset', torch.zeros_like(values))
    return {
        name: _with_gradient(lambda p, fn=fn: fn(p, target), boxes)
        for name, fn in REGRESSION_LOSSES.items()
    }


def _plot_curves(ax, x: Tensor, curves: Curves, which: int,
                 styles: Dict[str, dict]) -> None:
    for name, values in curves.items():
        ax.plot(
            x.numpy(),
            values[which].numpy(),
            label=name,
            **styles.get(name, {}))
    ax.grid(alpha=0.3)


def _styles(names: Sequence[str]) -> Dict[str, dict]:
    from matplotlib import colormaps
    cmap = colormaps['viridis']
    focal = [n for n in names if n.startswith(('focal', 'QFL'))]
    styles = {
        n: dict(color=cmap(i / max(len(focal) - 1, 1)), linewidth=1.3)
        for i, n in enumerate(focal)
    }
    styles['BCE'] = dict(color='black', linewidth=2.2, linestyle=':')
    styles['MSE of sigmoid'] = dict(color='tab:red', linewidth=1.5)
    return styles


def plot_classification_losses(out_file: str) -> str:
    """Loss (top) and gradient magnitude (bottom) against the predicted
    probability for a positive, a negative and a soft QFL target, and BCE
    against MSE of the sigmoid as functions of the logit."""
    p = probability_grid()
    panels = [
        ('positive (target 1)', 1.0, 'probability p of the positive'),
        ('negative (target 0)', 0.0, 'probability p of the negative'),
        (f'QFL, soft target y = {QFL_SOFT_TARGET:g}', QFL_SOFT_TARGET,
         'predicted score s'),
    ]
    fig, axes = new_figure(2, 4, panel_size=(3.6, 3.0))
    for col, (title, target, x_label) in enumerate(panels):
        curves = classification_curves(p, target)
        styles = _styles(list(curves))
        for row in (0, 1):
            ax = axes[row, col]
            _plot_curves(ax, p, curves, row, styles)
            ax.set_xlabel(x_label, fontsize=8)
        axes[0, col].set_title(title, fontsize=9)
        axes[0, col].set_ylim(0, 5)
        axes[0, col].legend(fontsize=6)
        if target not in (0.0, 1.0):
            for ax in axes[:, col]:
                ax.axvline(target, color='grey', linestyle=':')
    axes[0, 0].set_ylabel('loss')
    axes[1, 0].set_ylabel('|dL / d logit|')

    logits = torch.linspace(-8, 8, 400, dtype=torch.float64)
    curves = logit_curves(logits)
    styles = _styles(list(curves))
    for row in (0, 1):
        _plot_curves(axes[row, 3], logits, curves, row, styles)
        axes[row, 3].set_xlabel('logit x of the positive', fontsize=8)
    axes[0, 3].set_title(
        'BCE is convex in the logit,\nMSE of sigmoid is not', fontsize=9)
    axes[0, 3].set_ylim(0, 3)
    axes[0, 3].legend(fontsize=6)
    fig.suptitle(
        'Classification losses of one sigmoid output '
        '(focal loss without the alpha weight)',
        fontsize=10)
    return save_figure(fig, out_file)


def plot_regression_losses(out_file: str) -> str:
    """Loss (top) and gradient magnitude (bottom) of the regression losses
    for a prediction moved off a unit square target."""
    fig, axes = new_figure(2, 3, panel_size=(4.0, 3.1))
    styles = {
        'L1': dict(color='tab:purple', linestyle='--'),
        'SmoothL1 (beta 1)': dict(color='tab:brown', linestyle='--'),
        'IoU (1 - IoU)': dict(color='tab:blue'),
        'GIoU': dict(color='tab:orange'),
        'DIoU': dict(color='tab:green'),
        'CIoU': dict(color='tab:red', linestyle='-.'),
    }
    for col, move in enumerate(MOVES):
        x = move_grid(move)
        curves = regression_curves(move, x)
        for row in (0, 1):
            ax = axes[row, col]
            _plot_curves(ax, x, curves, row, styles)
            ax.set_xlabel(MOVE_LABELS[move], fontsize=8)
            if move in MOVE_TICKS:
                ax.set_xscale('log')
                ax.minorticks_off()
                ax.set_xticks(*MOVE_TICKS[move])
        axes[0, col].set_ylim(0, 2.5)
    axes[0, 0].set_ylabel('loss')
    axes[1, 0].set_ylabel('||dL / d(x1, y1, x2, y2)||')
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(
        'Box regression losses against a unit square target', fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(
        handles,
        labels,
        loc='upper center',
        bbox_to_anchor=(0.5, 0.955),
        ncol=len(labels),
        fontsize=8,
        frameon=False)
    return save_figure(fig, out_file, tight=False)

"""Figures and the table of the DIoU paper's regression simulation
(:mod:`mmdet_losses.functional.regression_simulation`)."""
from typing import Dict, Sequence

import numpy as np
from matplotlib.colors import LogNorm

from .figures import new_figure, save_figure

#: the steps at which the paper reports the summed error
TABLE_STEPS = (0, 50, 100, 160, 200)
LOSS_NAMES = {
    'iou': 'IoU',
    'giou': 'GIoU',
    'diou': 'DIoU',
    'ciou': 'CIoU',
    'l1': 'L1',
    'smooth_l1': 'SmoothL1',
}
LOSS_COLOURS = {
    'iou': 'tab:blue',
    'giou': 'tab:orange',
    'diou': 'tab:green',
    'ciou': 'tab:red',
    'l1': 'tab:purple',
    'smooth_l1': 'tab:brown',
}
MODE_TITLES = {
    'exact': 'exact gradients (autograd)',
    'authors': "authors' gradient convention",
}

# errors[mode][loss] = (T + 1,) summed error; finals alike, (C,)
Errors = Dict[str, Dict[str, np.ndarray]]


def error_table(errors: Dict[str, np.ndarray],
                steps: Sequence[int] = TABLE_STEPS) -> str:
    """A markdown table of the summed error of each loss at ``steps``."""
    steps = [s for s in steps if s < len(next(iter(errors.values())))]
    lines = [
        '| loss | ' + ' | '.join(f't = {s}' for s in steps) + ' |',
        '|---|' + '---:|' * len(steps),
    ]
    for loss, curve in errors.items():
        cells = ' | '.join(f'{curve[s]:.3g}' for s in steps)
        lines.append(f'| {LOSS_NAMES.get(loss, loss)} | {cells} |')
    return '\n'.join(lines)


def plot_error_curves(errors: Errors,
                      out_file: str,
                      milestones: Sequence[int] = (160, 180),
                      title: str = '') -> str:
    """Summed l1 error against the iteration, one panel per gradient mode,
    one line per loss, log scale; dotted lines at the learning-rate steps.
    """
    if not errors:
        raise ValueError('no simulation results to plot')
    fig, axes = new_figure(1, len(errors), panel_size=(5.0, 3.6))
    for ax, (mode, curves) in zip(axes.flat, errors.items()):
        for loss, curve in curves.items():
            ax.plot(
                np.arange(len(curve)),
                curve,
                label=LOSS_NAMES.get(loss, loss),
                color=LOSS_COLOURS.get(loss),
                linewidth=1.5)
        for step in milestones:
            ax.axvline(step, color='grey', linestyle=':', linewidth=0.8)
        ax.set_yscale('log')
        ax.set_xlabel('iteration t')
        ax.set_ylabel('summed error  sum |dx|+|dy|+|dw|+|dh|')
        ax.set_title(MODE_TITLES.get(mode, mode), fontsize=10)
        ax.grid(alpha=0.3, which='both')
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_file)


def plot_final_error_maps(centres: np.ndarray,
                          finals: Errors,
                          out_file: str,
                          target_centre: Sequence[float] = (10.0, 10.0),
                          title: str = '') -> str:
    """The final error per anchor centre as a map: one row per gradient
    mode, one panel per loss, one colour scale (log) for all panels."""
    if not finals:
        raise ValueError('no simulation results to plot')
    rows = list(finals)
    losses = list(dict.fromkeys(k for f in finals.values() for k in f))
    values = np.concatenate([v for f in finals.values() for v in f.values()])
    positive = values[values > 0]
    low = positive.min() if positive.size else 1e-12
    high = max(values.max(), low * 10)
    norm = LogNorm(vmin=low, vmax=high)
    fig, axes = new_figure(
        len(rows), len(losses), panel_size=(2.6, 2.6), constrained=True)
    # the points fill the disc whatever their number
    size = float(np.clip(8000 / len(centres), 1, 20))
    mappable = None
    for i, mode in enumerate(rows):
        for j, loss in enumerate(losses):
            ax = axes[i, j]
            if loss not in finals[mode]:
                ax.axis('off')
                ax.set_title(
                    f'{LOSS_NAMES.get(loss, loss)}: not run in '
                    f'{mode} mode',
                    fontsize=8)
                continue
            # a floor keeps exact zeros visible on the log scale
            mappable = ax.scatter(
                centres[:, 0],
                centres[:, 1],
                c=np.maximum(finals[mode][loss], low),
                s=size,
                cmap='viridis',
                norm=norm,
                linewidths=0,
                rasterized=True)
            ax.plot(*target_centre, marker='+', color='red', markersize=8)
            ax.set_aspect('equal')
            ax.set_title(
                f'{LOSS_NAMES.get(loss, loss)}, {mode}\n'
                f'sum {finals[mode][loss].sum():.3g}',
                fontsize=8)
            ax.tick_params(labelsize=6)
    fig.colorbar(
        mappable,
        ax=axes,
        shrink=0.8,
        label='final error of the centre (sum over its 343 cases)')
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_file, tight=False)

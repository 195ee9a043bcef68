"""Plots of training logs and detections, written to PNG/SVG with matplotlib.

Nothing here needs a display: the Agg backend is forced.
"""
import glob
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

Records = List[dict]


def find_json_logs(path: str) -> List[str]:
    """The mmengine json logs of a run: ``path`` itself if it is a file,
    else every ``<timestamp>/vis_data/<timestamp>.json`` below it, oldest
    first (a resumed run writes one per start)."""
    if osp.isfile(path):
        return [path]
    logs = sorted(
        p for p in glob.glob(osp.join(path, '*', 'vis_data', '*.json'))
        if osp.basename(p) != 'scalars.json')
    if not logs:
        raise FileNotFoundError(
            f'no mmengine json log under {path} (looked for '
            f'{osp.join(path, "<timestamp>/vis_data/<timestamp>.json")})')
    return logs


def load_json_log(path: str) -> Tuple[Records, Records]:
    """Training and validation records of a run (file or work dir).

    Records of a resumed run are merged by step, later files winning.
    """
    train: Dict[int, dict] = {}
    val: Dict[int, dict] = {}
    for log in find_json_logs(path):
        with open(log) as f:
            for line_no, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f'{log}:{line_no}: not json: {error}')
                if 'lr' in record or 'loss' in record:
                    train[record.get('iter', record.get('step'))] = record
                else:
                    val[record.get('step', len(val))] = record
    return ([train[k] for k in sorted(train)], [val[k] for k in sorted(val)])


def loss_keys(records: Records) -> List[str]:
    """The loss terms logged in ``records`` (``loss`` first)."""
    keys = sorted({k for r in records for k in r if k.startswith('loss')})
    return sorted(keys, key=lambda k: (k != 'loss', k))


def plot_training_curves(runs: Dict[str, Records],
                         out_file: str,
                         keys: Optional[Sequence[str]] = None,
                         title: str = '') -> str:
    """One panel per loss term, one line per run; x = iteration."""
    if not runs:
        raise ValueError('no runs to plot')
    if keys is None:
        keys = loss_keys(next(iter(runs.values())))
    if not keys:
        raise ValueError('the logs hold no loss term to plot')
    ncols = min(len(keys), 3)
    nrows = (len(keys) + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for label, records in runs.items():
            points = [(r['iter'], r[key]) for r in records if key in r]
            if points:
                x, y = zip(*points)
                ax.plot(x, y, label=label, linewidth=1.2)
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(keys):]:
        ax.axis('off')
    if len(runs) > 1:
        axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, out_file)
    return out_file


def draw_boxes(ax,
               boxes: np.ndarray,
               labels: np.ndarray,
               class_names: Sequence[str],
               palette: Sequence[Tuple[int, int, int]],
               scores: Optional[np.ndarray] = None,
               linestyle: str = '-') -> None:
    """Draw horizontal ``xyxy`` boxes (N, 4) or rotated boxes given as
    polygons (N, 4, 2) on a matplotlib axis."""
    boxes = np.asarray(boxes, dtype=np.float64)
    for i, box in enumerate(boxes):
        label = int(labels[i])
        color = np.array(palette[label % len(palette)]) / 255.0
        if box.shape == (4, ):
            patch = Rectangle((box[0], box[1]),
                              box[2] - box[0],
                              box[3] - box[1],
                              fill=False,
                              edgecolor=color,
                              linewidth=1.4,
                              linestyle=linestyle)
            anchor = box[:2]
        else:
            patch = Polygon(
                box.reshape(-1, 2),
                closed=True,
                fill=False,
                edgecolor=color,
                linewidth=1.4,
                linestyle=linestyle)
            anchor = box.reshape(-1, 2).min(0)
        ax.add_patch(patch)
        text = class_names[label] if label < len(class_names) else str(label)
        if scores is not None:
            text += f' {scores[i]:.2f}'
        ax.text(
            anchor[0],
            anchor[1] - 1,
            text,
            fontsize=6,
            color='white',
            bbox=dict(facecolor=color, alpha=0.7, pad=0.5, linewidth=0))


def plot_detection_grid(samples: List[dict],
                        out_file: str,
                        class_names: Sequence[str],
                        palette: Sequence[Tuple[int, int, int]],
                        score_thr: float = 0.3,
                        ncols: int = 4) -> str:
    """Ground truth beside predictions for a few images.

    Each sample is a dict with ``image`` (H, W, 3 RGB uint8), ``pred_boxes``,
    ``pred_labels``, ``pred_scores`` and optionally ``gt_boxes``,
    ``gt_labels`` and ``title``; boxes as :func:`draw_boxes` takes them.
    """
    if not samples:
        raise ValueError('no samples to draw')
    with_gt = any('gt_boxes' in s for s in samples)
    panels = 2 if with_gt else 1
    ncols = max(1, min(ncols, len(samples)))
    nrows = (len(samples) + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows,
        ncols * panels,
        figsize=(2.6 * ncols * panels, 2.8 * nrows),
        squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for index, sample in enumerate(samples):
        row, col = divmod(index, ncols)
        keep = np.asarray(sample['pred_scores']) >= score_thr
        targets = [('prediction', np.asarray(sample['pred_boxes'])[keep],
                    np.asarray(sample['pred_labels'])[keep],
                    np.asarray(sample['pred_scores'])[keep])]
        if with_gt:
            targets.insert(0, ('ground truth', sample.get('gt_boxes', []),
                               sample.get('gt_labels', []), None))
        for offset, (name, boxes, labels, scores) in enumerate(targets):
            ax = axes[row, col * panels + offset]
            ax.imshow(sample['image'])
            draw_boxes(ax, boxes, labels, class_names, palette, scores)
            ax.set_title(f'{sample.get("title", "")} {name}', fontsize=7)
    fig.tight_layout()
    _save(fig, out_file)
    return out_file


def _save(fig, out_file: str) -> None:
    directory = osp.dirname(osp.abspath(out_file))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(out_file, dpi=110)
    plt.close(fig)

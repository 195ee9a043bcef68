"""mmengine json training logs: loading, curves of losses and metrics, and a
summary of runs (best metric, time per iteration).

mmengine writes one json object per line into
``<work_dir>/<timestamp>/vis_data/<timestamp>.json``: training records carry
``lr``, the loss terms, ``time`` (seconds per iteration, averaged over the
logging window), ``epoch`` (epoch-based loops) and ``iter``; validation
records carry the metrics (``coco/bbox_mAP``...) and ``step``, the epoch
(epoch-based loops) or the iteration (iteration-based ones).
"""
import glob
import json
import math
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .figures import new_figure, save_figure

Records = List[dict]
# keys of validation records that are no metric
_NOT_METRICS = ('step', 'time', 'data_time', 'epoch', 'iter', 'memory')
# the metric a summary ranks by, in this order of preference
_MAIN_METRICS = ('coco/bbox_mAP', 'pascal_voc/mAP', 'dota/mAP')


@dataclass
class RunLog:
    """The records of one training run (all its json logs merged)."""
    name: str
    train: Records
    val: Records

    @property
    def by_epoch(self) -> bool:
        """Whether validation ``step`` counts epochs (epoch-based loop)."""
        return any('epoch' in r for r in self.train)


def find_json_logs(path: str) -> List[str]:
    """The mmengine json logs of a run: ``path`` itself if it is a file,
    else one per session below it, oldest first (a resumed run writes one
    per start): ``<timestamp>/vis_data/<timestamp>.json``, or where a
    session has none, its ``scalars.json``. mmengine's LocalVisBackend
    writes every record of the json log into ``scalars.json`` too, and
    scalars only there when a run's logger writes no json log."""
    if osp.isfile(path):
        return [path]
    logs = []
    for vis_data in sorted(glob.glob(osp.join(path, '*', 'vis_data'))):
        found = sorted(
            p for p in glob.glob(osp.join(vis_data, '*.json'))
            if osp.basename(p) != 'scalars.json')
        scalars = osp.join(vis_data, 'scalars.json')
        logs += found or ([scalars] if osp.isfile(scalars) else [])
    if not logs:
        raise FileNotFoundError(
            f'no mmengine json log under {path} (looked for '
            f'{osp.join(path, "<timestamp>/vis_data/<timestamp>.json")} '
            'and scalars.json)')
    return logs


def load_json_log(path: str,
                  allow_cut_last_line: bool = False
                  ) -> Tuple[Records, Records]:
    """Training and validation records of a run (file or work dir).

    Records of a resumed run are merged by step, later files winning.

    Args:
        path: a json log or a work dir (:func:`find_json_logs`).
        allow_cut_last_line: skip the last line of a file where it is not
            json: a run killed while writing a record leaves it cut short,
            and a resumed run writes its next records into a new file. A
            bad line anywhere else still raises.
    """
    train: Dict[int, dict] = {}
    val: Dict[int, dict] = {}
    for log in find_json_logs(path):
        with open(log) as f:
            lines = [(n, line.strip()) for n, line in enumerate(f, 1)]
        lines = [(n, line) for n, line in lines if line]
        for index, (line_no, line) in enumerate(lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if allow_cut_last_line and index == len(lines) - 1:
                    continue
                raise ValueError(f'{log}:{line_no}: not json: {error}')
            if not isinstance(record, dict):
                raise ValueError(f'{log}:{line_no}: expected a json '
                                 f'object, got {type(record).__name__}')
            if 'lr' in record or 'loss' in record:
                train[record.get('iter', record.get('step'))] = record
            else:
                val[record.get('step', len(val))] = record
    return ([train[k] for k in sorted(train)], [val[k] for k in sorted(val)])


def load_run(path: str, name: Optional[str] = None) -> RunLog:
    """:func:`load_json_log` of ``path``, named ``name`` (default: the work
    dir's or the file's name)."""
    train, val = load_json_log(path)
    if name is None:
        name = osp.basename(osp.normpath(path))
        if osp.isfile(path):
            # <work_dir>/<timestamp>/vis_data/<timestamp>.json -> work_dir
            parts = osp.normpath(path).split(osp.sep)
            name = parts[-4] if len(parts) >= 4 else osp.splitext(name)[0]
    return RunLog(name, train, val)


def loss_keys(records: Records) -> List[str]:
    """The loss terms logged in ``records`` (``loss`` first)."""
    keys = sorted({k for r in records for k in r if k.startswith('loss')})
    return sorted(keys, key=lambda k: (k != 'loss', k))


def metric_keys(records: Records) -> List[str]:
    """The numeric metrics of validation ``records``, in logged order."""
    keys: List[str] = []
    for record in records:
        for key, value in record.items():
            if (key not in _NOT_METRICS and key not in keys
                    and isinstance(value, (int, float))):
                keys.append(key)
    return keys


def main_metric(records: Records) -> Optional[str]:
    """The metric a summary ranks by: COCO box mAP, VOC mAP, DOTA mAP, else
    the first metric whose name ends with ``mAP``, else None."""
    keys = metric_keys(records)
    for key in _MAIN_METRICS:
        if key in keys:
            return key
    return next((k for k in keys if k.endswith('mAP')), None)


def _series(run: RunLog, key: str) -> Tuple[List[float], List[float], str]:
    """x, y and the x label of ``key`` in ``run``."""
    points = [(r['iter'], r[key]) for r in run.train
              if key in r and 'iter' in r]
    if points:
        return [p[0] for p in points], [p[1] for p in points], 'iteration'
    points = [(r['step'], r[key]) for r in run.val if key in r and 'step' in r]
    label = 'epoch' if run.by_epoch else 'iteration'
    return [p[0] for p in points], [p[1] for p in points], label


def plot_curves(runs: Sequence[RunLog],
                out_file: str,
                keys: Optional[Sequence[str]] = None,
                title: str = '') -> str:
    """One panel per key, one line per run.

    Loss terms are drawn against the iteration, validation metrics against
    the epoch (or the iteration for iteration-based loops).

    Args:
        runs: from :func:`load_run`.
        out_file: ``.png``, ``.svg``...
        keys: what to draw; default: the loss terms of the first run and its
            :func:`main_metric`.
        title: of the figure.
    """
    if not runs:
        raise ValueError('no runs to plot')
    if keys is None:
        first = runs[0]
        keys = loss_keys(first.train)
        metric = main_metric(first.val)
        if metric:
            keys.append(metric)
    if not keys:
        raise ValueError('the logs hold no loss term or metric to plot')
    for key in keys:
        if not any(_series(run, key)[0] for run in runs):
            known = sorted(
                set(loss_keys(runs[0].train)) | set(metric_keys(runs[0].val)))
            raise KeyError(f'no run logs {key!r}; the first run logs {known}')
    ncols = min(len(keys), 3)
    nrows = (len(keys) + ncols - 1) // ncols
    fig, axes = new_figure(nrows, ncols)
    for ax, key in zip(axes.flat, keys):
        for run in runs:
            x, y, x_label = _series(run, key)
            if not x:
                continue
            # few points (validation epochs): mark them
            ax.plot(
                x,
                y,
                label=run.name,
                linewidth=1.2,
                marker='o' if len(x) <= 20 else None,
                markersize=3)
            ax.set_xlabel(x_label)
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(keys):]:
        ax.axis('off')
    if len(runs) > 1:
        axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_file)


def plot_training_curves(runs: Dict[str, Records],
                         out_file: str,
                         keys: Optional[Sequence[str]] = None,
                         title: str = '') -> str:
    """:func:`plot_curves` of training records only, ``{name: records}``."""
    return plot_curves(
        [RunLog(name, records, []) for name, records in runs.items()],
        out_file, keys, title)


def iteration_times(run: RunLog,
                    include_outliers: bool = False) -> Dict[int, List[float]]:
    """Logged seconds per iteration, grouped by epoch (all in group 0 for an
    iteration-based loop). The first record of each epoch also holds the
    data loader's start-up and is left out unless ``include_outliers``."""
    groups: Dict[int, List[float]] = {}
    for record in run.train:
        if 'time' in record:
            groups.setdefault(record.get('epoch', 0),
                              []).append(float(record['time']))
    if not include_outliers:
        groups = {
            epoch: times[1:] if len(times) > 1 else times
            for epoch, times in groups.items()
        }
    return groups


def train_time_stats(run: RunLog, include_outliers: bool = False) -> dict:
    """Mean seconds per iteration over the run and per epoch, the slowest
    and fastest epoch, and the spread of the epoch means."""
    groups = iteration_times(run, include_outliers)
    if not groups:
        raise ValueError(f'run {run.name!r}: no training record logs a '
                         '"time"')
    epoch_means = {epoch: float(np.mean(t)) for epoch, t in groups.items()}
    all_times = [t for times in groups.values() for t in times]
    slowest = max(epoch_means, key=epoch_means.get)
    fastest = min(epoch_means, key=epoch_means.get)
    return dict(
        mean=float(np.mean(all_times)),
        epoch_means=epoch_means,
        slowest_epoch=slowest,
        fastest_epoch=fastest,
        std_over_epochs=float(np.std(list(epoch_means.values()))))


def summarize_run(run: RunLog,
                  metric: Optional[str] = None,
                  include_outliers: bool = False) -> dict:
    """Best and last value of ``metric`` (default :func:`main_metric`), its
    step, the iterations trained and the mean seconds per iteration."""
    metric = metric or main_metric(run.val)
    values = [(r['step'], r[metric]) for r in run.val
              if metric and metric in r and 'step' in r]
    values = [(s, v) for s, v in values if not math.isnan(v)]
    best = max(values, key=lambda sv: sv[1]) if values else (None, None)
    last_iter = max((r['iter'] for r in run.train if 'iter' in r),
                    default=None)
    try:
        seconds = train_time_stats(run, include_outliers)['mean']
    except ValueError:
        seconds = None
    return dict(
        name=run.name,
        metric=metric,
        best=best[1],
        best_step=best[0],
        last=values[-1][1] if values else None,
        step_unit='epoch' if run.by_epoch else 'iter',
        iterations=last_iter,
        seconds_per_iter=seconds)


def summary_table(rows: Sequence[dict]) -> str:
    """A markdown table of :func:`summarize_run` rows."""

    def fmt(value, spec):
        return '-' if value is None else format(value, spec)

    lines = [
        '| run | metric | best | at | last | iterations | s / iter |',
        '|---|---|---:|---:|---:|---:|---:|',
    ]
    for row in rows:
        at = (f'{row["step_unit"]} {row["best_step"]}'
              if row['best_step'] is not None else '-')
        lines.append(f'| {row["name"]} | {row["metric"] or "-"} | '
                     f'{fmt(row["best"], ".4f")} | {at} | '
                     f'{fmt(row["last"], ".4f")} | '
                     f'{fmt(row["iterations"], "d")} | '
                     f'{fmt(row["seconds_per_iter"], ".3f")} |')
    return '\n'.join(lines)

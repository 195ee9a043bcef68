"""The DIoU paper's bounding-box regression simulation (arXiv:1911.08287).

    python tools/analysis/simulate_regression.py [--mode exact|authors|both]
        [--losses iou giou diou ciou [l1 smooth_l1]] [--num-centres 5000]
        [--seed 0] [--out-dir DIR] [--prefix simulation]

Regresses the 343 boxes of each of ``--num-centres`` anchor centres (5000:
the paper's 1,715,000 cases) for 200 gradient steps with each loss, in
``exact`` mode (autograd through this package's losses), in the authors'
gradient convention, or both; see
:mod:`mmdet_losses.functional.regression_simulation`. Prints the summed
error at t = 0, 50, 100, 160, 200 as a markdown table and writes into
``--out-dir``:

* ``{prefix}_error.png`` and ``.svg``: summed error against the iteration,
  every loss in one panel per mode;
* ``{prefix}_final_error.png``: the final error of each anchor centre as a
  map, one per loss and mode;
* ``{prefix}.npz``: the curves and maps; ``--replot FILE.npz [...]``
  draws the figures and the tables again from one or more saved runs (e.g.
  one per mode, on the same centres) without simulating.

A run with fewer centres and the same seed simulates the first centres of
the full run.
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from mmdet_losses.functional import regression_simulation as sim

TABLE_TITLE = '{title}: {centres} centres ({cases:,} cases), seed {seed}'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--mode',
        choices=sim.MODES + ('both', ),
        default='both',
        help='gradient mode(s) to run (default: both)')
    parser.add_argument(
        '--losses',
        nargs='+',
        choices=sim.LOSSES,
        default=list(sim.IOU_LOSSES),
        help='losses to simulate; l1 and smooth_l1 run in exact mode only')
    parser.add_argument(
        '--num-centres',
        type=int,
        default=5000,
        help='anchor centres (343 cases each); 5000 in the paper')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--iterations', type=int, default=200)
    parser.add_argument(
        '--chunk-centres',
        type=int,
        default=500,
        help='centres regressed together (peak memory: about 0.25 MB '
        'each)')
    parser.add_argument(
        '--threads', type=int, help='torch threads (default: torch\'s)')
    parser.add_argument('--out-dir', default='work_dirs/simulation')
    parser.add_argument('--prefix', default='simulation')
    parser.add_argument(
        '--replot',
        nargs='+',
        metavar='NPZ',
        help='draw the figures and the tables from saved runs')
    parser.add_argument(
        '--no-plot', action='store_true', help='write only the .npz')
    return parser.parse_args(argv)


def run_simulation(args) -> Tuple[np.ndarray, dict, dict, dict]:
    """Simulate every requested (mode, loss); returns centres, errors,
    finals (``[mode][loss]`` arrays) and the run's metadata."""
    modes = sim.MODES if args.mode == 'both' else (args.mode, )
    cases = sim.make_cases(args.num_centres, args.seed)
    errors: Dict[str, Dict[str, np.ndarray]] = {}
    finals: Dict[str, Dict[str, np.ndarray]] = {}
    seconds: Dict[str, Dict[str, float]] = {}
    for mode in modes:
        for loss in args.losses:
            if mode == 'authors' and loss not in sim.IOU_LOSSES:
                print(
                    f'[simulate] {loss}: the authors\' convention has no '
                    'rule for it; exact mode only',
                    flush=True)
                continue
            start = time.time()
            result = sim.simulate(
                cases,
                loss,
                mode,
                iterations=args.iterations,
                chunk_centres=args.chunk_centres,
                progress=lambda line, start=start: print(
                    f'[simulate] {line} ({time.time() - start:.0f} s)',
                    flush=True))
            errors.setdefault(mode, {})[loss] = result.error.numpy()
            finals.setdefault(mode, {})[loss] = result.final_error.numpy()
            seconds.setdefault(mode, {})[loss] = time.time() - start
    meta = dict(
        num_centres=args.num_centres,
        num_cases=cases.num_cases,
        seed=args.seed,
        iterations=args.iterations,
        threads=torch.get_num_threads(),
        seconds=seconds)
    return cases.centres.numpy(), errors, finals, meta


def save_results(path: str, centres: np.ndarray, errors: dict, finals: dict,
                 meta: dict) -> str:
    arrays = {'centres': centres, 'meta': np.array(json.dumps(meta))}
    for mode in errors:
        for loss in errors[mode]:
            arrays[f'error.{mode}.{loss}'] = errors[mode][loss]
            arrays[f'final.{mode}.{loss}'] = finals[mode][loss]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_results(path: str) -> Tuple[np.ndarray, dict, dict, dict]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'no saved simulation at {path}')
    data = np.load(path)
    errors: Dict[str, Dict[str, np.ndarray]] = {}
    finals: Dict[str, Dict[str, np.ndarray]] = {}
    for key in data.files:
        kind, _, rest = key.partition('.')
        if kind in ('error', 'final'):
            mode, loss = rest.split('.')
            target = errors if kind == 'error' else finals
            target.setdefault(mode, {})[loss] = data[key]
    return data['centres'], errors, finals, json.loads(str(data['meta']))


def merge_results(paths: List[str]) -> Tuple[np.ndarray, dict, dict, dict]:
    """:func:`load_results` of several runs of the same cases, merged."""
    centres, errors, finals, meta = load_results(paths[0])
    for path in paths[1:]:
        more_centres, more_errors, more_finals, more_meta = load_results(path)
        same = {k: meta[k] for k in ('num_centres', 'seed', 'iterations')}
        other = {k: more_meta[k] for k in same}
        if same != other or not np.array_equal(centres, more_centres):
            raise ValueError(f'{path} simulates other cases ({other}) than '
                             f'{paths[0]} ({same}): cannot merge them')
        for mode in more_errors:
            errors.setdefault(mode, {}).update(more_errors[mode])
            finals.setdefault(mode, {}).update(more_finals[mode])
        for mode, seconds in more_meta['seconds'].items():
            meta['seconds'].setdefault(mode, {}).update(seconds)
    return centres, errors, finals, meta


def print_tables(errors: dict, meta: dict) -> List[str]:
    """Print (and return) one markdown table per mode."""
    from mmdet_losses.visualization.simulation import MODE_TITLES, error_table
    tables = []
    for mode, curves in errors.items():
        title = TABLE_TITLE.format(
            title=MODE_TITLES.get(mode, mode),
            centres=meta['num_centres'],
            cases=meta['num_cases'],
            seed=meta['seed'])
        tables.append(f'{title}\n\n{error_table(curves)}')
        print(f'\n{tables[-1]}', flush=True)
    return tables


def make_figures(out_dir: str, prefix: str, centres: np.ndarray, errors: dict,
                 finals: dict, meta: dict) -> List[str]:
    from mmdet_losses.visualization.simulation import (plot_error_curves,
                                                       plot_final_error_maps)
    title = (f'DIoU-paper regression simulation: {meta["num_cases"]:,} '
             f'cases, seed {meta["seed"]}')
    written = []
    for suffix in ('.png', '.svg'):
        written.append(
            plot_error_curves(
                errors,
                osp.join(out_dir, f'{prefix}_error{suffix}'),
                title=title))
    written.append(
        plot_final_error_maps(
            centres,
            finals,
            osp.join(out_dir, f'{prefix}_final_error.png'),
            target_centre=sim.TARGET_CENTRE,
            title=title))
    return written


def main(argv: Optional[list] = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.replot:
        centres, errors, finals, meta = merge_results(args.replot)
        saved = None
    else:
        start = time.time()
        centres, errors, finals, meta = run_simulation(args)
        print(
            f'[simulate] done in {time.time() - start:.0f} s on '
            f'{meta["threads"]} torch thread(s)',
            flush=True)
        saved = save_results(
            osp.join(args.out_dir, f'{args.prefix}.npz'), centres, errors,
            finals, meta)
    tables = print_tables(errors, meta)
    figures = [] if args.no_plot else make_figures(
        args.out_dir, args.prefix, centres, errors, finals, meta)
    written = ([saved] if saved else []) + figures
    for path in written:
        print(f'[simulate] wrote {path}')
    return dict(
        errors=errors, finals=finals, meta=meta, tables=tables, files=written)


if __name__ == '__main__':
    main()

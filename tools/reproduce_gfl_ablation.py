"""Reproduce an ablation table of the GFL paper (Li et al., "Generalized
Focal Loss", NeurIPS 2020, arXiv:2006.04388), or its CPU-sized proxies on
BCCD, with one command; likewise the rotated RetinaNet quickstart's loss
comparison (L1, PIoU, CSL; DOTA mAP at IoU 0.5).

Runs every config of the table for every seed, one after the other (each
line of a run's output is shown as it comes, after the run's name), then
writes a markdown table of the table's metrics (AP / AP50 / AP75 for COCO
tables) beside the paper's numbers, with the differences, and checks the
paper's claims (which row beats which). The distributed launchers pass
``--auto-scale-lr`` to tools/train.py, so ``--gpus`` scales the learning
rate with the total batch.

The tables (rows, configs, the papers' numbers and claims) are data, in
tools/gfl_ablation_tables.py; the logs are read by
:mod:`mmdet_losses.visualization.logs`.

    python tools/reproduce_gfl_ablation.py bccd-table3 --seeds 0 1 2
    python tools/reproduce_gfl_ablation.py rotated-quickstart --seeds 0 1 2
    python tools/reproduce_gfl_ablation.py table3 --launcher pytorch --gpus 8
    python tools/reproduce_gfl_ablation.py table3 --launcher slurm \\
        --partition PART --gpus 8
    python tools/reproduce_gfl_ablation.py table3 --launcher collect

Each (config, seed) trains in ``WORK_ROOT/<config path>/seed<N>`` with
``randomness.seed=N``; tables that share a config share its runs. A run
that finished (its final evaluation is in its logs) is skipped; one that
did not is started again with ``--resume``, so a killed run continues from
its last checkpoint: run the same command again. ``--launcher collect``
trains nothing and tabulates what the work dirs hold.
"""
import argparse
import json
import os
import os.path as osp
import runpy
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from mmdet_losses.visualization.seed_statistics import (Stat, claim_verdict,
                                                        stat)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# mmdet's CocoMetric keys, in [0, 1]
METRIC_KEYS = {
    'AP': 'coco/bbox_mAP',
    'AP50': 'coco/bbox_mAP_50',
    'AP75': 'coco/bbox_mAP_75'
}
RESULT_FILE = 'result.json'


class Row(NamedTuple):
    name: str
    config: str  # relative to the repository root
    paper: Dict[str, float]  # AP, AP50, AP75 where the paper gives them


class Claim(NamedTuple):
    """The paper's claim that row ``better`` beats row ``worse``."""
    text: str
    better: str
    worse: str


class Table(NamedTuple):
    title: str
    paper_source: str
    rows: List[Row]
    claims: List[Claim] = []
    # the paper's numbers are for this very setting (else: for the sign)
    same_setting: bool = True
    # the columns: name -> key logged by the evaluator (a value in [0, 1]);
    # the first one is the table's main metric (claims, differences)
    metrics: Dict[str, str] = METRIC_KEYS
    metric_note: str = 'COCO-style AP in %'

    @property
    def main_metric(self) -> str:
        return next(iter(self.metrics))


TABLES_FILE = osp.join(ROOT, 'tools', 'gfl_ablation_tables.py')


def load_tables(path: str = TABLES_FILE) -> Dict[str, Table]:
    """The tables of the data module ``path`` (its ``TABLES``; the keys
    are :class:`Table`'s fields), checked: claims between rows of the
    table, paper numbers only for the table's metrics."""
    tables = {}
    for name, spec in runpy.run_path(path)['TABLES'].items():
        spec = dict(spec)
        spec['rows'] = [
            Row(row, config, dict(paper))
            for row, config, paper in spec['rows']
        ]
        spec['claims'] = [Claim(*claim) for claim in spec.get('claims', [])]
        table = Table(**spec)
        rows = [row.name for row in table.rows]
        for claim in table.claims:
            if not {claim.better, claim.worse} <= set(rows):
                raise ValueError(f'{path}: table {name!r}: claim '
                                 f'{claim.text!r} names a row not in {rows}')
        for row in table.rows:
            if not set(row.paper) <= set(table.metrics):
                raise ValueError(
                    f'{path}: table {name!r}, row {row.name!r}: paper '
                    f'numbers {sorted(row.paper)} outside the metrics '
                    f'{list(table.metrics)}')
        tables[name] = table
    return tables


TABLES: Dict[str, Table] = load_tables()

# runs -----------------------------------------------------------------------


def work_dir_of(work_root: str, config: str, seed: int) -> str:
    """``WORK_ROOT/<config path under configs/, without .py>/seed<N>``; a
    config outside configs/ by its file name."""
    name = osp.relpath(osp.join(ROOT, config), osp.join(ROOT, 'configs'))
    if name.startswith('..'):
        name = osp.basename(config)
    return osp.join(work_root, osp.splitext(name)[0], f'seed{seed}')


def final_metrics(work_dir: str,
                  max_epochs: Optional[int],
                  metrics: Dict[str, str] = METRIC_KEYS
                  ) -> Optional[Dict[str, float]]:
    """The ``metrics`` (name -> logged key; COCO's AP, AP50, AP75 by
    default) of the run's evaluation after its last epoch, in %, or None
    while it has none.

    ``result.json`` (written by this tool when a run ends) is read first;
    otherwise the logs, where the evaluation must be at epoch
    ``max_epochs`` (None: the latest evaluation counts).
    """
    result = osp.join(work_dir, RESULT_FILE)
    if osp.isfile(result):
        with open(result) as f:
            return json.load(f)['metrics']
    from mmdet_losses.visualization.logs import load_json_log
    try:
        # a kill while a record is written cuts its file's last line
        _, val = load_json_log(work_dir, allow_cut_last_line=True)
    except FileNotFoundError:  # not started
        return None
    key = next(iter(metrics.values()))
    records = [r for r in val if key in r]
    if not records:
        return None
    # by step, later sessions of a resumed run winning on the same step
    last = records[-1]
    if max_epochs is not None and last.get('step') != max_epochs:
        return None
    return {m: 100 * float(last[k]) for m, k in metrics.items()}


def max_epochs_of(config: str,
                  cfg_options: Sequence[str] = ()) -> Optional[int]:
    """The epochs ``config`` trains for, ``--cfg-options`` applied."""
    from mmengine.config import Config, DictAction

    import mmdet_losses  # noqa: F401  (resolves 'mmdet_losses::' bases)
    cfg = Config.fromfile(osp.join(ROOT, config))
    if cfg_options:
        # parsed as tools/train.py parses them
        options = argparse.Namespace()
        DictAction(
            option_strings=[], dest='cfg_options')(None, options,
                                                   list(cfg_options))
        cfg.merge_from_dict(options.cfg_options)
    return cfg.train_cfg.get('max_epochs')


def train_command(args, config: str, work_dir: str, seed: int) -> List[str]:
    """The training command of one run for the chosen launcher.

    The distributed launchers add ``--auto-scale-lr``: ``--gpus`` changes
    the total batch, and tools/train.py then scales the learning rate by
    ``gpus x batch per GPU / auto_scale_lr.base_batch_size`` (the linear
    rule; 1 for the paper's 8 GPUs x 2 images at base 16). One process
    (``none``) trains the config's batch at the config's learning rate.
    """
    flags = ['--resume']
    if args.launcher in ('pytorch', 'slurm'):
        flags.append('--auto-scale-lr')
    if args.data_root:
        flags += ['--data-root', args.data_root]
    flags += ['--cfg-options', f'randomness.seed={seed}']
    flags += args.cfg_options or []
    if args.launcher == 'none':
        return [
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work_dir
        ] + flags
    if args.launcher == 'pytorch':
        return [
            'bash',
            osp.join(ROOT, 'tools', 'dist_train.sh'), config,
            str(args.gpus), '--work-dir', work_dir
        ] + flags
    job = f'gfl-{osp.basename(osp.dirname(work_dir))}-s{seed}'
    return [
        'bash',
        osp.join(ROOT, 'tools', 'slurm_train.sh'), args.partition, job, config,
        work_dir
    ] + flags


def _run(command: List[str], log_path: str, env: dict) -> int:
    """Run ``command``; each line of its output goes to ``log_path`` and,
    prefixed with the run (``[<config> seed<N>]``, from the work dir), to
    this tool's stdout as it comes, so a run of hours is seen to progress.
    A kill of this tool (Ctrl-C, SIGTERM) stops it too, so its checkpoints
    stay resumable."""
    work_dir = osp.dirname(osp.abspath(log_path))
    prefix = (f'[{osp.basename(osp.dirname(work_dir))} '
              f'{osp.basename(work_dir)}] ')
    with open(log_path, 'a') as log:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
            text=True,
            errors='replace')
        # a thread copies the output, so that the main thread waits in
        # proc.wait(), where Ctrl-C reaches it as before
        copier = threading.Thread(
            target=_copy_lines, args=(proc.stdout, log, prefix), daemon=True)
        copier.start()
        try:
            return proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        finally:
            # a grandchild that outlives the child may hold the pipe open
            copier.join(timeout=10)


def _copy_lines(stream, log, prefix: str) -> None:
    for line in stream:
        log.write(line)
        log.flush()
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def run_table(args, table: Table) -> Dict[Tuple[str, int], dict]:
    """Train every missing (config, seed) of ``table``; return the metrics
    of every finished one."""
    configs = list(dict.fromkeys(row.config for row in table.rows))
    jobs = [(config, seed) for config in configs for seed in args.seeds]
    # Python buffers a pipe's output in blocks: without this, the lines of
    # a run's prints would reach this tool only when it ends
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    if args.launcher == 'slurm':
        env['GPUS'] = str(args.gpus)
        env.setdefault('GPUS_PER_NODE', str(min(args.gpus, 8)))
    results: Dict[Tuple[str, int], dict] = {}
    main = table.main_metric
    start = time.time()
    for index, (config, seed) in enumerate(jobs, 1):
        work_dir = work_dir_of(args.work_root, config, seed)
        max_epochs = max_epochs_of(config, args.cfg_options or ())
        metrics = final_metrics(work_dir, max_epochs, table.metrics)
        prefix = f'[{index}/{len(jobs)}] {config} seed {seed}:'
        if metrics is None and args.launcher != 'collect':
            os.makedirs(work_dir, exist_ok=True)
            command = train_command(args, config, work_dir, seed)
            print(f'{prefix} training in {work_dir} ...', flush=True)
            if args.dry_run:
                print('    ' + ' '.join(command))
                continue
            run_start = time.time()
            code = _run(command, osp.join(work_dir, 'train_stdout.log'), env)
            metrics = final_metrics(work_dir, max_epochs, table.metrics)
            took = _minutes(time.time() - run_start)
            if code != 0 or metrics is None:
                print(
                    f'{prefix} FAILED (exit code {code}, {took}); see '
                    f'{work_dir}/train_stdout.log',
                    flush=True)
                continue
            _write_result(work_dir, config, seed, metrics)
            print(
                f'{prefix} {main} {metrics[main]:.1f} in {took} '
                f'(total {_minutes(time.time() - start)})',
                flush=True)
        elif metrics is None:
            print(f'{prefix} not finished', flush=True)
        else:
            print(
                f'{prefix} done before: {main} {metrics[main]:.1f}',
                flush=True)
        if metrics is not None:
            results[(config, seed)] = metrics
    return results


def _write_result(work_dir: str, config: str, seed: int,
                  metrics: Dict[str, float]) -> None:
    path = osp.join(work_dir, RESULT_FILE)
    with open(path + '.tmp', 'w') as f:
        json.dump(dict(config=config, seed=seed, metrics=metrics), f)
    os.replace(path + '.tmp', path)


def _minutes(seconds: float) -> str:
    return f'{seconds / 60:.1f} min'


# the table ------------------------------------------------------------------


def _fmt(s: Optional[Stat], seeds: int) -> str:
    if s is None:
        return '—'
    text = f'{s.mean:.1f}' if s.n == 1 else f'{s.mean:.1f} ± {s.std:.1f}'
    return text if s.n == seeds else f'{text} ({s.n}/{seeds} seeds)'


def _signed(value: Optional[float]) -> str:
    return '—' if value is None else f'{value:+.1f}'


def row_stats(table: Table, results: Dict[Tuple[str, int], dict],
              seeds: Sequence[int]) -> Dict[str, Dict[str, Optional[Stat]]]:
    """Per row, per metric: mean and std over the finished seeds."""
    return {
        row.name: {
            m:
            stat([
                results[(row.config, s)][m] for s in seeds
                if (row.config, s) in results
            ])
            for m in table.metrics
        }
        for row in table.rows
    }


def ap_by_seed(row: Row,
               results: Dict[Tuple[str, int], dict],
               seeds: Sequence[int],
               metric: str = 'AP') -> Dict[int, float]:
    return {
        s: results[(row.config, s)][metric]
        for s in seeds if (row.config, s) in results
    }


def render_table(name: str, table: Table, results: Dict[Tuple[str, int], dict],
                 seeds: Sequence[int], command: str) -> str:
    stats = row_stats(table, results, seeds)
    base = table.rows[0]
    main = table.main_metric
    lines = [
        f'### {table.title}', '', f'`{command}`', '',
        '| row | config | ' + ' | '.join(table.metrics) +
        f' | paper {main} | {main} - paper | {main} - "{base.name}" | '
        f'paper {main} - "{base.name}" |',
        '|---|---|' + '---|' * (len(table.metrics) + 4)
    ]
    base_stat = stats[base.name][main]
    for row in table.rows:
        s = stats[row.name]
        paper_main = row.paper.get(main)
        diff = (
            s[main].mean - paper_main if table.same_setting
            and s[main] is not None and paper_main is not None else None)
        vs_base = (
            s[main].mean - base_stat.mean
            if s[main] is not None and base_stat is not None else None)
        paper_vs_base = (
            paper_main - base.paper[main]
            if paper_main is not None and main in base.paper else None)
        paper = ' / '.join(f'{row.paper[m]:g}' for m in table.metrics
                           if m in row.paper)
        if len(row.paper) > 1:
            paper += f' ({" / ".join(table.metrics)})'
        lines.append(
            f'| {row.name} | `{osp.basename(row.config)}` | ' +
            ' | '.join(_fmt(s[m], len(seeds)) for m in table.metrics) +
            f' | {paper or "—"} | {_signed(diff)} | {_signed(vs_base)} '
            f'| {_signed(paper_vs_base)} |')
    lines += [
        '', f'Mean ± sample std over seeds {", ".join(map(str, seeds))} '
        f'({table.metric_note}). ' + table.paper_source
    ]
    if table.claims:
        lines += [
            '', f"| the paper's claim | {main} difference here (paired by "
            'seed, ± s.e.) | paper | holds here? |', '|---|---|---|---|'
        ]
        paper_main = {row.name: row.paper.get(main) for row in table.rows}
        rows = {row.name: row for row in table.rows}
        for claim in table.claims:
            pb, pw = paper_main[claim.better], paper_main[claim.worse]
            paper_delta = pb - pw if pb is not None and pw is not None \
                else None
            observed, verdict = claim_verdict(
                ap_by_seed(rows[claim.better], results, seeds, main),
                ap_by_seed(rows[claim.worse], results, seeds, main))
            lines.append(f'| {claim.text} ({claim.better} vs {claim.worse}) '
                         f'| {observed} | {_signed(paper_delta)} '
                         f'| {verdict} |')
    return '\n'.join(lines) + '\n'


def select_rows(table: Table, names: Optional[Sequence[str]]) -> Table:
    """``table`` with only the rows ``names``, in that order, and the
    claims between them."""
    if not names:
        return table
    rows = {row.name: row for row in table.rows}
    unknown = [name for name in names if name not in rows]
    if unknown:
        raise SystemExit(f'unknown row(s) {unknown}; the rows are '
                         f'{list(rows)}')
    claims = [
        c for c in table.claims if c.better in names and c.worse in names
    ]
    return table._replace(rows=[rows[n] for n in names], claims=claims)


# command line ---------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Reproduce a GFL ablation table (or its BCCD proxy)')
    parser.add_argument('table', choices=sorted(TABLES))
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0], help='default: 0')
    parser.add_argument(
        '--work-root',
        default='work_dirs/gfl_ablation',
        help='runs go to WORK_ROOT/<config>/seed<N>')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'collect'],
        default='none',
        help='none: tools/train.py, one process; pytorch: '
        'tools/dist_train.sh; slurm: tools/slurm_train.sh; collect: train '
        'nothing, tabulate the finished work dirs')
    parser.add_argument(
        '--gpus', type=int, default=8, help='pytorch / slurm: processes')
    parser.add_argument('--partition', help='slurm: the partition')
    parser.add_argument(
        '--out', help='markdown file (default: WORK_ROOT/<table>.md)')
    parser.add_argument(
        '--data-root',
        help='the dataset folder of every run (tools/train.py --data-root)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        help='key=value overrides passed to every training run (as '
        'tools/train.py takes them); give them again to collect those runs')
    parser.add_argument(
        '--rows',
        nargs='+',
        help='run and tabulate only these rows (names as in the table, e.g. '
        '"neither" "QFL + DFL"); the first one is the reference row')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print the training commands instead of running them')
    args = parser.parse_args(argv)
    if args.launcher == 'slurm' and not args.partition:
        parser.error('--launcher slurm needs --partition')
    # the runs start in the repository root
    args.work_root = osp.abspath(args.work_root)
    if args.data_root:
        args.data_root = osp.abspath(args.data_root)
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    # a SIGTERM (e.g. `kill`) unwinds like Ctrl-C, stopping the run too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    table = select_rows(TABLES[args.table], args.rows)
    try:
        results = run_table(args, table)
    except KeyboardInterrupt:
        print('\ninterrupted: run the same command again to continue; '
              'finished runs are kept, the stopped one resumes from its '
              'last checkpoint')
        raise SystemExit(130)
    command = 'python tools/reproduce_gfl_ablation.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    text = render_table(args.table, table, results, args.seeds, command)
    out = args.out or osp.join(args.work_root, f'{args.table}.md')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(text)
    print('\n' + text + f'\nwritten to {out}')
    return text


if __name__ == '__main__':
    main()

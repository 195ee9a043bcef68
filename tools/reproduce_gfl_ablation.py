"""Reproduce an ablation table of the GFL paper (Li et al., "Generalized
Focal Loss", NeurIPS 2020, arXiv:2006.04388), or its CPU-sized proxies on
BCCD, with one command; likewise the rotated RetinaNet quickstart's loss
comparison (smooth L1, PIoU, CSL; DOTA mAP at IoU 0.5).

Runs every config of the table for every seed, one after the other, then
writes a markdown table of the table's metrics (AP / AP50 / AP75 for COCO
tables) beside the paper's numbers, with the differences, and checks the
paper's claims (which row beats which).

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
import glob
import json
import math
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

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


def _table3_claims() -> List[Claim]:
    return [
        Claim('QFL > FL (+ centerness), Dirac boxes', 'QFL', 'neither'),
        Claim('QFL > FL (+ centerness), general boxes + DFL', 'QFL + DFL',
              'DFL'),
        Claim('DFL > Dirac, FL + centerness', 'DFL', 'neither'),
        Claim('DFL > Dirac, QFL', 'QFL + DFL', 'QFL'),
        Claim('both > neither (GFL > ATSS)', 'QFL + DFL', 'neither'),
    ]


GFL = 'configs/gfl/gfl_r50_fpn_1x_coco.py'
ATSS_QFL = 'configs/atss/atss_r50_fpn_qfl_1x_coco.py'
ABLATIONS = 'configs/gfl/ablations/'
COCO_SOURCE = ('GFL paper (arXiv:2006.04388 v1), R-50, 1x, COCO minival; '
               'AP50 / AP75 only where the paper gives them.')
ROTATED_QUICKSTART = \
    'configs/quickstart/rotated-retinanet-rbox-le90_r18_fpn'
BCCD_SOURCE = (
    'The "paper" column is the paper\'s COCO number for the same row '
    '(R-50, 1x): a different detector size and dataset, shown for the '
    'sign of the differences, not their size.')

TABLES: Dict[str, Table] = {
    'table3':
    Table('GFL paper Table 3: QFL and DFL on ATSS', COCO_SOURCE, [
        Row('neither', 'configs/atss/atss_r50_fpn_1x_coco.py', dict(AP=39.2)),
        Row('QFL', ATSS_QFL, dict(AP=39.9)),
        Row('DFL', ABLATIONS + 'atss_r50_fpn_dfl_1x_coco.py', dict(AP=39.5)),
        Row('QFL + DFL', GFL, dict(AP=40.2, AP50=58.6, AP75=43.4)),
    ], _table3_claims()),
    'table1c':
    Table('GFL paper Table 1(c): QFL beta, ATSS with QFL', COCO_SOURCE, [
        Row('beta = 0', ABLATIONS + 'atss_r50_fpn_qfl-beta0_1x_coco.py',
            dict(AP=37.6)),
        Row('beta = 1', ABLATIONS + 'atss_r50_fpn_qfl-beta1_1x_coco.py',
            dict(AP=39.0)),
        Row('beta = 2', ATSS_QFL, dict(AP=39.9)),
        Row('beta = 2.5', ABLATIONS + 'atss_r50_fpn_qfl-beta2.5_1x_coco.py',
            dict(AP=39.7)),
        Row('beta = 4', ABLATIONS + 'atss_r50_fpn_qfl-beta4_1x_coco.py',
            dict(AP=38.2)),
    ], [
        Claim('beta 2 > beta 0', 'beta = 2', 'beta = 0'),
        Claim('beta 2 > beta 4', 'beta = 2', 'beta = 4'),
    ]),
    'table2b':
    Table('GFL paper Table 2(b): n, bin interval 1', COCO_SOURCE, [
        Row('n = 12', ABLATIONS + 'gfl_r50_fpn_n12_1x_coco.py', dict(AP=40.1)),
        Row('n = 14', ABLATIONS + 'gfl_r50_fpn_n14_1x_coco.py', dict(AP=40.2)),
        Row('n = 16', GFL, dict(AP=40.2, AP50=58.6, AP75=43.4)),
        Row('n = 18', ABLATIONS + 'gfl_r50_fpn_n18_1x_coco.py', dict(AP=40.1)),
    ]),
    'table2c':
    Table('GFL paper Table 2(c): bin interval delta, n = 16', COCO_SOURCE, [
        Row('delta = 0.5', ABLATIONS + 'gfl_r50_fpn_delta0.5_1x_coco.py',
            dict(AP=40.2)),
        Row('delta = 1', GFL, dict(AP=40.2, AP50=58.6, AP75=43.4)),
        Row('delta = 2', ABLATIONS + 'gfl_r50_fpn_delta2_1x_coco.py',
            dict(AP=39.9)),
        Row('delta = 4', ABLATIONS + 'gfl_r50_fpn_delta4_1x_coco.py',
            dict(AP=39.8)),
    ], [Claim('delta 1 > delta 4', 'delta = 1', 'delta = 4')]),
    'bccd-table3':
    Table(
        'BCCD proxy of GFL Table 3 (configs/bccd/)',
        BCCD_SOURCE, [
            Row('neither', 'configs/bccd/atss_r18_fpn_bccd.py', dict(AP=39.2)),
            Row('QFL', 'configs/bccd/atss_r18_fpn_qfl_bccd.py', dict(AP=39.9)),
            Row('DFL', 'configs/bccd/atss_r18_fpn_dfl_bccd.py', dict(AP=39.5)),
            Row('QFL + DFL', 'configs/bccd/gfl_r18_fpn_bccd.py',
                dict(AP=40.2, AP50=58.6, AP75=43.4)),
        ],
        _table3_claims(),
        same_setting=False),
    'bccd-iou':
    Table(
        'BCCD IoU-loss comparison on GFL (configs/bccd/)',
        'The "paper" column is the DIoU paper\'s (arXiv:1911.08287) YOLOv3 '
        'on VOC07 test: a different detector and dataset, shown for the '
        'sign of the differences, not their size.', [
            Row('GIoU', 'configs/bccd/gfl_r18_fpn_bccd.py', dict(AP=47.73)),
            Row('DIoU', 'configs/bccd/gfl_r18_fpn_diou_bccd.py',
                dict(AP=48.10)),
            Row('CIoU', 'configs/bccd/gfl_r18_fpn_ciou_bccd.py',
                dict(AP=49.21)),
        ], [
            Claim('CIoU >= GIoU', 'CIoU', 'GIoU'),
            Claim('DIoU >= GIoU', 'DIoU', 'GIoU'),
            Claim('CIoU >= DIoU', 'CIoU', 'DIoU'),
        ],
        same_setting=False),
    'rotated-quickstart':
    Table(
        'Rotated RetinaNet quickstart: smooth L1, PIoU and CSL '
        '(configs/quickstart/)',
        'The "paper" column is mmrotate 1.x\'s DOTA-v1.0 mAP of the same '
        'loss on rotated RetinaNet (R-50, 1x, le90): a different detector '
        'size and dataset, shown for the sign of the differences, not '
        'their size. No RetinaNet + PIoU number has been published.', [
            Row('smooth L1', ROTATED_QUICKSTART + '_synthetic.py',
                dict(mAP50=68.42)),
            Row('PIoU', ROTATED_QUICKSTART + '_piou_synthetic.py', {}),
            Row('CSL', ROTATED_QUICKSTART + '_csl-gaussian_synthetic.py',
                dict(mAP50=69.51)),
        ], [
            Claim('PIoU >= smooth L1', 'PIoU', 'smooth L1'),
            Claim('CSL >= smooth L1', 'CSL', 'smooth L1'),
        ],
        same_setting=False,
        metrics=dict(mAP50='dota/AP50'),
        metric_note='DOTA mAP at IoU 0.5, VOC07 11-point, in %'),
}

# runs -----------------------------------------------------------------------


def work_dir_of(work_root: str, config: str, seed: int) -> str:
    """``WORK_ROOT/<config path under configs/, without .py>/seed<N>``; a
    config outside configs/ by its file name."""
    name = osp.relpath(osp.join(ROOT, config), osp.join(ROOT, 'configs'))
    if name.startswith('..'):
        name = osp.basename(config)
    return osp.join(work_root, osp.splitext(name)[0], f'seed{seed}')


def _val_records(work_dir: str, key: str) -> List[dict]:
    """The evaluation records (those with ``key``) of every session logged
    in ``work_dir`` (mmengine writes ``<timestamp>/vis_data/
    scalars.json``)."""
    records = []
    pattern = osp.join(work_dir, '*', 'vis_data', 'scalars.json')
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                if key in record:
                    records.append(record)
    return records


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
    records = _val_records(work_dir, next(iter(metrics.values())))
    if not records:
        return None
    last = max(records, key=lambda r: r.get('step', 0))
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
    """The training command of one run for the chosen launcher."""
    flags = ['--resume', '--cfg-options', f'randomness.seed={seed}']
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
    """Run ``command`` with its output in ``log_path``; a kill of this tool
    (Ctrl-C, SIGTERM) stops it too, so its checkpoints stay resumable."""
    with open(log_path, 'a') as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        try:
            return proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise


def run_table(args, table: Table) -> Dict[Tuple[str, int], dict]:
    """Train every missing (config, seed) of ``table``; return the metrics
    of every finished one."""
    configs = list(dict.fromkeys(row.config for row in table.rows))
    jobs = [(config, seed) for config in configs for seed in args.seeds]
    env = dict(os.environ)
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


class Stat(NamedTuple):
    mean: float
    std: float  # sample standard deviation (n - 1); 0 for one run
    n: int

    @property
    def sem(self) -> float:
        """Standard error of the mean."""
        return self.std / math.sqrt(self.n) if self.n else math.nan


def stat(values: Sequence[float]) -> Optional[Stat]:
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    var = sum((v - mean)**2 for v in values) / (n - 1) if n > 1 else 0.0
    return Stat(mean, math.sqrt(var), n)


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


def claim_verdict(better: Dict[int, float],
                  worse: Dict[int, float]) -> Tuple[str, str]:
    """The mean of the per-seed AP differences ``better - worse`` over the
    seeds both rows have, with its standard error, and whether it shows the
    claimed order: a two-sided paired t-test at the 5 % level.

    The differences are paired by seed: runs with the same seed see the
    same data order and the same backbone initialisation, so the pairs
    share much of their seed-to-seed variation.
    """
    seeds = sorted(set(better) & set(worse))
    if not seeds:
        return '—', 'not run'
    paired = stat([better[s] - worse[s] for s in seeds])
    if paired.n < 2:
        sign = 'same' if paired.mean > 0 else 'opposite'
        return f'{paired.mean:+.1f}', f'{sign} sign, one seed: no test'
    observed = f'{paired.mean:+.1f} ± {paired.sem:.1f}'
    p = paired_t_test(paired)
    p_text = 'p < 0.001' if p < 0.001 else f'p = {p:.2f}'
    if p >= 0.05:
        return observed, f'not resolved ({p_text})'
    if paired.mean > 0:
        return observed, f'yes ({p_text})'
    return observed, f'no: the opposite order ({p_text})'


def paired_t_test(differences: Stat) -> float:
    """Two-sided p-value of a mean difference of 0."""
    from scipy import stats
    if differences.std == 0:
        return 0.0 if differences.mean != 0 else 1.0
    t = differences.mean / differences.sem
    return float(2 * stats.t.sf(abs(t), differences.n - 1))


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

"""tools/reproduce_gfl_ablation.py: every table's configs exist, the
launchers' commands, collection of finished and unfinished work dirs, the
markdown table and its statistics, and one real run resumed after a kill."""
import io
import json
import math
import os
import os.path as osp
import subprocess
import sys
import threading
import time

import pytest
from helpers import ROOT, config_path

from mmdet_losses.visualization.seed_statistics import (claim_verdict,
                                                        paired_t_test, stat)

sys.path.insert(0, osp.join(ROOT, 'tools'))
import reproduce_gfl_ablation as tool  # noqa: E402


def fake_run(work_dir, aps, steps=None, sessions=1):
    """A work dir whose logs hold evaluations (AP in %) at ``steps``."""
    steps = steps or list(range(1, len(aps) + 1))
    for session in range(sessions):
        vis = osp.join(work_dir, f'2026010{session}_000000', 'vis_data')
        os.makedirs(vis, exist_ok=True)
        with open(osp.join(vis, 'scalars.json'), 'w') as f:
            f.write(json.dumps(dict(lr=0.01, loss=1.0, step=5)) + '\n')
            for ap, step in zip(aps, steps):
                f.write(
                    json.dumps({
                        'coco/bbox_mAP': ap / 100,
                        'coco/bbox_mAP_50': (ap + 20) / 100,
                        'coco/bbox_mAP_75': (ap + 2) / 100,
                        'step': step
                    }) + '\n')


@pytest.mark.parametrize('name', sorted(tool.TABLES))
def test_every_table_names_existing_configs_and_paper_numbers(name):
    table = tool.TABLES[name]
    assert table.rows
    # every row has the paper's main metric, but where no paper gives one
    # (then the table's numbers are for the sign only)
    main = table.main_metric
    assert all(
        row.paper.get(main) for row in table.rows
        if row.paper or table.same_setting), name
    assert any(row.paper.get(main) for row in table.rows)
    assert all(set(row.paper) <= set(table.metrics) for row in table.rows)
    names = {row.name for row in table.rows}
    for claim in table.claims:
        assert {claim.better, claim.worse} <= names
    for row in table.rows:
        assert osp.isfile(osp.join(ROOT, row.config)), row.config
        assert tool.max_epochs_of(row.config) > 0


def test_final_metrics_need_the_last_epoch_and_survive_cut_lines(tmp_path):
    work = str(tmp_path / 'run')
    fake_run(work, [10.0, 20.0], steps=[4, 8])
    assert tool.final_metrics(work, 12) is None
    assert tool.final_metrics(work, 8) == pytest.approx(
        dict(AP=20.0, AP50=40.0, AP75=22.0))
    # a resumed run logs a second session; a kill cuts its last line
    fake_run(work, [30.0], steps=[12], sessions=2)
    with open(
            osp.join(work, '20260101_000000', 'vis_data', 'scalars.json'),
            'a') as f:
        f.write('{"coco/bbox_mAP": 0.9')
    assert tool.final_metrics(work, 12)['AP'] == pytest.approx(30.0)


def test_collect_tabulates_mean_std_differences_and_claims(tmp_path, capsys):
    root = str(tmp_path / 'runs')
    table = tool.TABLES['bccd-iou']
    aps = {
        'GIoU': [40.0, 41.0, 42.0],
        'DIoU': [41.5, 40.5, 42.5],  # +0.5 ± 0.6: not resolved
        'CIoU': [45.0, 45.0, 45.0],  # +4.0: resolved
    }
    for row in table.rows:
        last = tool.max_epochs_of(row.config)
        for seed, ap in zip((0, 1, 2), aps[row.name]):
            fake_run(tool.work_dir_of(root, row.config, seed), [ap], [last])
    text = tool.main([
        'bccd-iou', '--launcher', 'collect', '--seeds', '0', '1', '2',
        '--work-root', root
    ])
    lines = {line.split(' | ')[0]: line for line in text.splitlines()}
    # mean ± sample std, AP50 / AP75 from the same records
    assert '| 41.0 ± 1.0 | 61.0 ± 1.0 | 43.0 ± 1.0 | 47.73 |' in lines[
        '| GIoU']
    assert '| 45.0 ± 0.0 |' in lines['| CIoU']
    # differences to the first row, ours and the paper's
    assert lines['| CIoU'].endswith('| +4.0 | +1.5 |')
    # the paper's numbers are for another setting: no "AP - paper"
    assert '| 47.73 | — |' in lines['| GIoU']
    claims = {line.split(' | ')[0]: line for line in text.splitlines()}
    assert claims['| CIoU >= GIoU (CIoU vs GIoU)'].endswith(
        '| +4.0 ± 0.6 | +1.5 | yes (p = 0.02) |')
    assert 'not resolved' in claims['| DIoU >= GIoU (DIoU vs GIoU)']
    assert osp.isfile(osp.join(root, 'bccd-iou.md'))
    assert 'done before: AP 45.0' in capsys.readouterr().out


def test_claims_pair_the_runs_by_seed():
    """A seed that is better for every config cancels out of the
    difference: +1 on each seed resolves, though the rows' spread is 5."""
    worse = {0: 40.0, 1: 45.0, 2: 50.0}
    better = {seed: ap + 1 for seed, ap in worse.items()}
    assert claim_verdict(better, worse) == ('+1.0 ± 0.0', 'yes (p < 0.001)')
    assert claim_verdict(worse, better)[1] == \
        'no: the opposite order (p < 0.001)'
    one_common_seed = claim_verdict({0: 41.0, 5: 1.0}, {0: 40.0})
    assert one_common_seed == ('+1.0', 'same sign, one seed: no test')
    assert claim_verdict({1: 1.0}, {2: 1.0}) == ('—', 'not run')


def test_small_p_values_keep_a_significant_digit():
    from mmdet_losses.visualization.seed_statistics import format_p_value
    assert format_p_value(0.0625) == 'p = 0.06'
    assert format_p_value(0.0013) == 'p = 0.001'
    assert format_p_value(0.0049) == 'p = 0.005'
    assert format_p_value(0.0004) == 'p < 0.001'
    # the rotated quickstart's CSL and L1 rows (README): differences -17.4,
    # -15.5, -16.6; t = -16.5 / 0.55 = -30 with 2 degrees of freedom
    observed, verdict = claim_verdict({
        0: 36.9,
        1: 36.9,
        2: 38.1
    }, {
        0: 54.3,
        1: 52.4,
        2: 54.7
    })
    assert observed == '-16.5 ± 0.6'
    assert verdict == 'no: the opposite order (p = 0.001)'


def test_paired_t_test_against_scipy_free_closed_forms():
    # n = 2: t has 1 degree of freedom, p = 1 - 2 atan(|t|) / pi
    diffs = stat([1.0, 3.0])  # mean 2, sem 1, t = 2
    assert paired_t_test(diffs) == pytest.approx(1 -
                                                 2 * math.atan(2.0) / math.pi)
    # n = 3: 2 degrees of freedom, p = 1 - |t| / sqrt(2 + t^2)
    diffs = stat([1.0, 2.0, 6.0])
    t = diffs.mean / diffs.sem
    assert paired_t_test(diffs) == pytest.approx(1 - t / math.sqrt(2 + t * t))


def test_claims_report_the_opposite_order_and_missing_seeds(tmp_path):
    root = str(tmp_path / 'runs')
    table = tool.TABLES['bccd-table3']
    for row in table.rows:
        aps = [30.0, 31.0] if row.name == 'neither' else [20.0, 21.0]
        for seed, ap in zip((0, 1), aps):
            if row.name == 'DFL' and seed == 1:
                continue  # one seed missing
            fake_run(
                tool.work_dir_of(root, row.config, seed), [ap],
                [tool.max_epochs_of(row.config)])
    text = tool.main([
        'bccd-table3', '--launcher', 'collect', '--seeds', '0', '1',
        '--work-root', root
    ])
    assert '| QFL | `atss_r18_fpn_qfl_bccd.py` | 20.5 ± 0.7 |' in text
    assert '| 20.0 (1/2 seeds) |' in text
    assert 'no: the opposite order' in text
    assert 'one seed: no test' in text


def test_runs_what_is_missing_with_resume_and_skips_what_finished(
        tmp_path, monkeypatch, capsys):
    root = str(tmp_path / 'runs')
    table = tool.TABLES['table2c']
    # delta = 0.5 finished; delta = 2 was killed after epoch 8
    finished = tool.work_dir_of(root, table.rows[0].config, 0)
    fake_run(finished, [40.0], [12])
    killed = tool.work_dir_of(root, table.rows[2].config, 0)
    fake_run(killed, [35.0], [8])
    calls = []

    def train(command, log_path, env):
        calls.append(command)
        fake_run(command[command.index('--work-dir') + 1], [39.0], [12])
        return 0

    monkeypatch.setattr(tool, '_run', train)
    tool.main(['table2c', '--work-root', root])
    assert [c[2] for c in calls] == [row.config for row in table.rows[1:]]
    for command in calls:
        assert command[1].endswith('tools/train.py')
        assert command[3:] == [
            '--work-dir',
            tool.work_dir_of(root, command[2], 0), '--resume', '--cfg-options',
            'randomness.seed=0'
        ]
    out = capsys.readouterr().out
    assert '[1/4] configs/gfl/ablations/gfl_r50_fpn_delta0.5_1x_coco.py ' \
        'seed 0: done before: AP 40.0' in out
    assert 'seed 0: AP 39.0 in' in out
    # what this tool saw finish, it records
    assert json.load(open(osp.join(killed, 'result.json')))['seed'] == 0


def test_a_failed_run_is_reported_and_left_out(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tool, '_run', lambda *args: 1)
    text = tool.main(['bccd-iou', '--work-root', str(tmp_path)])
    assert 'FAILED (exit code 1' in capsys.readouterr().out
    assert text.count('| — | — | — |') == 3


@pytest.mark.parametrize('launcher, expected', [
    ('pytorch',
     ['bash', 'tools/dist_train.sh', 'CFG', '4', '--work-dir', 'WD']),
    ('slurm',
     ['bash', 'tools/slurm_train.sh', 'part', 'gfl-x-s3', 'CFG', 'WD']),
])
def test_distributed_launchers(launcher, expected):
    args = tool.parse_args([
        'table3', '--launcher', launcher, '--gpus', '4', '--partition', 'part',
        '--cfg-options', 'a=1'
    ])
    command = tool.train_command(args, 'CFG', '/r/x/seed3', 3)
    command = [c.replace(ROOT + '/', '') for c in command]
    expected = [e.replace('WD', '/r/x/seed3') for e in expected]
    # --gpus sets the total batch: tools/train.py scales the lr to it
    assert command == expected + [
        '--resume', '--auto-scale-lr', '--cfg-options', 'randomness.seed=3',
        'a=1'
    ]


def test_slurm_needs_a_partition():
    with pytest.raises(SystemExit):
        tool.parse_args(['table3', '--launcher', 'slurm'])


def tiny_table_config(tmp_path, data_root):
    """The quickstart GFL on 4 + 2 synthetic images at 64 px, 2 epochs of 2
    iterations, a checkpoint every epoch."""
    path = tmp_path / 'tiny_gfl.py'
    path.write_text(f"""
_base_ = '{config_path('quickstart', 'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')}'
data_root = '{data_root}/'
generate = dict(num_train=4, num_val=2, img_size=256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, generate=generate,
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, generate=generate,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
model = dict(test_cfg=dict(score_thr=0.0))
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
""")
    return str(path)


def test_a_killed_run_resumes_and_is_tabulated(tmp_path, monkeypatch,
                                               tiny_synthetic_root):
    """Real training: a run stopped after its first epoch (as a kill after
    the epoch's checkpoint leaves it) is continued by the tool from that
    checkpoint, then evaluated and tabulated."""
    # two processes on a busy 2-core machine: one thread each
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    config = tiny_table_config(tmp_path, tiny_synthetic_root)
    table = tool.Table('tiny', 'none', [tool.Row('tiny', config, {'AP': 1})])
    monkeypatch.setitem(tool.TABLES, 'tiny', table)
    root = str(tmp_path / 'runs')
    work_dir = tool.work_dir_of(root, config, 7)
    first = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work_dir,
        '--cfg-options', 'randomness.seed=7', 'train_cfg.max_epochs=1'
    ],
                           capture_output=True,
                           text=True,
                           cwd=ROOT,
                           timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert tool.final_metrics(work_dir, 2) is None

    text = tool.main(['tiny', '--seeds', '7', '--work-root', root])
    with open(osp.join(work_dir, 'train_stdout.log')) as f:
        log = f.read()
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [2][2/2]' in log
    assert 'Epoch(train) [1]' not in log
    metrics = json.load(open(osp.join(work_dir, 'result.json')))['metrics']
    assert set(metrics) == {'AP', 'AP50', 'AP75'}
    assert f'| tiny | `tiny_gfl.py` | {metrics["AP"]:.1f} |' in text


def test_an_interrupt_stops_the_training_and_says_how_to_continue(
        tmp_path, monkeypatch, capsys):
    events = []

    class Training:

        def __init__(self, command, **kwargs):
            events.append('start')
            self.stdout = io.StringIO()

        def wait(self, timeout=None):
            if 'terminate' not in events:
                raise KeyboardInterrupt  # Ctrl-C, or SIGTERM via main()
            events.append('stopped')
            return -15

        def terminate(self):
            events.append('terminate')

    monkeypatch.setattr(tool.subprocess, 'Popen', Training)
    with pytest.raises(SystemExit) as info:
        tool.main(['bccd-iou', '--work-root', str(tmp_path)])
    assert info.value.code == 130
    assert events == ['start', 'terminate', 'stopped']
    assert 'run the same command again' in capsys.readouterr().out


def test_cfg_options_change_the_epochs_a_run_must_reach(tmp_path):
    options = ['train_cfg.max_epochs=24', 'param_scheduler.1.milestones=[18]']
    config = tool.TABLES['bccd-iou'].rows[1].config
    assert tool.max_epochs_of(config, options) == 24
    root = str(tmp_path / 'runs')
    fake_run(tool.work_dir_of(root, config, 0), [30.0, 40.0], [8, 24])
    text = tool.main([
        'bccd-iou', '--launcher', 'collect', '--work-root', root,
        '--cfg-options', *options
    ])
    assert '| DIoU | `gfl_r18_fpn_diou_bccd.py` | 40.0 |' in text


def test_a_subset_of_rows(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tool, '_run',
                        lambda command, *a: calls.append(command[2]) or 1)
    text = tool.main([
        'bccd-table3', '--rows', 'QFL + DFL', 'neither', '--work-root',
        str(tmp_path)
    ])
    assert calls == [
        'configs/bccd/gfl_r18_fpn_bccd.py', 'configs/bccd/atss_r18_fpn_bccd.py'
    ]
    assert 'AP - "QFL + DFL"' in text and '| QFL |' not in text
    # of the claims, only the one between these two rows remains
    assert text.count(' vs ') == 1
    assert '| both > neither (GFL > ATSS) (QFL + DFL vs neither) |' in text
    with pytest.raises(SystemExit, match='unknown row'):
        tool.main(['bccd-table3', '--rows', 'QFL+DFL'])


def test_tables_are_data_checked_on_load(tmp_path):
    """The catalogue is a data module; the tool builds and checks it."""
    assert tool.TABLES == tool.load_tables(tool.TABLES_FILE)
    bad = tmp_path / 'tables.py'
    row = "('A', 'configs/x.py', dict(AP=1.0))"
    bad.write_text(f"TABLES = dict(t=dict(title='T', paper_source='S', "
                   f"rows=[{row}], claims=[('A > B', 'A', 'B')]))\n")
    with pytest.raises(ValueError, match="claim 'A > B' names a row not"):
        tool.load_tables(str(bad))
    bad.write_text("TABLES = dict(t=dict(title='T', paper_source='S', "
                   "rows=[('A', 'configs/x.py', dict(mAP=1.0))]))\n")
    with pytest.raises(ValueError, match=r"paper numbers \['mAP'\] outside"):
        tool.load_tables(str(bad))
    bad.write_text(f"TABLES = dict(t=dict(title='T', paper_source='S', "
                   f"rows=[{row}], colour='red'))\n")
    with pytest.raises(TypeError, match='colour'):
        tool.load_tables(str(bad))


def test_every_config_lets_distributed_runs_scale_the_lr():
    """tools/train.py --auto-scale-lr (what the distributed launchers pass)
    refuses a config without auto_scale_lr.enable and base_batch_size."""
    from mmengine.config import Config
    configs = sorted(
        {row.config
         for table in tool.TABLES.values()
         for row in table.rows})
    for config in configs:
        cfg = Config.fromfile(osp.join(ROOT, config))
        assert {'enable', 'base_batch_size'} <= set(cfg.auto_scale_lr), config


# a fake training: prints, waits for the test's go (a file), then logs its
# final evaluation the way mmengine does
FAKE_TRAINING = r'''
import json, os, sys, time
work_dir, epochs, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print('Epoch(train) [1] started')
print('a warning on stderr', file=sys.stderr)
deadline = time.time() + 60
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)
vis = os.path.join(work_dir, '20260101_000000', 'vis_data')
os.makedirs(vis, exist_ok=True)
with open(os.path.join(vis, 'scalars.json'), 'w') as f:
    f.write(json.dumps({'coco/bbox_mAP': 0.25, 'coco/bbox_mAP_50': 0.5,
                        'coco/bbox_mAP_75': 0.3, 'step': epochs}) + '\n')
print('Epoch(val) done')
'''


class LineSink(io.StringIO):
    """A stdout whose text another thread can poll."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text):
        with self.lock:
            return super().write(text)

    def text(self):
        with self.lock:
            return self.getvalue()


def test_run_output_streams_with_the_run_name_while_it_trains(
        tmp_path, monkeypatch):
    """The child's lines (stdout and stderr) reach this tool's stdout with
    the run's name while the run still trains, and its log file as they
    are; the run then counts as finished."""
    row = tool.TABLES['bccd-iou'].rows[0]
    epochs = tool.max_epochs_of(row.config)
    go = tmp_path / 'go'

    def fake_command(args, config, work_dir, seed):
        # python without -u: the tool must make its children unbuffered
        return [
            sys.executable, '-c', FAKE_TRAINING, work_dir,
            str(epochs),
            str(go)
        ]

    monkeypatch.setattr(tool, 'train_command', fake_command)
    monkeypatch.delenv('PYTHONUNBUFFERED', raising=False)
    sink = LineSink()
    monkeypatch.setattr(sys, 'stdout', sink)
    first = '[gfl_r18_fpn_bccd seed0] Epoch(train) [1] started\n'
    seen = {}

    def watch():
        # the go comes only once the first line is out, while the run waits
        deadline = time.time() + 60
        while first not in sink.text() and time.time() < deadline:
            time.sleep(0.05)
        seen['streamed'] = first in sink.text()
        seen['before the end'] = 'Epoch(val) done' not in sink.text()
        go.write_text('')

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    root = str(tmp_path / 'runs')
    text = tool.main(['bccd-iou', '--rows', 'GIoU', '--work-root', root])
    watcher.join(timeout=60)
    assert seen == {'streamed': True, 'before the end': True}
    out = sink.text()
    assert '[gfl_r18_fpn_bccd seed0] a warning on stderr\n' in out
    assert '[gfl_r18_fpn_bccd seed0] Epoch(val) done\n' in out
    work_dir = tool.work_dir_of(root, row.config, 0)
    with open(osp.join(work_dir, 'train_stdout.log')) as f:
        log = f.read().splitlines()
    assert log[0] == 'Epoch(train) [1] started'
    assert 'Epoch(val) done' in log and not any('[gfl' in x for x in log)
    assert '| GIoU | `gfl_r18_fpn_bccd.py` | 25.0 | 50.0 | 30.0 |' in text

"""tools/analysis/analyze_logs.py on json logs written the way mmengine
writes them (one object per line; a resumed run has two files)."""
import json

import numpy as np
import pytest
from helpers import assert_image, load_tool


def train_record(epoch, it, loss_bbox, time):
    return dict(
        lr=0.01,
        data_time=0.01,
        grad_norm=2.0,
        loss=loss_bbox + 0.5,
        loss_cls=0.5,
        loss_bbox=loss_bbox,
        time=time,
        epoch=epoch,
        iter=it,
        memory=100,
        step=it)


def val_record(epoch, mAP):
    return {
        'coco/bbox_mAP': mAP,
        'coco/bbox_mAP_50': mAP + 0.2,
        'data_time': 0.01,
        'time': 0.3,
        'step': epoch
    }


def write_log(work_dir, timestamp, records):
    path = work_dir / timestamp / 'vis_data' / f'{timestamp}.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    # mmengine also writes scalars.json beside it: not a log to read
    (path.parent / 'scalars.json').write_text('{"lr": 1}\n')
    return path


@pytest.fixture
def runs(tmp_path):
    """Two runs of 3 epochs x 4 iterations (2 records per epoch).

    ``ciou`` was killed in epoch 2 and resumed from epoch 1: its second
    log repeats iteration 8, which must win over the first log's.
    """
    ciou = tmp_path / 'ciou'
    write_log(
        ciou,
        '20240101_000000',
        [
            train_record(1, 2, 1.0, 5.0),
            train_record(1, 4, 0.8, 1.0),
            val_record(1, 0.10),
            train_record(2, 6, 0.7, 1.0),
            train_record(2, 8, 99.0, 1.0),  # replaced after the resume
        ])
    write_log(ciou, '20240101_010000', [
        train_record(2, 6, 0.7, 4.0),
        train_record(2, 8, 0.6, 2.0),
        val_record(2, 0.30),
        train_record(3, 10, 0.5, 6.0),
        train_record(3, 12, 0.4, 2.0),
        val_record(3, 0.25),
    ])
    giou = tmp_path / 'giou'
    giou_log = write_log(giou, '20240102_000000', [
        train_record(e, 4 * e - 2 + k * 2, 1.2 - 0.1 * (2 * e + k), 3.0)
        for e in (1, 2, 3) for k in (0, 1)
    ] + [val_record(3, 0.2)])
    return ciou, giou, giou_log


def test_plot_curve_of_two_runs(runs, tmp_path):
    ciou, giou, giou_log = runs
    tool = load_tool('analysis', 'analyze_logs.py')
    for name in ('curves.png', 'curves.svg'):
        out = tool.main([
            'plot_curve',
            str(ciou),
            str(giou_log), '--legend', 'CIoU', 'GIoU', '--keys', 'loss_bbox',
            'coco/bbox_mAP', '--out',
            str(tmp_path / name), '--title', 'box losses'
        ])
        assert_image(out)


def test_curves_plot_the_merged_records(runs, tmp_path, monkeypatch):
    from mmdet_losses.visualization import logs
    ciou, giou, _ = runs
    drawn = {}

    def spy(runs, out_file, keys=None, title=''):
        for run in runs:
            for key in keys:
                drawn[run.name, key] = logs._series(run, key)[:2]
        return out_file

    tool = load_tool('analysis', 'analyze_logs.py')
    monkeypatch.setattr(tool, 'plot_curves', spy)
    tool.main([
        'plot_curve',
        str(ciou),
        str(giou), '--keys', 'loss_bbox', 'coco/bbox_mAP', '--out',
        str(tmp_path / 'x.png')
    ])
    assert drawn['ciou', 'loss_bbox'] == ([2, 4, 6, 8, 10,
                                           12], [1.0, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert drawn['ciou', 'coco/bbox_mAP'] == ([1, 2, 3], [0.1, 0.3, 0.25])
    assert drawn['giou', 'coco/bbox_mAP'] == ([3], [0.2])


def test_default_keys_are_the_losses_and_the_main_metric(runs):
    from mmdet_losses.visualization.logs import (load_run, loss_keys,
                                                 main_metric)
    run = load_run(str(runs[0]))
    assert run.name == 'ciou'
    assert loss_keys(run.train) == ['loss', 'loss_bbox', 'loss_cls']
    assert main_metric(run.val) == 'coco/bbox_mAP'
    # a file names its run after the work dir
    assert load_run(str(runs[2])).name == 'giou'


def test_summary_table(runs, tmp_path, capsys):
    ciou, giou, _ = runs
    tool = load_tool('analysis', 'analyze_logs.py')
    table = tool.main([
        'summary',
        str(ciou),
        str(giou), '--legend', 'CIoU', 'GIoU', '--out',
        str(tmp_path / 'summary.md')
    ])
    assert table in capsys.readouterr().out
    assert (tmp_path / 'summary.md').read_text() == table + '\n'
    # ciou: best 0.30 at epoch 2, last 0.25; times without each epoch's
    # first record: 1.0 (epoch 1), 2.0 (epoch 2), 2.0 (epoch 3)
    assert ('| CIoU | coco/bbox_mAP | 0.3000 | epoch 2 | 0.2500 | 12 | '
            f'{np.mean([1.0, 2.0, 2.0]):.3f} |') in table
    assert '| GIoU | coco/bbox_mAP | 0.2000 | epoch 3 | 0.2000 | 12 | ' \
        '3.000 |' in table


def test_cal_train_time(runs):
    tool = load_tool('analysis', 'analyze_logs.py')
    lines = tool.main(['cal_train_time', str(runs[0])])
    assert lines[0] == '-----Analyze train time of ciou-----'
    assert 'slowest epoch 2, average time is 2.0000 s/iter' in lines
    assert 'fastest epoch 1, average time is 1.0000 s/iter' in lines
    assert lines[-1] == 'average iter time: 1.6667 s/iter'
    lines = tool.main(['cal_train_time', str(runs[0]), '--include-outliers'])
    assert lines[-1] == f'average iter time: {20 / 6:.4f} s/iter'


def test_bad_logs_are_named(runs, tmp_path):
    tool = load_tool('analysis', 'analyze_logs.py')
    with pytest.raises(KeyError, match="no run logs 'loss_dfl'"):
        tool.main([
            'plot_curve',
            str(runs[0]), '--keys', 'loss_dfl', '--out',
            str(tmp_path / 'x.png')
        ])
    with pytest.raises(ValueError, match='--legend names 1 runs but 2'):
        tool.main(['summary', str(runs[0]), str(runs[1]), '--legend', 'a'])
    with pytest.raises(FileNotFoundError, match='no mmengine json log'):
        tool.main(['summary', str(tmp_path)])
    broken = tmp_path / 'broken.json'
    broken.write_text('{"loss": 1, "iter": 1}\n{"loss": \n')
    with pytest.raises(ValueError, match=r'broken.json:2: not json'):
        tool.main(['summary', str(broken)])
    with pytest.raises(ValueError, match='must end with one of'):
        tool.main([
            'plot_curve',
            str(runs[0]), '--out',
            str(tmp_path / 'curves.txt')
        ])


def test_a_session_without_a_json_log_is_read_from_scalars(tmp_path):
    """mmengine writes every record into scalars.json too; a session that
    has only that file (its logger wrote no json log) is read from it,
    one with both from its json log alone."""
    from mmdet_losses.visualization.logs import find_json_logs, load_run
    run = tmp_path / 'run'
    write_log(run, '20240101_000000', [val_record(1, 0.1)])
    only = run / '20240101_010000' / 'vis_data' / 'scalars.json'
    only.parent.mkdir(parents=True)
    only.write_text(json.dumps(val_record(2, 0.2)) + '\n')
    assert [p.split('/')[-3:] for p in find_json_logs(str(run))] == [
        ['20240101_000000', 'vis_data', '20240101_000000.json'],
        ['20240101_010000', 'vis_data', 'scalars.json'],
    ]
    assert [r['coco/bbox_mAP'] for r in load_run(str(run)).val] == [0.1, 0.2]


def test_a_last_line_cut_by_a_kill_can_be_skipped(tmp_path):
    from mmdet_losses.visualization.logs import load_json_log
    log = tmp_path / 'cut.json'
    log.write_text(
        json.dumps(val_record(1, 0.1)) + '\n' + '{"coco/bbox_mAP": 0.\n\n')
    with pytest.raises(ValueError, match=r'cut.json:2: not json'):
        load_json_log(str(log))
    train, val = load_json_log(str(log), allow_cut_last_line=True)
    assert train == [] and [r['step'] for r in val] == [1]
    # a bad line that is not the last one is no cut: it still raises
    log.write_text('{"loss": \n' + json.dumps(val_record(1, 0.1)) + '\n')
    with pytest.raises(ValueError, match=r'cut.json:1: not json'):
        load_json_log(str(log), allow_cut_last_line=True)

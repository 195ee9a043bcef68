"""The rotated quickstart loss comparison of tools/reproduce_gfl_ablation.py
(L1, PIoU, CSL with this package's coder and with mmrotate's; DOTA mAP at
IoU 0.5): its configs, collection of
DOTA-metric work dirs, the table, and one real 2-iteration run per row."""
import json
import os
import os.path as osp
import sys

from helpers import ROOT, shrink_config
from mmengine.config import Config

sys.path.insert(0, osp.join(ROOT, 'tools'))
import reproduce_gfl_ablation as tool  # noqa: E402

NAME = 'rotated-quickstart'


def fake_dota_run(work_dir, maps, step):
    """A work dir whose log holds one DOTA evaluation (mAP in %)."""
    vis = osp.join(work_dir, '20260101_000000', 'vis_data')
    os.makedirs(vis, exist_ok=True)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(json.dumps(dict(lr=0.01, loss=1.0, step=3)) + '\n')
        f.write(
            json.dumps({
                'dota/mAP': maps / 100,
                'dota/AP50': maps / 100,
                'step': step
            }) + '\n')


def test_rows_are_the_quickstart_losses_on_one_schedule():
    table = tool.TABLES[NAME]
    assert [row.name for row in table.rows
            ] == ['L1', 'PIoU', 'CSL', 'CSL, mmrotate coder']
    cfgs = [Config.fromfile(osp.join(ROOT, row.config)) for row in table.rows]
    base = cfgs[0]
    for cfg in cfgs[1:]:
        # same schedule, data and detector: only the loss / angle differs
        for key in ('train_cfg', 'param_scheduler', 'optim_wrapper',
                    'train_dataloader', 'val_evaluator'):
            assert cfg[key] == base[key], key
        assert cfg.model.backbone == base.model.backbone
    assert cfgs[1].model.bbox_head.loss_bbox.type == 'mmdet_losses.PIoULoss'
    assert cfgs[2].model.bbox_head.angle_coder.type == (
        'mmdet_losses.CircularSmoothLabelCoder')
    assert cfgs[3].model.bbox_head.angle_coder.type == 'CSLCoder'
    # the two CSL rows differ by the coder alone
    cfgs[3].model.bbox_head.angle_coder.type = cfgs[2].model.bbox_head.\
        angle_coder.type
    assert cfgs[3].model == cfgs[2].model


def test_collect_tabulates_dota_map_of_three_seeds(tmp_path):
    root = str(tmp_path / 'runs')
    table = tool.TABLES[NAME]
    maps = {
        'L1': [50.0, 52.0, 54.0],
        'PIoU': [53.0, 55.0, 57.0],  # +3.0 on every seed
        'CSL': [40.0, 41.0, 42.0],
        'CSL, mmrotate coder': [30.0, 30.0, 33.0],
    }
    for row in table.rows:
        last = tool.max_epochs_of(row.config)
        for seed, value in enumerate(maps[row.name]):
            fake_dota_run(
                tool.work_dir_of(root, row.config, seed), value, last)
    text = tool.main([
        NAME, '--launcher', 'collect', '--seeds', '0', '1', '2', '--work-root',
        root
    ])
    lines = {line.split(' | ')[0]: line for line in text.splitlines()}
    assert '| mAP50 | paper mAP50 | mAP50 - paper |' in text
    assert lines['| L1'].endswith('| 52.0 ± 2.0 | 68.42 | — | +0.0 '
                                  '| +0.0 |')
    # no published RetinaNet + PIoU number
    assert lines['| PIoU'].endswith('| 55.0 ± 2.0 | — | — | +3.0 | — |')
    assert lines['| CSL'].endswith('| 41.0 ± 1.0 | 69.51 | — | -11.0 '
                                   '| +1.1 |')
    # no published number for mmrotate's coder other than its own config's
    assert lines['| CSL, mmrotate coder'].endswith(
        '| 31.0 ± 1.7 | — | — | -21.0 | — |')
    assert 'DOTA mAP at IoU 0.5' in text
    assert lines['| PIoU >= L1 (PIoU vs L1)'].endswith(
        '| +3.0 ± 0.0 | — | yes (p < 0.001) |')
    assert 'no: the opposite order' in lines['| CSL >= L1 (CSL vs L1)']


def test_a_two_iteration_run_is_tabulated(tmp_path, monkeypatch,
                                          tiny_synthetic_root):
    """Real training through the tool: the PIoU row's config, shrunk to 2
    iterations on 4 tiny images, trains and its DOTA mAP is tabulated
    (every quickstart config's 2 iterations: tests/configs/)."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    rows = []
    for row in tool.select_rows(tool.TABLES[NAME], ['PIoU']).rows:
        cfg = shrink_config(
            Config.fromfile(osp.join(ROOT, row.config)),
            str(tmp_path / 'unused'), tiny_synthetic_root)
        cfg.default_hooks.checkpoint.interval = -1
        path = str(tmp_path / osp.basename(row.config))
        cfg.dump(path)
        rows.append(row._replace(config=path))
    monkeypatch.setitem(tool.TABLES, 'tiny',
                        tool.TABLES[NAME]._replace(rows=rows, claims=[]))
    root = str(tmp_path / 'runs')
    text = tool.main(['tiny', '--seeds', '3', '--work-root', root])
    for row in rows:
        work_dir = tool.work_dir_of(root, row.config, 3)
        with open(osp.join(work_dir, 'train_stdout.log')) as f:
            log = f.read()
        assert 'Epoch(train) [1][2/2]' in log, log[-3000:]
        result = json.load(open(osp.join(work_dir, 'result.json')))
        assert set(result['metrics']) == {'mAP50'}
        value = result['metrics']['mAP50']
        assert 0 <= value <= 100
        assert (f'| {row.name} | `{osp.basename(row.config)}` | '
                f'{value:.1f} |') in text

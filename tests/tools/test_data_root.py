"""``--data-root DIR`` (tools/train.py, tools/test.py, the ablation tool):
:func:`set_data_root` moves every dataloader's dataset and the evaluators'
annotation files of a parsed config to DIR, where ``--cfg-options
data_root=DIR`` moves nothing (mmdet's configs copy ``data_root`` into them
when they are parsed)."""
import importlib.util
import os.path as osp

import pytest
from helpers import ROOT, config_path
from mmengine.config import Config

from mmdet_losses.utils.config import set_data_root
from mmdet_losses.utils.runner_setup import load_config


def _tool(name):
    """tools/<name>.py as a module (``test`` is also a stdlib package)."""
    spec = importlib.util.spec_from_file_location(
        f'_data_root_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NEW = '/elsewhere/data'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _roots(cfg):
    return {name: cfg[name].dataset.data_root for name in LOADERS}


def test_cfg_options_data_root_moves_nothing_which_is_why_the_flag_exists():
    cfg = load_config(
        config_path('gfl', 'gfl_r50_fpn_1x_coco.py'),
        cfg_options=dict(data_root=NEW + '/'))
    assert set(_roots(cfg).values()) == {'data/coco/'}
    assert cfg.val_evaluator.ann_file.startswith('data/coco/')


@pytest.mark.parametrize('config', [
    ('gfl', 'gfl_r50_fpn_1x_coco.py'),
    ('gfl', 'gfl_r50_fpn_ciou_1x_coco.py'),
    ('retinanet', 'retinanet_r50_fpn_ciou_1x_coco.py'),
])
def test_coco_configs_datasets_and_coco_metric_ann_file(config):
    cfg = load_config(config_path(*config))
    assert cfg.val_evaluator.ann_file == \
        'data/coco/annotations/instances_val2017.json'
    set_data_root(cfg, NEW)
    assert _roots(cfg) == {name: NEW + '/' for name in LOADERS}
    for key in ('val_evaluator', 'test_evaluator'):
        assert cfg[key].ann_file == \
            NEW + '/annotations/instances_val2017.json'
    assert cfg.data_root == NEW + '/'
    # the parts relative to the root are kept
    assert cfg.train_dataloader.dataset.ann_file == \
        'annotations/instances_train2017.json'
    assert cfg.train_dataloader.dataset.data_prefix == dict(img='train2017/')


def test_bccd_config_coco_metric_without_ann_file():
    cfg = load_config(config_path('bccd', 'gfl_r18_fpn_bccd.py'))
    old = cfg.data_root
    assert set(_roots(cfg).values()) == {old}
    set_data_root(cfg, NEW)
    assert _roots(cfg) == {name: NEW + '/' for name in LOADERS}
    # CocoMetric builds its ground truth from the dataset: nothing to move
    assert cfg.val_evaluator.ann_file is None
    assert cfg.train_dataloader.dataset.ann_file == 'ImageSets/Main/train.txt'


def test_rotated_config_dota_metric_without_ann_file():
    cfg = load_config(
        config_path('rotated_retinanet',
                    'rotated-retinanet-rbox-le90_r50_fpn_piou_1x_dota.py'))
    assert cfg.data_root == 'data/split_ss_dota/'
    metric = dict(cfg.val_evaluator)
    set_data_root(cfg, NEW)
    assert _roots(cfg) == {name: NEW + '/' for name in LOADERS}
    assert dict(cfg.val_evaluator) == metric and 'ann_file' not in metric
    assert cfg.train_dataloader.dataset.ann_file == 'trainval/annfiles/'


def test_wrapped_datasets_and_nested_roots():
    cfg = Config(
        dict(
            data_root='data/voc/',
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    times=3,
                    dataset=dict(
                        type='ConcatDataset',
                        datasets=[
                            dict(data_root='data/voc/', ann_file='a.txt'),
                            dict(data_root='data/voc/2012', ann_file='b.txt'),
                        ]))),
            val_dataloader=dict(
                dataset=dict(data_root='data/voc/', ann_file='c.txt')),
            # an Evaluator with several metrics; a file outside the root
            val_evaluator=dict(
                type='Evaluator',
                metrics=[
                    dict(type='CocoMetric', ann_file='data/voc/val.json'),
                    dict(type='CocoMetric', ann_file='/other/val.json'),
                ]),
            test_evaluator=[dict(ann_file='./data/voc/test.json')]))
    set_data_root(cfg, 'new')
    inner = cfg.train_dataloader.dataset.dataset.datasets
    assert [d.data_root for d in inner] == ['new/', 'new/2012']
    assert cfg.val_dataloader.dataset.data_root == 'new/'
    assert [m.ann_file for m in cfg.val_evaluator.metrics] == \
        ['new/val.json', '/other/val.json']
    assert cfg.test_evaluator[0].ann_file == 'new/test.json'


def test_datasets_in_unrelated_roots_fail_instead_of_half_moving():
    cfg = Config(
        dict(
            data_root='data/coco/',
            train_dataloader=dict(dataset=dict(data_root='data/coco/')),
            val_dataloader=dict(dataset=dict(data_root='data/other/'))))
    with pytest.raises(ValueError, match='several roots'):
        set_data_root(cfg, NEW)
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'


def test_no_flag_changes_nothing():
    cfg = load_config(config_path('gfl', 'gfl_r50_fpn_1x_coco.py'))
    before = cfg.to_dict()
    assert set_data_root(cfg, None) is cfg
    assert cfg.to_dict() == before


def test_the_tools_take_the_flag(tmp_path):
    train_tool, test_tool = _tool('train'), _tool('test')
    ablation = _tool('reproduce_gfl_ablation')
    config = config_path('gfl', 'gfl_r50_fpn_1x_coco.py')
    args = train_tool.parse_args([config, '--data-root', str(tmp_path)])
    cfg = train_tool.build_train_config(args)
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path) + '/'
    assert cfg.test_evaluator.ann_file == str(tmp_path / 'annotations' /
                                              'instances_val2017.json')
    args = test_tool.parse_args(
        [config, 'ckpt.pth', '--data-root',
         str(tmp_path)])
    assert args.data_root == str(tmp_path)
    # the ablation tool hands it (absolute) to every run's tools/train.py
    args = ablation.parse_args(
        ['table3', '--launcher', 'pytorch', '--data-root', 'rel/coco'])
    command = ablation.train_command(args, 'CFG', '/w/s0', 0)
    at = command.index('--data-root')
    assert command[at + 1] == osp.abspath('rel/coco')
    assert command.index('--cfg-options') > at + 1

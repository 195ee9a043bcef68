import pytest
from mmengine.registry import DefaultScope

import mmdet_losses

mmdet_losses.register_all_modules(init_default_scope=False)


def _build(cfg):
    from mmdet.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        return DATASETS.build(cfg)


def test_missing_coco_annotation_names_path_and_remedy(tmp_path):
    root = tmp_path / 'coco'
    with pytest.raises(FileNotFoundError) as info:
        _build(
            dict(
                type='CocoDataset',
                data_root=str(root),
                ann_file='annotations/instances_val2017.json',
                data_prefix=dict(img='val2017/'),
                pipeline=[]))
    message = str(info.value)
    assert str(root / 'annotations' / 'instances_val2017.json') in message
    assert 'README' in message and 'download' in message


def test_missing_voc_image_set_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='ImageSets'):
        _build(
            dict(
                type='VOCDataset',
                data_root=str(tmp_path / 'bccd'),
                ann_file='ImageSets/Main/train.txt',
                data_prefix=dict(sub_data_root=''),
                metainfo=dict(classes=('RBC', 'WBC', 'Platelets')),
                pipeline=[]))


def test_synthetic_dataset_is_generated_on_first_use(tmp_path):
    root = tmp_path / 'shapes'
    dataset = _build(
        dict(
            type='SyntheticShapesDataset',
            data_root=str(root),
            generate=dict(num_train=3, num_val=1),
            ann_file='annotations/train.json',
            data_prefix=dict(img='train/'),
            pipeline=[]))
    assert len(dataset) == 3
    assert (root / 'meta.json').is_file()
    assert dataset.metainfo['classes'] == ('rectangle', 'ellipse', 'triangle',
                                           'cross')

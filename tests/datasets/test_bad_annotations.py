"""Bad annotations fail at load time with the file and the annotation
named, or are skipped with a counted warning when asked."""
import json
import os.path as osp
import shutil

import pytest
from mmengine.registry import DefaultScope

import mmdet_losses

mmdet_losses.register_all_modules(init_default_scope=False)


def _build(cfg):
    from mmdet.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        return DATASETS.build(cfg)


@pytest.fixture
def coco_root(tiny_synthetic_root, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_synthetic_root, root)
    return root


def _edit_coco(root, edit):
    path = root / 'annotations' / 'train.json'
    coco = json.loads(path.read_text())
    edit(coco)
    path.write_text(json.dumps(coco))
    return coco


def _coco(root, **kwargs):
    return _build(
        dict(
            type='CocoDataset',
            data_root=str(root),
            ann_file='annotations/train.json',
            data_prefix=dict(img='train/'),
            metainfo=dict(
                classes=('rectangle', 'ellipse', 'triangle', 'cross')),
            pipeline=[],
            **kwargs))


BAD_COCO = {
    'zero width':
    (lambda a: a.update(bbox=[10, 10, 0, 5]), 'zero or negative size'),
    'negative height':
    (lambda a: a.update(bbox=[10, 10, 5, -3]), 'zero or negative size'),
    'outside image':
    (lambda a: a.update(bbox=[300, 10, 5, 5]), 'box outside the image'),
    'non-numeric':
    (lambda a: a.update(bbox=[10, 'x', 5, 5]), 'missing or non-numeric bbox'),
    'missing bbox': (lambda a: a.pop('bbox'), 'missing or non-numeric bbox'),
    'unknown category': (lambda a: a.update(category_id=99),
                         'unknown category'),
}


@pytest.mark.parametrize('case', sorted(BAD_COCO))
def test_coco_bad_annotation_names_file_and_id(coco_root, case):
    edit, kind = BAD_COCO[case]
    coco = _edit_coco(coco_root, lambda c: edit(c['annotations'][1]))
    ann_id = coco['annotations'][1]['id']
    with pytest.raises(ValueError) as info:
        _coco(coco_root)
    message = str(info.value)
    assert 'train.json' in message
    assert f'annotation id {ann_id} ' in message
    assert kind in message
    assert "bad_annotations='skip'" in message


def test_coco_skip_drops_and_counts(coco_root):
    original = json.loads(
        (coco_root / 'annotations' / 'train.json').read_text())
    total = len(original['annotations'])

    def edit(coco):
        coco['annotations'][0]['bbox'] = [1, 1, 0, 0]
        coco['annotations'][1]['category_id'] = 42

    _edit_coco(coco_root, edit)
    with pytest.warns(UserWarning, match=r'skipped 2 bad annotation\(s\)'):
        dataset = _coco(coco_root, bad_annotations='skip')
    kept = sum(
        len(dataset.get_data_info(i)['instances'])
        for i in range(len(dataset)))
    assert kept == total - 2


def test_coco_missing_image_file_is_named(coco_root):
    (coco_root / 'train' / '000001.png').unlink()
    with pytest.raises(ValueError, match='image file not found.*000001.png'):
        _coco(coco_root)
    with pytest.warns(UserWarning, match='image file not found'):
        dataset = _coco(coco_root, bad_annotations='skip')
    assert len(dataset) == 3


def test_unknown_policy_is_rejected(coco_root):
    with pytest.raises(ValueError, match='bad_annotations must be one of'):
        _coco(coco_root, bad_annotations='ignore')


VOC_XML = """<annotation><filename>{name}.jpg</filename>
<size><width>64</width><height>48</height><depth>3</depth></size>
{objects}</annotation>"""
GOOD_OBJECT = ('<object><name>WBC</name><difficult>0</difficult><bndbox>'
               '<xmin>5</xmin><ymin>6</ymin><xmax>20</xmax><ymax>30</ymax>'
               '</bndbox></object>')


def _voc(root, objects, **kwargs):
    (root / 'Annotations').mkdir(parents=True, exist_ok=True)
    (root / 'JPEGImages').mkdir(exist_ok=True)
    (root / 'ImageSets' / 'Main').mkdir(parents=True, exist_ok=True)
    names = [f'img{i}' for i in range(len(objects))]
    for name, objs in zip(names, objects):
        (root / 'Annotations' / f'{name}.xml').write_text(
            VOC_XML.format(name=name, objects=''.join(objs)))
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text('\n'.join(names))
    return _build(
        dict(
            type='VOCDataset',
            data_root=str(root),
            ann_file='ImageSets/Main/train.txt',
            data_prefix=dict(sub_data_root=''),
            metainfo=dict(classes=('RBC', 'WBC', 'Platelets')),
            pipeline=[],
            **kwargs))


BAD_VOC = {
    'unknown class': (GOOD_OBJECT.replace('WBC',
                                          'Neutrophil'), 'unknown class name'),
    'no bndbox':
    ('<object><name>RBC</name></object>', 'object without bndbox'),
    'no xmax': (GOOD_OBJECT.replace('<xmax>20</xmax>',
                                    ''), 'bndbox without xmax'),
    'no name': (GOOD_OBJECT.replace('<name>WBC</name>',
                                    ''), 'object without a name'),
    'non-numeric':
    (GOOD_OBJECT.replace('<ymin>6</ymin>',
                         '<ymin>six</ymin>'), 'non-numeric bndbox'),
    'zero size': (GOOD_OBJECT.replace('<xmax>20</xmax>', '<xmax>5</xmax>'),
                  'zero or negative size'),
    'outside':
    (GOOD_OBJECT.replace('<xmin>5</xmin>',
                         '<xmin>70</xmin>').replace('<xmax>20</xmax>',
                                                    '<xmax>80</xmax>'),
     'box outside the image'),
}


@pytest.mark.parametrize('case', sorted(BAD_VOC))
def test_voc_bad_object_names_xml_and_object(tmp_path, case):
    bad, kind = BAD_VOC[case]
    with pytest.raises(ValueError) as info:
        _voc(tmp_path / 'voc', [[GOOD_OBJECT], [GOOD_OBJECT, bad]])
    message = str(info.value)
    assert osp.join('Annotations', 'img1.xml: object #1') in message
    assert kind in message


def test_voc_broken_xml_is_named(tmp_path):
    root = tmp_path / 'voc'
    _voc(root, [[GOOD_OBJECT]])
    (root / 'Annotations' / 'img0.xml').write_text('<annotation><object>')
    with pytest.raises(ValueError, match='img0.xml: XML does not parse'):
        _voc_existing(root)


def _voc_existing(root, **kwargs):
    return _build(
        dict(
            type='VOCDataset',
            data_root=str(root),
            ann_file='ImageSets/Main/train.txt',
            data_prefix=dict(sub_data_root=''),
            metainfo=dict(classes=('RBC', 'WBC', 'Platelets')),
            pipeline=[],
            **kwargs))


def test_voc_skip_keeps_good_objects(tmp_path):
    bad = [obj for obj, _ in BAD_VOC.values()]
    with pytest.warns(
            UserWarning, match=rf'skipped {len(bad)} bad annotation\(s\)'):
        dataset = _voc(
            tmp_path / 'voc', [[GOOD_OBJECT, *bad], [GOOD_OBJECT]],
            bad_annotations='skip')
    assert [len(dataset.get_data_info(i)['instances'])
            for i in range(2)] == [1, 1]


BCCD = '/work/shared/data/bccd/BCCD'


@pytest.mark.skipif(
    not osp.isdir(BCCD), reason=f'BCCD not found at {BCCD} (see README)')
def test_bccd_zero_size_boxes_are_found():
    with pytest.raises(ValueError, match='BloodImage_00.*zero or negative'):
        _voc_existing(BCCD, bad_annotations='error')

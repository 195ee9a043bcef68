"""DOTADataset: reading labelTxt files, naming bad lines, difficult objects,
and the rotated pipeline (qbox -> rbox, flips, RandomRotate)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope

import mmdet_losses
from mmdet_losses.datasets import DOTADataset
from mmdet_losses.datasets.dota_io import (DOTA_V1_CLASSES, load_dota_txt,
                                           write_dota_txt, write_task1)
from mmdet_losses.structures import QuadriBoxes, RotatedBoxes, rbox2qbox

mmdet_losses.register_all_modules(init_default_scope=False)


@pytest.fixture(autouse=True)
def our_scope():
    """Transforms resolve as in a config with default_scope='mmdet_losses'
    (mmdet's LoadAnnotations, this package's ConvertBoxType)."""
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        yield


GOOD = ('imagesource:GoogleEarth\n'
        'gsd:0.146\n'
        '10 10 50 10 50 30 10 30 plane 0\n'
        '60.5 60 90 70 85 85 55 75 small-vehicle 1\n'
        '\n')


def make_dota(root, labels, images=None):
    """A DOTA-like directory: images/ and labelTxt/."""
    for name, text in labels.items():
        txt = root / 'labelTxt' / f'{name}.txt'
        txt.parent.mkdir(parents=True, exist_ok=True)
        txt.write_text(text)
    for name in images if images is not None else labels:
        path = root / 'images' / f'{name}.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.zeros((100, 120, 3), np.uint8))
    return root


def dataset(root, **kwargs):
    return DOTADataset(
        data_root=str(root),
        ann_file='labelTxt/',
        data_prefix=dict(img_path='images/'),
        pipeline=[],
        **kwargs)


def test_reads_objects_and_skips_metadata(tmp_path):
    objects = load_dota_txt(
        str(make_dota(tmp_path, {'P1': GOOD}) / 'labelTxt' / 'P1.txt'),
        DOTA_V1_CLASSES)
    assert [o.name for o in objects] == ['plane', 'small-vehicle']
    assert [o.difficulty for o in objects] == [0, 1]
    assert np.allclose(objects[1].polygon, [60.5, 60, 90, 70, 85, 85, 55, 75])


def test_dataset_infos_and_difficult_flags(tmp_path):
    make_dota(tmp_path, {'P1': GOOD, 'P2': '', 'P3': GOOD})
    train = dataset(tmp_path, filter_cfg=dict(filter_empty_gt=True))
    assert [train.get_data_info(i)['img_id']
            for i in range(len(train))] == ['P1', 'P3']
    info = train.get_data_info(0)
    assert info['img_path'] == osp.join(str(tmp_path), 'images', 'P1.png')
    assert info['instances'][1]['bbox_label'] == 4  # small-vehicle
    # training keeps difficult objects as targets, evaluation ignores them
    assert [i['ignore_flag'] for i in info['instances']] == [0, 0]
    test = dataset(tmp_path, test_mode=True)
    assert len(test) == 3  # never filtered in test mode
    assert [i['ignore_flag'] for i in test.get_data_info(0)['instances']] \
        == [0, 1]
    strict = dataset(tmp_path, diff_thr=-1)
    assert [i['ignore_flag'] for i in strict.get_data_info(0)['instances']] \
        == [1, 1]
    assert train.get_cat_ids(0) == [0, 4]


@pytest.mark.parametrize('line, kind', [
    ('10 10 50 10 50 30 10 30 plane', 'wrong number of fields'),
    ('10 10 50 10 50 30 10 30 plane 0 extra', 'wrong number of fields'),
    ('10 10 5O 10 50 30 10 30 plane 0', 'non-numeric coordinate'),
    ('10 10 nan 10 50 30 10 30 plane 0', 'non-finite coordinate'),
    ('10 10 50 10 50 30 10 30 aeroplane 0', 'unknown class name'),
    ('10 10 50 10 50 30 10 30 plane x', 'non-integer difficulty'),
    ('10 10 20 10 30 10 40 10 plane 0', 'zero-area polygon'),
])
def test_bad_line_names_file_and_line(tmp_path, line, kind):
    make_dota(tmp_path, {'P1': GOOD + line + '\n'})
    with pytest.raises(ValueError) as error:
        dataset(tmp_path)
    message = str(error.value)
    assert f'P1.txt:6: {kind}' in message
    assert "bad_annotations='skip'" in message


def test_skip_counts_bad_lines_and_missing_images(tmp_path):
    make_dota(
        tmp_path, {
            'P1': GOOD + 'a b c\n' + '1 1 9 1 9 9 1 9 tank 0\n',
            'P2': GOOD
        },
        images=['P1'])
    with pytest.warns(UserWarning) as record:
        data = dataset(tmp_path, bad_annotations='skip')
    message = str(record[-1].message)
    assert 'skipped 3 bad annotation(s)' in message
    assert 'wrong number of fields' in message
    assert 'unknown class name' in message and 'image not found' in message
    assert [data.get_data_info(i)['img_id']
            for i in range(len(data))] == ['P1']
    assert len(data.get_data_info(0)['instances']) == 2


def test_missing_directories_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='image directory'):
        dataset(tmp_path)
    (tmp_path / 'images').mkdir()
    with pytest.raises(FileNotFoundError, match='labelTxt directory'):
        dataset(tmp_path)


def test_unlabelled_test_set_lists_images(tmp_path):
    make_dota(tmp_path, {}, images=['B', 'A'])
    data = DOTADataset(
        data_root=str(tmp_path),
        ann_file='',
        data_prefix=dict(img_path='images/'),
        test_mode=True,
        pipeline=[])
    assert [data.get_data_info(i)['img_id']
            for i in range(len(data))] == ['A', 'B']
    assert data.get_data_info(0)['instances'] == []


def test_write_and_read_back(tmp_path):
    objects = load_dota_txt(
        str(make_dota(tmp_path, {'P1': GOOD}) / 'labelTxt' / 'P1.txt'))
    write_dota_txt(str(tmp_path / 'out' / 'P1.txt'), objects)
    again = load_dota_txt(str(tmp_path / 'out' / 'P1.txt'))
    assert [(o.name, o.difficulty) for o in again] == \
        [(o.name, o.difficulty) for o in objects]
    assert np.allclose(
        np.stack([o.polygon for o in again]),
        np.stack([o.polygon for o in objects]),
        atol=0.05)
    paths = write_task1(
        str(tmp_path / 'task1'), ['plane', 'ship'],
        {'P1': {
            'plane': np.array([[0.9, 1, 2, 3, 4, 5, 6, 7, 8]])
        }})
    assert [osp.basename(p)
            for p in paths] == ['Task1_plane.txt', 'Task1_ship.txt']
    assert open(paths[0]).read() == \
        'P1 0.9000 1.00 2.00 3.00 4.00 5.00 6.00 7.00 8.00\n'
    assert open(paths[1]).read() == ''


def pipeline(extra=()):
    return Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, box_type='qbox'),
        dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
        *extra,
    ])


def test_pipeline_converts_corners_to_rotated_boxes(tmp_path):
    make_dota(tmp_path, {'P1': GOOD})
    info = dataset(tmp_path).get_data_info(0)
    results = pipeline()(dict(info))
    boxes = results['gt_bboxes']
    assert isinstance(boxes, RotatedBoxes)
    # the first object is an axis-aligned 40 x 20 rectangle
    assert torch.allclose(
        boxes.tensor[0], torch.tensor([30., 20., 40., 20., 0.]), atol=1e-4)
    with pytest.raises(TypeError, match='box_type'):
        Compose([
            dict(
                type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox'))
        ])(
            dict(gt_bboxes=np.zeros((1, 4))))


def draw_rotated_rectangle(box, size=200):
    image = np.zeros((size, size, 3), np.uint8)
    corners = rbox2qbox(torch.tensor(box)).reshape(4, 2).numpy()
    cv2.fillPoly(
        image, [np.round(corners * 16).astype(np.int32)], (255, 255, 255),
        shift=4)
    return image


@pytest.mark.parametrize('transform', [
    dict(type='RandomFlip', prob=1.0, direction='diagonal'),
    dict(type='RandomFlip', prob=1.0, direction='vertical'),
    dict(type='RandomRotate', prob=1.0, angle_range=180),
])
def test_geometric_transforms_keep_boxes_on_their_objects(transform):
    """Transform an image of one rotated rectangle with its box: the box
    still covers the drawn pixels."""
    box = [90., 110., 80., 30., 0.4]
    results = dict(
        img=draw_rotated_rectangle(box),
        img_shape=(200, 200),
        gt_bboxes=RotatedBoxes(torch.tensor([box])),
        gt_bboxes_labels=np.array([0]),
        gt_ignore_flags=np.array([False]))
    np.random.seed(3)
    out = Compose([transform])(results)
    mask = out['img'][..., 0] > 127
    corners = rbox2qbox(out['gt_bboxes'].tensor[0]).reshape(4, 2).numpy()
    drawn = np.zeros((200, 200), np.uint8)
    cv2.fillPoly(drawn, [np.round(corners * 16).astype(np.int32)], 1, shift=4)
    overlap = (mask & (drawn > 0)).sum() / max(mask.sum(), 1)
    assert overlap > 0.95 and abs(mask.sum() - drawn.sum()) < 0.05 * \
        drawn.sum()


def test_random_rotate_drops_objects_turned_out_and_quarter_turns():
    boxes = RotatedBoxes(
        torch.tensor([[5., 100., 8., 4., 0.], [100., 100., 8., 4., 0.]]))
    results = dict(
        img=np.zeros((200, 200, 3), np.uint8),
        gt_bboxes=boxes,
        gt_bboxes_labels=np.array([1, 2]),
        gt_ignore_flags=np.array([False, True]))
    rotate = Compose(
        [dict(type='RandomRotate', prob=1.0, rect_obj_labels=[2])])
    np.random.seed(0)
    out = rotate(dict(results, gt_bboxes=boxes.clone()))
    # a quarter-turn multiple: the centre box keeps its place exactly
    turned = out['gt_bboxes'].tensor
    centre = turned[out['gt_bboxes_labels'] == 2][0]
    assert torch.allclose(centre[:2], torch.tensor([100., 100.]), atol=1e-4)
    assert float(torch.rad2deg(centre[4])) % 90 == pytest.approx(0, abs=1e-3)
    assert len(out['gt_ignore_flags']) == len(turned)
    # the border box leaves the image under a half turn about the centre
    half = Compose([dict(type='RandomRotate', prob=1.0, angle_range=0)])
    moved = RotatedBoxes(torch.tensor([[5., 100., 8., 4., 0.]]))
    moved.rotate_((100, 100), 180)
    assert moved.tensor[0, 0] == pytest.approx(195)
    assert len(half(dict(results, gt_bboxes=boxes.clone()))['gt_bboxes']) \
        == 2
    with pytest.raises(ValueError, match='angle_range'):
        Compose([dict(type='RandomRotate', angle_range=270)])


def test_qbox_loading_keeps_quadrilaterals(tmp_path):
    make_dota(tmp_path, {'P1': GOOD})
    info = dataset(tmp_path).get_data_info(0)
    results = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, box_type='qbox')
    ])(
        dict(info))
    assert isinstance(results['gt_bboxes'], QuadriBoxes)
    assert results['gt_bboxes'].tensor.shape == (2, 8)

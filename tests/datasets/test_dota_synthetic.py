"""The synthetic rotated dataset: deterministic, DOTA format, boxes that fit
the drawn shapes."""
import filecmp
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmrotate.structures.bbox import qbox2rbox

from mmdet_losses.datasets import SyntheticDOTADataset
from mmdet_losses.datasets.synthetic_rotated import (CLASSES,
                                                     generate_synthetic_dota)


def files(root):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
        for f in fs)


def test_same_arguments_same_bytes(tmp_path):
    a = generate_synthetic_dota(str(tmp_path / 'a'), 4, 2, verbose=False)
    b = generate_synthetic_dota(str(tmp_path / 'b'), 4, 2, verbose=False)
    assert files(a) == files(b)
    assert len(files(a)) == 2 * 6 + 1  # images, labels, meta.json
    for name in files(a):
        assert filecmp.cmp(
            osp.join(a, name), osp.join(b, name), shallow=False), name


def test_more_images_keep_the_earlier_ones_and_seeds_differ(tmp_path):
    a = generate_synthetic_dota(str(tmp_path / 'a'), 2, 1, verbose=False)
    b = generate_synthetic_dota(str(tmp_path / 'b'), 4, 1, verbose=False)
    c = generate_synthetic_dota(
        str(tmp_path / 'c'), 2, 1, seed=1, verbose=False)
    for name in ('images/000000.png', 'labelTxt/000001.txt'):
        assert filecmp.cmp(
            osp.join(a, 'train', name),
            osp.join(b, 'train', name),
            shallow=False)
    assert not filecmp.cmp(
        osp.join(a, 'train', 'images', '000000.png'),
        osp.join(c, 'train', 'images', '000000.png'),
        shallow=False)


def test_labels_fit_the_drawn_shapes(tmp_path):
    """Read back by mmrotate's DOTADataset (through SyntheticDOTADataset)."""
    data = SyntheticDOTADataset(
        data_root=str(tmp_path / 'd'),
        generate=dict(num_train=40, num_val=1, verbose=False),
        ann_file='train/labelTxt/',
        data_prefix=dict(img_path='train/images/'),
        pipeline=[])
    assert len(data) == 40
    boxes, names, difficult = [], [], []
    for i in range(40):
        info = data.get_data_info(i)
        assert cv2.imread(info['img_path']).shape == (256, 256, 3)
        objects = info['instances']
        assert 1 <= len(objects) <= 8
        for obj in objects:
            corners = np.array(obj['bbox']).reshape(4, 2)
            # wholly inside the image
            assert (corners >= 0).all() and (corners <= 256).all()
            names.append(CLASSES[obj['bbox_label']])
        with open(info['img_path'].replace('images',
                                           'labelTxt').replace('.png',
                                                               '.txt')) as f:
            difficult += [int(line.split()[9]) for line in f]
        boxes.append(qbox2rbox(torch.tensor([obj['bbox'] for obj in objects])))
    boxes = torch.cat(boxes)
    assert set(names) == set(CLASSES)
    assert set(difficult) == {0, 1}  # some objects are hidden enough
    # mmrotate's qbox2rbox keeps no side order: w may be the short side
    long_side = boxes[:, 2:4].amax(1)
    short_side = boxes[:, 2:4].amin(1)
    assert long_side.min() >= 24 - 0.2 and long_side.max() <= 0.4 * 256 + 0.2
    assert short_side.min() >= 8 - 0.2
    ratio = long_side / short_side
    assert ratio.max() > 3 and ratio.min() < 1.3
    # the long side at any angle
    long_angle = boxes[:, 4] + (boxes[:, 2] < boxes[:, 3]) * torch.pi / 2
    long_angle = torch.remainder(long_angle + torch.pi / 2,
                                 torch.pi) - torch.pi / 2
    degrees = torch.rad2deg(long_angle)
    histogram = torch.histc(degrees, bins=6, min=-90, max=90)
    assert (histogram > 0).all()


def test_a_shape_fills_its_box():
    """Draw one object and compare its pixels with its label polygon."""
    from mmdet_losses.datasets.synthetic_rotated import draw_image
    rng = np.random.default_rng([7, 0, 0])
    image, objects = draw_image(rng, 256, 1, 8)
    (corners, _, _), = objects
    mask = np.zeros((256, 256), np.uint8)
    cv2.fillPoly(
        mask, [np.round(corners.reshape(4, 2) * 16).astype(np.int32)],
        1,
        shift=4)
    inside = image[mask > 0].astype(float)
    outside = image[cv2.dilate(mask, np.ones((5, 5))) == 0].astype(float)
    # the shape's colour sits inside the box, well apart from the outside
    assert np.abs(np.median(inside, 0) - np.median(outside, 0)).max() > 40


def test_dataset_generates_on_first_use(tmp_path):
    data = SyntheticDOTADataset(
        data_root=str(tmp_path / 'rot'),
        generate=dict(num_train=3, num_val=1, verbose=False),
        ann_file='train/labelTxt/',
        data_prefix=dict(img_path='train/images/'),
        pipeline=[])
    assert len(data) == 3
    assert data.metainfo['classes'] == CLASSES
    assert len(data.get_data_info(0)['instances'][0]['bbox']) == 8
    with pytest.raises(ValueError, match='delete that directory'):
        generate_synthetic_dota(str(tmp_path / 'rot'), 5, 1, verbose=False)
    with pytest.raises(ValueError, match='data_root'):
        SyntheticDOTADataset(ann_file='train/labelTxt/', pipeline=[])
    with pytest.raises(ValueError, match='min_size'):
        generate_synthetic_dota(str(tmp_path / 'x'), 1, 1, min_size=40)


def test_foreign_directory_is_not_overwritten(tmp_path):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    with pytest.raises(ValueError, match='not a synthetic rotated dataset'):
        generate_synthetic_dota(str(tmp_path / 'mine'), 1, 1, verbose=False)
    assert (tmp_path / 'mine' / 'notes.txt').read_text() == 'keep me'

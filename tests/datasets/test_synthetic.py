import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest

from mmdet_losses.datasets.synthetic import CLASSES, generate_synthetic_coco


def _files(root):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
        for f in fs)


def test_same_seed_same_bytes(tmp_path):
    a = generate_synthetic_coco(
        str(tmp_path / 'a'), num_train=6, num_val=3, verbose=False)
    b = generate_synthetic_coco(
        str(tmp_path / 'b'), num_train=6, num_val=3, verbose=False)
    assert _files(a) == _files(b)
    assert len(_files(a)) == 6 + 3 + 3  # images, 2 json files, meta.json
    for name in _files(a):
        assert filecmp.cmp(
            osp.join(a, name), osp.join(b, name), shallow=False), name


def test_other_seed_other_images(tmp_path):
    a = generate_synthetic_coco(
        str(tmp_path / 'a'), num_train=2, num_val=1, verbose=False)
    b = generate_synthetic_coco(
        str(tmp_path / 'b'), num_train=2, num_val=1, seed=1, verbose=False)
    assert not filecmp.cmp(
        osp.join(a, 'train', '000000.png'),
        osp.join(b, 'train', '000000.png'),
        shallow=False)


def test_more_images_keep_the_earlier_ones(tmp_path):
    a = generate_synthetic_coco(
        str(tmp_path / 'a'), num_train=2, num_val=1, verbose=False)
    b = generate_synthetic_coco(
        str(tmp_path / 'b'), num_train=5, num_val=1, verbose=False)
    for name in ('000000.png', '000001.png'):
        assert filecmp.cmp(
            osp.join(a, 'train', name),
            osp.join(b, 'train', name),
            shallow=False)


def test_annotations_are_valid_coco(tmp_path):
    root = generate_synthetic_coco(
        str(tmp_path / 'd'), num_train=30, num_val=2, verbose=False)
    with open(osp.join(root, 'annotations', 'train.json')) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == list(CLASSES)
    assert len(coco['images']) == 30
    image_ids = {im['id'] for im in coco['images']}
    boxes = np.array([a['bbox'] for a in coco['annotations']])
    assert {a['image_id'] for a in coco['annotations']} <= image_ids
    assert (boxes[:, 2:] >= 2).all(), 'degenerate box'
    assert (boxes[:, :2] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= 256).all()
    assert (boxes[:, 1] + boxes[:, 3] <= 256).all()
    # a wide range of sizes and aspect ratios, all classes present
    sides = np.sqrt(boxes[:, 2] * boxes[:, 3])
    assert sides.min() < 32 and sides.max() > 64
    ratios = boxes[:, 2] / boxes[:, 3]
    assert ratios.min() < 0.6 and ratios.max() > 1.6
    assert {a['category_id'] for a in coco['annotations']} == {1, 2, 3, 4}


def test_existing_data_with_other_arguments_is_an_error(tmp_path):
    root = str(tmp_path / 'd')
    generate_synthetic_coco(root, num_train=2, num_val=1, verbose=False)
    with pytest.raises(ValueError, match='delete that directory'):
        generate_synthetic_coco(root, num_train=3, num_val=1, verbose=False)


def test_foreign_directory_is_not_overwritten(tmp_path):
    root = tmp_path / 'mine'
    root.mkdir()
    (root / 'notes.txt').write_text('keep me')
    with pytest.raises(ValueError, match='not a synthetic dataset'):
        generate_synthetic_coco(str(root), num_train=1, num_val=1)
    assert (root / 'notes.txt').read_text() == 'keep me'

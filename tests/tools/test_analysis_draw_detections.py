"""tools/analysis/draw_detections.py: ground truth beside predictions, on
the tiny synthetic dataset, with horizontal and rotated predictions."""
import json
import math
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from helpers import assert_image, config_path, load_tool

QUICKSTART = config_path('quickstart', 'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')


@pytest.fixture
def config(tmp_path, tiny_synthetic_root):
    path = tmp_path / 'tiny.py'
    path.write_text(f"""
_base_ = '{QUICKSTART}'
data_root = '{tiny_synthetic_root}/'
generate = dict(num_train=4, num_val=2)
test_dataloader = dict(dataset=dict(data_root=data_root, generate=generate))
""")
    return str(path)


def coco_gt(root):
    """Ground truth per image file, read from the COCO json directly."""
    with open(osp.join(root, 'annotations', 'val.json')) as f:
        coco = json.load(f)
    category = {c['id']: i for i, c in enumerate(coco['categories'])}
    files = {im['id']: im['file_name'] for im in coco['images']}
    gt = {}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        boxes, labels = gt.setdefault(files[ann['image_id']], ([], []))
        boxes.append([x, y, x + w, y + h])
        labels.append(category[ann['category_id']])
    return gt


def write_predictions(tmp_path, root, rotated=False):
    """Per val image: its ground truth shifted by 2 px with score 0.9, and
    a false positive with score 0.1 (below the default threshold)."""
    predictions = []
    for i, (name, (boxes, labels)) in enumerate(sorted(coco_gt(root).items())):
        boxes = torch.tensor(boxes, dtype=torch.float32) + 2
        boxes = torch.cat([boxes, torch.tensor([[5.0, 5.0, 40.0, 30.0]])])
        if rotated:
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2
            size = boxes[:, 2:] - boxes[:, :2]
            angle = torch.full((len(boxes), 1), 0.3)
            boxes = torch.cat([centre, size, angle], 1)
        predictions.append(
            dict(
                img_id=i,
                img_path=osp.join(root, 'val', name),
                pred_instances=dict(
                    bboxes=boxes,
                    labels=torch.tensor(labels + [0]),
                    scores=torch.tensor([0.9] * len(labels) + [0.1]))))
    path = tmp_path / ('rotated.pkl' if rotated else 'results.pkl')
    with open(path, 'wb') as f:
        pickle.dump(predictions, f)
    return str(path)


def test_draws_ground_truth_beside_predictions(tmp_path, config,
                                               tiny_synthetic_root,
                                               monkeypatch):
    from mmdet_losses.visualization import detections
    drawn = []
    real_draw = detections.draw_boxes

    def spy(ax, boxes, labels, class_names, palette, scores=None, **kw):
        drawn.append((np.array(boxes), list(labels), scores))
        return real_draw(ax, boxes, labels, class_names, palette, scores, **kw)

    monkeypatch.setattr(detections, 'draw_boxes', spy)
    predictions = write_predictions(tmp_path, tiny_synthetic_root)
    tool = load_tool('analysis', 'draw_detections.py')
    out = tool.main(
        [config, predictions, '--out-file',
         str(tmp_path / 'grid.png')])
    assert_image(out)
    gt = coco_gt(tiny_synthetic_root)
    assert len(drawn) == 4  # 2 images x (ground truth, prediction)
    for (name, (boxes, labels)), (gt_drawn, pred_drawn) in zip(
            sorted(gt.items()), [drawn[0:2], drawn[2:4]]):
        np.testing.assert_allclose(gt_drawn[0], boxes)
        assert gt_drawn[1] == labels and gt_drawn[2] is None
        # the false positive (score 0.1) is not drawn
        np.testing.assert_allclose(pred_drawn[0], np.array(boxes) + 2)
        assert list(pred_drawn[2]) == pytest.approx([0.9] * len(labels))

    # at most one prediction per image: the best one
    drawn.clear()
    tool.main([
        config, predictions, '--out-file',
        str(tmp_path / 'best.png'), '--score-thr', '0', '--max-per-image', '1'
    ])
    for (name, (boxes,
                labels)), pred_drawn in zip(sorted(gt.items()), drawn[1::2]):
        np.testing.assert_allclose(pred_drawn[0], np.array(boxes[:1]) + 2)
        assert list(pred_drawn[2]) == pytest.approx([0.9])


def test_rotated_predictions_are_drawn_as_polygons(tmp_path, config,
                                                   tiny_synthetic_root):
    from mmdet_losses.utils.runner_setup import load_config
    from mmdet_losses.visualization.detections import (as_drawable,
                                                       draw_prediction_file)
    predictions = write_predictions(
        tmp_path, tiny_synthetic_root, rotated=True)
    out = draw_prediction_file(
        load_config(config), predictions, str(tmp_path / 'rotated.png'))
    assert_image(out)
    # corners of a turned box, computed here by hand: w side along
    # (cos t, sin t), h side along (-sin t, cos t)
    cx, cy, w, h, t = 50.0, 40.0, 20.0, 10.0, math.pi / 6
    u = np.array([math.cos(t), math.sin(t)]) * w / 2
    v = np.array([-math.sin(t), math.cos(t)]) * h / 2
    c = np.array([cx, cy])
    corners = as_drawable(np.array([[cx, cy, w, h, t]]))
    assert corners.shape == (1, 4, 2)
    expected = {
        tuple(np.round(p, 6))
        for p in (c - u - v, c + u - v, c + u + v, c - u + v)
    }
    assert {tuple(np.round(p, 6)) for p in corners[0]} == expected
    # 8-number polygons (DOTA ground truth) and empty sets
    assert as_drawable(np.arange(8.0)[None]).shape == (1, 4, 2)
    assert as_drawable(np.zeros((0, 5))).shape == (0, 4)
    with pytest.raises(ValueError, match=r'got \(3, 6\)'):
        as_drawable(np.zeros((3, 6)))


def test_bad_input_is_named(tmp_path, config, tiny_synthetic_root):
    tool = load_tool('analysis', 'draw_detections.py')
    with pytest.raises(FileNotFoundError, match='no predictions file'):
        tool.main([config, str(tmp_path / 'missing.pkl')])
    empty = tmp_path / 'empty.pkl'
    empty.write_bytes(pickle.dumps({}))
    with pytest.raises(ValueError, match='expected the non-empty list'):
        tool.main([config, str(empty)])
    stranger = tmp_path / 'stranger.pkl'
    stranger.write_bytes(
        pickle.dumps([
            dict(
                img_id=99,
                img_path='/nowhere/x.png',
                pred_instances=dict(
                    bboxes=torch.zeros(0, 4),
                    labels=torch.zeros(0),
                    scores=torch.zeros(0)))
        ]))
    with pytest.raises(KeyError, match='/nowhere/x.png matches no image'):
        tool.main([config, str(stranger)])


ROTATED = config_path('quickstart',
                      'rotated-retinanet-rbox-le90_r18_fpn_synthetic.py')


def read_label_txt(path):
    """Polygons (N, 8), class names and difficulties of a labelTxt file."""
    polygons, names, difficult = [], [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 9:
                polygons.append([float(v) for v in parts[:8]])
                names.append(parts[8])
                difficult.append(int(parts[9]) if len(parts) > 9 else 0)
    return np.array(polygons).reshape(-1, 8), names, np.array(difficult)


def test_rotated_dataset_and_rotated_box_type(tmp_path, monkeypatch):
    """DOTA-format ground truth (8-point polygons) beside predictions given
    as mmdet's RotatedBoxes, the type rotated heads return."""
    from mmrotate.structures.bbox import RotatedBoxes, qbox2rbox

    from mmdet_losses.visualization import detections
    root = tmp_path / 'rotated'
    config = tmp_path / 'rotated.py'
    config.write_text(f"""
_base_ = '{ROTATED}'
data_root = '{root}/'
generate = dict(num_train=1, num_val=2)
test_dataloader = dict(dataset=dict(data_root=data_root, generate=generate))
""")
    drawn = []
    real_draw = detections.draw_boxes

    def spy(ax, boxes, labels, class_names, palette, scores=None, **kw):
        drawn.append((detections.as_drawable(boxes), scores
                      is None, kw.get('linestyle', '-')))
        return real_draw(ax, boxes, labels, class_names, palette, scores, **kw)

    monkeypatch.setattr(detections, 'draw_boxes', spy)
    from mmdet_losses.utils.runner_setup import load_config
    cfg = load_config(str(config))
    dataset = detections.build_test_dataset(cfg)  # writes the images
    classes = dataset.metainfo['classes']
    predictions, polygons = [], []
    for name in ('000000', '000001'):
        polygon, names, difficult = read_label_txt(root / 'val' / 'labelTxt' /
                                                   f'{name}.txt')
        polygons.append((polygon, difficult))
        rboxes = qbox2rbox(torch.tensor(polygon, dtype=torch.float32))
        predictions.append(
            dict(
                img_id=name,
                img_path=str(root / 'val' / 'images' / f'{name}.png'),
                pred_instances=dict(
                    bboxes=RotatedBoxes(rboxes),
                    labels=torch.tensor([classes.index(n) for n in names]),
                    scores=torch.full((len(names), ), 0.8))))
    results = tmp_path / 'rotated.pkl'
    results.write_bytes(pickle.dumps(predictions))
    out = load_tool('analysis', 'draw_detections.py').main([
        str(config),
        str(results), '--out-file',
        str(tmp_path / 'rotated.png'), '--score-thr', '0.5'
    ])
    assert_image(out)
    # per image: the ground truth (difficult objects dashed), then the
    # predictions
    images, gt = [], []
    for boxes, is_gt, linestyle in drawn:
        if is_gt:
            gt.append((boxes, linestyle))
        else:
            images.append((gt, boxes))
            gt = []
    assert len(images) == 2
    for (polygon, difficult), (gt, pred) in zip(polygons, images):
        corners = polygon.reshape(-1, 4, 2)
        # objects as the file gives them; difficult ones (ignored by the
        # metric in test mode) dashed
        drawn_styles = {style: boxes for boxes, style in gt}
        np.testing.assert_allclose(drawn_styles['-'], corners[difficult == 0])
        if (difficult > 0).any():
            np.testing.assert_allclose(drawn_styles['--'],
                                       corners[difficult > 0])
        else:
            assert '--' not in drawn_styles
        # the rotated box of a rectangle has the rectangle's corners (the
        # file rounds them to 0.1 px: a rectangle to within 0.15 px)
        for p, c in zip(pred, corners):
            order = [int(np.argmin(np.linalg.norm(c - q, axis=1))) for q in p]
            assert sorted(order) == [0, 1, 2, 3]
            np.testing.assert_allclose(p, c[order], atol=0.15)

"""RotatedDetLocalVisualizer draws rotated boxes where they are."""
import math

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

import mmdet_losses
from mmdet_losses.registry import VISUALIZERS
from mmdet_losses.structures import RotatedBoxes, rbox2qbox

mmdet_losses.register_all_modules(init_default_scope=False)


def draw(boxes, **instance_fields):
    visualizer = VISUALIZERS.build(
        dict(
            type='RotatedDetLocalVisualizer',
            name='test_rotated_vis',
            line_width=1,
            bbox_color=(255, 0, 0)))
    visualizer.dataset_meta = dict(classes=('thing', ), palette=[(255, 0, 0)])
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=boxes,
        labels=torch.zeros(len(boxes), dtype=torch.long),
        scores=torch.ones(len(boxes)),
        **instance_fields)
    image = np.zeros((200, 200, 3), np.uint8)
    visualizer.add_datasample(
        'x', image, sample, draw_gt=False, pred_score_thr=0.5)
    return visualizer.get_image()


def red(image, x, y, radius=1):
    patch = image[y - radius:y + radius + 1, x - radius:x + radius + 1]
    return bool(((patch[..., 0] > 100) & (patch[..., 1] < 80)).any())


def test_draws_the_rotated_edges_not_the_hull():
    box = torch.tensor([[100., 100., 120., 30., math.pi / 4]])
    corners = rbox2qbox(box)[0].reshape(4, 2).numpy()
    for image in (draw(RotatedBoxes(box)), draw(box),
                  draw(RotatedBoxes(box).convert_to('qbox'))):
        # midpoints of the four edges are drawn
        for a, b in ((0, 1), (1, 2), (2, 3), (3, 0)):
            x, y = np.round((corners[a] + corners[b]) / 2).astype(int)
            assert red(image, x, y), (a, b)
        # the horizontal hull's corners are not
        x1, y1 = np.floor(corners.min(0)).astype(int) + 2
        x2, y2 = np.ceil(corners.max(0)).astype(int) - 2
        for x, y in ((x1, y1), (x2, y2), (x1, y2), (x2, y1)):
            assert not red(image, x, y)


def test_horizontal_boxes_go_to_mmdet():
    image = draw(torch.tensor([[20., 30., 120., 90.]]))
    assert red(image, 70, 30) and red(image, 20, 60)
    assert not red(image, 70, 60)

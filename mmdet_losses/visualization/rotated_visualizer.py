"""Drawing rotated boxes: what ``tools/test.py --show-dir`` uses when the
config names ``visualizer=dict(type='RotatedDetLocalVisualizer', ...)``."""
from typing import List, Optional

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes
from mmdet.visualization import DetLocalVisualizer
from mmdet.visualization.palette import get_palette
from mmengine.structures import InstanceData

from mmdet_losses.registry import VISUALIZERS
from mmdet_losses.structures import qbox_areas, rbox2qbox


def box_corners(boxes) -> Optional[np.ndarray]:
    """``(n, 4, 2)`` corners of rotated boxes (``RotatedBoxes``,
    ``QuadriBoxes`` or ``(n, 5)`` / ``(n, 8)`` tensors); None for
    horizontal boxes, which mmdet's visualizer draws."""
    if isinstance(boxes, BaseBoxes):
        if boxes.box_dim not in (5, 8):
            return None
        boxes = boxes.convert_to('qbox').tensor
    boxes = torch.as_tensor(boxes).detach().cpu().float()
    if boxes.size(-1) == 5:
        boxes = rbox2qbox(boxes)
    elif boxes.size(-1) != 8:
        return None
    return boxes.reshape(-1, 4, 2).numpy()


@VISUALIZERS.register_module()
class RotatedDetLocalVisualizer(DetLocalVisualizer):
    """mmdet's ``DetLocalVisualizer`` that draws rotated boxes as polygons
    (same arguments). Labels and scores go at each box's first corner
    (its top-left one before the rotation)."""

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[List[str]],
                        palette: Optional[List[tuple]]) -> np.ndarray:
        corners = box_corners(instances.bboxes) \
            if 'bboxes' in instances else None
        if corners is None:
            return super()._draw_instances(image, instances, classes, palette)
        self.set_image(image)
        if len(corners) == 0:
            return self.get_image()
        labels = instances.labels
        max_label = int(max(labels)) if len(labels) else 0
        box_palette = get_palette(
            palette if self.bbox_color is None else self.bbox_color,
            max_label + 1)
        text_palette = get_palette(self.text_color, max_label + 1)
        self.draw_polygons(
            list(corners),
            edge_colors=[box_palette[label] for label in labels],
            alpha=self.alpha,
            line_widths=self.line_width)
        areas = qbox_areas(torch.from_numpy(corners.reshape(-1, 8)))
        # text height grows with the box, between 0.5x and 1x of 13 px
        scales = np.clip(0.5 + (areas.numpy() - 32**2) / (96**2 - 32**2), 0.5,
                         1.0)
        for i, label in enumerate(labels):
            text = classes[label] if classes is not None \
                else f'class {label}'
            if 'scores' in instances:
                text += f': {float(instances.scores[i]) * 100:.1f}'
            self.draw_texts(
                text,
                corners[i, 0] + self.line_width,
                colors=text_palette[label],
                font_sizes=int(13 * scales[i]),
                bboxes=[{
                    'facecolor': 'black',
                    'alpha': 0.8,
                    'pad': 0.7,
                    'edgecolor': 'none'
                }])
        return self.get_image()

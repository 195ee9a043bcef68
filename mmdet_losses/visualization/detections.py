"""Detection pictures: ground truth beside predictions, for horizontal and
rotated boxes.

Boxes are drawn in any of the package's named formats, told apart by their
last dimension: ``hbox`` ``(N, 4)`` xyxy, ``rbox`` ``(N, 5)``
``(cx, cy, w, h, t)`` (converted by mmrotate's ``rbox2qbox``)
and ``qbox`` ``(N, 8)`` corners.
"""
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from matplotlib.patches import Polygon, Rectangle

from .figures import new_figure, save_figure

Colour = Tuple[int, int, int]


def as_drawable(boxes) -> np.ndarray:
    """``(N, 4)`` xyxy boxes as they are, ``(N, 5)`` rboxes and ``(N, 8)``
    qboxes as ``(N, 4, 2)`` corners; tensors, arrays and mmdet box types
    (``HorizontalBoxes``, ``RotatedBoxes``...) alike."""
    if hasattr(boxes, 'tensor'):  # mmdet's BaseBoxes
        boxes = boxes.tensor
    array = np.asarray(
        boxes.detach().cpu() if isinstance(boxes, torch.Tensor) else boxes,
        dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim == 3 and array.shape[1:] == (4, 2):
        return array
    if array.ndim != 2 or array.shape[1] not in (4, 5, 8):
        raise ValueError('boxes must be (N, 4) hbox, (N, 5) rbox, (N, 8) '
                         f'qbox or (N, 4, 2) corners, got {array.shape}')
    if array.shape[1] == 4:
        return array
    if array.shape[1] == 5:
        from mmrotate.structures.bbox import rbox2qbox
        array = rbox2qbox(torch.from_numpy(array)).numpy()
    return array.reshape(-1, 4, 2)


def default_palette(num_classes: int) -> List[Colour]:
    """Distinct RGB colours from matplotlib's tab20."""
    from matplotlib import colormaps
    cmap = colormaps['tab20']
    return [
        tuple(int(255 * c) for c in cmap(i % 20)[:3])
        for i in range(max(num_classes, 1))
    ]


def draw_boxes(ax,
               boxes,
               labels: Sequence[int],
               class_names: Sequence[str],
               palette: Sequence[Colour],
               scores: Optional[Sequence[float]] = None,
               linestyle: str = '-') -> None:
    """Draw boxes (any format :func:`as_drawable` takes) on an axis, with
    their class name and score."""
    boxes = as_drawable(boxes)
    for i, box in enumerate(boxes):
        label = int(labels[i])
        color = np.array(palette[label % len(palette)]) / 255.0
        if box.shape == (4, ):
            patch = Rectangle((box[0], box[1]),
                              box[2] - box[0],
                              box[3] - box[1],
                              fill=False,
                              edgecolor=color,
                              linewidth=1.4,
                              linestyle=linestyle)
            anchor = box[:2]
        else:
            patch = Polygon(
                box,
                closed=True,
                fill=False,
                edgecolor=color,
                linewidth=1.4,
                linestyle=linestyle)
            anchor = box.min(0)
        ax.add_patch(patch)
        text = class_names[label] if label < len(class_names) else str(label)
        if scores is not None:
            text += f' {scores[i]:.2f}'
        ax.text(
            anchor[0],
            anchor[1] - 1,
            text,
            fontsize=6,
            color='white',
            bbox=dict(facecolor=color, alpha=0.7, pad=0.5, linewidth=0))


def _best(scores: np.ndarray, score_thr: float,
          max_per_image: Optional[int]) -> np.ndarray:
    """Mask of the scores at or above ``score_thr``, at most
    ``max_per_image`` of them, best first."""
    keep = scores >= score_thr
    if max_per_image is not None:
        order = np.argsort(-np.where(keep, scores, -np.inf), kind='stable')
        keep[order[max_per_image:]] = False
    return keep


def plot_detection_grid(samples: List[dict],
                        out_file: str,
                        class_names: Sequence[str],
                        palette: Optional[Sequence[Colour]] = None,
                        score_thr: float = 0.3,
                        ncols: int = 4,
                        max_per_image: Optional[int] = None) -> str:
    """Ground truth beside predictions for a few images.

    Each sample is a dict with ``image`` (H, W, 3 RGB uint8), ``pred_boxes``,
    ``pred_labels``, ``pred_scores`` and optionally ``gt_boxes``,
    ``gt_labels``, ``gt_ignored`` (a mask: those boxes are drawn dashed,
    e.g. DOTA's difficult objects, which the metric ignores) and ``title``;
    boxes in any format :func:`as_drawable` takes. Predictions below
    ``score_thr`` are left out, and all but the ``max_per_image`` best (when
    given).
    """
    if not samples:
        raise ValueError('no samples to draw')
    palette = palette or default_palette(len(class_names))
    with_gt = any('gt_boxes' in s for s in samples)
    panels = 2 if with_gt else 1
    ncols = max(1, min(ncols, len(samples)))
    nrows = (len(samples) + ncols - 1) // ncols
    fig, axes = new_figure(nrows, ncols * panels, panel_size=(2.6, 2.8))
    for ax in axes.flat:
        ax.axis('off')
    for index, sample in enumerate(samples):
        row, col = divmod(index, ncols)
        title = sample.get('title', '')
        if with_gt:
            ax = axes[row, col * panels]
            ax.imshow(sample['image'])
            boxes = as_drawable(sample.get('gt_boxes', []))
            labels = np.asarray(sample.get('gt_labels', []), dtype=np.int64)
            ignored = np.asarray(
                sample.get('gt_ignored', np.zeros(len(boxes), bool)),
                dtype=bool)
            draw_boxes(ax, boxes[~ignored], labels[~ignored], class_names,
                       palette)
            if ignored.any():
                draw_boxes(
                    ax,
                    boxes[ignored],
                    labels[ignored],
                    class_names,
                    palette,
                    linestyle='--')
            ax.set_title(f'{title} ground truth', fontsize=7)
        ax = axes[row, col * panels + panels - 1]
        ax.imshow(sample['image'])
        scores = np.asarray(sample['pred_scores'], dtype=np.float64)
        keep = _best(scores, score_thr, max_per_image)
        draw_boxes(ax,
                   as_drawable(sample['pred_boxes'])[keep],
                   np.asarray(sample['pred_labels'])[keep], class_names,
                   palette, scores[keep])
        ax.set_title(f'{title} prediction', fontsize=7)
    return save_figure(fig, out_file)


def build_test_dataset(cfg):
    """The (fully initialised) test dataset of an mmengine config."""
    from mmengine.registry import DefaultScope

    import mmdet_losses
    from mmdet_losses.registry import DATASETS
    mmdet_losses.register_all_modules(init_default_scope=False)
    scope = cfg.get('default_scope', 'mmdet')
    with DefaultScope.overwrite_default_scope(scope):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    dataset.full_init()
    return dataset


def _gt_of(data_info: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, labels and ignore mask of the instances of a dataset's
    ``data_info``."""
    instances = data_info.get('instances', [])
    lengths = {len(i['bbox']) for i in instances}
    if len(lengths) > 1:
        raise ValueError(f'{data_info.get("img_path")}: instances mix box '
                         f'lengths {sorted(lengths)}')
    width = lengths.pop() if lengths else 4
    boxes = np.array([i['bbox'] for i in instances],
                     dtype=np.float64).reshape(-1, width)
    labels = np.array([i['bbox_label'] for i in instances], dtype=np.int64)
    ignored = np.array([bool(i.get('ignore_flag', 0)) for i in instances],
                       dtype=bool)
    return boxes, labels, ignored


def detection_samples(dataset, predictions: Sequence[dict],
                      num_images: int) -> List[dict]:
    """Samples for :func:`plot_detection_grid`: the first ``num_images``
    predictions (as ``tools/test.py --out`` dumps them), each with its
    image and the ground truth of the same image in ``dataset``."""
    import cv2
    index: Dict[str, int] = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        index[osp.normpath(info['img_path'])] = i
        index.setdefault(f'id:{info.get("img_id")}', i)
    samples = []
    for pred in predictions[:num_images]:
        path = pred.get('img_path')
        key = osp.normpath(path) if path else f'id:{pred.get("img_id")}'
        if key not in index:
            key = f'id:{pred.get("img_id")}'
        if key not in index:
            raise KeyError(f'prediction for {path or pred.get("img_id")} '
                           'matches no image of the test dataset')
        info = dataset.get_data_info(index[key])
        image = cv2.imread(info['img_path'])
        if image is None:
            raise FileNotFoundError(f'cannot read image {info["img_path"]}')
        gt_boxes, gt_labels, gt_ignored = _gt_of(info)
        instances = pred['pred_instances']
        samples.append(
            dict(
                image=image[..., ::-1],
                title=osp.basename(info['img_path']),
                pred_boxes=as_drawable(instances['bboxes']),
                pred_labels=np.asarray(instances['labels']),
                pred_scores=np.asarray(instances['scores']),
                gt_boxes=as_drawable(gt_boxes),
                gt_labels=gt_labels,
                gt_ignored=gt_ignored))
    return samples


def draw_prediction_file(cfg,
                         predictions_file: str,
                         out_file: str,
                         num_images: int = 8,
                         score_thr: float = 0.3,
                         ncols: int = 2,
                         max_per_image: Optional[int] = None) -> str:
    """Ground truth beside the predictions of ``tools/test.py --out``."""
    if not osp.isfile(predictions_file):
        raise FileNotFoundError(f'no predictions file {predictions_file}')
    with open(predictions_file, 'rb') as f:
        predictions = pickle.load(f)
    if not isinstance(predictions, list) or not predictions:
        raise ValueError(f'{predictions_file}: expected the non-empty list '
                         'of results that tools/test.py --out writes')
    dataset = build_test_dataset(cfg)
    samples = detection_samples(dataset, predictions, num_images)
    classes = dataset.metainfo.get('classes', ())
    palette = dataset.metainfo.get('palette') or default_palette(len(classes))
    return plot_detection_grid(
        samples,
        out_file,
        classes,
        palette,
        score_thr=score_thr,
        ncols=ncols,
        max_per_image=max_per_image)

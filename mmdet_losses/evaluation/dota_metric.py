"""``DOTAMetric``: mAP of rotated boxes (DOTA Task1), and Task1 files."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmdet_losses.datasets.dota_io import write_task1
from mmdet_losses.registry import METRICS
from mmdet_losses.structures import hbox2rbox, qbox2rbox, rbox2qbox
from .dota_merge import merge_patch_detections
from .rotated_map import eval_rbbox_map, mean_ap


def as_rbox_array(boxes) -> np.ndarray:
    """``(n, 5)`` float64 rboxes from box types or tensors of 4 (xyxy), 5
    (rbox) or 8 (corner) columns."""
    if isinstance(boxes, BaseBoxes):
        boxes = boxes.convert_to('rbox').tensor
    boxes = torch.as_tensor(boxes).detach().cpu().float()
    boxes = boxes.reshape(-1, boxes.size(-1)) if boxes.numel() else \
        boxes.reshape(0, 5)
    width = boxes.size(-1)
    if width == 4:
        boxes = hbox2rbox(boxes)
    elif width == 8:
        boxes = qbox2rbox(boxes)
    elif width != 5:
        raise ValueError(f'boxes of {width} values are neither xyxy (4), '
                         'rbox (5) nor corners (8)')
    return boxes.double().numpy()


@METRICS.register_module()
class DOTAMetric(BaseMetric):
    """DOTA Task1 mean average precision of rotated boxes.

    Computed as DOTA's evaluation does (see
    :mod:`mmdet_losses.evaluation.rotated_map`): VOC07 11-point AP by
    default or the area under the curve, at IoU 0.5 by default, difficult
    (ignored) ground truth neither a hit nor a miss, the mean over classes
    that have ground truth. The IoU is the exact rotated IoU of the
    predicted box and the ground-truth box (the smallest rectangle around
    the labelled corners, ``ConvertBoxType``), with mmcv's
    ``box_iou_rotated``. A table of per-class AP is logged; ``classwise``
    also returns it.

    Ground truth comes from each sample's ``gt_instances`` and, for
    difficult objects, ``ignored_instances`` (``DOTADataset``'s
    ``diff_thr``), in the original image scale (load the annotations after
    ``Resize`` in the test pipeline).

    Args:
        metric: ``'mAP'``.
        iou_thrs: IoU thresholds; ``mAP`` is the mean of their mAPs.
        use_07_metric: VOC07 11-point AP (default) or the area.
        classwise: also return ``AP{thr}_<class>`` per class.
        format_only: write DOTA Task1 files (``outfile_prefix``) and return
            no metric: for the evaluation server.
        merge_patches: with ``format_only``, merge the detections of split
            patches into whole images first (rotated NMS at ``iou_thr``).
        outfile_prefix: directory for the Task1 files.
        iou_thr: NMS IoU of the patch merge.
    """

    default_prefix: Optional[str] = 'dota'

    def __init__(self,
                 metric: Union[str, List[str]] = 'mAP',
                 iou_thrs: Union[float, Sequence[float]] = 0.5,
                 use_07_metric: bool = True,
                 classwise: bool = False,
                 format_only: bool = False,
                 merge_patches: bool = False,
                 outfile_prefix: Optional[str] = None,
                 iou_thr: float = 0.1,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = [metric] if isinstance(metric, str) else list(metric)
        if metrics != ['mAP']:
            raise ValueError(f"DOTAMetric computes metric='mAP', got "
                             f'{metric!r}')
        self.iou_thrs = [iou_thrs] if isinstance(iou_thrs, float) \
            else list(iou_thrs)
        self.use_07_metric = use_07_metric
        self.classwise = classwise
        self.format_only = format_only
        self.merge_patches = merge_patches
        if format_only and not outfile_prefix:
            raise ValueError('format_only=True writes Task1 files: set '
                             'outfile_prefix to their directory')
        self.outfile_prefix = outfile_prefix
        self.iou_thr = iou_thr

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_instances']
            boxes = as_rbox_array(pred['bboxes'])
            scores = pred['scores'].detach().cpu().double().numpy()
            labels = pred['labels'].detach().cpu().numpy()
            dets = [
                np.hstack([boxes[labels == c], scores[labels == c, None]])
                for c in range(num_classes)
            ]
            gt = sample.get('gt_instances', {})
            ignored = sample.get('ignored_instances', {})
            ann = dict(
                bboxes=as_rbox_array(gt.get('bboxes', np.zeros((0, 5)))),
                labels=np.asarray(_numpy(gt.get('labels', [])), np.int64),
                bboxes_ignore=as_rbox_array(
                    ignored.get('bboxes', np.zeros((0, 5)))),
                labels_ignore=np.asarray(
                    _numpy(ignored.get('labels', [])), np.int64))
            image_id = osp.splitext(osp.basename(sample['img_path']))[0]
            self.results.append((image_id, ann, dets))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        classes = self.dataset_meta['classes']
        if self.format_only:
            paths = self._write_task1(results, classes)
            logger.info(f'DOTA Task1 files written: {len(paths)} under '
                        f'{self.outfile_prefix}')
            return {}
        image_ids, annotations, detections = zip(*results) if results \
            else ((), (), ())
        metrics = OrderedDict()
        maps = []
        for thr in self.iou_thrs:
            per_class = eval_rbbox_map(detections, annotations, thr,
                                       self.use_07_metric)
            value = mean_ap(per_class)
            maps.append(value)
            key = f'AP{int(round(thr * 100)):02d}'
            metrics[key] = round(value, 4)
            logger.info(self._table(per_class, classes, thr, value))
            if self.classwise:
                for name, result in zip(classes, per_class):
                    metrics[f'{key}_{name}'] = round(result['ap'], 4)
        metrics['mAP'] = round(float(np.mean(maps)), 4)
        metrics.move_to_end('mAP', last=False)
        return metrics

    def _table(self, per_class: List[Dict], classes: Sequence[str], thr: float,
               value: float) -> str:
        width = max(len(c) for c in classes)
        lines = [
            f'DOTA AP at IoU {thr:g} '
            f'({"VOC07 11-point" if self.use_07_metric else "area"}):',
            f'{"class":<{width}}  {"gts":>6}  {"dets":>7}  {"recall":>6}  '
            f'{"AP":>6}'
        ]
        for name, r in zip(classes, per_class):
            lines.append(f'{name:<{width}}  {r["num_gts"]:>6}  '
                         f'{r["num_dets"]:>7}  {r["recall"]:>6.3f}  '
                         f'{r["ap"]:>6.3f}')
        lines.append(f'{"mAP":<{width}}  {"":>6}  {"":>7}  {"":>6}  '
                     f'{value:>6.3f}')
        return '\n'.join(lines)

    def _write_task1(self, results: list, classes: Sequence[str]) -> list:
        if self.merge_patches:
            patches = []
            for image_id, _, dets in results:
                stacked = np.concatenate(dets)
                labels = np.concatenate(
                    [np.full(len(d), c) for c, d in enumerate(dets)])
                patches.append((image_id, stacked[:, :5], stacked[:,
                                                                  5], labels))
            merged = merge_patch_detections(patches, self.iou_thr)
        else:
            merged = {}
            for image_id, _, dets in results:
                stacked = np.concatenate(dets)
                merged[image_id] = (stacked[:, :5], stacked[:, 5],
                                    np.concatenate([
                                        np.full(len(d), c)
                                        for c, d in enumerate(dets)
                                    ]))
        return write_task1(self.outfile_prefix, classes,
                           task1_detections(merged, classes))


def task1_detections(merged: Dict, classes: Sequence[str]) -> Dict:
    """``{image: (rboxes, scores, labels)}`` as :func:`write_task1` takes
    them: ``{image: {class: (n, 9) [score, corners]}}``."""
    out = {}
    for image_id, (boxes, scores, labels) in merged.items():
        corners = rbox2qbox(torch.as_tensor(boxes,
                                            dtype=torch.float64)).numpy()
        out[image_id] = {
            classes[c]:
            np.hstack([scores[labels == c, None], corners[labels == c]])
            for c in np.unique(labels)
        }
    return out


def _numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)

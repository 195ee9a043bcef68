"""RetinaNet trained with Quality Focal Loss (Li et al., "Generalized Focal
Loss", NeurIPS 2020, arXiv:2006.04388, Table 1(b): 35.6 -> 36.4 AP on COCO
with R-50, 1x).

QFL's target is joint: on a positive anchor, the IoU between the box the
anchor currently predicts and its ground truth; 0 on negatives. mmdet's
RetinaHead hands its classification loss the labels alone, so this head
decodes the positives' boxes first. Everything else (anchors, MaxIoU
assignment, the regression loss on deltas or decoded boxes) is RetinaHead's.

The same head serves mmrotate's rotated RetinaNet, which is mmdet's
RetinaHead with a rotated anchor generator and box coder: there the boxes
are ``(cx, cy, w, h, t)`` and the target is their rotated IoU (mmcv's
``box_iou_rotated``, as mmrotate's assigner computes it).
"""
from typing import Tuple

from mmdet.models.dense_heads import RetinaHead
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor

from mmdet_losses.functional.gfl_representation import iou_quality_target
from mmdet_losses.registry import MODELS
from ..task_modules.assigners import pruned_rbbox_overlaps


@MODELS.register_module()
class RetinaQFLHead(RetinaHead):
    """RetinaHead whose ``loss_cls`` (a ``QualityFocalLoss``) receives
    ``(labels, iou)``: the IoU of each positive's decoded box with its
    ground truth. Takes RetinaHead's arguments."""

    @staticmethod
    def _quality(pred_boxes: Tensor, target_boxes: Tensor) -> Tensor:
        """QFL's soft label: the IoU of each decoded box with its target,
        horizontal ``(n, 4)`` or rotated ``(n, 5)`` boxes."""
        if pred_boxes.size(-1) == 5:
            return pruned_rbbox_overlaps(
                pred_boxes.detach(), target_boxes, is_aligned=True)
        return iou_quality_target(pred_boxes, target_boxes)

    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor,
                            anchors: Tensor, labels: Tensor,
                            label_weights: Tensor, bbox_targets: Tensor,
                            bbox_weights: Tensor,
                            avg_factor: int) -> Tuple[Tensor, Tensor]:
        """AnchorHead's loss of one level, with QFL's joint target."""
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)
        cls_score = cls_score.permute(0, 2, 3,
                                      1).reshape(-1, self.cls_out_channels)
        anchors = anchors.reshape(-1, anchors.size(-1))
        bbox_pred = bbox_pred.permute(0, 2, 3,
                                      1).reshape(-1,
                                                 self.bbox_coder.encode_size)
        bbox_targets = bbox_targets.reshape(-1, bbox_targets.size(-1))
        bbox_weights = bbox_weights.reshape(-1, bbox_weights.size(-1))

        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero()[:, 0]
        quality = label_weights.new_zeros(labels.shape)
        if len(pos) > 0:
            pos_anchors = anchors[pos]
            pred_boxes = get_box_tensor(
                self.bbox_coder.decode(pos_anchors, bbox_pred[pos].detach()))
            target_boxes = bbox_targets[pos]
            if not self.reg_decoded_bbox:  # the targets are deltas
                target_boxes = get_box_tensor(
                    self.bbox_coder.decode(pos_anchors, target_boxes))
            quality[pos] = self._quality(pred_boxes, target_boxes)
        loss_cls = self.loss_cls(
            cls_score, (labels, quality),
            weight=label_weights,
            avg_factor=avg_factor)

        if self.reg_decoded_bbox:
            bbox_pred = get_box_tensor(
                self.bbox_coder.decode(anchors, bbox_pred))
        loss_bbox = self.loss_bbox(
            bbox_pred, bbox_targets, bbox_weights, avg_factor=avg_factor)
        return loss_cls, loss_bbox

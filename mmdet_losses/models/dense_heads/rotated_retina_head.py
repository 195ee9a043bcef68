"""Rotated RetinaNet heads: mmdet's ``RetinaHead`` on rotated anchors.

``RotatedRetinaHead`` regresses five deltas ``(x, y, w, h, angle)`` per
anchor (:class:`~mmdet_losses.models.task_modules.DeltaXYWHTRBBoxCoder`),
the rotated RetinaNet of mmrotate's DOTA baselines (R3Det, Yang et al.,
AAAI 2021, section 3.1). ``AngleBranchRetinaHead`` predicts the angle in a
branch of its own, through an angle coder (CSL, ...).

Both put the ground-truth boxes in the coder's angle version before
anything else, so a loss on decoded boxes (``reg_decoded_bbox=True``, e.g.
a PIoU loss) compares boxes in one convention.
"""
from typing import List, Optional, Tuple

import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import images_to_levels, multi_apply
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import InstanceList, OptConfigType, OptInstanceList
from torch import Tensor, nn

from mmdet_losses.registry import MODELS, TASK_UTILS
from mmdet_losses.structures import (RotatedBoxes, rboxes_as_tensor,
                                     regularize_rboxes)


def regularized_gt(batch_gt_instances: InstanceList,
                   angle_version: str) -> InstanceList:
    """Copies of the ground truth with ``RotatedBoxes`` in
    ``angle_version`` (the inputs stay untouched for other consumers)."""
    out = []
    for gt in batch_gt_instances:
        gt = gt.clone()
        gt.bboxes = RotatedBoxes(
            regularize_rboxes(rboxes_as_tensor(gt.bboxes), angle_version),
            clone=False)
        out.append(gt)
    return out


@MODELS.register_module()
class RotatedRetinaHead(RetinaHead):
    """RetinaNet's head on ``FakeRotatedAnchorGenerator`` anchors with a
    rotated box coder; the arguments are ``RetinaHead``'s, with rotated
    defaults (mmrotate's DOTA configuration).

    Ground truth comes as ``RotatedBoxes`` (data preprocessor with
    ``boxtype2tensor=False``) or ``(n, 5)`` tensors; an assigner needs a
    rotated IoU (``iou_calculator=dict(type='RBboxOverlaps2D')``) and the
    test config a rotated NMS (``nms=dict(type='nms_rotated', ...)``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 anchor_generator: dict = dict(
                     type='FakeRotatedAnchorGenerator',
                     octave_base_scale=4,
                     scales_per_octave=3,
                     ratios=[1.0, 0.5, 2.0],
                     strides=[8, 16, 32, 64, 128]),
                 bbox_coder: dict = dict(
                     type='DeltaXYWHTRBBoxCoder',
                     angle_version='le90',
                     norm_factor=None,
                     edge_swap=True,
                     proj_xy=True),
                 **kwargs) -> None:
        super().__init__(
            num_classes,
            in_channels,
            anchor_generator=anchor_generator,
            bbox_coder=bbox_coder,
            **kwargs)
        if not hasattr(self.bbox_coder, 'angle_version'):
            raise ValueError(
                f'{type(self).__name__} needs a rotated box coder with an '
                f'angle_version (e.g. DeltaXYWHTRBBoxCoder), got '
                f'{type(self.bbox_coder).__name__}')

    @property
    def angle_version(self) -> str:
        """The angle convention of the boxes: the coder's."""
        return self.bbox_coder.angle_version

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        return super().loss_by_feat(
            cls_scores, bbox_preds,
            regularized_gt(batch_gt_instances, self.angle_version),
            batch_img_metas, batch_gt_instances_ignore)


@MODELS.register_module()
class AngleBranchRetinaHead(RotatedRetinaHead):
    """Rotated RetinaNet whose angle has a branch of its own.

    The box branch regresses ``(x, y, w, h)`` deltas; a 3 x 3 convolution
    beside it predicts ``angle_coder.encode_size`` values per anchor, which
    ``angle_coder.decode`` turns into the box angle (a CSL coder classifies
    it over bins, ``PseudoAngleCoder`` regresses it). ``loss_angle``
    compares the predictions with the encoded angles of the ground truth
    (in the coder's angle version) on positive anchors.

    The decoded box is the coder's box with the predicted angle. The box
    coder must not swap edges (``edge_swap=False``): the angle branch
    predicts the angle of the box's ``w`` side, so ``w`` and ``h`` must
    keep their meaning in the deltas.

    Args:
        angle_coder: config of the angle coder.
        loss_angle: config of the angle loss; may be None only with
            ``reg_decoded_bbox=True``, where the box loss trains the angle
            through a differentiable coder.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 angle_coder: dict = dict(type='PseudoAngleCoder'),
                 loss_angle: OptConfigType = None,
                 bbox_coder: dict = dict(
                     type='DeltaXYWHTRBBoxCoder',
                     angle_version='le90',
                     norm_factor=None,
                     edge_swap=False,
                     proj_xy=True),
                 **kwargs) -> None:
        # the layers (built by the parent's __init__) need the coder
        self.angle_coder = TASK_UTILS.build(angle_coder)
        super().__init__(
            num_classes, in_channels, bbox_coder=bbox_coder, **kwargs)
        if getattr(self.bbox_coder, 'edge_swap', False):
            raise ValueError(
                'AngleBranchRetinaHead needs a box coder with '
                'edge_swap=False: the angle branch predicts the angle of '
                "the box's w side, which a coder that swaps w and h would "
                'contradict')
        if loss_angle is None and not self.reg_decoded_bbox:
            raise ValueError(
                'AngleBranchRetinaHead without loss_angle trains the angle '
                'branch only through a loss on decoded boxes: set '
                'loss_angle, or reg_decoded_bbox=True')
        self.loss_angle = MODELS.build(loss_angle) if loss_angle else None

    def _init_layers(self) -> None:
        super()._init_layers()
        channels = self.retina_reg.in_channels
        self.retina_reg = nn.Conv2d(
            channels, self.num_base_priors * 4, 3, padding=1)
        self.retina_angle = nn.Conv2d(
            channels,
            self.num_base_priors * self.angle_coder.encode_size,
            3,
            padding=1)

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Class scores, ``(x, y, w, h)`` deltas and angle predictions."""
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return (self.retina_cls(cls_feat), self.retina_reg(reg_feat),
                self.retina_angle(reg_feat))

    def decode_angle(self, angle_pred: Tensor) -> Tensor:
        """``(..., encode_size)`` predictions to ``(...)`` angles."""
        angles = self.angle_coder.decode(angle_pred)
        return angles.reshape(angle_pred.shape[:-1])

    def _five_deltas(self, bbox_pred: Tensor, angle_pred: Tensor,
                     anchors: RotatedBoxes) -> Tensor:
        """One level's ``(b, 4A, h, w)`` deltas and angle predictions as the
        ``(b, 5A, h, w)`` deltas of the box coder."""
        b, _, h, w = bbox_pred.shape
        a = self.num_base_priors
        angles = self.decode_angle(
            angle_pred.view(b, a, -1, h, w).permute(0, 1, 3, 4, 2))
        # anchors run over (row, column, base anchor)
        anchor_angles = anchors.tensor[:, 4].view(h, w, a).permute(2, 0, 1)
        angle_deltas = self.bbox_coder.angle_deltas(anchor_angles, angles)
        deltas = torch.cat(
            [bbox_pred.view(b, a, 4, h, w), angle_deltas[:, :, None]], dim=2)
        return deltas.view(b, a * 5, h, w)

    def _angle_loss(self, angle_pred: Tensor, anchors: RotatedBoxes,
                    bbox_targets: Tensor, bbox_weights: Tensor,
                    avg_factor: float) -> Tensor:
        """``loss_angle`` on one level's positive anchors."""
        angle_pred = angle_pred.permute(0, 2, 3, 1).reshape(
            -1, self.angle_coder.encode_size)
        positive = bbox_weights.reshape(-1, 5)[:, 0] > 0
        if not positive.any():
            return angle_pred.sum() * 0
        targets = bbox_targets.reshape(-1, 5)[positive]
        if not self.reg_decoded_bbox:  # deltas: back to boxes
            targets = rboxes_as_tensor(
                self.bbox_coder.decode(
                    anchors.reshape(-1, 5)[positive], targets))
        encoded = self.angle_coder.encode(targets[:, 4:5])
        return self.loss_angle(
            angle_pred[positive], encoded, avg_factor=avg_factor)

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     angle_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        batch_gt_instances = regularized_gt(batch_gt_instances,
                                            self.angle_version)
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=cls_scores[0].device)
        (labels, label_weights, bbox_targets, bbox_weights,
         avg_factor) = self.get_targets(
             anchor_list,
             valid_flag_list,
             batch_gt_instances,
             batch_img_metas,
             batch_gt_instances_ignore=batch_gt_instances_ignore)
        num_level_anchors = [len(anchors) for anchors in anchor_list[0]]
        level_anchors = images_to_levels(
            [cat_boxes(anchors) for anchors in anchor_list], num_level_anchors)
        levels = zip(bbox_preds, angle_preds, anchor_list[0])
        deltas = [self._five_deltas(*level) for level in levels]
        # on deltas, the angle delta belongs to loss_angle alone; a loss on
        # decoded boxes sees the whole box
        box_weights = bbox_weights
        if not self.reg_decoded_bbox:
            box_weights = [
                w * w.new_tensor([1, 1, 1, 1, 0]) for w in bbox_weights
            ]
        losses_cls, losses_bbox = multi_apply(
            self.loss_by_feat_single,
            cls_scores,
            deltas,
            level_anchors,
            labels,
            label_weights,
            bbox_targets,
            box_weights,
            avg_factor=avg_factor)
        losses = dict(loss_cls=losses_cls, loss_bbox=losses_bbox)
        if self.loss_angle is not None:
            levels = zip(angle_preds, level_anchors, bbox_targets,
                         bbox_weights)
            losses['loss_angle'] = [
                self._angle_loss(*level, avg_factor=avg_factor)
                for level in levels
            ]
        return losses

    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        angle_preds: List[Tensor],
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: OptConfigType = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        anchors = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=cls_scores[0].dtype,
            device=cls_scores[0].device)
        deltas = [
            self._five_deltas(*level)
            for level in zip(bbox_preds, angle_preds, anchors)
        ]
        return super().predict_by_feat(
            cls_scores,
            deltas,
            batch_img_metas=batch_img_metas,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms)

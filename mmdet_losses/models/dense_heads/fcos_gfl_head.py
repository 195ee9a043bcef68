"""FCOS with GFL's representations: QFL's joint classification-quality
score instead of the centerness branch, and a DFL-learnt distribution per
side instead of one distance (Li et al., "Generalized Focal Loss", NeurIPS
2020, arXiv:2006.04388; the paper's FCOS rows: Table 1(a) 39.0 AP with QFL,
Table 2(a) 39.0 AP with General + DFL).

Everything else is mmdet's FCOSHead: points, regress ranges, center
sampling, towers and learnt per-level scales.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.dense_heads import FCOSHead
from mmdet.models.utils import multi_apply
from mmdet.utils import (ConfigType, InstanceList, OptConfigType,
                         OptInstanceList, reduce_mean)
from mmengine.config import ConfigDict
from torch import Tensor, nn

from mmdet_losses.functional.boxes import distance_to_xyxy
from mmdet_losses.functional.gfl_representation import (
    clamp_dfl_target, distribution_to_distance, iou_quality_target)
from mmdet_losses.registry import MODELS
from .gfl_ablation_head import dfl_with_interval


@MODELS.register_module()
class FCOSGFLHead(FCOSHead):
    """FCOS head predicting, per point, a joint class-quality score (learnt
    by QFL against the IoU of its decoded box) and a distribution over
    ``reg_max + 1`` bins of ``bin_interval`` strides for each side (learnt
    by DFL and by the box loss on the decoded box); no centerness branch.

    Distances are measured in strides (FCOS' ``norm_on_bbox``, always on
    here): with the default ``reg_max=16`` a side reaches 16 strides, beyond
    the ``8`` strides FCOS' default regress ranges assign to a level
    (P3-P6). As in GFL, each positive's box losses are weighted by its best
    predicted class score.

    Args:
        num_classes, in_channels: as FCOSHead.
        reg_max: n; the distribution has ``n + 1`` bins.
        bin_interval: Delta, the bin width in strides.
        loss_cls: QualityFocalLoss.
        loss_bbox: an IoU-family loss on the decoded ``'xyxy'`` boxes.
        loss_dfl: DistributionFocalLoss, or None for the distribution
            without DFL.
        **kwargs: FCOSHead's (``regress_ranges``, ``center_sampling``,
            ``strides``, ...); ``norm_on_bbox`` must stay True and
            ``loss_centerness`` is not used.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 reg_max: int = 16,
                 bin_interval: float = 1.0,
                 loss_cls: ConfigType = dict(
                     type='QualityFocalLoss',
                     use_sigmoid=True,
                     beta=2.0,
                     loss_weight=1.0),
                 loss_bbox: ConfigType = dict(
                     type='GIoULoss', loss_weight=2.0),
                 loss_dfl: OptConfigType = dict(
                     type='DistributionFocalLoss', loss_weight=0.25),
                 **kwargs) -> None:
        if not kwargs.pop('norm_on_bbox', True):
            raise ValueError('FCOSGFLHead measures distances in strides: '
                             'norm_on_bbox must be True')
        if not bin_interval > 0:
            raise ValueError(
                f'bin_interval must be positive, got {bin_interval}')
        kwargs.pop('loss_centerness', None)
        self.reg_max = reg_max
        self.bin_interval = bin_interval
        super().__init__(
            num_classes,
            in_channels,
            norm_on_bbox=True,
            loss_cls=loss_cls,
            loss_bbox=loss_bbox,
            **kwargs)
        # FCOSHead builds a centerness loss this head has no branch for
        del self.loss_centerness
        loss_dfl = dfl_with_interval(loss_dfl, bin_interval)
        self.loss_dfl = MODELS.build(loss_dfl) if loss_dfl else None

    def _init_layers(self) -> None:
        super()._init_layers()
        del self.conv_centerness

    def _init_predictor(self) -> None:
        super()._init_predictor()
        self.conv_reg = nn.Conv2d(
            self.feat_channels, 4 * (self.reg_max + 1), 3, padding=1)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Class-quality scores ``(N, num_classes, H, W)`` and distribution
        logits ``(N, 4 * (reg_max + 1), H, W)`` of every level."""
        return multi_apply(self.forward_single, x, self.scales, self.strides)

    def forward_single(self, x: Tensor, scale: nn.Module,
                       stride: int) -> Tuple[Tensor, Tensor]:
        cls_score, bbox_pred, _, _ = super(FCOSHead, self).forward_single(x)
        return cls_score, scale(bbox_pred).float()

    def distances(self, bbox_pred: Tensor) -> Tensor:
        """``(..., 4 * (reg_max + 1))`` logits -> ``(..., 4)`` distances in
        strides."""
        return distribution_to_distance(
            bbox_pred.unflatten(-1, (4, self.reg_max + 1)), self.bin_interval)

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> Dict[str, Tensor]:
        """QFL over all points, box loss and DFL over FCOS' positives."""
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device)
        # per level, images concatenated; box targets in strides
        labels, bbox_targets = self.get_targets(points, batch_gt_instances)

        num_imgs = cls_scores[0].size(0)
        cls_scores = torch.cat([
            score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
            for score in cls_scores
        ])
        bbox_preds = torch.cat([
            pred.permute(0, 2, 3, 1).reshape(-1, 4 * (self.reg_max + 1))
            for pred in bbox_preds
        ])
        labels = torch.cat(labels)
        bbox_targets = torch.cat(bbox_targets)
        # each point in strides of its level, repeated per image
        points = torch.cat([
            (level_points / stride).repeat(num_imgs, 1)
            for level_points, stride in zip(points, self.strides)
        ])

        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero()[:, 0]
        # Both all-reduces run on every rank, before any branch on this
        # rank's positives: a rank without positives that skipped one would
        # leave the others waiting in it (or pair it with the next
        # collective, mixing values).
        num_pos = max(
            reduce_mean(
                torch.tensor(
                    len(pos), dtype=torch.float, device=labels.device)), 1.0)
        # GFL weighs each positive's box losses by its best class score
        weight = cls_scores[pos].detach().sigmoid().amax(1)
        weight_sum = reduce_mean(weight.sum()).clamp_(min=1).item()
        quality = cls_scores.new_zeros(labels.shape)
        if len(pos) > 0:
            pos_points, pos_pred = points[pos], bbox_preds[pos]
            pos_boxes = distance_to_xyxy(pos_points, self.distances(pos_pred))
            target_boxes = distance_to_xyxy(pos_points, bbox_targets[pos])
            quality[pos] = iou_quality_target(pos_boxes, target_boxes)
            loss_bbox = self.loss_bbox(
                pos_boxes, target_boxes, weight=weight, avg_factor=weight_sum)
            if self.loss_dfl is not None:
                loss_dfl = self.loss_dfl(
                    pos_pred.reshape(-1, self.reg_max + 1),
                    clamp_dfl_target(bbox_targets[pos], self.reg_max,
                                     self.bin_interval).reshape(-1),
                    weight=weight.repeat_interleave(4),
                    avg_factor=4 * weight_sum)
        else:
            # zero losses that keep the box branch in the graph (DDP)
            loss_bbox = loss_dfl = bbox_preds.sum() * 0

        losses = dict(
            loss_cls=self.loss_cls(
                cls_scores, (labels, quality), avg_factor=num_pos),
            loss_bbox=loss_bbox)
        if self.loss_dfl is not None:
            losses['loss_dfl'] = loss_dfl
        return losses

    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        score_factors: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: Optional[ConfigDict] = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """mmdet's dense-head post-processing on the expected distances in
        pixels; no score factors."""
        distances = [
            self.distances(pred.movedim(1, -1)).movedim(-1, 1) * stride
            for pred, stride in zip(bbox_preds, self.strides)
        ]
        return super().predict_by_feat(
            cls_scores,
            distances,
            None,
            batch_img_metas=batch_img_metas,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms)

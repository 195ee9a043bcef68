"""mmdet's GFL head with the representations of the GFL paper's ablations
as switches (Li et al., "Generalized Focal Loss", NeurIPS 2020,
arXiv:2006.04388, Tables 1-3).

The head keeps GFLHead's anchors, ATSS assignment and towers; it switches

* the box representation, ``bbox_repr``: ``'general'`` (GFL: a
  distribution over the ``reg_max + 1`` bins ``0, Delta, ..., reg_max *
  Delta`` strides per side, decoded by its expectation, optionally learnt
  with DFL; ``bin_interval`` is Delta) or ``'dirac'`` (one value per side:
  ATSS's anchor deltas, decoded by the ``bbox_coder``);
* the classification-quality representation, ``loss_centerness``: None
  for GFL's joint score (QFL on the IoU of each positive's decoded box), or
  a loss for ATSS's separate one (binary classification plus a centerness
  branch).

The GFL paper's Table 3 then reads:

===============  ==========  ===========  ===============  ==========
row              loss_cls    bbox_repr    loss_dfl         centerness
===============  ==========  ===========  ===============  ==========
neither (ATSS)   FocalLoss   'dirac'      None             CE loss
QFL              QFL         'dirac'      None             None
DFL              FocalLoss   'general'    DFL              CE loss
QFL + DFL (GFL)  QFL         'general'    DFL              None
===============  ==========  ===========  ===============  ==========

With ``bin_interval=1`` the first row computes mmdet's ``ATSSHead`` and the
last mmdet's ``GFLHead``, given the same weights (tested).
"""
from typing import List, Optional, Tuple

import torch
from mmdet.models.dense_heads import ATSSHead, GFLHead
from mmdet.models.task_modules.coders import DistancePointBBoxCoder
from mmdet.models.utils import filter_scores_and_topk, multi_apply
from mmdet.utils import (InstanceList, OptConfigType, OptInstanceList,
                         reduce_mean)
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmdet_losses.functional.boxes import xyxy_to_distance
from mmdet_losses.functional.gfl_representation import (
    clamp_dfl_target, distribution_to_distance, iou_quality_target)
from mmdet_losses.registry import MODELS

BBOX_REPRS = ('general', 'dirac')


def dfl_with_interval(loss_dfl: OptConfigType,
                      bin_interval: float) -> OptConfigType:
    """DFL's config with ``delta`` set to the head's bin interval: the head
    passes DFL distances in strides, which the loss divides by ``delta``.

    Left as it is for an interval of 1 (mmdet's DFL has no ``delta``).
    """
    if loss_dfl is None:
        return None
    delta = loss_dfl.get('delta', 1.0)
    if 'delta' in loss_dfl and delta != bin_interval:
        raise ValueError(f'loss_dfl.delta={delta} differs from the head\'s '
                         f'bin_interval={bin_interval}; set bin_interval '
                         'only')
    if bin_interval == 1:
        return loss_dfl
    return dict(loss_dfl, delta=bin_interval)


@MODELS.register_module()
class GFLAblationHead(GFLHead):
    """GFL head with switchable box and classification-quality
    representations.

    Args:
        num_classes, in_channels: as GFLHead.
        bbox_repr: ``'general'`` (GFL's distribution; ``bbox_coder`` must be
            ``DistancePointBBoxCoder``, GFLHead's default) or ``'dirac'``
            (4 anchor deltas per location, decoded by ``bbox_coder``, e.g.
            ATSS's ``DeltaXYWHBBoxCoder`` with stds ``(0.1, 0.1, 0.2,
            0.2)``).
        bin_interval: Delta, the width of a bin in strides (general only).
            The distribution covers ``reg_max * bin_interval`` strides.
        loss_dfl: DFL's config, or None to learn the distribution through
            the box loss alone (the paper's "General" without DFL). Must be
            None for ``'dirac'``.
        loss_centerness: None (GFL's joint representation): ``loss_cls``
            is a QualityFocalLoss whose target on a positive is the IoU of
            its decoded box, and the box losses weigh each positive by its
            best class score. A loss config (ATSS: sigmoid CrossEntropyLoss)
            for the separate representation: ``loss_cls`` (FocalLoss) gets
            the labels, a centerness branch on the regression tower learns
            ATSS's centerness target, which also weighs the box losses, and
            test scores are multiplied by the predicted centerness.
        **kwargs: GFLHead's (``reg_max``, ``loss_cls``, ``loss_bbox``,
            ``anchor_generator``, ...).

    Its forward returns ``(cls_scores, bbox_preds, centernesses)`` per
    level, ``centernesses`` being None for the joint representation.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 bbox_repr: str = 'general',
                 bin_interval: float = 1.0,
                 loss_dfl: OptConfigType = dict(
                     type='DistributionFocalLoss', loss_weight=0.25),
                 loss_centerness: OptConfigType = None,
                 **kwargs) -> None:
        if bbox_repr not in BBOX_REPRS:
            raise ValueError(f'bbox_repr must be one of {BBOX_REPRS}, got '
                             f'{bbox_repr!r}')
        if bbox_repr == 'dirac' and loss_dfl is not None:
            raise ValueError("DFL learns a distribution: use loss_dfl=None "
                             "with bbox_repr='dirac'")
        if not bin_interval > 0:
            raise ValueError(
                f'bin_interval must be positive, got {bin_interval}')
        # read by _init_layers, which GFLHead.__init__ calls
        self.bbox_repr = bbox_repr
        self.bin_interval = bin_interval
        self.with_centerness = loss_centerness is not None
        super().__init__(
            num_classes,
            in_channels,
            loss_dfl=dfl_with_interval(
                loss_dfl or dict(type='DistributionFocalLoss'), bin_interval),
            **kwargs)
        if loss_dfl is None:
            self.loss_dfl = None
        if self.with_centerness:
            self.loss_centerness = MODELS.build(loss_centerness)
        # GFLHead's Integral knows no bin interval; distribution_to_distance
        # replaces it
        del self.integral
        if (bbox_repr == 'general') != isinstance(self.bbox_coder,
                                                  DistancePointBBoxCoder):
            raise ValueError(f"bbox_repr='{bbox_repr}' needs "
                             f"{'a' if bbox_repr == 'general' else 'no'} "
                             f'DistancePointBBoxCoder, got '
                             f'{type(self.bbox_coder).__name__}')

    @property
    def reg_channels(self) -> int:
        """Regression outputs per location."""
        return 4 if self.bbox_repr == 'dirac' else 4 * (self.reg_max + 1)

    def _init_layers(self) -> None:
        super()._init_layers()
        if self.bbox_repr == 'dirac':
            self.gfl_reg = nn.Conv2d(
                self.feat_channels, self.reg_channels, 3, padding=1)
        if self.with_centerness:
            self.gfl_centerness = nn.Conv2d(
                self.feat_channels, 1, 3, padding=1)

    def forward_single(self, x: Tensor, scale: nn.Module) -> tuple:
        """Class scores, box outputs and centerness logits (or None) of
        one level."""
        cls_feat = reg_feat = x
        for cls_conv in self.cls_convs:
            cls_feat = cls_conv(cls_feat)
        for reg_conv in self.reg_convs:
            reg_feat = reg_conv(reg_feat)
        bbox_pred = scale(self.gfl_reg(reg_feat)).float()
        centerness = (
            self.gfl_centerness(reg_feat) if self.with_centerness else None)
        return self.gfl_cls(cls_feat), bbox_pred, centerness

    def decode(self,
               anchors: Tensor,
               bbox_pred: Tensor,
               stride: int,
               max_shape: Optional[Tuple[int, int]] = None) -> Tensor:
        """``'xyxy'`` boxes in pixels from ``(n, reg_channels)`` outputs at
        ``(n, 4)`` anchors of one level."""
        if self.bbox_repr == 'dirac':
            return self.bbox_coder.decode(
                anchors, bbox_pred, max_shape=max_shape)
        distances = distribution_to_distance(
            bbox_pred.reshape(-1, 4, self.reg_max + 1), self.bin_interval)
        return self.bbox_coder.decode(
            self.anchor_center(anchors),
            distances * stride,
            max_shape=max_shape)

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     centernesses: List[Optional[Tensor]],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """GFLHead.loss_by_feat, with the level losses of this head."""
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=device)
        (anchor_list, labels_list, label_weights_list, bbox_targets_list, _,
         avg_factor) = self.get_targets(
             anchor_list,
             valid_flag_list,
             batch_gt_instances,
             batch_img_metas,
             batch_gt_instances_ignore=batch_gt_instances_ignore)
        avg_factor = reduce_mean(
            torch.tensor(avg_factor, dtype=torch.float, device=device)).item()

        (losses_cls, losses_bbox, losses_dfl, losses_centerness,
         weight_sums) = multi_apply(
             self.loss_by_feat_single,
             anchor_list,
             cls_scores,
             bbox_preds,
             centernesses,
             labels_list,
             label_weights_list,
             bbox_targets_list,
             self.prior_generator.strides,
             avg_factor=avg_factor)

        # the box losses average over the summed weights of all levels
        weight_sum = reduce_mean(sum(weight_sums)).clamp_(min=1).item()
        losses = dict(
            loss_cls=losses_cls,
            loss_bbox=[loss / weight_sum for loss in losses_bbox])
        if self.loss_dfl is not None:
            losses['loss_dfl'] = [loss / weight_sum for loss in losses_dfl]
        if self.with_centerness:
            losses['loss_centerness'] = losses_centerness
        return losses

    def loss_by_feat_single(self, anchors: Tensor, cls_score: Tensor,
                            bbox_pred: Tensor, centerness: Optional[Tensor],
                            labels: Tensor, label_weights: Tensor,
                            bbox_targets: Tensor, stride: Tuple[int, int],
                            avg_factor: float) -> tuple:
        """The losses of one level; ``centerness`` is None for the joint
        representation. ``bbox_targets`` are the ground-truth boxes.

        Returns:
            ``(loss_cls, loss_bbox, loss_dfl, loss_centerness,
            weight_sum)``; the box losses are still to be divided by the
            weights summed over the levels.
        """
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3,
                                      1).reshape(-1, self.cls_out_channels)
        bbox_pred = bbox_pred.permute(0, 2, 3,
                                      1).reshape(-1, self.reg_channels)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)
        if centerness is not None:
            centerness = centerness.permute(0, 2, 3, 1).reshape(-1)

        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero()[:, 0]
        quality = label_weights.new_zeros(labels.shape)
        loss_dfl = loss_centerness = None
        if len(pos) > 0:
            pos_anchors, pos_targets = anchors[pos], bbox_targets[pos]
            pos_pred = bbox_pred[pos]
            pos_boxes = self.decode(pos_anchors, pos_pred, stride[0])
            if centerness is None:
                # joint: QFL's target is the IoU of the predicted box, and
                # the box losses weigh each positive by its best score
                quality[pos] = iou_quality_target(pos_boxes, pos_targets)
                weight = cls_score.detach().sigmoid().max(1)[0][pos]
            else:
                # separate: ATSS weighs by its centerness target (mmdet's
                # implementation)
                weight = ATSSHead.centerness_target(self, pos_anchors,
                                                    pos_targets)
                loss_centerness = self.loss_centerness(
                    centerness[pos], weight, avg_factor=avg_factor)
            loss_bbox = self.loss_bbox(
                pos_boxes, pos_targets, weight=weight, avg_factor=1.0)
            if self.loss_dfl is not None:
                distances = xyxy_to_distance(
                    self.anchor_center(pos_anchors), pos_targets) / stride[0]
                loss_dfl = self.loss_dfl(
                    pos_pred.reshape(-1, self.reg_max + 1),
                    clamp_dfl_target(distances, self.reg_max,
                                     self.bin_interval).reshape(-1),
                    weight=weight.repeat_interleave(4),
                    avg_factor=4.0)
        else:
            # zero losses that keep every output in the graph (DDP)
            loss_bbox = bbox_pred.sum() * 0
            loss_dfl = bbox_pred.sum() * 0
            if centerness is not None:
                loss_centerness = centerness.sum() * 0
            weight = bbox_pred.new_tensor(0.)

        if centerness is None:
            loss_cls = self.loss_cls(
                cls_score, (labels, quality),
                weight=label_weights,
                avg_factor=avg_factor)
        else:
            loss_cls = self.loss_cls(
                cls_score, labels, label_weights, avg_factor=avg_factor)
        return loss_cls, loss_bbox, loss_dfl, loss_centerness, weight.sum()

    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        score_factors: Optional[List[Tensor]] = None,
                        **kwargs) -> InstanceList:
        """mmdet's, with the centernesses (if any) as score factors."""
        if not self.with_centerness:
            score_factors = None
        return super().predict_by_feat(cls_scores, bbox_preds, score_factors,
                                       **kwargs)

    def _predict_by_feat_single(self,
                                cls_score_list: List[Tensor],
                                bbox_pred_list: List[Tensor],
                                score_factor_list: List[Optional[Tensor]],
                                mlvl_priors: List[Tensor],
                                img_meta: dict,
                                cfg: Optional[ConfigDict],
                                rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """GFLHead's, decoding through :meth:`decode`; the centerness
        (``score_factor_list``), where there is one, multiplies the scores
        after the score threshold, as in mmdet's ATSS."""
        cfg = self.test_cfg if cfg is None else cfg
        with_factors = score_factor_list[0] is not None
        mlvl = dict(bboxes=[], scores=[], labels=[], score_factors=[])
        for cls_score, bbox_pred, factor, stride, priors in zip(
                cls_score_list, bbox_pred_list, score_factor_list,
                self.prior_generator.strides, mlvl_priors):
            candidates = dict(
                bbox_pred=bbox_pred.permute(1, 2,
                                            0).reshape(-1, self.reg_channels),
                priors=priors)
            if with_factors:
                candidates['factor'] = factor.permute(1, 2,
                                                      0).reshape(-1).sigmoid()
            scores = cls_score.permute(1, 2, 0).reshape(
                -1, self.cls_out_channels).sigmoid()
            scores, labels, _, kept = filter_scores_and_topk(
                scores, cfg.score_thr, cfg.get('nms_pre', -1), candidates)
            mlvl['bboxes'].append(
                self.decode(
                    kept['priors'],
                    kept['bbox_pred'],
                    stride[0],
                    max_shape=img_meta['img_shape']))
            mlvl['scores'].append(scores)
            mlvl['labels'].append(labels)
            if with_factors:
                mlvl['score_factors'].append(kept['factor'])

        results = InstanceData()
        results.bboxes = torch.cat(mlvl['bboxes'])
        results.scores = torch.cat(mlvl['scores'])
        results.labels = torch.cat(mlvl['labels'])
        if with_factors:
            results.score_factors = torch.cat(mlvl['score_factors'])
        return self._bbox_post_process(
            results=results,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms,
            img_meta=img_meta)

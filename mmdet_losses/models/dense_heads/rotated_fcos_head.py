"""Rotated FCOS: mmdet's ``FCOSHead`` with the box distances measured in
the box's own frame and an angle branch (FCOS, Tian et al., ICCV 2019; the
rotated form of mmrotate's DOTA baseline)."""
from typing import Dict, List, Optional, Tuple

import torch
from mmcv.cnn import Scale
from mmdet.models.dense_heads import FCOSHead
from mmdet.models.utils import multi_apply
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import (InstanceList, OptConfigType, OptInstanceList,
                         reduce_mean)
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmdet_losses.registry import MODELS, TASK_UTILS
from mmdet_losses.structures import rboxes_as_tensor, regularize_rboxes

INF = 1e8


@MODELS.register_module()
class RotatedFCOSHead(FCOSHead):
    """FCOS for rotated boxes.

    A point is a candidate for a box when it lies inside it (with
    ``center_sampling``, within ``center_sample_radius`` strides of its
    centre, both measured along the box's own axes); the regression targets
    are the distances to the box's four sides in that frame
    (:class:`~mmdet_losses.models.task_modules.DistanceAnglePointCoder`),
    the angle target the box's angle in the coder's ``angle_version``.

    The angle has a branch of its own (a 3 x 3 convolution beside the box
    regression, times a learnt scale with ``scale_angle``). Its output goes
    through ``angle_coder`` when one is set (e.g. ``CSLCoder``) and is the
    angle itself otherwise.

    Losses:

    * ``use_hbbox_loss=False`` (default): ``loss_bbox`` compares the decoded
      rotated boxes ``(cx, cy, w, h, t)`` in pixels, predicted angle
      included (e.g. ``RotatedIoULoss``, ``PIoULoss``).
    * ``use_hbbox_loss=True``: ``loss_bbox`` compares the distances as
      horizontal boxes (``h_bbox_coder``), i.e. the boxes with the angle
      factored out, and ``loss_angle`` is required.
    * ``loss_angle`` (optional otherwise) compares the angle branch's
      output with the encoded angle targets on positive points.

    Args:
        angle_coder: config of the angle coder; None regresses the angle.
        loss_angle: config of the angle loss.
        use_hbbox_loss: see above.
        scale_angle: multiply the angle output by a learnt scale.
        h_bbox_coder: decoder of the distances as horizontal boxes.
        Others: ``FCOSHead``'s.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 angle_coder: OptConfigType = None,
                 loss_angle: OptConfigType = None,
                 use_hbbox_loss: bool = False,
                 scale_angle: bool = True,
                 h_bbox_coder: dict = dict(type='DistancePointBBoxCoder'),
                 bbox_coder: dict = dict(
                     type='DistanceAnglePointCoder', angle_version='le90'),
                 loss_bbox: dict = dict(
                     type='RotatedIoULoss', loss_weight=1.0),
                 **kwargs) -> None:
        # the layers (built by the parent's __init__) need these
        self.angle_coder = TASK_UTILS.build(angle_coder) \
            if angle_coder else None
        self.use_scale_angle = scale_angle
        super().__init__(
            num_classes,
            in_channels,
            bbox_coder=bbox_coder,
            loss_bbox=loss_bbox,
            **kwargs)
        if not hasattr(self.bbox_coder, 'angle_version'):
            raise ValueError(
                f'RotatedFCOSHead needs a rotated point coder with an '
                f'angle_version (e.g. DistanceAnglePointCoder), got '
                f'{type(self.bbox_coder).__name__}')
        if use_hbbox_loss and loss_angle is None:
            raise ValueError('use_hbbox_loss=True leaves the angle to '
                             'loss_angle: set it')
        self.use_hbbox_loss = use_hbbox_loss
        self.h_bbox_coder = TASK_UTILS.build(h_bbox_coder)
        self.loss_angle = MODELS.build(loss_angle) if loss_angle else None

    @property
    def angle_version(self) -> str:
        """The angle convention of the boxes: the coder's."""
        return self.bbox_coder.angle_version

    @property
    def angle_channels(self) -> int:
        return self.angle_coder.encode_size if self.angle_coder else 1

    def _init_layers(self) -> None:
        super()._init_layers()
        self.conv_angle = nn.Conv2d(
            self.feat_channels, self.angle_channels, 3, padding=1)
        if self.use_scale_angle:
            self.scale_angle = Scale(1.0)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor], ...]:
        """Class scores, side distances, angle outputs and centerness, per
        level."""
        return multi_apply(self.forward_single, x, self.scales, self.strides)

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        cls_score, bbox_pred, cls_feat, reg_feat = \
            super(FCOSHead, self).forward_single(x)
        centerness = self.conv_centerness(
            reg_feat if self.centerness_on_reg else cls_feat)
        bbox_pred = scale(bbox_pred).float()
        if self.norm_on_bbox:
            # distances in strides while training, pixels at test time
            bbox_pred = bbox_pred.clamp(min=0)
            if not self.training:
                bbox_pred = bbox_pred * stride
        else:
            bbox_pred = bbox_pred.exp()
        angle_pred = self.conv_angle(reg_feat)
        if self.use_scale_angle:
            angle_pred = self.scale_angle(angle_pred).float()
        return cls_score, bbox_pred, angle_pred, centerness

    def decode_angle(self, angle_pred: Tensor) -> Tensor:
        """``(n, angle_channels)`` outputs to ``(n,)`` angles."""
        if self.angle_coder is None:
            return angle_pred[:, 0]
        return self.angle_coder.decode(angle_pred).reshape(-1)

    def encode_angle(self, angles: Tensor) -> Tensor:
        """``(n,)`` angles to ``(n, angle_channels)`` targets."""
        angles = angles[:, None]
        return self.angle_coder.encode(angles) if self.angle_coder \
            else angles

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     angle_preds: List[Tensor],
                     centernesses: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> Dict[str, Tensor]:
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device)
        labels, bbox_targets, angle_targets = self.get_targets(
            points, batch_gt_instances)
        num_imgs = cls_scores[0].size(0)

        def flat(maps: List[Tensor], channels: int) -> Tensor:
            return torch.cat(
                [m.permute(0, 2, 3, 1).reshape(-1, channels) for m in maps])

        flat_cls = flat(cls_scores, self.cls_out_channels)
        flat_bbox = flat(bbox_preds, 4)
        flat_angle = flat(angle_preds, self.angle_channels)
        flat_centerness = flat(centernesses, 1)[:, 0]
        flat_labels = torch.cat(labels)
        flat_bbox_targets = torch.cat(bbox_targets)
        flat_angle_targets = torch.cat(angle_targets)
        flat_points = torch.cat(
            [level.repeat(num_imgs, 1) for level in points])
        # distances are in strides with norm_on_bbox: boxes are decoded in
        # pixels, which losses that are not scale-free (PIoU) need
        flat_strides = torch.cat([
            level.new_full((num_imgs * len(level), ),
                           stride if self.norm_on_bbox else 1.0)
            for level, stride in zip(points, self.strides)
        ])

        pos = ((flat_labels >= 0) &
               (flat_labels < self.num_classes)).nonzero().reshape(-1)
        num_pos = max(
            reduce_mean(
                torch.tensor(
                    len(pos), dtype=torch.float, device=bbox_preds[0].device)),
            1.0)
        loss_cls = self.loss_cls(flat_cls, flat_labels, avg_factor=num_pos)

        pos_bbox = flat_bbox[pos]
        pos_angle = flat_angle[pos]
        pos_centerness = flat_centerness[pos]
        pos_bbox_targets = flat_bbox_targets[pos]
        pos_angle_targets = flat_angle_targets[pos]
        centerness_targets = self.centerness_target(pos_bbox_targets)
        centerness_denorm = max(
            reduce_mean(centerness_targets.sum().detach()), 1e-6)
        losses = dict(loss_cls=loss_cls)
        if len(pos) == 0:
            # zeros that keep the outputs in the graph
            losses['loss_bbox'] = pos_bbox.sum() + pos_angle.sum() * 0
            losses['loss_centerness'] = pos_centerness.sum()
            if self.loss_angle is not None:
                losses['loss_angle'] = pos_angle.sum()
            return losses

        pos_points = flat_points[pos]
        stride = flat_strides[pos][:, None]
        if self.use_hbbox_loss:
            pred_boxes = self.h_bbox_coder.decode(pos_points,
                                                  pos_bbox * stride)
            target_boxes = self.h_bbox_coder.decode(pos_points,
                                                    pos_bbox_targets * stride)
        else:
            pred_boxes = self.bbox_coder.decode(
                pos_points,
                torch.cat(
                    [pos_bbox * stride,
                     self.decode_angle(pos_angle)[:, None]], 1))
            target_boxes = self.bbox_coder.decode(
                pos_points,
                torch.cat([pos_bbox_targets * stride, pos_angle_targets], 1))
        losses['loss_bbox'] = self.loss_bbox(
            get_box_tensor(pred_boxes),
            get_box_tensor(target_boxes),
            weight=centerness_targets,
            avg_factor=centerness_denorm)
        if self.loss_angle is not None:
            losses['loss_angle'] = self.loss_angle(
                pos_angle,
                self.encode_angle(pos_angle_targets[:, 0]),
                avg_factor=num_pos)
        losses['loss_centerness'] = self.loss_centerness(
            pos_centerness, centerness_targets, avg_factor=num_pos)
        return losses

    def get_targets(
        self, points: List[Tensor], batch_gt_instances: InstanceList
    ) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Labels, side distances (in strides with ``norm_on_bbox``) and
        angles of the points of every level, images concatenated."""
        if len(points) != len(self.regress_ranges):
            raise ValueError(f'{len(points)} feature levels for '
                             f'{len(self.regress_ranges)} regress_ranges')
        ranges = torch.cat([
            level.new_tensor(bounds)[None].expand(len(level), 2)
            for level, bounds in zip(points, self.regress_ranges)
        ])
        # each point's centre-sampling radius, in pixels
        radii = torch.cat([
            level.new_full((len(level), ), stride * self.center_sample_radius)
            for level, stride in zip(points, self.strides)
        ])
        num_points = [len(level) for level in points]
        labels, distances, angles = multi_apply(
            self._get_targets_single,
            batch_gt_instances,
            points=torch.cat(points),
            regress_ranges=ranges,
            radii=radii)
        by_level = []
        for per_image in (labels, distances, angles):
            split = [targets.split(num_points) for targets in per_image]
            by_level.append([torch.cat(level) for level in zip(*split)])
        if self.norm_on_bbox:
            by_level[1] = [
                level / stride
                for level, stride in zip(by_level[1], self.strides)
            ]
        return tuple(by_level)

    def _get_targets_single(self, gt_instances: InstanceData, points: Tensor,
                            regress_ranges: Tensor,
                            radii: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        num_points, num_gts = points.size(0), len(gt_instances)
        gt_labels = gt_instances.labels
        if num_gts == 0:
            return (gt_labels.new_full((num_points, ), self.num_classes),
                    points.new_zeros(num_points,
                                     4), points.new_zeros(num_points, 1))
        gt_boxes = regularize_rboxes(
            rboxes_as_tensor(gt_instances.bboxes).to(points),
            self.angle_version)
        # (points, boxes, 5): side distances and angle of every pair
        targets = self.bbox_coder.encode(points[:, None], gt_boxes[None])
        distances = targets[..., :4]
        candidate = distances.min(dim=-1).values > 0
        if self.center_sampling:
            # offsets from the box centre along its axes: u = (l - r) / 2
            u = (distances[..., 0] - distances[..., 2]) / 2
            v = (distances[..., 1] - distances[..., 3]) / 2
            radius = radii[:, None]
            candidate &= (u.abs() < radius) & (v.abs() < radius)
        largest = distances.max(dim=-1).values
        candidate &= (largest >= regress_ranges[:, None, 0]) & \
            (largest <= regress_ranges[:, None, 1])
        # the smallest candidate box wins a point
        areas = (gt_boxes[:, 2] *
                 gt_boxes[:, 3])[None].expand(num_points, num_gts)
        areas = torch.where(candidate, areas, areas.new_tensor(INF))
        min_area, best = areas.min(dim=1)
        labels = gt_labels[best]
        labels[min_area == INF] = self.num_classes
        index = torch.arange(num_points, device=points.device)
        return labels, distances[index, best], targets[index, best, 4:]

    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        angle_preds: List[Tensor],
                        score_factors: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: OptConfigType = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """mmdet's post-processing on ``(l, t, r, b, angle)`` per point;
        ``score_factors`` are the centerness outputs."""
        merged = []
        for bbox_pred, angle_pred in zip(bbox_preds, angle_preds):
            b, _, h, w = angle_pred.shape
            angles = self.decode_angle(
                angle_pred.permute(0, 2, 3, 1).reshape(-1,
                                                       self.angle_channels))
            merged.append(
                torch.cat(
                    [bbox_pred,
                     angles.view(b, h, w, 1).permute(0, 3, 1, 2)], 1))
        return super().predict_by_feat(
            cls_scores,
            merged,
            score_factors=score_factors,
            batch_img_metas=batch_img_metas,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms)

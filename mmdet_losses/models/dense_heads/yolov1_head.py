"""YOLOv1's detection head on an mmdet backbone.

Redmon, Divvala, Girshick and Farhadi, "You Only Look Once: Unified,
Real-Time Object Detection", CVPR 2016 (arXiv:1506.02640).
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.utils import filter_scores_and_topk
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import (ConfigType, InstanceList, OptConfigType,
                         OptInstanceList, OptMultiConfig)
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmdet_losses.functional.yolov1 import yolov1_decode, yolov1_encode_targets
from mmdet_losses.registry import MODELS


@MODELS.register_module()
class YOLOv1Head(BaseDenseHead):
    """Predicts YOLOv1's ``S x S x (B * 5 + C)`` grid from the last feature
    map of a backbone (or neck).

    Reaching the grid: ``num_convs`` 3x3 convolutions at the feature map's
    resolution, then an adaptive average pooling to ``S x S``, then a 1x1
    convolution to ``B * 5 + C`` channels. A stride-32 backbone at the
    paper's 448-pixel input gives 14 x 14, pooled 2 x 2 into the paper's
    7 x 7 cells of 64 pixels. (The paper reaches 7 x 7 with a strided
    convolution and ends in two fully connected layers.) Where the feature
    map is a multiple of ``S``, each cell pools exactly the features of its
    region of the input.

    Outputs (``outputs``), in the 'yolov1' format of
    :mod:`mmdet_losses.functional.yolov1` (centre offsets in the cell, size
    as a fraction of the input), then confidences and class probabilities:

    * ``'sigmoid'`` (default): sigmoid on the box values and the
      confidences, softmax over the classes: in range from the first
      iteration, so no early step drives a size below 0.
    * ``'linear'``, the paper's: the last layer's values as they are. They
      can leave ``[0, 1]``; the loss takes any value (its square root of the
      size has a finite slope at and below 0), and the predictions clamp
      sizes, confidences and probabilities to ``[0, 1]``.

    The grid covers the whole network input (``batch_input_shape``, padding
    included). Objects the dataset marks as ignored (e.g. VOC's "difficult")
    take no part in the loss.

    Args:
        num_classes: C.
        in_channels: channels of the input feature map.
        grid_size: S (paper: 7).
        num_boxes: B, boxes per cell (paper: 2).
        feat_channels: channels of the 3x3 convolutions.
        num_convs: how many 3x3 convolutions.
        conv_cfg, norm_cfg, act_cfg: of those convolutions (the paper's
            activation is a leaky ReLU of slope 0.1).
        outputs: ``'sigmoid'`` or ``'linear'``, see above.
        loss: the loss config; ``YOLOv1Loss`` with ``num_boxes`` set from
            this head.
        gt_tolerance: how far, in pixels, a ground-truth box may reach
            outside the input before it is reported as an error.
        train_cfg: unused, accepted from the detector.
        test_cfg: ``score_thr`` (on the class-specific confidence),
            ``nms`` (mmcv's ``batched_nms`` config), ``max_per_img``,
            optional ``nms_pre`` and ``min_bbox_size``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 grid_size: int = 7,
                 num_boxes: int = 2,
                 feat_channels: int = 512,
                 num_convs: int = 2,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
                 act_cfg: ConfigType = dict(
                     type='LeakyReLU', negative_slope=0.1),
                 outputs: str = 'sigmoid',
                 loss: ConfigType = dict(
                     type='YOLOv1Loss', lambda_coord=5.0, lambda_noobj=0.5),
                 gt_tolerance: float = 1.0,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1 or grid_size < 1 or num_boxes < 1:
            raise ValueError(
                f'num_classes ({num_classes}), grid_size ({grid_size}) and '
                f'num_boxes ({num_boxes}) must be positive')
        if outputs not in ('linear', 'sigmoid'):
            raise ValueError(f"outputs must be 'linear' or 'sigmoid', got "
                             f'{outputs!r}')
        self.outputs = outputs
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.grid_size = grid_size
        self.num_boxes = num_boxes
        self.feat_channels = feat_channels
        self.gt_tolerance = gt_tolerance
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        loss = dict(loss)
        if loss.setdefault('num_boxes', num_boxes) != num_boxes:
            raise ValueError(f'loss num_boxes={loss["num_boxes"]} differs '
                             f'from the head\'s num_boxes={num_boxes}')
        self.loss_yolo = MODELS.build(loss)

        convs = []
        for i in range(num_convs):
            convs.append(
                ConvModule(
                    in_channels if i == 0 else feat_channels,
                    feat_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
        self.convs = nn.Sequential(*convs)
        self.pool = nn.AdaptiveAvgPool2d(grid_size)
        self.pred = nn.Conv2d(feat_channels if num_convs else in_channels,
                              num_boxes * 5 + num_classes, 1)

    def init_weights(self) -> None:
        super().init_weights()
        # Small weights, and biases that start every box mid-cell: with
        # linear outputs 0.5 for x, y and a tenth of the input for w, h
        # (away from 0, where the loss's square root is steepest),
        # confidence and class scores 0; with sigmoids 0 gives 0.5 for all
        # box values and confidences and uniform class probabilities.
        nn.init.normal_(self.pred.weight, std=0.01)
        nn.init.zeros_(self.pred.bias)
        if self.outputs == 'linear':
            with torch.no_grad():
                boxes = self.pred.bias[:5 * self.num_boxes].view(-1, 5)
                boxes[:, :2] = 0.5
                boxes[:, 2:4] = 0.1

    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[Tensor]:
        """Raw scores (N, B * 5 + C, S, S) from the last map of ``x``."""
        feat = x[-1]
        height, width = feat.shape[-2:]
        if height < self.grid_size or width < self.grid_size:
            raise ValueError(
                f'the {height} x {width} feature map is smaller than the '
                f'{self.grid_size} x {self.grid_size} grid: use a larger '
                'input or a smaller grid_size')
        return (self.pred(self.pool(self.convs(feat))), )

    def activate(self, pred_map: Tensor) -> Tensor:
        """Raw scores (N, B * 5 + C, S, S) to the loss's layout
        (N, S, S, B * 5 + C), through the ``outputs`` activations; in
        float32 also under autocast, as the sums over the grid need it."""
        pred = pred_map.permute(0, 2, 3, 1).float()
        if self.outputs == 'linear':
            return pred
        split = 5 * self.num_boxes
        return torch.cat(
            [pred[..., :split].sigmoid(), pred[..., split:].softmax(-1)], -1)

    def _bounded(self, pred: Tensor) -> Tensor:
        """Activated predictions with sizes, confidences and probabilities
        clamped to where they mean something (linear outputs can leave it):
        a negative confidence times a negative probability must not score."""
        split = 5 * self.num_boxes
        boxes = pred[..., :split].unflatten(-1, (self.num_boxes, 5))
        boxes = torch.cat([boxes[..., :2], boxes[..., 2:].clamp(0, 1)], -1)
        return torch.cat([boxes.flatten(-2), pred[..., split:].clamp(0, 1)],
                         -1)

    @staticmethod
    def _input_size(batch_img_metas: Sequence[dict]) -> Tuple[int, int]:
        sizes = {tuple(meta['batch_input_shape']) for meta in batch_img_metas}
        if len(sizes) != 1:
            raise ValueError('the images of a batch have different '
                             f'batch_input_shape values: {sorted(sizes)}')
        return sizes.pop()

    def loss_by_feat(self,
                     pred_map: Tensor,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """The five terms of YOLOv1's loss, each averaged over the images:
        ``loss_xy``, ``loss_wh``, ``loss_conf_obj``, ``loss_conf_noobj``,
        ``loss_cls``."""
        target = yolov1_encode_targets(
            [get_box_tensor(gt.bboxes) for gt in batch_gt_instances],
            [gt.labels for gt in batch_gt_instances],
            self.grid_size,
            self.num_classes,
            self._input_size(batch_img_metas),
            tolerance=self.gt_tolerance)
        terms = self.loss_yolo(
            self.activate(pred_map), target, return_terms=True)
        return {f'loss_{name}': value for name, value in terms.items()}

    def predict_by_feat(self,
                        pred_map: Tensor,
                        batch_img_metas: List[dict],
                        cfg: Optional[ConfigDict] = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """Boxes scored by the class-specific confidence, thresholded, then
        non-maximum suppressed per class.

        Returns:
            Per image, ``InstanceData`` with ``bboxes`` (xyxy), ``scores``
            and ``labels``.
        """
        cfg = self.test_cfg if cfg is None else cfg
        cfg = ConfigDict(cfg or {})
        boxes, scores = yolov1_decode(
            self._bounded(self.activate(pred_map)), self.num_boxes,
            self._input_size(batch_img_metas))
        results_list = []
        for img_boxes, img_scores, img_meta in zip(boxes, scores,
                                                   batch_img_metas):
            kept_scores, labels, _, kept = filter_scores_and_topk(
                img_scores, cfg.get('score_thr', 0.0),
                cfg.get('nms_pre', img_scores.numel()), dict(bboxes=img_boxes))
            bboxes = kept['bboxes']
            height, width = img_meta['img_shape'][:2]
            bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, width)
            bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, height)
            results = InstanceData(
                bboxes=bboxes, scores=kept_scores, labels=labels)
            results_list.append(
                self._bbox_post_process(results, cfg, rescale, with_nms,
                                        img_meta))
        return results_list

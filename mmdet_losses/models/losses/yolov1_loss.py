from typing import Dict, Optional, Union

from torch import Tensor

from mmdet_losses.functional.reduction import weight_reduce_loss
from mmdet_losses.functional.yolov1 import (SQRT_EPS, YOLOv1Targets,
                                            yolov1_loss_terms)
from mmdet_losses.registry import MODELS
from .base import BaseLoss


@MODELS.register_module()
class YOLOv1Loss(BaseLoss):
    """YOLOv1's sum-squared loss (Redmon et al., CVPR 2016, equation 3);
    the formula is :func:`mmdet_losses.functional.yolov1_loss_terms`.

    One loss element is one image: the sum of the five terms over its grid.
    ``reduction='mean'`` therefore divides the batch's sum by the number of
    images, as the paper does.

    Args:
        num_boxes: B, the boxes each cell predicts.
        lambda_coord: weight of the centre and size terms (paper: 5).
        lambda_noobj: weight of the confidence of predictors without an
            object (paper: 0.5).
        eps: where the square root of the predicted width and height turns
            into its tangent (see ``functional.yolov1.safe_sqrt``).
        reduction: 'none', 'mean' or 'sum' over images.
        loss_weight: multiplies the loss.
    """

    def __init__(self,
                 num_boxes: int = 2,
                 lambda_coord: float = 5.0,
                 lambda_noobj: float = 0.5,
                 eps: float = SQRT_EPS,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)
        self.num_boxes = num_boxes
        self.lambda_coord = lambda_coord
        self.lambda_noobj = lambda_noobj
        self.eps = eps

    def forward(self,
                pred: Tensor,
                target: YOLOv1Targets,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                return_terms: bool = False
                ) -> Union[Tensor, Dict[str, Tensor]]:
        """
        Args:
            pred: (N, S, S, B * 5 + C), activated (see the functional).
            target: ``(boxes, labels, num_classes)`` from
                ``yolov1_encode_targets``.
            weight: (N,) per-image weights.
            avg_factor: divides the sum instead of N under 'mean'.
            reduction_override: None, 'none', 'mean' or 'sum'.
            return_terms: return ``{'xy', 'wh', 'conf_obj', 'conf_noobj',
                'cls'}``, each reduced alike, instead of their sum.
        """
        reduction = self.resolve_reduction(reduction_override)
        terms = yolov1_loss_terms(pred, YOLOv1Targets(*target), self.num_boxes,
                                  self.lambda_coord, self.lambda_noobj,
                                  self.eps)
        reduced = {
            name:
            self.loss_weight *
            weight_reduce_loss(term, weight, reduction, avg_factor)
            for name, term in terms.items()
        }
        return reduced if return_terms else sum(reduced.values())

    def extra_repr(self) -> str:
        return (f'num_boxes={self.num_boxes}, lambda_coord='
                f'{self.lambda_coord}, lambda_noobj={self.lambda_noobj}, '
                f'{super().extra_repr()}')

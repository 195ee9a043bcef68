"""The registered YOLOv1Loss: mmdet's module API around the functional."""
import pytest
import torch

from mmdet_losses.functional.yolov1 import (yolov1_encode_targets, yolov1_loss,
                                            yolov1_loss_terms)
from mmdet_losses.models.losses.yolov1_loss import YOLOv1Loss
from mmdet_losses.registry import MODELS


def batch(num_images=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    boxes = [
        torch.tensor([[4., 4., 20., 28.], [30., 2., 60., 12.]]),
        torch.zeros(0, 4),
        torch.tensor([[10., 40., 50., 60.]]),
    ][:num_images]
    labels = [
        torch.tensor([0, 2]),
        torch.zeros(0, dtype=torch.long),
        torch.tensor([1])
    ][:num_images]
    target = yolov1_encode_targets(boxes, labels, 4, 3, (64, 64))
    pred = torch.rand(num_images, 4, 4, 13, generator=gen).requires_grad_()
    return pred, target


def test_builds_from_the_registry_with_the_paper_defaults():
    loss = MODELS.build(dict(type='YOLOv1Loss'))
    assert isinstance(loss, YOLOv1Loss)
    assert (loss.num_boxes, loss.lambda_coord, loss.lambda_noobj,
            loss.reduction) == (2, 5.0, 0.5, 'mean')


def test_mean_is_the_sum_over_the_grid_divided_by_the_batch():
    pred, target = batch()
    per_image = yolov1_loss(pred, target)
    module = YOLOv1Loss()
    torch.testing.assert_close(module(pred, target), per_image.sum() / 3)
    torch.testing.assert_close(
        module(pred, target, reduction_override='sum'), per_image.sum())
    torch.testing.assert_close(
        module(pred, target, reduction_override='none'), per_image)


def test_weight_avg_factor_and_loss_weight():
    pred, target = batch()
    per_image = yolov1_loss(pred, target).detach()
    weight = torch.tensor([1.0, 0.0, 2.0])
    module = YOLOv1Loss(loss_weight=0.5)
    torch.testing.assert_close(
        module(pred, target, weight=weight, avg_factor=4.0),
        0.5 * (per_image * weight).sum() / 4.0)
    with pytest.raises(ValueError, match='avg_factor'):
        module(pred, target, avg_factor=2.0, reduction_override='sum')
    with pytest.raises(AssertionError):
        module(pred, target, reduction_override='max')
    with pytest.raises(ValueError, match='reduction'):
        YOLOv1Loss(reduction='max')


def test_terms_add_up_to_the_loss_and_match_the_functional():
    pred, target = batch()
    module = YOLOv1Loss(num_boxes=2, lambda_coord=3.0, lambda_noobj=0.1)
    terms = module(pred, target, return_terms=True)
    expected = yolov1_loss_terms(pred, target, 2, 3.0, 0.1)
    assert terms.keys() == expected.keys()
    for name in terms:
        torch.testing.assert_close(terms[name], expected[name].mean())
    torch.testing.assert_close(sum(terms.values()), module(pred, target))


def test_gradient_reaches_the_prediction():
    pred, target = batch()
    YOLOv1Loss()(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_num_boxes_must_match_the_layout():
    pred, target = batch()
    with pytest.raises(ValueError, match='encoded for 3 classes'):
        YOLOv1Loss(num_boxes=1)(pred, target)
    with pytest.raises(ValueError, match='too few'):
        YOLOv1Loss(num_boxes=3)(pred, target)


def test_a_batch_without_objects_stays_attached_to_the_graph():
    target = yolov1_encode_targets([torch.zeros(0, 4)] * 2,
                                   [torch.zeros(0, dtype=torch.long)] * 2, 4,
                                   3, (64, 64))
    pred = torch.rand(2, 4, 4, 13).requires_grad_()
    terms = YOLOv1Loss()(pred, target, return_terms=True)
    for name in ('xy', 'wh', 'conf_obj', 'cls'):
        assert terms[name].item() == 0 and terms[name].requires_grad, name
    sum(terms.values()).backward()
    # only the confidences move, towards 0
    grad = pred.grad[..., :10].unflatten(-1, (2, 5))
    assert grad[..., :4].abs().sum() == 0 and (grad[..., 4] > 0).all()
    assert pred.grad[..., 10:].abs().sum() == 0

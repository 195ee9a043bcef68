"""Box formats: known values, round trips, and errors that name the
problem."""
import pytest
import torch

from mmdet_losses.functional.boxes import (box_area, convert_boxes,
                                           cxcywh_to_xyxy, distance_to_xyxy,
                                           xywh_to_xyxy, xyxy_to_cxcywh,
                                           xyxy_to_distance, xyxy_to_xywh)

BOX = torch.tensor([[1., 2., 5., 10.], [-3., 0., -1., 0.]])


def test_known_values():
    torch.testing.assert_close(
        xyxy_to_cxcywh(BOX), torch.tensor([[3., 6., 4., 8.], [-2., 0., 2.,
                                                              0.]]))
    torch.testing.assert_close(
        xyxy_to_xywh(BOX), torch.tensor([[1., 2., 4., 8.], [-3., 0., 2., 0.]]))
    points = torch.tensor([[2., 4.], [-2., 0.]])
    torch.testing.assert_close(
        xyxy_to_distance(points, BOX),
        torch.tensor([[1., 2., 3., 6.], [1., 0., 1., 0.]]))
    torch.testing.assert_close(box_area(BOX), torch.tensor([32., 0.]))
    # an inverted box keeps its numbers and has a negative area
    assert box_area(torch.tensor([5., 5., 4., 7.])) == -2


def test_round_trips_on_any_leading_shape():
    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(2, 3, 4, generator=g, dtype=torch.float64) * 50
    boxes[..., 2:] += boxes[..., :2]
    points = boxes[..., :2] + 1.5
    torch.testing.assert_close(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes)
    torch.testing.assert_close(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes)
    torch.testing.assert_close(
        distance_to_xyxy(points, xyxy_to_distance(points, boxes)), boxes)
    for src in ('xyxy', 'cxcywh', 'xywh', 'ltrb'):
        for dst in ('xyxy', 'cxcywh', 'xywh', 'ltrb'):
            there = convert_boxes(boxes, 'xyxy', src, points)
            back = convert_boxes(
                convert_boxes(there, src, dst, points), dst, 'xyxy', points)
            torch.testing.assert_close(back, boxes)


def test_conversions_are_differentiable():
    boxes = torch.rand(5, 4, dtype=torch.float64, requires_grad=True)
    points = torch.rand(5, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda b: convert_boxes(b, 'cxcywh', 'ltrb', points), (boxes, ))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\), got \(3, 5\)"):
        xyxy_to_cxcywh(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="unknown box format 'xywha'"):
        convert_boxes(BOX, 'xywha', 'xyxy')
    with pytest.raises(ValueError, match='needs the points'):
        convert_boxes(BOX, 'ltrb', 'xyxy')
    with pytest.raises(ValueError, match=r'points must have shape'):
        distance_to_xyxy(torch.zeros(2, 3), BOX)
    with pytest.raises(ValueError, match='do not match boxes'):
        distance_to_xyxy(torch.zeros(5, 2), BOX)
    with pytest.raises(TypeError, match='torch.Tensor'):
        box_area([[0, 0, 1, 1]])

"""YOLOv1Head: grid, targets, loss, decoding, NMS, and that it learns."""
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes, get_box_tensor
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdet_losses.functional.yolov1 import (yolov1_encode_targets,
                                            yolov1_loss_terms)
from mmdet_losses.models.dense_heads.yolov1_head import YOLOv1Head
from mmdet_losses.registry import MODELS

TEST_CFG = dict(
    score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)


def make_head(**kwargs):
    cfg = dict(
        type='YOLOv1Head',
        num_classes=3,
        in_channels=16,
        grid_size=4,
        num_boxes=2,
        feat_channels=32,
        num_convs=1,
        outputs='sigmoid',
        test_cfg=TEST_CFG)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def metas(num_images=1, size=(64, 64), scale=(1.0, 1.0)):
    return [
        dict(batch_input_shape=size, img_shape=size, scale_factor=scale)
        for _ in range(num_images)
    ]


def gt(boxes, labels, boxed=False):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return InstanceData(
        bboxes=HorizontalBoxes(boxes) if boxed else boxes,
        labels=torch.tensor(labels, dtype=torch.long))


def logit(p):
    p = torch.as_tensor(p, dtype=torch.float32)
    return torch.log(p / (1 - p))


def test_builds_in_our_scope_and_predicts_the_grid():
    head = make_head()
    assert isinstance(head, YOLOv1Head)
    assert head.loss_yolo.num_boxes == 2
    # a 16 x 16 feature map pooled to the 4 x 4 grid
    out, = head((torch.rand(2, 16, 16, 16), ))
    assert out.shape == (2, 2 * 5 + 3, 4, 4)
    pred = head.activate(out)
    assert pred.shape == (2, 4, 4, 13)
    torch.testing.assert_close(pred[..., :10],
                               out.permute(0, 2, 3, 1)[..., :10].sigmoid())
    torch.testing.assert_close(pred[..., 10:],
                               out.permute(0, 2, 3, 1)[..., 10:].softmax(-1))


def test_linear_outputs_are_the_raw_values_and_start_mid_cell():
    head = make_head(outputs='linear')
    out, = head((torch.zeros(2, 16, 8, 8), ))
    pred = head.activate(out)
    torch.testing.assert_close(pred, out.permute(0, 2, 3, 1))
    # zero features: the biases alone, x, y = 0.5, w, h = 0.1, the rest 0
    boxes = pred[..., :10].unflatten(-1, (2, 5))
    torch.testing.assert_close(boxes[..., :2], torch.full((2, 4, 4, 2, 2),
                                                          0.5))
    torch.testing.assert_close(boxes[..., 2:4], torch.full((2, 4, 4, 2, 2),
                                                           0.1))
    assert boxes[..., 4].abs().max() == 0 and pred[..., 10:].abs().max() == 0
    with pytest.raises(ValueError, match="outputs must be 'linear' or "):
        make_head(outputs='relu')


def test_linear_outputs_are_clamped_before_scoring():
    head = make_head(outputs='linear', test_cfg=dict(TEST_CFG, score_thr=0.0))
    raw = torch.zeros(1, 13, 4, 4)
    # cell (0, 0), box 0: confidence -0.5 and class scores -0.5: their
    # product is 0.25, but a negative confidence means no object
    raw[0, 0:5, 0, 0] = torch.tensor([0.5, 0.5, 0.5, 0.5, -0.5])
    raw[0, 10:, 0, 0] = -0.5
    # cell (2, 2), box 1: confidence 1.5, class 1 at 0.7, size -0.2 x 0.5
    raw[0, 5:10, 2, 2] = torch.tensor([0.5, 0.5, -0.2, 0.5, 1.5])
    raw[0, 11, 2, 2] = 0.7
    result, = head.predict_by_feat(raw, metas(), with_nms=False)
    assert result.scores.tolist() == [pytest.approx(0.7)]
    assert result.labels.tolist() == [1]
    # a zero-width box at the cell centre (40, 40), 32 high
    torch.testing.assert_close(result.bboxes[0],
                               torch.tensor([40., 24., 40., 56.]))


def test_feature_map_smaller_than_the_grid_is_an_error():
    with pytest.raises(
            ValueError,
            match='3 x 3 feature map is smaller than '
            'the 4 x 4 grid'):
        make_head()((torch.rand(1, 16, 3, 3), ))


def test_loss_num_boxes_must_agree_with_the_head():
    with pytest.raises(ValueError, match='num_boxes'):
        make_head(loss=dict(type='YOLOv1Loss', num_boxes=3))


def test_loss_by_feat_is_the_functional_loss_of_the_activated_grid():
    head = make_head()
    raw, = head((torch.rand(2, 16, 8, 8), ))
    gts = [
        gt([[4., 4., 20., 28.], [40., 40., 60., 50.]], [0, 2], boxed=True),
        gt([], []),
    ]
    losses = head.loss_by_feat(raw, gts, metas(2))
    assert set(losses) == {
        'loss_xy', 'loss_wh', 'loss_conf_obj', 'loss_conf_noobj', 'loss_cls'
    }
    target = yolov1_encode_targets([get_box_tensor(g.bboxes) for g in gts],
                                   [g.labels for g in gts], 4, 3, (64, 64))
    expected = yolov1_loss_terms(head.activate(raw), target)
    for name, value in expected.items():
        torch.testing.assert_close(losses[f'loss_{name}'], value.mean())
    sum(losses.values()).backward()
    assert all(
        torch.isfinite(p.grad).all() for p in head.parameters()
        if p.grad is not None)


def test_bad_ground_truth_is_reported_through_the_head():
    head = make_head()
    raw, = head((torch.rand(2, 16, 8, 8), ))
    gts = [gt([[1., 1., 9., 9.]], [0]), gt([[1., 1., 9., 9.]], [3])]
    with pytest.raises(ValueError, match='image 1, gt 0: label 3'):
        head.loss_by_feat(raw, gts, metas(2))
    gts = [gt([[1., 1., 9., 9.]], [0]), gt([[50., 1., 90., 9.]], [0])]
    with pytest.raises(
            ValueError, match='image 1, gt 0: box.*outside the '
            '64 x 64 input'):
        head.loss_by_feat(raw, gts, metas(2))
    batch_metas = metas(2)
    batch_metas[1]['batch_input_shape'] = (32, 64)
    with pytest.raises(ValueError, match='batch_input_shape'):
        head.loss_by_feat(raw, [gt([], [])] * 2, batch_metas)


def crafted_grid():
    """Raw scores for a 4 x 4 grid, B = 2, C = 3 on 64 x 64 (cells of 16):
    everything unlikely, except in cell (row 1, col 2)
      box 0: centre (40, 24), 16 x 8, confidence 0.9, and
      box 1: nearly the same box, confidence 0.6,
    with class probabilities (0.1, 0.8, 0.1); and in cell (3, 0)
      box 0: centre (8, 56), 32 x 32, confidence 0.5, class 0 at 0.9."""
    raw = torch.full((1, 13, 4, 4), -8.0)
    raw[0, 10:] = 0.0  # uniform class probabilities
    raw[0, 0:5, 1, 2] = logit([0.5, 0.5, 0.25, 0.125, 0.9])
    raw[0, 5:10, 1, 2] = logit([0.52, 0.5, 0.25, 0.125, 0.6])
    raw[0, 10:, 1, 2] = torch.log(torch.tensor([0.1, 0.8, 0.1]))
    raw[0, 0:5, 3, 0] = logit([0.5, 0.5, 0.5, 0.5, 0.5])
    raw[0, 10:, 3, 0] = torch.log(torch.tensor([0.9, 0.05, 0.05]))
    return raw


def test_predict_scores_thresholds_and_suppresses():
    head = make_head()
    result, = head.predict_by_feat(crafted_grid(), metas())
    # class-specific confidence = Pr(class | object) * confidence; the
    # duplicate box 1 (0.8 * 0.6) is suppressed by box 0 (0.8 * 0.9); of
    # the 96 candidates only these and cell (1, 2)'s other classes
    # (0.1 * 0.9, 0.1 * 0.6) pass the 0.05 threshold
    order = result.scores.argsort(descending=True)
    torch.testing.assert_close(result.scores[order],
                               torch.tensor([0.72, 0.45, 0.09, 0.09]))
    assert result.labels[order].tolist()[:2] == [1, 0]
    torch.testing.assert_close(result.bboxes[order[0]],
                               torch.tensor([32., 20., 48., 28.]))
    torch.testing.assert_close(result.bboxes[order[1]],
                               torch.tensor([0., 40., 24., 64.]))
    # without NMS the duplicate comes back
    raw_result, = head.predict_by_feat(crafted_grid(), metas(), with_nms=False)
    assert (raw_result.scores > 0.4).sum() == 3


def test_predict_rescales_to_the_original_image():
    head = make_head()
    # the 64 x 64 input was the original image resized by 0.5 x 0.25
    result, = head.predict_by_feat(
        crafted_grid(), metas(scale=(0.5, 0.25)), rescale=True)
    best = result.scores.argmax()
    torch.testing.assert_close(result.bboxes[best],
                               torch.tensor([64., 80., 96., 112.]))


def test_predict_clips_to_the_image_and_honours_max_per_img():
    head = make_head(test_cfg=dict(TEST_CFG, score_thr=0.0, max_per_img=5))
    raw = torch.zeros(2, 13, 4, 4)
    raw[:, 2:4] = 6.0  # every box nearly the whole input
    results = head.predict_by_feat(raw, metas(2))
    for result in results:
        assert len(result) <= 5
        assert (result.bboxes >= 0).all() and (result.bboxes <= 64).all()


@pytest.mark.parametrize('outputs', ['sigmoid', 'linear'])
def test_the_head_learns_to_find_the_objects_of_an_image(outputs):
    """Fit one image from a fixed random feature map; the predictions must
    then recover its objects: box, class and the highest scores."""
    torch.manual_seed(0)
    head = make_head(num_convs=2, outputs=outputs)
    feats = (torch.randn(1, 16, 8, 8), )
    boxes = [[4., 6., 20., 30.], [36., 34., 60., 44.], [40., 2., 56., 14.]]
    gts = [gt(boxes, [0, 2, 1])]
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        losses = head.loss(feats, [_sample(gts[0])])
        sum(losses.values()).backward()
        optimizer.step()
    head.eval()
    result, = head.predict_by_feat(head(feats)[0], metas())
    top = result[result.scores.argsort(descending=True)[:3]]
    from mmdet_losses.functional import box_iou
    iou = box_iou(top.bboxes, torch.tensor(boxes))
    matched = iou.argmax(1)
    assert sorted(matched.tolist()) == [0, 1, 2]
    assert (iou.max(1).values > 0.7).all(), iou
    assert top.labels.tolist() == [[0, 2, 1][m] for m in matched.tolist()]
    assert (top.scores > 0.5).all()


def _sample(instances):
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=metas()[0])
    sample.gt_instances = instances
    return sample


def test_default_test_cfg_is_used_when_none_is_given():
    head = make_head(test_cfg=None)
    results = head.predict_by_feat(
        crafted_grid(),
        metas(),
        cfg=ConfigDict(
            score_thr=0.3,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=10))
    assert len(results[0]) == 2

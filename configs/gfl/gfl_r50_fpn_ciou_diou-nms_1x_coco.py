# GFL with a CIoU box loss and DIoU-NMS (threshold 0.6 as GFL's NMS,
# beta 1) instead of plain NMS: the pairing the DIoU paper (Zheng et al.,
# AAAI 2020) proposes. Box loss as gfl_r50_fpn_ciou_1x_coco.py. No
# published number for this combination; the GIoU + NMS original reaches
# 40.2 AP (GFL paper Table 3).
_base_ = './gfl_r50_fpn_ciou_1x_coco.py'

# mmcv.ops.batched_nms finds 'diou_nms' only once
# mmdet_losses.models.task_modules.diou_nms.register_diou_nms() has run:
# this package's runner (runner_type, from the base config) calls it for a
# config that names the type; a script that builds the model itself must.
model = dict(
    test_cfg=dict(nms=dict(type='diou_nms', iou_threshold=0.6, beta=1.0)))

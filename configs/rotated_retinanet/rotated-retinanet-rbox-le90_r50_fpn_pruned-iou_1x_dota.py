# mmrotate's rotated RetinaNet (R-50-FPN, 1x, le90, DOTA-v1.0) with the
# assigner's rotated IoU computed only for the anchor / box pairs whose
# horizontal hulls meet (mmdet_losses.PrunedRBboxOverlaps2D): the same IoU
# matrix as mmrotate's RBboxOverlaps2D, so the same training, faster
# (tools/benchmark_rotated_iou.py). Nothing else changes.
_base_ = 'mmrotate::rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    train_cfg=dict(
        assigner=dict(
            iou_calculator=dict(type='mmdet_losses.PrunedRBboxOverlaps2D'))))
auto_scale_lr = dict(enable=False, base_batch_size=2)

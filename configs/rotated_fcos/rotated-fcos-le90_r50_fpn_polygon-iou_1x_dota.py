# mmrotate's rotated FCOS (R-50-FPN, 1x, le90, DOTA-v1.0) with its rotated
# IoU loss (-ln IoU of the decoded boxes) computed in pure torch
# (mmdet_losses.PolygonIoULoss) instead of mmcv's diff_iou_rotated_2d, which
# runs on CUDA only: the same loss, and the config also trains on a CPU.
# Published: 71.28 mAP (mmrotate 1.x, its own loss).
_base_ = 'mmrotate::rotated_fcos/rotated-fcos-le90_r50_fpn_1x_dota.py'
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        loss_bbox=dict(
            _delete_=True, type='mmdet_losses.PolygonIoULoss',
            loss_weight=1.0)))
auto_scale_lr = dict(enable=False, base_batch_size=2)

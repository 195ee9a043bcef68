# mmrotate's rotated FCOS (R-50-FPN, 1x, le90, DOTA-v1.0) with the PIoU
# loss (Chen et al., ECCV 2020) on the decoded boxes instead of the rotated
# IoU loss; nothing else changes (RotatedFCOSHead decodes the boxes itself).
# Published: mmrotate 1.x's baseline is 71.28 mAP; no FCOS + PIoU number
# exists. Not trained by this repository (it needs a GPU and DOTA).
_base_ = 'mmrotate::rotated_fcos/rotated-fcos-le90_r50_fpn_1x_dota.py'
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        loss_bbox=dict(
            _delete_=True,
            type='mmdet_losses.PIoULoss',
            mode='official',
            loss_weight=1.0)))
auto_scale_lr = dict(enable=False, base_batch_size=2)

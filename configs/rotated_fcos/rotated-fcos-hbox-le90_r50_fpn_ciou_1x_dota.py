# mmrotate's rotated FCOS with the box loss on the horizontal box
# (use_hbbox_loss: the four side distances decoded to an (x1, y1, x2, y2)
# box, the angle regressed apart with L1; R-50-FPN, 1x, le90, DOTA-v1.0
# single-scale 1024 px patches, gap 200), with CIoU (Zheng et al., AAAI
# 2020) in place of mmdet's IoULoss on that box. Nothing else changes.
# Published: 70.70 mAP for mmrotate 1.x's own config (mmdet.IoULoss, its
# rotated_fcos metafile); no CIoU number exists.
# Not trained by this repository (it needs a GPU and DOTA).
_base_ = 'mmrotate::rotated_fcos/rotated-fcos-hbox-le90_r50_fpn_1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        loss_bbox=dict(
            _delete_=True, type='mmdet_losses.CIoULoss', loss_weight=1.0)))
# mmrotate's lr 0.0025 is for 1 GPU x 2 images: `--auto-scale-lr` scales it
# for other GPU counts and batch sizes
auto_scale_lr = dict(enable=False, base_batch_size=2)

# mmrotate's rotated RetinaNet (R-50-FPN, 1x, le90, DOTA-v1.0 single-scale
# 1024 px patches, gap 200) with the PIoU loss (Chen et al., ECCV 2020) on
# the decoded boxes instead of L1 on the deltas; nothing else changes.
# Published: mmrotate 1.x's L1 baseline is 68.42 mAP; no RetinaNet + PIoU
# number exists (the paper reports 60.5 for CenterNet-OBB DLA-34 + PIoU).
# Not trained by this repository (it needs a GPU and DOTA).
_base_ = 'mmrotate::rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        # the loss compares decoded (cx, cy, w, h, angle) boxes in pixels
        reg_decoded_bbox=True,
        loss_bbox=dict(
            _delete_=True,
            type='mmdet_losses.PIoULoss',
            k=10,
            union='soft',
            # the authors' training form: -2 ln PIoU, PIoU clamped to
            # [0.1, 1] (docs/piou_csl.md)
            mode='official',
            loss_weight=1.0)))
# mmrotate's lr 0.0025 is for 1 GPU x 2 images: `--auto-scale-lr` scales it
# for other GPU counts and batch sizes
auto_scale_lr = dict(enable=False, base_batch_size=2)

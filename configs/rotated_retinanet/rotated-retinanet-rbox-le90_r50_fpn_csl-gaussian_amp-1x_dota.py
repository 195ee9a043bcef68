# mmrotate's CSL rotated RetinaNet (R-50-FPN, 1x, le90, mixed precision,
# DOTA-v1.0 single-scale 1024 px patches, gap 200; AngleBranchRetinaHead,
# 45 angle bins of 4 degrees, gaussian window of radius 3 bins,
# SmoothFocalLoss on the angle) with this package's CircularSmoothLabelCoder
# in place of mmrotate's CSLCoder: the paper's gaussian label
# exp(-d^2 / (2 r^2)), where mmrotate's gives a zero label in this setting
# on a CPU (docs/piou_csl.md#csl). Nothing else changes.
# Published: mmrotate 1.x reports 69.51 mAP for its own config.
# Not trained by this repository (it needs a GPU and DOTA).
_base_ = 'mmrotate::csl/rotated-retinanet-rbox-le90_r50_fpn_csl-gaussian_amp-1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        angle_coder=dict(type='mmdet_losses.CircularSmoothLabelCoder')))
# mmrotate's lr 0.0025 is for 1 GPU x 2 images: `--auto-scale-lr` scales it
# for other GPU counts and batch sizes
auto_scale_lr = dict(enable=False, base_batch_size=2)

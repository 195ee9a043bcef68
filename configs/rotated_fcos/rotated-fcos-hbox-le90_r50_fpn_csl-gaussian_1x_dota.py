# mmrotate's rotated FCOS with the box loss on the horizontal box and the
# angle classified by circular smooth labels (R-50-FPN, 1x, le90, DOTA-v1.0
# single-scale 1024 px patches, gap 200; 180 bins of 1 degree, gaussian
# window of radius 1 bin, SmoothFocalLoss on the angle), with this package's
# CircularSmoothLabelCoder in place of mmrotate's CSLCoder: the paper's
# label exp(-d^2 / (2 r^2)) (peak 1), where mmrotate's is exp(-d^2) / 2
# here (peak 0.5, narrower; docs/piou_csl.md#csl). Nothing else changes.
# Published: mmrotate 1.x reports 71.76 mAP for its own config.
# Not trained by this repository (it needs a GPU and DOTA).
_base_ = 'mmrotate::rotated_fcos/rotated-fcos-hbox-le90_r50_fpn_csl-gaussian_1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        angle_coder=dict(type='mmdet_losses.CircularSmoothLabelCoder')))
# mmrotate's lr 0.0025 is for 1 GPU x 2 images: `--auto-scale-lr` scales it
# for other GPU counts and batch sizes
auto_scale_lr = dict(enable=False, base_batch_size=2)

# FCOS (Tian et al., ICCV 2019) with mmdet's "tricks" (center sampling,
# distances normalised by the stride, centerness on the regression branch)
# and a GIoU box loss, R-50-caffe-FPN, GN head, 1x, COCO. mmdet's own config
# with this package's scope and runner, so its losses resolve to
# mmdet_losses' implementations. Should land near 38.7 AP (mmdet 3.3 model
# zoo). Every fcos/ config inherits this one.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py'  # noqa: E501

default_scope = 'mmdet_losses'
runner_type = 'mmdet_losses.Runner'
# checks the model against the config before the run and stops at the first
# NaN/Inf loss, keeping the last good checkpoint
custom_hooks = [dict(type='mmdet_losses.LossSafetyHook')]

# ATSS (Zhang et al., CVPR 2020): Focal loss + centerness branch + GIoU on
# anchor deltas, R-50-FPN, 1x, COCO. mmdet's own config with this package's
# scope and runner, so its losses resolve to mmdet_losses' implementations.
# Should land near 39.4 AP (mmdet 3.3 model zoo; the GFL paper's ATSS
# baseline, Table 3 "neither": 39.2).
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'

default_scope = 'mmdet_losses'
runner_type = 'mmdet_losses.Runner'
# checks the model against the config before the run and stops at the first
# NaN/Inf loss, keeping the last good checkpoint
custom_hooks = [dict(type='mmdet_losses.LossSafetyHook')]

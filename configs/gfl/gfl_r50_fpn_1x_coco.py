# GFL as published (Li et al., NeurIPS 2020): QFL + DFL (reg_max 16) + GIoU
# (weight 2), R-50-FPN, 1x, COCO. mmdet's own config with this package's
# scope and runner, so its losses resolve to mmdet_losses' implementations.
# Should land near 40.2 AP (GFL paper Table 3, QFL + DFL: AP50 58.6,
# AP75 43.4; mmdet 3.3 model zoo: 40.2).
# Every config of the gfl/ and gfl/ablations/ families inherits this one.
_base_ = 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'

default_scope = 'mmdet_losses'
runner_type = 'mmdet_losses.Runner'
# checks the model against the config before the run and stops at the first
# NaN/Inf loss, keeping the last good checkpoint
custom_hooks = [dict(type='mmdet_losses.LossSafetyHook')]

# mmdet's runtime, with this package's scope and runner: a config that
# inherits this file resolves `type` names here first, then in mmdet.
_base_ = 'mmdet::_base_/default_runtime.py'
default_scope = 'mmdet_losses'
runner_type = 'mmdet_losses.Runner'
# stop at the first NaN/Inf loss, keeping the last good checkpoint;
# `--cfg-options default_hooks.nonfinite=None` turns it off
default_hooks = dict(nonfinite=dict(type='NonFiniteLossHook'))

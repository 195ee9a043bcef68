# mmdet's runtime, with this package's scope and runner: a config that
# inherits this file resolves `type` names here first, then in mmdet.
_base_ = 'mmdet::_base_/default_runtime.py'
default_scope = 'mmdet_losses'
runner_type = 'mmdet_losses.Runner'

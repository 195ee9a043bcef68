import mmdet.engine.hooks  # noqa: F401

from .nonfinite_loss_hook import NonFiniteLossHook

__all__ = ['NonFiniteLossHook']

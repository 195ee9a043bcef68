import mmdet.engine.hooks  # noqa: F401

from .loss_safety_hook import LossSafetyHook
from .nonfinite_loss_hook import NonFiniteLossHook

__all__ = ['LossSafetyHook', 'NonFiniteLossHook']

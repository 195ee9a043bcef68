from . import hooks, optimizers  # noqa: F401
from .hooks import LossSafetyHook, NonFiniteLossHook
from .runner import Runner

__all__ = ['LossSafetyHook', 'NonFiniteLossHook', 'Runner']

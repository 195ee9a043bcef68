import mmdet.engine.optimizers  # noqa: F401

from .amp_optim_wrapper import AmpOptimWrapper

__all__ = ['AmpOptimWrapper']

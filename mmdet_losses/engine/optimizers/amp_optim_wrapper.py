from contextlib import contextmanager
from typing import Union

import torch
from mmengine.device import (is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import OptimWrapper
from torch import nn

from ...registry import OPTIM_WRAPPERS


def _accelerator_available() -> bool:
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(MMEngineAmpOptimWrapper):
    """mmengine's AmpOptimWrapper, which also runs on a CPU.

    mmengine's wrapper asserts an accelerator, so ``tools/train.py --amp``
    fails on a CPU. Where no accelerator is present this one autocasts to
    bfloat16 (the CPU's mixed-precision type, whose exponent range equals
    float32's, so no loss scaler is needed) and otherwise behaves as a plain
    :class:`OptimWrapper`. With an accelerator it is mmengine's wrapper,
    unchanged.

    Args:
        loss_scale: as mmengine's; unused on a CPU.
        dtype: as mmengine's; on a CPU only ``None`` or ``'bfloat16'``
            (float16 has no CPU autocast kernels for most operators).
    """

    def __init__(self,
                 loss_scale: str = 'dynamic',
                 dtype: Union[str, torch.dtype, None] = None,
                 use_fsdp: bool = False,
                 **kwargs):
        self.on_cpu = not _accelerator_available()
        if not self.on_cpu:
            super().__init__(loss_scale, dtype, use_fsdp, **kwargs)
            return
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(f'AmpOptimWrapper on a CPU supports dtype '
                             f'bfloat16 only, got {dtype!r}.')
        OptimWrapper.__init__(self, **kwargs)
        self.cast_dtype = torch.bfloat16

    def backward(self, loss: torch.Tensor, **kwargs):
        if self.on_cpu:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs):
        if self.on_cpu:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        if self.on_cpu:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict):
        if self.on_cpu:
            # a checkpoint written on an accelerator carries a scaler state
            state_dict.pop('loss_scaler', None)
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        if not self.on_cpu:
            with super().optim_context(model):
                yield
            return
        with OptimWrapper.optim_context(self, model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield

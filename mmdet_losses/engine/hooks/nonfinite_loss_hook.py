import math
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook

from ...registry import HOOKS


def _image_ids(data_batch) -> list:
    samples = (data_batch or {}).get('data_samples', []) or []
    ids = []
    for sample in samples:
        meta = getattr(sample, 'metainfo', {}) or {}
        ids.append(meta.get('img_id', meta.get('img_path', '?')))
    return ids


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss term.

    A NaN or Inf loss poisons the weights at the optimizer step of the same
    iteration, so continuing only wastes time and, worse, overwrites good
    checkpoints. This hook raises a ``FloatingPointError`` that names the
    iteration, the loss term(s), and the ids of the batch's images, before
    the checkpoint hook of that iteration can run: the last checkpoint on
    disk is the last good one, and the message names it.

    On by default in this package's configs (``default_hooks.nonfinite``);
    ``--cfg-options default_hooks.nonfinite=None`` turns it off. A config
    for mmengine's own runner gets it, with the model checks, from
    :class:`LossSafetyHook`.
    """

    # before CheckpointHook (VERY_LOW) of the same iteration
    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        bad = {}
        for name, value in (outputs or {}).items():
            if 'loss' not in name:
                continue
            number = value.item() if torch.is_tensor(value) else float(value)
            if not math.isfinite(number):
                bad[name] = number
        if not bad:
            return
        terms = ', '.join(f'{k}={v}' for k, v in bad.items())
        last = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(last):
            with open(last) as f:
                kept = f'The last good checkpoint is {f.read().strip()}.'
        else:
            kept = 'No checkpoint was written before it.'
        raise FloatingPointError(
            f'Non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}): {terms}; images {_image_ids(data_batch)}. '
            f'Training stopped. {kept} Usual causes: a learning rate too '
            'high for the warm-up, degenerate boxes in the data, fp16 '
            'overflow; try a lower lr, a longer warm-up or gradient '
            'clipping (optim_wrapper.clip_grad).')

"""Range checks of labels and targets, with errors that name the culprit,
and the dense targets of class labels (:func:`label_targets`).

A class label or a DFL target out of range makes torch index out of bounds:
on CPU a message without the position, on CUDA a device-side assert that
kills the process. The losses of this package check their labels first and
raise a ValueError naming the first offending index and its value.

On CPU the check always runs. On CUDA it costs one device-to-host sync per
call (a min/max reduction, then ``.item()``); set the environment variable
``MMDET_LOSSES_DEVICE_CHECKS=0`` or call ``set_device_checks(False)`` to
skip it there, e.g. once a training setup is known to be sound.
"""
import os
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import Tensor

_device_checks = os.environ.get('MMDET_LOSSES_DEVICE_CHECKS', '1') != '0'


def set_device_checks(enabled: bool) -> bool:
    """Turn the range checks of tensors on accelerators on or off; returns
    the previous setting. Tensors on CPU are always checked."""
    global _device_checks
    previous, _device_checks = _device_checks, bool(enabled)
    return previous


def device_checks_enabled() -> bool:
    """Whether tensors on accelerators are range-checked."""
    return _device_checks


@contextmanager
def device_checks(enabled: bool) -> Iterator[None]:
    """Context manager form of :func:`set_device_checks`."""
    previous = set_device_checks(enabled)
    try:
        yield
    finally:
        set_device_checks(previous)


def _should_check(values: Tensor) -> bool:
    return values.device.type == 'cpu' or _device_checks


def _position(flat_index: int, shape: torch.Size) -> str:
    if len(shape) <= 1:
        return f'[{flat_index}]'
    index = []
    for size in reversed(shape):
        index.append(flat_index % size)
        flat_index //= size
    return '[' + ', '.join(str(i) for i in reversed(index)) + ']'


def _raise_first(bad: Tensor, values: Tensor, name: str, what: str) -> None:
    first = int(bad.reshape(-1).nonzero()[0])
    value = values.reshape(-1)[first].item()
    raise ValueError(f'{name}{_position(first, values.shape)} = {value} '
                     f'{what}')


def check_labels(labels: Tensor,
                 num_classes: int,
                 name: str = 'labels',
                 allow_background: bool = True,
                 ignore_index: Optional[int] = None) -> None:
    """Check integer class labels.

    Valid labels are ``0 .. num_classes - 1``, ``num_classes`` (background)
    when ``allow_background``, and ``ignore_index`` when given.

    Raises:
        TypeError: labels are not an integer tensor.
        ValueError: naming the first label out of range and its position.
    """
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f'{name} must be an integer tensor, got '
                        f'{labels.dtype}')
    if labels.numel() == 0 or not _should_check(labels):
        return
    high = num_classes if allow_background else num_classes - 1
    low_value, high_value = torch.aminmax(labels)
    if 0 <= low_value.item() and high_value.item() <= high:
        return
    bad = (labels < 0) | (labels > high)
    if ignore_index is not None:
        bad &= labels != ignore_index
        if not bool(bad.any()):
            return
    valid = f'[0, {high}]'
    if allow_background:
        valid += f' ({num_classes} = background)'
    if ignore_index is not None:
        valid += f' or {ignore_index} (ignore_index)'
    _raise_first(
        bad, labels, name,
        f'is not a valid label for {num_classes} classes: expected '
        f'{valid}')


def check_range(values: Tensor,
                low: float,
                high: float,
                name: str = 'target',
                hint: str = '') -> None:
    """Check that every value lies in ``[low, high)`` (NaN fails).

    Raises:
        ValueError: naming the first value out of range and its position.
    """
    if values.numel() == 0 or not _should_check(values):
        return
    low_value, high_value = torch.aminmax(values.detach())
    if low <= low_value.item() and high_value.item() < high:
        return
    bad = ~((values >= low) & (values < high))
    _raise_first(bad, values, name,
                 f'is outside [{low}, {high}){": " + hint if hint else ""}')


def label_targets(labels: Tensor,
                  num_classes: int,
                  like: Tensor,
                  scores: Optional[Tensor] = None,
                  valid: Optional[Tensor] = None) -> Tensor:
    """Dense targets ``(..., C)`` of class labels ``(...)`` in ``[0, C]``,
    ``C = num_classes`` being the background (an all-zero row), as mmdet's
    sigmoid losses read them: 1 at each label, or its ``scores`` entry
    (QFL's quality). Labels where ``valid`` is False (``ignore_index``) get
    an all-zero row too. Dtype and device of ``like``; labels are expected
    checked (:func:`check_labels`)."""
    keep = labels < num_classes
    if valid is not None:
        keep &= valid
    target = like.new_zeros(labels.shape + (num_classes, ))
    # long indices: a uint8 tensor would index as a mask
    index = labels[keep].long()
    target[keep, index] = 1 if scores is None else scores[keep].to(like.dtype)
    return target

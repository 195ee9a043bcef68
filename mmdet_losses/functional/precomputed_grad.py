"""The backward pass of losses that compute their gradient in the forward.

Every loss term of these losses depends on its own prediction only (one box
pair, one logit, one row of bins), so the forward pass computes the loss
and its derivative together, chunk by chunk while the numbers are in cache,
and the backward pass only scales that derivative by the incoming gradient.

When that gradient is exactly 1 (a reduced loss summed into the total loss,
the common case on CPU), the precomputed buffer itself is returned: the
Function drops its own reference first, so autograd becomes its only owner
and keeps it as ``.grad`` without a copy. A later backward through a
retained graph (``retain_graph=True``) then finds no buffer and recomputes
it from the saved inputs, so the result is always the same.

The machinery every such pass shares lives here too: the precision it
computes in (:func:`compute_dtype`), the rows of a chunk
(:func:`chunk_rows`) and autocast kept out (:func:`autocast_off`).
"""
from contextlib import nullcontext
from typing import Callable, List, Optional, Sequence

import torch
from torch import Tensor

# elements per chunk of a row-wise pass on CPU: a chunk's temporaries stay
# in cache
CHUNK_ELEMENTS = 1 << 16


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype a pass computes in: float64 if any input is float64, else
    float32 (half precision is widened, as ``torch.autocast`` does for its
    losses: sums of large boxes or of many terms overflow float16)."""
    if any(t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def chunk_rows(rows: int, row_size: int, device: torch.device) -> int:
    """Rows per chunk of a row-wise pass: about :data:`CHUNK_ELEMENTS`
    elements on CPU, all rows on accelerators (one launch per op)."""
    if device.type != 'cpu':
        return max(rows, 1)
    return max(CHUNK_ELEMENTS // max(row_size, 1), 1)


def autocast_off(device: torch.device):
    """A context without autocast on ``device``: the passes choose their
    own precision (float32 for half inputs), and under autocast their
    matrix products and dot products would run in bfloat16/float16."""
    if (torch.amp.is_autocast_available(device.type)
            and torch.is_autocast_enabled(device.type)):
        return torch.autocast(device.type, enabled=False)
    # entering a disabled autocast costs more than a small loss
    return nullcontext()


def _to_dtype(grad: Tensor, dtype: torch.dtype) -> Tensor:
    if grad.dtype == dtype:
        return grad
    if dtype == torch.float16:
        # saturate instead of overflowing to inf
        big = torch.finfo(torch.float16).max
        grad = grad.clamp(-big, big)
    return grad.to(dtype)


def precomputed_backward(ctx, grad_out: Tensor, dtypes: Sequence[torch.dtype],
                         expand: Callable[[Tensor], Tensor],
                         recompute: Callable[[], List[Optional[Tensor]]]
                         ) -> List[Optional[Tensor]]:
    """Gradients of the inputs from the buffers in ``ctx.grads``.

    Args:
        ctx: the Function's context; ``ctx.grads`` holds one precomputed
            gradient (or None) per differentiable input.
        grad_out: the incoming gradient.
        dtypes: the dtype of each input, which its gradient must have.
        expand: shapes ``grad_out`` to broadcast against a buffer.
        recompute: the buffers again, from the saved inputs.
    """
    grads = ctx.grads
    if grads is None:
        grads = recompute()
    hand_over = (
        grad_out.dim() == 0 and grad_out.device.type == 'cpu'
        and grad_out.item() == 1.0)
    if hand_over:
        ctx.grads = None  # autograd is the only owner from here on
    out = []
    for grad, dtype in zip(grads, dtypes):
        if grad is None:
            out.append(None)
        elif hand_over:
            out.append(_to_dtype(grad, dtype))
        else:
            out.append(
                _to_dtype(grad * expand(grad_out.to(grad.dtype)), dtype))
    return out

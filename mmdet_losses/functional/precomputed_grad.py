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

:class:`FusedPass` is that Function for all of them. The machinery every
such pass shares lives here too: the precision it computes in
(:func:`compute_dtype`), the chunks of rows (:func:`row_chunks`) and
autocast kept out (:func:`autocast_off`).
"""
from contextlib import nullcontext
from typing import Callable, Iterator, List, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

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


def row_chunks(x: Tensor,
               dtype: torch.dtype) -> Iterator[Tuple[slice, Tensor]]:
    """The chunks of a row-wise pass over ``x`` ``(N, C)``: ``(rows,
    x[rows])``, the rows of :func:`chunk_rows` cast to ``dtype`` (half
    inputs are widened a chunk at a time, so their memory stays bounded)."""
    n, c = x.shape
    step = chunk_rows(n, c, x.device)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        yield rows, x[rows].to(dtype)


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


# what a pass returns: the output, and the derivative of the output (or
# None) with respect to each differentiable input
PassResult = Tuple[Tensor, List[Optional[Tensor]]]
# a pass: run(*inputs, *args, *wanted) -> PassResult
PassFn = Callable[..., PassResult]


class FusedPass(Function):
    """A loss whose forward pass also computes the derivatives of its
    output, which its backward pass only scales; the one Function of the
    IoU family, Focal Loss, QFL and DFL.

    ``FusedPass.apply(run, args, n_grad, per_row, want_grad, *inputs)``:

    * ``run(*inputs, *args, *wanted)`` computes the output and a list with
      the derivative of the output with respect to each of the first
      ``n_grad`` inputs, where ``wanted[i]`` asks for it (else None);
    * ``args`` holds the pass's other, non-tensor arguments;
    * ``per_row``: the output has one value per row of the derivatives (the
      incoming gradient is broadcast along each row); else it has their
      shape or is a scalar;
    * ``want_grad``: whether gradients are recorded at all (the forward
      runs with grad mode off and can not ask).
    """

    @staticmethod
    def forward(ctx, run: PassFn, args: tuple, n_grad: int, per_row: bool,
                want_grad: bool, *inputs: Optional[Tensor]) -> Tensor:
        # needs_input_grad counts the five leading arguments too
        wanted = tuple(want_grad and ctx.needs_input_grad[5 + i]
                       for i in range(n_grad))
        out, ctx.grads = run(*inputs, *args, *wanted)
        ctx.save_for_backward(*inputs)
        ctx.recompute = (run, args, wanted)
        ctx.per_row = per_row
        ctx.n_inputs = len(inputs)
        ctx.dtypes = [t.dtype for t in inputs[:n_grad]]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        grads = ctx.grads
        if grads is None:
            # handed over to autograd by an earlier backward of a retained
            # graph: again from the saved inputs
            run, args, wanted = ctx.recompute
            grads = run(*ctx.saved_tensors, *args, *wanted)[1]
        hand_over = (
            grad_out.dim() == 0 and grad_out.device.type == 'cpu'
            and grad_out.item() == 1.0)
        if hand_over:
            ctx.grads = None  # autograd is the only owner from here on
        out = []
        for grad, dtype in zip(grads, ctx.dtypes):
            if grad is None:
                out.append(None)
            elif hand_over:
                out.append(_to_dtype(grad, dtype))
            else:
                scale = grad_out.to(grad.dtype)
                if ctx.per_row:
                    scale = scale[:, None]
                out.append(_to_dtype(grad * scale, dtype))
        return ((None, ) * 5 + tuple(out) + (None, ) *
                (ctx.n_inputs - len(out)))

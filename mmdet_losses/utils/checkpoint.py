"""Checkpoint I/O that survives torch >= 2.6 and killed processes.

Loading: torch 2.6 made ``torch.load(weights_only=True)`` the default, and
mmengine 0.10.7 loads its own checkpoints with that default, so ``--resume``
fails with an ``UnpicklingError`` on the ``HistoryBuffer`` and numpy objects
that mmengine itself stores. We keep ``weights_only=True`` (a checkpoint
cannot run code) and allow exactly those types.

Writing: a checkpoint is written to a temporary file in the same directory
and renamed over the target, so a process killed mid-write leaves either the
old file or the new one, never a truncated one.
"""
import glob
import os
import os.path as osp
import pickle
import zipfile
from typing import List, Optional

import torch

UNSAFE_LOAD_ENV = 'MMDET_LOSSES_TRUST_CHECKPOINTS'


def _history_buffer_getattr(obj, name: str):
    """``getattr`` for unpickling, limited to what mmengine stores.

    A ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; a general ``getattr`` would let a
    crafted file reach any method of any allowed type.
    """
    from mmengine.logging import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean'}
    allowed.update(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint')


def checkpoint_safe_globals() -> List[object]:
    """The non-tensor types found in mmengine's training checkpoints."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    multiarray = np._core.multiarray if hasattr(np, '_core') \
        else np.core.multiarray
    dtypes = [
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_
    ]
    return [
        HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct,
        multiarray.scalar, *[type(np.dtype(t)) for t in dtypes],
        (_history_buffer_getattr, 'builtins.getattr')
    ]


def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint with ``weights_only=True`` and the types that
    mmengine writes allowed; name the file and the refused type otherwise."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if os.environ.get(UNSAFE_LOAD_ENV) == '1':
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises UnpicklingError or Runtime
        if 'weights_only' not in str(error) and \
                'Unsupported global' not in str(error):
            raise
        raise RuntimeError(
            f'Refused to unpickle {filename}: it holds an object that a '
            f'mmengine checkpoint does not. {error.__class__.__name__}: '
            f'{str(error).splitlines()[0]}. If you trust the file, set '
            f'{UNSAFE_LOAD_ENV}=1 to load it with weights_only=False.'
        ) from error


def is_complete_checkpoint(filename: str) -> bool:
    """Whether ``filename`` is a whole torch zip archive (CRCs checked)."""
    try:
        with zipfile.ZipFile(filename) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume auto`` should take in ``work_dir``.

    mmengine's ``last_checkpoint`` file names it, unless that file is missing,
    empty or points to an incomplete checkpoint: then the newest complete
    ``*.pth`` of ``work_dir`` is taken.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named) and is_complete_checkpoint(named):
            return named
    candidates = sorted(
        glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime, reverse=True)
    for candidate in candidates:
        if is_complete_checkpoint(candidate):
            return candidate
    return None


def _atomic_write(data, filepath, mode: str, **open_kwargs) -> None:
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    tmp = osp.join(directory, f'.{osp.basename(filepath)}.{os.getpid()}.tmp')
    try:
        with open(tmp, mode, **open_kwargs) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def install_checkpoint_io() -> None:
    """Make mmengine load local checkpoints with :func:`load_from_local`
    and write local files atomically."""
    from mmengine.fileio import LocalBackend, register_backend
    from mmengine.runner.checkpoint import CheckpointLoader

    class AtomicLocalBackend(LocalBackend):
        """mmengine's local file backend, writing through a rename."""

        def put(self, obj: bytes, filepath) -> None:
            _atomic_write(obj, str(filepath), 'wb')

        def put_text(self, obj: str, filepath, encoding: str = 'utf-8'):
            _atomic_write(obj, str(filepath), 'w', encoding=encoding)

    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)

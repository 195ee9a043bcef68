"""Write a generated dataset once, safely when several processes ask at once.

The embedded synthetic datasets are written on first use, possibly by every
worker of a distributed run at the same moment. :func:`write_once` makes
that safe: one process writes into a temporary directory renamed into place
(readers never see half a dataset) while the others wait on a lock file;
``meta.json`` records the arguments, so data made with other arguments is
an error instead of a silent reuse.
"""
import fcntl
import json
import os
import os.path as osp
import shutil
from typing import Callable, Dict, Optional, Sequence

import numpy as np


def write_once(root: str,
               meta: Dict,
               write: Callable[[str], None],
               kind: str,
               description: Optional[str] = None,
               verbose: bool = True) -> str:
    """Run ``write(tmp_dir)`` and rename ``tmp_dir`` to ``root``, unless
    ``root`` already holds a ``meta.json`` equal to ``meta``.

    Args:
        root: the dataset's directory.
        meta: the generator's arguments (JSON-serialisable), stored as
            ``root/meta.json``.
        write: writes the whole dataset under the directory it is given.
        kind: what the data is, for messages (``'synthetic dataset'``).
        description: a longer line for the progress message (defaults to
            ``kind``).
        verbose: print a line before writing.

    Returns:
        ``root`` as an absolute path.

    Raises:
        ValueError: ``root`` holds this kind of data made with other
            arguments, or other files (which are left untouched).
    """
    root = osp.abspath(root)
    os.makedirs(osp.dirname(root), exist_ok=True)
    with open(root.rstrip('/') + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta_file = osp.join(root, 'meta.json')
        if osp.isfile(meta_file):
            with open(meta_file) as f:
                existing = json.load(f)
            if existing != meta:
                raise ValueError(
                    f'{root} holds a {kind} made with {existing}, not the '
                    f'requested {meta}: delete that directory or choose '
                    'another data_root.')
            return root
        if osp.exists(root) and os.listdir(root):
            raise ValueError(
                f'{root} exists and is not a {kind} of this package (no '
                'meta.json): choose another data_root.')
        if verbose:
            print(
                f'Writing the {description or kind} to {root} ...', flush=True)
        tmp = root.rstrip('/') + f'.tmp-{os.getpid()}'
        shutil.rmtree(tmp, ignore_errors=True)
        write(tmp)
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, sort_keys=True, indent=1)
        if osp.exists(root):
            os.rmdir(root)  # an empty directory left by a user
        os.rename(tmp, root)
    return root


def class_colour(rng: np.random.Generator,
                 centre: Sequence[float],
                 background: np.ndarray,
                 spread: float = 35,
                 min_contrast: float = 60,
                 attempts: int = 20) -> np.ndarray:
    """A fill colour from a class's range, ``centre +- spread`` per channel,
    drawn again (up to ``attempts`` times) while it lies closer than
    ``min_contrast`` (in any channel) to the local ``background`` colour.

    A colour range per class, as real classes often have, lets a small
    network trained for minutes tell the classes apart; the contrast keeps
    objects visible on every background.
    """
    centre = np.asarray(centre, np.float64)
    for _ in range(attempts):
        colour = centre + rng.uniform(-spread, spread, 3)
        if np.abs(colour - background).max() >= min_contrast:
            break
    return colour


def generate_for(dataset: str, generator: Callable[..., str],
                 generate: Optional[dict], data_root: Optional[str]) -> None:
    """Write a generated dataset into a dataset config's ``data_root`` on
    first use: ``generator(data_root, **generate)`` (see
    :func:`write_once`)."""
    if not data_root:
        raise ValueError(f'{dataset} needs a data_root to write the '
                         'generated images to.')
    generator(osp.expanduser(data_root), **(generate or {}))

"""Figure creation and saving shared by the plotting modules.

The Agg backend is forced: nothing here needs a display.
"""
import io
import os
import os.path as osp
from typing import Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

#: resolution of saved raster images; keeps README pictures small
DPI = 100
IMAGE_SUFFIXES = ('.png', '.svg', '.pdf', '.jpg', '.jpeg')


def new_figure(nrows: int,
               ncols: int,
               panel_size: Tuple[float, float] = (4.2, 3.2),
               constrained: bool = False):
    """A figure of ``nrows x ncols`` panels; ``axes`` is always 2-D.

    ``constrained``: matplotlib's constrained layout, for figures with a
    shared colour bar; save those with ``tight=False``.
    """
    return plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
        squeeze=False,
        layout='constrained' if constrained else None)


def save_figure(fig, out_file: str, tight: bool = True) -> str:
    """Write ``fig`` to ``out_file`` (format from its suffix), creating the
    directory, then close it; returns ``out_file``."""
    suffix = osp.splitext(out_file)[1].lower()
    if suffix not in IMAGE_SUFFIXES:
        plt.close(fig)
        raise ValueError(f'cannot write an image to {out_file!r}: the name '
                         f'must end with one of {IMAGE_SUFFIXES}')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    if tight:
        fig.tight_layout()
    if suffix == '.png':
        _save_png(fig, out_file)
    elif suffix == '.svg':
        # no date and fixed element ids: the same figure, the same bytes
        with matplotlib.rc_context({'svg.hashsalt': 'mmdet_losses'}):
            fig.savefig(out_file, dpi=DPI, metadata={'Date': None})
    else:
        fig.savefig(out_file, dpi=DPI)
    plt.close(fig)
    return out_file


def _save_png(fig, out_file: str) -> None:
    """A 256-colour PNG: plots have few colours, and a palette image is
    several times smaller than a true-colour one (README pictures)."""
    from PIL import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=DPI)
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert('RGB').quantize(
            colors=256, dither=Image.Dither.NONE)
    palette.save(out_file, optimize=True)

"""Rotated boxes: formats, angle conventions, conversions and mmdet box
types ('rbox', 'qbox'). See :mod:`.bbox.transforms` for the conventions."""
from .bbox import *  # noqa: F401,F403
from .bbox import __all__  # noqa: F401

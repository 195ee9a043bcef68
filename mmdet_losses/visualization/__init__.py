import mmdet.visualization  # noqa: F401

from .rotated_visualizer import RotatedDetLocalVisualizer  # noqa: F401

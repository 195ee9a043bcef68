"""Conversions between 'hbox', 'rbox' and 'qbox', registered with mmdet so
``boxes.convert_to(...)`` and ``ConvertBoxType`` find them."""
from mmdet.structures.bbox import register_box_converter

from .quadri_boxes import QuadriBoxes
from .rotated_boxes import RotatedBoxes
from .transforms import (hbox2qbox, hbox2rbox, qbox2hbox, qbox2rbox, rbox2hbox,
                         rbox2qbox)

for src, dst, converter in [('rbox', 'hbox', rbox2hbox),
                            ('rbox', 'qbox', rbox2qbox),
                            ('hbox', 'rbox', hbox2rbox),
                            ('hbox', 'qbox', hbox2qbox),
                            ('qbox', 'hbox', qbox2hbox),
                            ('qbox', 'rbox', qbox2rbox)]:
    register_box_converter(src, dst, converter)

__all__ = ['RotatedBoxes', 'QuadriBoxes']

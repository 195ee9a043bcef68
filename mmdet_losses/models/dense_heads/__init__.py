from .fcos_gfl_head import FCOSGFLHead
from .gfl_ablation_head import GFLAblationHead
from .retina_qfl_head import RetinaQFLHead
from .rotated_fcos_head import RotatedFCOSHead
from .rotated_retina_head import AngleBranchRetinaHead, RotatedRetinaHead
from .yolov1_head import YOLOv1Head

__all__ = [
    'AngleBranchRetinaHead', 'FCOSGFLHead', 'GFLAblationHead', 'RetinaQFLHead',
    'RotatedFCOSHead', 'RotatedRetinaHead', 'YOLOv1Head'
]

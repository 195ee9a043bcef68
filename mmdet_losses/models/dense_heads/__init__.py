from .fcos_gfl_head import FCOSGFLHead
from .gfl_ablation_head import GFLAblationHead
from .retina_qfl_head import RetinaQFLHead
from .yolov1_head import YOLOv1Head

__all__ = ['FCOSGFLHead', 'GFLAblationHead', 'RetinaQFLHead', 'YOLOv1Head']

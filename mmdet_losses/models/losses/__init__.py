from .classification import CrossEntropyLoss, FocalLoss, NLLLoss  # noqa: F401
from .gfocal import DistributionFocalLoss, QualityFocalLoss  # noqa: F401
from .iou import CIoULoss, DIoULoss, GIoULoss, IoULoss  # noqa: F401
from .piou_loss import PIoULoss  # noqa: F401
from .polygon_iou_loss import PolygonIoULoss  # noqa: F401
from .regression import L1Loss, MSELoss, SmoothL1Loss  # noqa: F401
from .yolov1_loss import YOLOv1Loss  # noqa: F401

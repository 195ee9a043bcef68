import mmdet.models  # noqa: F401  (registers mmdet's models first)

from . import dense_heads, losses, task_modules  # noqa: F401

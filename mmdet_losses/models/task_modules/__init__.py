import mmdet.models.task_modules  # noqa: F401

import mmdet.evaluation  # noqa: F401

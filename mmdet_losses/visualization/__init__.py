import mmdet.visualization  # noqa: F401

import mmdet.engine.hooks  # noqa: F401

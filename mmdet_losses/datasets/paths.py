import os.path as osp

DATA_HELP = ('See "Datasets" in the README for where to download it, or use '
             'the configs under configs/quickstart/, whose data is generated '
             'on first use.')


def require_path(path: str, what: str, hint: str = DATA_HELP) -> None:
    """Raise a FileNotFoundError that names ``path`` and how to get it."""
    if not osp.exists(path):
        raise FileNotFoundError(f'{what} not found: {osp.abspath(path)}. '
                                f'{hint}')

"""Unknown ``type`` names: say what this package has of that kind."""
import difflib
import re
from contextlib import contextmanager
from typing import List

# mmengine's build_from_cfg: "X is not in the scope::name registry. ..."
_UNKNOWN = re.compile(
    r'`?([\w.]+)`? is not in the ([\w.]+)::([\w ]+) registry')


def _registries():
    from .. import registry
    return [
        value for value in vars(registry).values()
        if type(value).__name__ == 'Registry' and value.scope == 'mmdet_losses'
    ]


def _names_with_ancestors(reg) -> List[str]:
    names = set()
    while reg is not None:
        names.update(reg.module_dict)
        reg = reg.parent
    return sorted(names)


def explain_unknown_type(message: str) -> str:
    """Extend mmengine's "not in the registry" message with this package's
    registered names of that kind and the closest known names; ``''`` if
    ``message`` is not such a message."""
    match = _UNKNOWN.search(message)
    if match is None:
        return ''
    name, kind = match.group(1), match.group(3).strip()
    for reg in _registries():
        if reg.name != kind:
            continue
        reg.import_from_location()
        ours = sorted(reg.module_dict)
        close = difflib.get_close_matches(
            name.split('.')[-1], _names_with_ancestors(reg), n=5, cutoff=0.6)
        text = (f'Unknown {kind} type "{name}". mmdet_losses registers '
                f'these {kind} types: {", ".join(ours) or "(none)"}.')
        if close:
            text += f' Closest known names (here or in mmdet): ' \
                    f'{", ".join(close)}.'
        return text
    return ''


@contextmanager
def unknown_type_explained():
    """Re-raise mmengine's KeyError for an unknown ``type`` with the names
    this package registers for that kind (see :func:`explain_unknown_type`).
    """
    try:
        yield
    except KeyError as error:
        message = error.args[0] if error.args else ''
        explained = explain_unknown_type(str(message))
        if not explained:
            raise
        raise KeyError(f'{explained}\n(from: {message})') from None

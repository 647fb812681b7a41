"""The one place where the toolkit imports torchvision.

Some torch/torchvision pairs (e.g. the CPU build of torch 2.13.0 with torchvision 0.28.0) cannot
load torchvision's compiled ops; ``import torchvision`` then fails while registering a fake kernel
for ``torchvision::nms``. Transforms, datasets and models do not need those ops, so when the
import fails for that reason we define the missing operator schemas (no kernels) and import again.
All code must call :func:`import_torchvision` instead of importing torchvision directly.
"""

from __future__ import annotations

import sys
from types import ModuleType

import torch

# Schemas of the operators that torchvision registers Python kernels for unconditionally at import.
_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_LIBRARY: torch.library.Library | None = None


def _missing_ops_error(err: BaseException) -> bool:
    return "torchvision::" in str(err) and "does not exist" in str(err)


def _define_missing_schemas() -> list[str]:
    """Define each schema of ``_SCHEMAS`` that torch does not know yet; return the defined names."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
    defined = []
    for name, schema in _SCHEMAS.items():
        if not _op_exists(name):
            _LIBRARY.define(schema)
            defined.append(name)
    return defined


def _op_exists(name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
    except RuntimeError:
        return False
    return True


def _forget_partial_import() -> None:
    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, working around a build whose compiled ops do not load.

    Returns the module; ``torchvision.extension._has_ops()`` tells whether the compiled ops
    (nms, roi_align, ...) are usable. Raises ImportError when torchvision is not installed.

    >>> from rt_core import import_torchvision
    >>> tv = import_torchvision()
    >>> tv.__name__, tv.transforms.Compose.__name__
    ('torchvision', 'Compose')
    """
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "transforms"):
        return sys.modules["torchvision"]
    try:
        import torchvision
    except RuntimeError as err:
        if not _missing_ops_error(err):
            raise
        _forget_partial_import()
        _define_missing_schemas()
        import torchvision
    return torchvision

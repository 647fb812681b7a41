"""What augmentations and regularizers share: a strength, options, and the identity test."""

from __future__ import annotations

from typing import Any


class StrengthOp:
    """An op at a ``strength`` with keyword ``options``.

    ``identity_strength`` is the strength that changes nothing. Its one source is the registry
    record (``Strength.identity``): ``create_augmentation`` / ``create_regularizer`` set it on every
    instance they build (an instance built directly keeps the default 0).
    """

    identity_strength: float = 0.0

    def __init__(self, strength: float, **options: Any) -> None:
        self.strength = float(strength)
        self.options = options

    @property
    def is_identity(self) -> bool:
        """True at the identity strength: the op changes nothing (training is the vanilla run)."""
        return self.strength == self.identity_strength

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength})"

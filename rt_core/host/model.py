"""The model contract: h = g . f, a feature extractor f (input normalisation inside) and a linear head g.

Every model a plugin registers (``rt_register_models``) is a :class:`SplitModel`: the trainer calls
``forward_split`` (features and logits in one pass), the transfer step reads ``features`` and
``feature_dim``, and a regularizer's penalty may use either part.
"""

from __future__ import annotations

import torch
from torch import nn


class SplitModel(nn.Module):
    """h(x) = head(features(x)); ``features`` includes the normalisation layer.

    >>> import torch
    >>> from torch import nn
    >>> model = SplitModel(nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), nn.Linear(5, 3))
    >>> z, logits = model.forward_split(torch.zeros(2, 3, 2, 2))
    >>> (model.feature_dim, tuple(z.shape), tuple(logits.shape))
    (5, (2, 5), (2, 3))
    """

    def __init__(self, features: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.features = features
        self.head = head

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def forward_split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(f(x), g(f(x)))``."""
        z = self.features(x)
        return z, self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

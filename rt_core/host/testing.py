"""Contract checks for plugin authors; the toolkit's own suite runs them over every registered entry.

``check_augmentation(name)``, ``check_regularizer(name)`` and ``check_predictor(name)`` raise
AssertionError with a message saying which property failed, and return a dict of what was checked.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rt_core.errors import RtError
from rt_core.host.lookup import (
    create_augmentation,
    create_model,
    create_regularizer,
    get_augmentation,
    get_predictor,
    get_regularizer,
)
from rt_core.host.model import SplitModel
from rt_core.host.predictor import PredictorInput, compute_score
from rt_core.host.regularizer import Regularizer


def images(batch: int = 4, shape: tuple = (3, 16, 16), seed: int = 0, dtype=torch.float32,
           device: str | torch.device = "cpu") -> torch.Tensor:
    """A seeded batch of images in [0,1] with smooth structure and noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((batch, *shape), generator=g, dtype=torch.float64)
    x = 0.5 * x + 0.5 * torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    return x.to(device=device, dtype=dtype)


def _gen(seed: int, device) -> torch.Generator:
    return torch.Generator(device=torch.device(device).type).manual_seed(seed)


def _assert(cond: bool, what: str, name: str) -> None:
    if not cond:
        raise AssertionError(f"'{name}' breaks the contract: {what}")


def _check_aug_output(name: str, x: torch.Tensor, y: torch.Tensor) -> None:
    _assert(y.shape == x.shape, f"shape changed {tuple(x.shape)} -> {tuple(y.shape)}", name)
    _assert(y.dtype == x.dtype, f"dtype changed {x.dtype} -> {y.dtype}", name)
    _assert(y.device == x.device, f"device changed {x.device} -> {y.device}", name)
    _assert(bool(torch.isfinite(y).all()), "output has NaN or inf", name)
    _assert(bool((y >= 0).all() and (y <= 1).all()), f"values leave [0,1]: [{y.min()}, {y.max()}]", name)


def _gradcheck(name: str, aug, device) -> bool:
    x = images(2, (3, 6, 6), seed=3, dtype=torch.float64, device=device).mul(0.6).add(0.2)
    params = aug.sample(x, _gen(5, device))
    x.requires_grad_(True)
    ok = torch.autograd.gradcheck(lambda t: aug.apply(t, params), (x,), eps=1e-6, atol=1e-5)
    _assert(ok, "gradcheck failed", name)
    return ok


def check_augmentation(name: str, strength: float | None = None, device: str = "cpu",
                       shape: tuple = (3, 16, 16), **options: Any) -> dict[str, Any]:
    """Check augmentation ``name``: shape/dtype/device kept, values in [0,1] and finite,
    deterministic under a fixed generator, replayable from sampled params, exact identity at the
    identity strength, gradcheck when the spec says it is differentiable.

    >>> checked = check_augmentation("rescale", 2.0, shape=(1, 8, 8))
    >>> checked["name"], checked["strength"], checked["changed"], checked["gradcheck"]
    ('rescale', 2.0, True, True)
    """
    spec = get_augmentation(name)
    value = spec.strength.default if strength is None else strength
    aug = create_augmentation(name, value, **options)
    x = images(4, shape, device=device)
    y = aug(x, _gen(7, device))
    _check_aug_output(name, x, y)
    _assert(torch.equal(y, aug(x, _gen(7, device))), "not deterministic under a fixed generator", name)
    params = aug.sample(x, _gen(7, device))
    _assert(torch.equal(aug.apply(x, params), y), "apply(x, sample(x, g)) differs from aug(x, g)", name)
    _assert(torch.equal(aug.instance(params)(x), y), "replaying the sampled instance differs", name)
    ident = create_augmentation(name, spec.strength.identity, **options)
    _assert(torch.equal(ident(x, _gen(7, device)), x), "identity strength changes the images", name)
    _check_flags(name, spec, aug, x, device)
    grad = _gradcheck(name, aug, device) if spec.differentiable else None
    return {"name": name, "strength": value, "gradcheck": grad, "changed": not torch.equal(y, x)}


def _check_flags(name: str, spec, aug, x: torch.Tensor, device) -> None:
    """The record's flags hold: ``linear`` (``_check_linear``); ``random=False``: two generators give
    the same output."""
    if not spec.random:
        _assert(torch.equal(aug(x, _gen(7, device)), aug(x, _gen(8, device))),
                "random=False, but the output depends on the generator", name)
    if spec.linear:
        _check_linear(name, aug, x, device)


LINEAR_ATOL = 1e-5  # float32 images: a few dozen rounded products per output stay far below this


def _check_linear(name: str, aug, x: torch.Tensor, device) -> None:
    """``linear=True`` holds for one sampled instance a: a(0) = 0 and a(x) = 2 a(x/2) (an affine op,
    a linear map plus an offset, fails these) and a(x/2 + z/2) = a(x)/2 + a(z)/2. Every input stays in
    [0,1], so a final clamp is inactive for an op whose outputs stay there."""
    params = aug.sample(x, _gen(7, device))
    z = images(x.shape[0], tuple(x.shape[1:]), seed=9, device=device)
    zero, whole, half = aug.apply(torch.zeros_like(x), params), aug.apply(x, params), aug.apply(x / 2, params)
    mixed, parts = aug.apply(0.5 * x + 0.5 * z, params), 0.5 * whole + 0.5 * aug.apply(z, params)
    for lhs, rhs, what in ((zero, torch.zeros_like(zero), "a(0) != 0"), (whole, 2 * half, "a(x) != 2 a(x/2)"),
                           (mixed, parts, "a(x/2 + z/2) != a(x)/2 + a(z)/2")):
        gap = float((lhs - rhs).abs().max())
        _assert(gap <= LINEAR_ATOL, f"linear=True, but {what}; max difference {gap:.2e} (an offset makes an op "
                                    "affine, not linear: declare linear=False)", name)


def tiny_model(num_classes: int = 4, seed: int = 0, device: str = "cpu") -> SplitModel:
    """A small seeded CNN (the registered cifar_cnn at width 1/8, 16x16 inputs) for contract checks."""
    torch.manual_seed(seed)
    return create_model("cifar_cnn", num_classes, width=0.125, hidden=16, image_size=16).to(device)


def _check_perturb(name, reg, model, x, y, device) -> None:
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    xa = reg.perturb(model, x, y, _gen(11, device))
    _assert(model.training, "perturb did not restore the model's training mode", name)
    _assert(xa.shape == x.shape and xa.dtype == x.dtype and xa.device == x.device,
            "perturb changed the batch's shape, dtype or device", name)
    _assert(bool(torch.isfinite(xa).all() and (xa >= 0).all() and (xa <= 1).all()),
            "perturbed inputs leave [0,1] or are not finite", name)
    _assert(torch.equal(xa, reg.perturb(model, x, y, _gen(11, device))),
            "perturb is not deterministic under a fixed generator", name)
    _assert(all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)),
            "perturb changed the model's parameters", name)
    _assert(all(p.grad is None for p in model.parameters()), "perturb left parameter gradients", name)


def _penalty(reg, model, x, y):
    xr = x.detach().clone().requires_grad_(reg.needs_input_grad)
    feats, logits = model.forward_split(xr)
    return reg.penalty(model, xr, y, feats, logits)


def _check_penalty(name, reg, model, x, y) -> float | None:
    torch.manual_seed(13)
    pen = _penalty(reg, model, x, y)
    if pen is None:
        return None
    value = pen.detach()
    _assert(value.dim() == 0 and bool(torch.isfinite(value)) and float(value) >= 0,
            f"penalty must be a finite non-negative scalar, got {value}", name)
    pen.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    _assert(all(bool(torch.isfinite(g).all()) for g in grads), "penalty gradient is not finite", name)
    model.zero_grad(set_to_none=True)
    return float(value)


def check_regularizer(name: str, strength: float | None = None, device: str = "cpu",
                      **options: Any) -> dict[str, Any]:
    """Check regularizer ``name`` on a tiny model: at its identity strength nothing changes
    (inputs, penalty, optimizer settings); at ``strength`` perturbed inputs stay in [0,1],
    deterministically, without touching the parameters; the penalty is a finite, non-negative,
    differentiable scalar; optimizer settings keep the base keys.

    >>> checked = check_regularizer("weight_decay", 1e-3)
    >>> settings = checked["optimizer"]
    >>> checked["name"], checked["penalty"], settings["weight_decay"]
    ('weight_decay', None, 0.001)
    """
    spec = get_regularizer(name)
    value = spec.strength.default if strength is None else strength
    model, x = tiny_model(device=device), images(6, (3, 16, 16), seed=1, device=device)
    y = torch.arange(6, device=device) % 4
    base = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0}
    ident = create_regularizer(name, spec.strength.identity, **options)
    _assert(torch.equal(ident.perturb(model, x, y, _gen(11, device)), x), "identity perturbs inputs", name)
    pen0 = _penalty(ident, model, x, y)
    _assert(pen0 is None or float(pen0.detach()) == 0.0, "identity strength adds a penalty", name)
    _assert(ident.optimizer_settings(base) == base, "identity strength changes optimizer settings", name)
    reg = create_regularizer(name, value, **options)
    _check_perturb(name, reg, model, x, y, device)
    pen = _check_penalty(name, reg, model, x, y)
    settings = reg.optimizer_settings(base)
    _assert(set(base) <= set(settings), "optimizer_settings dropped base keys", name)
    _check_acts_on(name, spec.acts_on, type(reg))
    return {"name": name, "strength": value, "penalty": pen, "optimizer": settings}


def _check_acts_on(name: str, acts_on: str, kind: type) -> None:
    """The record's ``acts_on`` matches the methods the class overrides: "inputs" overrides
    ``perturb``, "loss" ``penalty``, "optimizer" neither (and needs no input gradient)."""
    perturbs, penalises = kind.perturb is not Regularizer.perturb, kind.penalty is not Regularizer.penalty
    if acts_on == "inputs":
        _assert(perturbs, "acts_on='inputs' but perturb is not overridden", name)
    elif acts_on == "loss":
        _assert(penalises, "acts_on='loss' but penalty is not overridden", name)
    else:
        _assert(not (perturbs or penalises or kind.needs_input_grad),
                "acts_on='optimizer' but it overrides perturb or penalty, or needs input gradients", name)


def predictor_input(n: int = 48, dim: int = 6, num_classes: int = 3, source_classes: int = 5,
                    seed: int = 0) -> PredictorInput:
    """A seeded PredictorInput with class structure and every optional field: labels i mod K, features
    a class mean (scale 2) plus unit Gaussian noise, source logits a noisy linear map of the features,
    and n source images with features and labels of ``source_classes`` classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    features = 2.0 * rng.standard_normal((num_classes, dim))[labels] + rng.standard_normal((n, dim))
    logits = features @ rng.standard_normal((dim, source_classes)) + 0.5 * rng.standard_normal((n, source_classes))
    src_labels = np.arange(n) % source_classes
    src_features = 2.0 * rng.standard_normal((source_classes, dim))[src_labels] + rng.standard_normal((n, dim))
    return PredictorInput(features, labels, num_classes, logits, src_features, src_labels)


def _value(spec, data: PredictorInput, what: str, options: dict) -> float:
    value = spec.function(data, **options)
    _assert(isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value),
            f"returned {value!r} on {what}; a predictor returns one finite float", spec.name)
    return float(value)


def _one_line_error(name: str, what: str, make: Callable[[], Any]) -> None:
    """``make()`` raises an RtError of one line (what the CLI prints)."""
    try:
        make()
    except RtError as err:
        _assert("\n" not in str(err) and str(err), f"{what} gives a multi-line or empty error: {err!r}", name)
        return
    _assert(False, f"{what} raises no RtError", name)


def _check_bad_inputs(spec, data: PredictorInput, options: dict) -> None:
    """Wrong shapes and missing needs are one RtError line each, before the predictor runs."""
    f, y, k = data.features, data.labels, data.num_classes
    name = spec.name
    _one_line_error(name, "labels one short", lambda: compute_score(name, PredictorInput(f, y[:-1], k), **options))
    _one_line_error(name, "1-D features", lambda: compute_score(name, PredictorInput(f[:, 0], y, k), **options))
    _one_line_error(name, "labels out of range", lambda: compute_score(name, PredictorInput(f, y + k, k), **options))
    _one_line_error(name, "source logits of the wrong length",
                    lambda: compute_score(name, PredictorInput(f, y, k, data.source_logits[:-1]), **options))
    _one_line_error(name, "an unknown option", lambda: compute_score(name, data, no_such_option=1, **options))
    if spec.needs:
        _one_line_error(name, f"an input without {', '.join(spec.needs)}",
                        lambda: compute_score(name, PredictorInput(f, y, k), **options))


def check_predictor(name: str, **options: Any) -> dict[str, Any]:
    """Check predictor ``name`` on seeded inputs: one finite float, equal to what ``compute_score``
    returns; deterministic (the same record, and an equal fresh one, score the same bit for bit);
    unchanged (to 1e-9 relative: a reordered sum) when the target classes are renamed; finite with
    fewer images than feature dimensions and with a target class that has no images; wrong shapes,
    labels out of range, an unknown option and a missing need are one RtError line each.

    >>> import rt_core
    >>> report = rt_core.check_predictor("hscore", covariance="plain")
    >>> report["name"], report["higher_is_better"]
    ('hscore', True)
    """
    spec = get_predictor(name)
    data = predictor_input()
    value = _value(spec, data, "the seeded input", options)
    _assert(compute_score(name, data, **options) == value, "compute_score differs from the function", name)
    _assert(_value(spec, data, "a second call", options) == value, "not deterministic: a second call differs", name)
    _assert(_value(spec, predictor_input(), "an equal record", options) == value,
            "not deterministic: an equal fresh record scores differently", name)
    perm = np.roll(np.arange(data.num_classes), 1)
    renamed = PredictorInput(data.features, perm[data.labels], data.num_classes, data.source_logits,
                             data.source_features, data.source_labels)
    other = _value(spec, renamed, "renamed classes", options)
    _assert(abs(other - value) <= 1e-9 * max(1.0, abs(value)),
            f"renaming the target classes changes the score: {value!r} -> {other!r}", name)
    wide = _value(spec, predictor_input(n=8, dim=12), "8 images of 12 feature dimensions", options)
    empty = PredictorInput(data.features, data.labels, data.num_classes + 1, data.source_logits,
                           data.source_features, data.source_labels)
    _value(spec, empty, "a target class without images", options)
    _check_bad_inputs(spec, data, options)
    return {"name": name, "value": value, "wide": wide, "higher_is_better": spec.higher_is_better,
            "needs": spec.needs}

"""Transfer to the target domain: a fresh head on frozen features, or full fine-tuning.

``linear_probe`` (default): extract f(x) once, standardise with the train statistics, and fit a
multinomial logistic regression min_{W,b} mean CE(W z + b, y) + l2 ||W||_F^2 by full-batch
L-BFGS-B (scipy) on its analytic gradient; with k folds (:func:`cross_validated_logits`), every
target image is scored by the probe fitted on the other folds; with k shots (:func:`few_shot_scores`),
probes fitted on k images per class are scored on the rest, averaged over fixed draws. ``finetune``: a fresh head, all
parameters trained by SGD with batch-norm statistics frozen (what the released [XU22] code does).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits
from torch import nn

from rt_core.experiment.config import TransferConfig
from rt_core.host.model import SplitModel


def extract_features(model: SplitModel, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """f(x) for every row of x, in evaluation mode, no gradients, float32.

    >>> import torch, rt_core
    >>> model = rt_core.create_model("cifar_cnn", num_classes=10, width=0.25, hidden=16, image_size=8)
    >>> z = extract_features(model, torch.rand(5, 3, 8, 8), batch_size=2)
    >>> tuple(z.shape), z.dtype, z.requires_grad
    ((5, 16), torch.float32, False)
    """
    model.eval()
    with torch.no_grad():
        return torch.cat([model.features(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)])


class LinearProbe(nn.Module):
    """z -> W (z - mean) / std + b, the statistics frozen from the training features."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(mean.numel(), num_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear((z - self.mean) / self.std)


def softmax_objective(zs: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float):
    """theta = vec([W | b]) (rows [w_k, b_k], k = 1..classes) -> (loss, gradient), a float and a
    float64 array: loss = mean_i CE(W z_i + b, y_i) + l2 ||W||_F^2; with X = [Z | 1], P the softmax
    and Y the one-hot labels, grad = (P - Y)^T X / n + 2 l2 [W | 0]. Computed on zs's device."""
    n, d = zs.shape
    x = torch.cat([zs, torch.ones(n, 1, dtype=zs.dtype, device=zs.device)], 1)
    onehot = F.one_hot(y, num_classes).to(zs.dtype)
    no_bias = torch.ones(num_classes, d + 1, dtype=zs.dtype, device=zs.device)
    no_bias[:, d] = 0

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        wb = torch.from_numpy(theta).to(zs.device).view(num_classes, d + 1)
        w = wb * no_bias
        log_p = torch.log_softmax(x @ wb.T, 1)
        loss = l2 * w.pow(2).sum() - (log_p * onehot).sum() / n
        grad = torch.addmm(w, (log_p.exp_() - onehot).T, x, beta=2 * l2, alpha=1 / n)
        return loss.item(), grad.flatten().cpu().numpy()

    return value_and_grad


def fit_linear_probe(z: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float = 1e-4,
                     max_iter: int = 200, tol: float = 1e-9) -> LinearProbe:
    """Fit a LinearProbe on features z (float64) by L-BFGS-B from zero weights: at most ``max_iter``
    iterations, memory 20, stopping when every gradient entry is <= tol or the objective's relative
    decrease is <= tol * 1e-3. The objective is convex, so a fit stopped by the tolerance is at its
    optimum to that tolerance; one stopped by ``max_iter`` may not be.

    >>> import torch
    >>> z = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]])
    >>> probe = fit_linear_probe(z, torch.tensor([0, 0, 1, 1]), num_classes=2)
    >>> probe(z).argmax(1).tolist()  # the probe comes back in float32
    [0, 0, 1, 1]
    """
    z = z.double()
    probe = LinearProbe(z.mean(0), z.std(0).clamp_min(1e-6), num_classes).double().to(z.device)
    fun = softmax_objective((z - probe.mean) / probe.std, y, num_classes, l2)
    with threadpool_limits(1, user_api="blas"):  # scipy's BLAS threads would fight torch's for the cores
        result = minimize(fun, np.zeros(num_classes * (z.shape[1] + 1)), jac=True, method="L-BFGS-B",
                          options={"maxiter": max_iter, "gtol": tol, "ftol": tol * 1e-3, "maxcor": 20})
    wb = torch.from_numpy(result.x).to(z.device).view(num_classes, -1)
    with torch.no_grad():
        probe.linear.weight.copy_(wb[:, :-1])
        probe.linear.bias.copy_(wb[:, -1])
    return probe.float()


def stratified_folds(y: torch.Tensor, folds: int, seed: int = 0) -> list[np.ndarray]:
    """Test indices of ``folds`` stratified folds of labels y (scikit-learn's StratifiedKFold,
    shuffled with ``seed``): every index in exactly one fold, each class split as evenly as it can."""
    from sklearn.model_selection import StratifiedKFold

    labels = y.cpu().numpy()
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(labels)), labels)]


def cross_validated_logits(z: torch.Tensor, y: torch.Tensor, num_classes: int, folds: int, l2: float,
                           max_iter: int = 200, tol: float = 1e-9, seed: int = 0) -> torch.Tensor:
    """Out-of-fold probe logits: row i comes from :func:`fit_linear_probe` (own standardisation,
    zero start) on every fold but the one holding i. The folds depend on y (its values and order)
    and ``seed`` only, so every model evaluated on the same images is scored on the same folds."""
    logits = torch.empty(len(y), num_classes, device=z.device)
    for test in stratified_folds(y, folds, seed):
        test = torch.from_numpy(test).to(z.device)
        train = torch.ones(len(y), dtype=torch.bool, device=z.device)
        train[test] = False
        probe = fit_linear_probe(z[train], y[train], num_classes, l2, max_iter, tol)
        with torch.no_grad():
            logits[test] = probe(z[test].float())
    return logits


def few_shot_draws(y: torch.Tensor, shots: int, draws: int, seed: int = 0) -> list[np.ndarray]:
    """Training indices of ``draws`` few-shot draws: for draw d, ``shots`` indices of each class,
    chosen without replacement by ``numpy.random.default_rng((seed, d))`` among that class's indices
    in label order. They depend on y and ``seed`` only, so every model is scored on the same draws.

    >>> y = torch.tensor([0, 1, 0, 1, 0, 1])
    >>> [sorted(y[d].tolist()) for d in few_shot_draws(y, shots=2, draws=2)]
    [[0, 0, 1, 1], [0, 0, 1, 1]]
    """
    labels = y.cpu().numpy()
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    out = []
    for d in range(draws):
        rng = np.random.default_rng((seed, d))
        out.append(np.sort(np.concatenate([rng.choice(idx, shots, replace=False) for idx in classes])))
    return out


def few_shot_scores(z: torch.Tensor, y: torch.Tensor, num_classes: int, shots: int, draws: int, l2: float,
                    max_iter: int = 200, tol: float = 1e-9, seed: int = 0) -> tuple[float, float]:
    """(mean accuracy in percent, mean cross-entropy) over :func:`few_shot_draws`: each draw's probe
    (:func:`fit_linear_probe` on its ``shots`` images per class) scored on every image not drawn."""
    accs, losses = [], []
    for train_idx in few_shot_draws(y, shots, draws, seed):
        train = torch.zeros(len(y), dtype=torch.bool, device=z.device)
        train[torch.from_numpy(train_idx).to(z.device)] = True
        probe = fit_linear_probe(z[train], y[train], num_classes, l2, max_iter, tol)
        with torch.no_grad():
            logits = probe(z[~train].float())
        accs.append((logits.argmax(1) == y[~train]).float().mean().item() * 100)
        losses.append(F.cross_entropy(logits, y[~train]).item())
    return float(np.mean(accs)), float(np.mean(losses))


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def finetune(model: SplitModel, x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: TransferConfig,
             generator: torch.Generator) -> SplitModel:
    """A copy of ``model`` with a fresh head, all parameters trained by SGD; BN statistics frozen."""
    tuned = copy.deepcopy(model)
    tuned.head = nn.Linear(tuned.head.in_features, num_classes).to(x.device)
    opt = torch.optim.SGD(tuned.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=0.1)
    for _ in range(cfg.epochs):
        tuned.train()
        _freeze_batchnorm(tuned)
        order = torch.randperm(len(x), generator=generator, device=generator.device).to(x.device)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss = F.cross_entropy(tuned(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return tuned.eval()

"""Tight numeric bounds on small problems, solved with cvxpy (theory and tests only, never in a sweep).

- ``w1_distance``: Wasserstein-1 between two empirical samples, the transport linear program
      min_P <P, C>  s.t.  P >= 0, P 1 = a, P^T 1 = b,   C_ij = ||x_i - y_j||_2.
- ``trust_region_bound``: for linear predictors h(x) = w^T x in the ball ||w||_2 <= r and squared
  loss, L_T(w) - L_S(w) = w^T A w - 2 d^T w + e with A = S_T - S_S (second moments),
  d = E_T[x y] - E_S[x y], e = E_T[y^2] - E_S[y^2]. Its exact supremum over the ball (a nonconvex
  trust-region problem) is, by the S-lemma, the SDP
      min t  s.t.  mu >= 0,  [[mu I - A, d], [d^T, t - e - mu r^2]] >= 0 (PSD).
  ``trust_region_eig`` solves the same problem from the eigendecomposition of A (secular equation).
Every cvxpy value is used only after its solver reports an optimal status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rt_core import RtError


class SolverUnavailable(RtError):
    """No installed cvxpy solver can handle this problem class."""


def _cvxpy():
    try:
        import cvxpy as cp
    except ImportError as err:  # pragma: no cover
        raise SolverUnavailable("cvxpy is not installed; pip install cvxpy") from err
    return cp


def _solve(problem, kinds: tuple[str, ...]) -> str:
    cp = _cvxpy()
    installed = [s for s in kinds if s in cp.installed_solvers()]
    if not installed:
        raise SolverUnavailable(f"none of the solvers {', '.join(kinds)} is installed; pip install clarabel or scs")
    problem.solve(solver=installed[0])
    if problem.status not in (cp.OPTIMAL,):
        raise RtError(f"solver {installed[0]} ended with status '{problem.status}', not optimal")
    return installed[0]


def cost_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.asarray(x, float).reshape(len(x), -1), np.asarray(y, float).reshape(len(y), -1)
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def w1_distance(x: np.ndarray, y: np.ndarray, a: np.ndarray | None = None, b: np.ndarray | None = None) -> float:
    """W1(mu, nu) between samples x (n, d) and y (m, d), weights a, b (uniform by default)."""
    cp = _cvxpy()
    c = cost_matrix(x, y)
    n, m = c.shape
    a = np.full(n, 1 / n) if a is None else np.asarray(a, float)
    b = np.full(m, 1 / m) if b is None else np.asarray(b, float)
    plan = cp.Variable((n, m), nonneg=True)
    problem = cp.Problem(cp.Minimize(cp.sum(cp.multiply(plan, c))),
                         [cp.sum(plan, axis=1) == a, cp.sum(plan, axis=0) == b])
    _solve(problem, ("CLARABEL", "HIGHS", "ECOS", "SCS"))
    return float(problem.value)


@dataclass(frozen=True)
class QuadraticGap:
    """L_T(w) - L_S(w) = w^T A w - 2 d^T w + e for linear predictors and squared loss."""

    A: np.ndarray
    d: np.ndarray
    e: float

    @classmethod
    def from_samples(cls, xs: np.ndarray, ys: np.ndarray, xt: np.ndarray, yt: np.ndarray) -> QuadraticGap:
        xs, xt = np.asarray(xs, float), np.asarray(xt, float)
        ys, yt = np.asarray(ys, float), np.asarray(yt, float)
        a = xt.T @ xt / len(xt) - xs.T @ xs / len(xs)
        d = xt.T @ yt / len(xt) - xs.T @ ys / len(xs)
        return cls(a, d, float(yt @ yt / len(yt) - ys @ ys / len(ys)))

    def __call__(self, w: np.ndarray) -> np.ndarray:
        w = np.atleast_2d(w)
        return np.einsum("ni,ij,nj->n", w, self.A, w) - 2 * w @ self.d + self.e


def trust_region_bound(gap: QuadraticGap, r: float) -> float:
    """sup_{||w|| <= r} gap(w), exactly, as the S-lemma SDP."""
    cp = _cvxpy()
    k = len(gap.d)
    t, mu = cp.Variable(), cp.Variable(nonneg=True)
    m = cp.Variable((k + 1, k + 1), PSD=True)
    constraints = [m[:k, :k] == mu * np.eye(k) - gap.A, m[:k, k] == gap.d, m[k, k] == t - gap.e - mu * r**2]
    problem = cp.Problem(cp.Minimize(t), constraints)
    _solve(problem, ("CLARABEL", "SCS"))
    return float(t.value)


def trust_region_eig(gap: QuadraticGap, r: float, iters: int = 200) -> float:
    """The same supremum from the eigendecomposition: maximise w^T A w - 2 d^T w on ||w|| <= r.

    With A = V diag(a) V^T and c = V^T d, the maximiser is w = -(nu I - A)^{-1} d for the nu >= max(a, 0)
    with ||w|| = r (found by bisection), or an interior point when A < 0 and the unconstrained
    maximiser fits; the degenerate "hard case" adds a component along the top eigenvector."""
    a, v = np.linalg.eigh(gap.A)
    c = v.T @ gap.d

    def norm(nu: float) -> float:
        return float(np.sqrt(((c / (nu - a)) ** 2).sum()))

    top = a.max()
    if top < 0 and norm(0.0) <= r:  # the unconstrained maximiser A^{-1} d lies in the ball
        return _value(gap, v @ (c / a))
    lo = max(top, 0.0) + 1e-15
    if norm(lo) < r:  # hard case: cannot reach the sphere along the secular curve
        z = -c / np.where(np.isclose(a, top), np.inf, top - a)
        extra = np.sqrt(max(r**2 - (z**2).sum(), 0.0))
        i = int(np.argmax(a))
        return max(_value(gap, v @ np.where(np.arange(len(a)) == i, s * extra, z)) for s in (1.0, -1.0))
    hi = lo + 1.0
    while norm(hi) > r:
        hi = lo + 2 * (hi - lo)
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if norm(mid) > r else (lo, mid)
    nu = (lo + hi) / 2
    return _value(gap, v @ (-c / (nu - a)))


def _value(gap: QuadraticGap, w: np.ndarray) -> float:
    return float(gap(w)[0])


def sampled_bound(gap: QuadraticGap, r: float, samples: int = 200_000, seed: int = 0) -> float:
    """A lower estimate of the supremum by brute force: the maximum over random points of the
    sphere ||w|| = r and of the ball (uniform)."""
    rng = np.random.default_rng(seed)
    k = len(gap.d)
    u = rng.normal(size=(samples, k))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    radius = r * rng.uniform(size=(samples, 1)) ** (1 / k)
    return float(max(gap(r * u).max(), gap(radius * u).max()))

"""Bayesian optimization: a Gaussian process on the unit cube and log expected improvement.

The model
    scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor` on the unit-cube
    encoding of the space (so logarithmic and reverse-logarithmic ranges are modelled in their
    scaled coordinates, integers on their cells and categoricals one-hot), with the kernel
    ``C * Matern(nu=5/2, one length scale per coordinate) + White(noise)``. Its hyperparameters
    are fitted by maximum a posteriori: the log marginal likelihood plus weak log-normal priors
    (length scales around 1, the width of the cube; a small noise), by L-BFGS-B from the prior
    centre with a capped number of iterations. The noise may go down to :data:`NOISE_FLOOR`, so
    a deterministic objective is modelled as one and the search can refine far below the
    spread of its values. Above :data:`FIT_SUBSAMPLE` observations the hyperparameters are
    fitted on a subsample (the best quarter and an even spread of the rest); the posterior
    always uses every observation.

    The GP's prior mean is the worst observed value (De Ath, Fieldsend and Everson, "What do
    you mean? The role of the mean function in Bayesian optimisation", 2020), not the average:
    far from the data the model then expects a bad result, not an average one, so expected
    improvement does not send trial after trial to the corners of the cube and spends them near
    the good regions instead (docs/decisions/0003).

Objective values
    Turned into a minimisation, then warped so that a few huge values (Rosenbrock, diverged
    training runs) do not flatten the rest: values above the median are compressed
    logarithmically in units of the interquartile range, then everything is standardised.

Initial design
    Trial ``n`` of the first :func:`initial_points` trials is point ``n`` of a scrambled Sobol
    sequence seeded by the job's seed, snapped to a runnable point; so parallel trials of the
    initial design are spread out by construction.

Acquisition
    Log expected improvement (computed stably far in the tails) over the incumbent, the lowest
    posterior mean at an observed point (robust to noise), maximised over 2048 Sobol
    candidates plus Gaussian perturbations of the best observations, every one snapped to a
    runnable point (integers rounded, categoricals one-hot) before it is scored; then L-BFGS-B
    with the analytic gradient polishes the continuous coordinates of the best few within the
    bounds, with the discrete coordinates held at their snapped values. In an all-discrete space
    small enough to enumerate, every configuration not tried yet is scored instead.

Running trials
    Every point that is running or waiting is added to the posterior with a *kriging believer*
    value, the model's mean there, and those believed values count for the incumbent. A belief
    is not a measurement, so it is conditioned on without the noise term: the posterior variance
    collapses at those points even when the model takes the objective for noisy, so the next
    suggestion goes elsewhere and a parallel batch spreads out, while a running point the model
    expects to improve moves the search on past it (docs/decisions/0006).

Failed trials
    Conditioned on at the worst observed (warped) value, so their region becomes unattractive;
    they take no part in the standardisation nor in the hyperparameter fit, so a few crashes do
    not distort the model of the rest.

Early-stopped trials
    Are observations with the objective they reached: worse than a full run by construction,
    which is the right direction to push the search.

State
    Everything is rebuilt from the observations on each call; the random generator of trial
    ``n`` is seeded with ``(seed, n)``, so a resumed job continues exactly as it would have.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special
from scipy.linalg import cho_solve, solve_triangular
from scipy.stats import qmc
from threadpoolctl import threadpool_limits

from ..space import CONTINUOUS, Space
from ..trial import COMPLETED, FAILED, STOPPED
from .base import Context, Observation, Suggestion

#: Above this many observations the kernel hyperparameters are fitted on a subsample.
FIT_SUBSAMPLE = 120
#: Lowest noise variance (of standardised values) the fit may reach: low enough that the model
#: can tell apart near-optimal points of a smooth deterministic objective; a noisy objective's
#: fit stays far above it (docs/decisions/0002).
NOISE_FLOOR = 1e-10
#: All-discrete spaces up to this size are scored exhaustively.
ENUMERATE_LIMIT = 20_000
_SQRT5 = math.sqrt(5.0)


def initial_points(space: Space) -> int:
    """Size of the space-filling initial design: one more than the number of parameters, at
    least 5 and at most 10 (a few points per dimension are enough for the GP to start; the
    model does better than a quasi-random design after that)."""
    return max(5, min(len(space.params) + 1, 10))


@dataclass
class Posterior:
    """The GP posterior with fixed hyperparameters, able to give log-EI and its gradient."""

    X: np.ndarray
    alpha: np.ndarray
    L: np.ndarray
    scale: float  # the constant kernel's variance
    lengths: np.ndarray
    noise: float = 0.0
    mean: float = 0.0  # the constant prior mean

    def cross(self, Z: np.ndarray, grad: bool = False):
        """``k(Z, X)`` of the Matern-5/2 part, and optionally its gradient in Z."""
        if not grad:
            # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: no (len(Z), n, d) array for many candidates.
            a, b = Z / self.lengths, self.X / self.lengths
            r2 = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
            r = np.sqrt(np.maximum(r2, 0.0))
            return self.scale * (1.0 + _SQRT5 * r + 5.0 / 3.0 * r * r) * np.exp(-_SQRT5 * r), None
        diff = (Z[:, None, :] - self.X[None, :, :]) / self.lengths
        r = np.sqrt(np.sum(diff * diff, axis=-1))
        e = np.exp(-_SQRT5 * r)
        k = self.scale * (1.0 + _SQRT5 * r + 5.0 / 3.0 * r * r) * e
        # dk/dz = -5/3 * s * (1 + sqrt5 r) e^{-sqrt5 r} * (z - x) / l^2  (smooth at r = 0)
        g = (-5.0 / 3.0 * self.scale * (1.0 + _SQRT5 * r) * e)[:, :, None] * diff / self.lengths
        return k, g

    def predict(self, Z: np.ndarray):
        k, _ = self.cross(Z)
        mu = self.mean + k @ self.alpha
        v = solve_triangular(self.L, k.T, lower=True, check_finite=False)
        var = np.maximum(self.scale - np.sum(v * v, axis=0), 1e-12)
        return mu, np.sqrt(var)

    def log_ei(self, Z: np.ndarray, best: float) -> np.ndarray:
        mu, sd = self.predict(Z)
        return np.log(sd) + _log_h((best - mu) / sd)

    def log_ei_and_grad(self, z: np.ndarray, best: float) -> tuple[float, np.ndarray]:
        k, g = self.cross(z[None, :], grad=True)
        k, g = k[0], g[0]  # (n,), (n, d)
        mu = self.mean + float(k @ self.alpha)
        dmu = g.T @ self.alpha
        v = solve_triangular(self.L, k, lower=True, check_finite=False)
        var = self.scale - float(v @ v)
        if var <= 1e-12:
            return math.log(1e-6) + float(_log_h(np.array([(best - mu) / 1e-6]))[0]), np.zeros_like(z)
        sd = math.sqrt(var)
        dv = solve_triangular(self.L, g, lower=True, check_finite=False)  # (n, d)
        dsd = -(v @ dv) / sd
        u = (best - mu) / sd
        lh = float(_log_h(np.array([u]))[0])
        ratio = math.exp(float(special.log_ndtr(u)) - lh)  # Phi(u) / h(u) = d log h / du
        du = (-dmu * sd - (best - mu) * dsd) / var
        return math.log(sd) + lh, dsd / sd + ratio * du


def _log_h(u: np.ndarray) -> np.ndarray:
    """``log(phi(u) + u * Phi(u))``, the log of EI with unit sd, accurate for very negative u."""
    u = np.asarray(u, dtype=float)
    out = np.empty_like(u)
    big = u > -1.0
    ub = u[big]
    out[big] = np.log(special.ndtr(ub) * ub + np.exp(-0.5 * ub * ub) / math.sqrt(2 * math.pi))
    us = -u[~big]  # > 1
    # phi(u) * (1 - |u| * Phi(u)/phi(u)); the Mills ratio via erfcx stays finite in the tail.
    mills = math.sqrt(math.pi / 2) * special.erfcx(us / math.sqrt(2))
    # 1 - |u| * mills ~ 1/u^2 - 3/u^4: past |u| = 1e3 the difference loses its digits.
    inner = np.where(us < 1e3, 1.0 - us * mills, 1.0 / (us * us) - 3.0 / us**4)
    out[~big] = -0.5 * us * us - 0.5 * math.log(2 * math.pi) + np.log(inner)
    return out


def _sobol(d: int, rng: np.random.Generator) -> qmc.Sobol:
    try:
        return qmc.Sobol(d, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 calls it seed
        return qmc.Sobol(d, scramble=True, seed=rng)


def warp(y: np.ndarray) -> np.ndarray:
    """Compress large values (minimisation: the bad ones) and standardise.

    Values up to the median are kept; above it, ``m + s * log1p((y - m) / s)`` with ``s`` the
    interquartile range, so a value 100 spreads above the median counts like 4.6 instead of 100.
    The ranking is kept, and near the optimum the scale is untouched.
    """
    y = np.asarray(y, dtype=float)
    m = float(np.median(y))
    q25, q75 = np.percentile(y, [25, 75])
    s = float(q75 - q25)
    if not s > 0:
        s = float(np.std(y)) or 1.0
    w = np.where(y > m, m + s * np.log1p(np.maximum(y - m, 0.0) / s), y)
    sd = float(np.std(w))
    return (w - float(np.mean(w))) / (sd if sd > 0 else 1.0)


def _map_optimizer(n_iter: int):
    """An optimizer for scikit-learn's GP that maximises likelihood plus log-priors (MAP)."""

    def run(obj_func, initial_theta, bounds):
        d = len(initial_theta) - 2
        # Log-normal priors on (signal variance, length scales, noise) of standardised values in
        # the unit cube: length scales around 1 (neither every coordinate irrelevant nor pure
        # noise) and a small noise; weak enough that a few dozen points overrule them.
        centre = np.concatenate([[0.0], np.zeros(d), [math.log(1e-3)]])
        spread = np.concatenate([[1.5], np.full(d, 0.7), [2.0]])
        lo, hi = bounds[:, 0], bounds[:, 1]

        def f(theta):
            val, grad = obj_func(theta)
            z = (theta - centre) / spread
            return val + 0.5 * float(z @ z), grad + z / spread

        starts = [np.clip(centre, lo, hi)]
        if not np.allclose(initial_theta, starts[0]):
            starts.append(np.clip(initial_theta, lo, hi))
        best = None
        for x0 in starts:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = optimize.minimize(
                    f, x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": n_iter}
                )
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
        if best is None:
            return starts[0], float(f(starts[0])[0])
        return best.x, float(best.fun)

    return run


class GPSampler:
    """A Gaussian-process Bayesian optimizer over a :class:`~hpt.space.Space`.

    Reusable outside the ``bayesian`` strategy (e.g. as the model-based sampler of Hyperband):
    call :meth:`suggest` with what is known and get one configuration back. It keeps no state
    between calls. ``noise_floor`` (the lowest noise variance the fit may reach) and
    ``worst_mean`` (the worst observed value as prior mean, else the average) choose the model
    described in the module's docstring.
    """

    def __init__(
        self,
        space: Space,
        maximize: bool = False,
        *,
        n_initial: int | None = None,
        n_candidates: int = 2048,
        n_polish: int = 5,
        noise_floor: float = NOISE_FLOOR,
        worst_mean: bool = True,
    ):
        self.space = space
        self.maximize = maximize
        self.n_initial = initial_points(space) if n_initial is None else n_initial
        self.n_candidates = n_candidates
        self.n_polish = n_polish
        self.noise_floor = noise_floor
        self.worst_mean = worst_mean
        self._cont = np.array(
            [i for p in space.params if p.kind == CONTINUOUS for i in range(space.dim)[space.coords(p.name)]],
            dtype=int,
        )

    # ------------------------------------------------------------------ public

    def suggest(
        self,
        observations: Sequence[tuple[Mapping[str, Any], float]],
        *,
        pending: Iterable[Mapping[str, Any]] = (),
        failed: Iterable[Mapping[str, Any]] = (),
        exclude: Iterable[tuple] = (),
        seed: int,
        index: int,
        fixed: Mapping[str, Any] | None = None,
        prior: Sequence[tuple[Mapping[str, Any], float]] = (),
    ) -> dict[str, Any] | None:
        """The next configuration to try.

        observations: ``(params, objective)`` pairs with finite objectives (in the direction of
            ``maximize``); pending: configurations running or about to run; failed: configurations
            that produced no objective; exclude: :meth:`Space.key` values never to suggest (every
            configuration tried so far, in any space); seed and index: the
            randomness of this call (the same arguments give the same answer), index being the
            1-based number of the trial to suggest (trials up to :attr:`n_initial` take the
            initial design, and so do later ones until :attr:`n_initial` observations or
            failures are in); fixed: values of some parameters to hold in the suggestion (a
            fidelity such as the training budget, modelled as an input): the acquisition is
            maximised over the other coordinates with these set, and the incumbent is the best
            posterior mean of the observed configurations at these values; prior: observations
            from outside the job (a warm start's parents), modelled as observations: each one
            takes the place of one point of the initial design, so with enough of them the model
            suggests from the first trial on.

        Returns None only when an all-discrete space has no configuration left outside
        ``exclude``.
        """
        # Small matrices: one BLAS thread is as fast, and steadier next to running trials.
        with threadpool_limits(limits=1, user_api="blas"):
            hold = self._held(fixed)
            return self._suggest(
                list(observations), list(pending), list(failed), set(exclude), seed, index, hold, list(prior)
            )

    def _held(self, fixed: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The encoded coordinates of ``fixed`` and their values, or None."""
        if not fixed:
            return None
        idx, val = [], []
        for name, value in fixed.items():
            idx.extend(range(self.space.dim)[self.space.coords(name)])
            val.extend(self.space[name].encode(value))
        return np.array(idx, dtype=int), np.array(val, dtype=float)

    @staticmethod
    def _hold(C: np.ndarray, hold) -> np.ndarray:
        if hold is None:
            return C
        C = np.array(C, dtype=float)
        C[..., hold[0]] = hold[1]
        return C

    def _suggest(self, observations, pending, failed, exclude, seed, index, hold=None, prior=()):
        space = self.space
        if space.is_discrete and len(exclude) >= space.cardinality:
            return None
        rng = np.random.default_rng([seed, index])
        before = [(p, float(v)) for p, v in prior if math.isfinite(v)]
        obs = before + [(p, float(v)) for p, v in observations if math.isfinite(v)]
        # The model starts once the initial design has come back, not merely been launched: with
        # parallel trials the first model-based suggestion would otherwise rest on a handful of
        # results (4 in 6-D at 4 workers), and a GP fitted on so few misleads the whole run.
        # Prior observations count as design points that have come back.
        if (
            index + len(before) <= self.n_initial
            or len(obs) + len(failed) < self.n_initial
            or len({v for _, v in obs}) < 2
        ):
            return self._initial(seed, index, exclude, rng)
        try:
            return self._model_based(obs, pending, failed, exclude, rng, hold)
        except np.linalg.LinAlgError:
            # Numerical trouble in the model must not end the job: a random point is a fair answer.
            return self._random_unseen(exclude, rng)

    def _model_based(self, obs, pending, failed, exclude, rng, hold=None):
        space = self.space
        X = np.array([space.encode(p) for p, _ in obs])
        y = np.array([-v if self.maximize else v for _, v in obs])
        yw = warp(y)
        model = self._fit(X, yw, rng)
        extra_X, extra_y = [], []
        worst = float(np.max(yw))
        for p in failed:
            extra_X.append(space.encode(p))
            extra_y.append(worst)
        # The incumbent is the best posterior mean at an observed point, not the best raw value:
        # with noise (or ripples the model treats as noise), EI against a lucky observation
        # sends the search to the far corners where only the variance is large.
        at = self._hold(X, hold)  # the observed configurations at the held values
        mean_at = model.predict(at)[0]
        best = float(np.min(mean_at))
        pend = [space.encode(p) for p in pending]
        if pend:
            # Kriging believer: each running trial is taken to return the model's mean there, and
            # the incumbent includes those beliefs. The variance collapses at a running point, so
            # the next suggestion does not repeat it, while a running point the model expects to
            # improve moves the incumbent, so the search goes on past it instead of waiting.
            P = np.array(pend)
            mu, _ = model.predict(P)
            extra_X.extend(P)
            extra_y.extend(mu)
            best = min(best, float(np.min(mu)))
        if extra_X:
            model = self._condition(
                model, np.vstack([X, np.array(extra_X)]), np.concatenate([yw, extra_y]), len(pend)
            )
        # Local candidates around the best configurations: by observed value, or, when some
        # coordinates are held (observations at other fidelities are not comparable), by the
        # predicted value at the held ones.
        top = np.argsort(yw if hold is None else mean_at)[:5]
        u = self._maximize(model, best, at[top], exclude, rng, hold)
        if u is None:
            return None
        return space.decode(u)

    # ------------------------------------------------------------------ internals

    def _initial(self, seed: int, index: int, exclude: set, rng) -> dict[str, Any] | None:
        space = self.space
        m = max(1, math.ceil(math.log2(max(index, 2))))
        pts = _sobol(space.dim, np.random.default_rng([seed, 0x5B01])).random_base2(m + 1)
        for u in pts[index - 1 :]:
            params = space.decode(u)
            if space.key(params) not in exclude:
                return params
        return self._random_unseen(exclude, rng)

    def _random_unseen(self, exclude: set, rng) -> dict[str, Any] | None:
        space = self.space
        for _ in range(200):
            params = space.decode(rng.random(space.dim))
            if space.key(params) not in exclude:
                return params
        if not space.is_discrete or space.cardinality > 1_000_000:
            return space.decode(rng.random(space.dim))
        left = [p for p in space.grid() if space.key(p) not in exclude]
        return left[int(rng.integers(len(left)))] if left else None

    def _fit(self, X: np.ndarray, y: np.ndarray, rng) -> Posterior:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        d = X.shape[1]
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            length_scale=np.ones(d), length_scale_bounds=(1e-2, 1e2), nu=2.5
        ) + WhiteKernel(1e-3, (self.noise_floor, 1.0))
        # The prior mean, where the model falls back to far from the data: the worst observed value,
        # or the average of the (standardised) values.
        m0 = float(np.max(y)) if self.worst_mean else 0.0
        Xf, yf = X, y
        if len(y) > FIT_SUBSAMPLE:
            order = np.argsort(y)
            top = order[: FIT_SUBSAMPLE // 4]
            rest = order[FIT_SUBSAMPLE // 4 :]
            pick = rest[np.linspace(0, len(rest) - 1, FIT_SUBSAMPLE - len(top)).astype(int)]
            idx = np.sort(np.concatenate([top, pick]))
            Xf, yf = X[idx], y[idx]
        gp = GaussianProcessRegressor(
            kernel, alpha=1e-8, optimizer=_map_optimizer(60), normalize_y=False, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(Xf, yf - m0)
        k = gp.kernel_
        scale = float(k.k1.k1.constant_value)
        lengths = np.asarray(k.k1.k2.length_scale, dtype=float).reshape(-1)
        if lengths.size == 1:
            lengths = np.full(d, float(lengths[0]))
        noise = float(k.k2.noise_level)
        return self._posterior(X, y, scale, lengths, noise, m0)

    def _posterior(self, X, y, scale, lengths, noise, mean=0.0, exact=0) -> Posterior:
        """The posterior given ``X, y``; the last ``exact`` rows are conditioned on without the
        noise term (believed values, which are not measurements)."""
        post = Posterior(X, np.zeros(len(y)), np.eye(len(y)), scale, lengths, noise, mean)
        K, _ = post.cross(X)
        diag = np.full(len(y), noise + 1e-8)
        diag[len(y) - exact :] = 1e-8
        K[np.diag_indices_from(K)] += diag
        jitter = 0.0
        for _ in range(6):
            try:
                L = np.linalg.cholesky(K + jitter * np.eye(len(y)))
                break
            except np.linalg.LinAlgError:
                jitter = max(jitter * 10, 1e-6)
        else:  # pragma: no cover - the noise on the diagonal makes this practically unreachable
            raise np.linalg.LinAlgError("the GP covariance is not positive definite even with jitter")
        post.L = L
        post.alpha = cho_solve((L, True), y - mean, check_finite=False)
        return post

    def _condition(self, model: Posterior, X, y, exact=0) -> Posterior:
        return self._posterior(X, y, model.scale, model.lengths, model.noise, model.mean, exact)

    def _candidates(self, incumbents: np.ndarray, rng) -> np.ndarray:
        space = self.space
        d = space.dim
        sobol = _sobol(d, rng).random(self.n_candidates)
        local = []
        for x in incumbents:
            for scale in (0.01, 0.05, 0.15):
                z = x + rng.normal(0.0, scale, size=(64, d))
                local.append(np.clip(z, 0.0, 1.0))
        C = np.vstack([sobol, *local]) if local else sobol
        return C

    def _snap_all(self, C: np.ndarray) -> np.ndarray:
        if all(p.kind == CONTINUOUS for p in self.space.params):
            return np.clip(C, 0.0, 1.0)  # every point of the cube runs as it is
        return np.array([self.space.snap(c) for c in C])

    def _maximize(self, model: Posterior, best: float, incumbents, exclude: set, rng, hold=None):
        space = self.space
        if space.is_discrete and space.cardinality <= ENUMERATE_LIMIT:
            grid = [p for p in space.grid() if space.key(p) not in exclude]
            if not grid:
                return None
            C = np.array([space.encode(p) for p in grid])
            scores = model.log_ei(C, best)
            return C[int(np.argmax(scores))]
        C = np.unique(self._hold(self._snap_all(self._candidates(incumbents, rng)), hold), axis=0)
        scores = model.log_ei(C, best)
        # The best-scoring candidates not excluded, decoded lazily (most never need a look).
        order = []
        for i in np.argsort(-scores):
            if not exclude or space.key(space.decode(C[i])) not in exclude:
                order.append(i)
                if len(order) == self.n_polish:
                    break
        if not order:
            params = self._random_unseen(exclude, rng)
            return None if params is None else space.encode(params)
        best_u, best_s = C[order[0]], float(scores[order[0]])
        cont = self._cont if hold is None else np.setdiff1d(self._cont, hold[0])
        if len(cont) == 0:
            return best_u
        for i in order:
            base = C[i].copy()

            def f(xc, base=base):
                z = base.copy()
                z[cont] = xc
                val, grad = model.log_ei_and_grad(z, best)
                return -val, -grad[cont]

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = optimize.minimize(
                    f,
                    base[cont],
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(0.0, 1.0)] * len(cont),
                    options={"maxiter": 50},
                )
            z = base.copy()
            z[cont] = res.x
            z = space.snap(z)
            if exclude and space.key(space.decode(z)) in exclude:
                continue
            s = float(model.log_ei(z[None, :], best)[0])
            if s > best_s:
                best_u, best_s = z, s
        return best_u


#: At most this many of a warm start's observations go to the model (the best quarter and an
#: even spread of the rest): the posterior costs cubic time in the number of observations.
MAX_PRIOR = 300


def prior_for_model(prior: Sequence[Observation], maximize: bool, cap: int = MAX_PRIOR) -> list[Observation]:
    """The prior observations a model takes: all of them up to ``cap``, else the best quarter
    and an even spread of the others, in their original order."""
    if len(prior) <= cap:
        return list(prior)
    sign = -1.0 if maximize else 1.0
    order = sorted(range(len(prior)), key=lambda i: sign * prior[i].objective)
    top, rest = order[: cap // 4], order[cap // 4 :]
    pick = [rest[int(j)] for j in np.linspace(0, len(rest) - 1, cap - len(top))]
    return [prior[i] for i in sorted(set(top) | set(pick))]


class BayesianSampler:
    """The ``bayesian`` strategy: a :class:`GPSampler` fed from the job's trials.

    Completed and early-stopped trials with a finite objective are observations; failed trials
    are failures; pending, running and interrupted trials (they will run again) are pending
    points; a warm start's observations (``ctx.prior``) are observations too. No configuration
    any trial has taken, nor an exact prior one, is suggested again (in a continuous space the
    model can still want one, at a bound, when it is sure of the trend), and an all-discrete
    space ends the job when none is left.
    """

    def __init__(self, space: Space, maximize: bool):
        self.space = space
        self.maximize = maximize
        self.gp = GPSampler(space, maximize)

    def _suggest(self, ctx: Context, fixed: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        obs, pending, failed = [], [], []
        for t in ctx.trials:
            if t.state in (COMPLETED, STOPPED):
                if t.objective is not None and math.isfinite(t.objective):
                    obs.append((t.params, t.objective))
            elif t.state == FAILED:
                failed.append(t.params)
            else:
                pending.append(t.params)
        exclude = ctx.taken()
        return self.gp.suggest(
            obs,
            pending=pending,
            failed=failed,
            exclude=exclude,
            seed=ctx.seed,
            index=ctx.next_trial_id,
            fixed=fixed,
            prior=[(o.params, o.objective) for o in prior_for_model(ctx.prior, self.maximize)],
        )

    def ask(self, ctx: Context) -> Suggestion | None:
        params = self._suggest(ctx)
        return None if params is None else Suggestion(params)

    def complete(self, ctx: Context, partial: Mapping[str, Any]) -> Suggestion | None:
        """An initial point: the given values as written, the others where the model suggests
        with those held (in the initial design: the design's point)."""
        if len(partial) == len(self.space.params):
            return Suggestion(dict(partial))
        params = self._suggest(ctx, fixed=partial)
        if params is None:
            params = self.space.decode(
                np.random.default_rng([ctx.seed, ctx.next_trial_id]).random(self.space.dim)
            )
        return Suggestion({**params, **partial})

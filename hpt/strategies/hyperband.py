"""Hyperband: asynchronous successive halving (ASHA) with stopping, over several brackets.

Every trial is launched to run up to ``max_resource``; its resource level is its step (the number
of objective points it printed, or the regex's named ``step`` group). The sampler gives each new
trial a bracket; the stopper judges it at each rung of that bracket and stops it at once when it
falls out of the top ``1/eta``. Nothing ever waits for other trials to reach a rung, so a free
slot is always filled and the scheme scales to many parallel trials.

Semantics (docs/strategies.md says the same for users):

* ``s_max = floor(log_eta(max_resource / min_resource))``; there are ``s_max + 1`` brackets.
  Bracket ``b`` has rungs at ``min_resource * eta**k`` for ``k = b, b + 1, ...`` while the level
  stays *below* ``max_resource`` (reaching ``max_resource`` is the end of training, not a
  decision). Bracket 0 is the most aggressive; bracket ``s_max`` has no rung when
  ``min_resource * eta**s_max == max_resource`` (its trials always run to the end).
* Only the ``hyperband.brackets`` most aggressive brackets are used (default 2: plain ASHA,
  bracket 0, plus bracket 1 as a hedge against a misleading first rung). Every bracket of
  Hyperband hedges more, but the conservative brackets cost nearly as much as random search
  and rarely pay back (docs/decisions/0008).
* Brackets are assigned in Hyperband's proportions: bracket ``b`` gets weight
  ``ceil((s_max + 1) / (s_max - b + 1) * eta**(s_max - b))``, the number of configurations of the
  matching bracket of synchronous Hyperband, so every bracket spends a similar budget. The
  assignment is a deterministic weighted round robin over the brackets already stored on the
  trial rows (``info["bracket"]``), so a resumed job continues the same sequence.
* A trial *reaches* rung ``r`` with its first point whose step is ``>= r``; its value at the
  rung is its objective over the points up to that one (the last value, or the best one with
  ``objective.use: best``). When that point arrives it is ranked among every trial of its
  bracket that has reached ``r`` so far (running, completed or stopped; itself included; ties
  count in its favour; NaN ranks last). With ``n`` such trials it continues only if its rank is
  at most ``ceil(n / eta)``: the first arrival always continues, and the share that continues
  tends to ``1/eta`` as the rung fills. Otherwise it is stopped.
* Rung values are computed from the objective points in the store (the latest attempt of each
  trial), so a resumed job judges new points exactly as before; a trial that failed or is
  waiting to be run again does not count at any rung.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import HptError
from ..spec import Spec
from ..trial import COMPLETED, FAILED, RUNNING, STOPPED
from .base import Context, Sampler, Suggestion

# --------------------------------------------------------------------------- pure functions


def max_bracket(min_resource: int, max_resource: int, eta: int) -> int:
    """``s_max = floor(log_eta(max_resource / min_resource))``, in exact integer arithmetic."""
    _check(min_resource, max_resource, eta)
    s, level = 0, min_resource
    while level * eta <= max_resource:
        level *= eta
        s += 1
    return s


def rung_levels(min_resource: int, max_resource: int, eta: int, bracket: int = 0) -> list[int]:
    """The resource levels at which a trial of ``bracket`` is judged, ascending.

    ``min_resource * eta**k`` for ``k >= bracket``, strictly below ``max_resource``.
    """
    if not 0 <= bracket <= max_bracket(min_resource, max_resource, eta):
        raise ValueError(f"bracket {bracket} does not exist")
    level = min_resource * eta**bracket
    out = []
    while level < max_resource:
        out.append(level)
        level *= eta
    return out


def bracket_weights(min_resource: int, max_resource: int, eta: int, brackets: int | None = None) -> list[int]:
    """How many trials each bracket gets per round: synchronous Hyperband's bracket sizes, for
    the first ``brackets`` brackets (all of them when None)."""
    s_max = max_bracket(min_resource, max_resource, eta)
    n = s_max + 1 if brackets is None else brackets
    if not 1 <= n <= s_max + 1:
        raise ValueError(f"{n} brackets requested, {s_max + 1} exist")
    return [math.ceil((s_max + 1) * eta ** (s_max - b) / (s_max - b + 1)) for b in range(n)]


def next_bracket(counts: Sequence[int], weights: Sequence[int]) -> int:
    """The bracket of the next trial: the one furthest behind its share (lowest index on ties).

    A smooth weighted round robin: after ``n`` trials, bracket ``b`` has had
    ``n * weights[b] / sum(weights)`` of them, give or take one.
    """
    total, n = sum(weights), sum(counts) + 1
    deficits = [n * w / total - c for w, c in zip(weights, counts, strict=True)]
    return max(range(len(weights)), key=lambda b: (deficits[b], -b))


def rank_key(value: float, maximize: bool) -> tuple[int, float]:
    """Ascending sort key of an objective value: best first, NaN last."""
    if math.isnan(value):
        return (1, 0.0)
    return (0, -value if maximize else value)


def promotion_quota(n: int, eta: int) -> int:
    """How many of the ``n`` trials at a rung may continue: ``ceil(n / eta)``."""
    return -(-n // eta)


def continues(value: float, others: Sequence[float], eta: int, maximize: bool) -> bool:
    """The ASHA decision: does a trial with ``value`` at a rung continue, given the values of the
    ``others`` that reached the rung before it (in its bracket)?

    It continues when at most ``ceil(n / eta) - 1`` others are strictly better, where ``n`` counts
    the others and itself.
    """
    key = rank_key(value, maximize)
    better = sum(1 for v in others if rank_key(v, maximize) < key)
    return better < promotion_quota(len(others) + 1, eta)


def objective_so_far(previous: float | None, value: float, use: str, maximize: bool) -> float:
    """A trial's objective after one more point: the point itself (``last``) or the best so far."""
    if use != "best" or previous is None or math.isnan(previous):
        return value
    if math.isnan(value):
        return previous
    return max(previous, value) if maximize else min(previous, value)


def values_at_rungs(
    points: Sequence[tuple[int, float]], levels: Sequence[int], use: str, maximize: bool
) -> dict[int, float]:
    """A trial's value at each rung it reached: its objective at its first point with
    ``step >= level``."""
    out: dict[int, float] = {}
    current = None
    for step, value in points:
        current = objective_so_far(current, value, use, maximize)
        for level in levels:
            if level <= step and level not in out:
                out[level] = current
    return out


def _check(min_resource: int, max_resource: int, eta: int) -> None:
    if min_resource < 1 or max_resource < min_resource or eta < 2:
        raise ValueError(
            f"need 1 <= min_resource <= max_resource and eta >= 2 (got {min_resource}, {max_resource}, {eta})"
        )


# --------------------------------------------------------------------------- sampler


def _settings(spec: Spec, who: str):
    if spec.hyperband is None:
        raise HptError(f"the hyperband {who} needs the spec's hyperband settings")
    return spec.hyperband


class HyperbandSampler:
    """Gives each new trial a bracket (stored as ``info["bracket"]``) and asks ``proposer`` for
    its configuration (random search by default; any :class:`Sampler` fits)."""

    def __init__(self, spec: Spec, proposer: Sampler | None = None):
        hb = _settings(spec, "sampler")
        if proposer is None:
            from .random import RandomSampler

            proposer = RandomSampler(spec.space)
        self.proposer = proposer
        available = max_bracket(hb.min_resource, hb.max_resource, hb.eta) + 1  # the spec checked it
        self.weights = bracket_weights(hb.min_resource, hb.max_resource, hb.eta, min(hb.brackets, available))

    def ask(self, ctx: Context) -> Suggestion | None:
        counts = [0] * len(self.weights)
        for t in ctx.trials:
            b = t.info.get("bracket")
            if isinstance(b, int) and 0 <= b < len(counts):
                counts[b] += 1
        suggestion = self.proposer.ask(ctx)
        if suggestion is None:
            return None
        bracket = next_bracket(counts, self.weights)
        return Suggestion(suggestion.params, {**suggestion.info, "bracket": bracket})


class ModelBasedProposer:
    """``hyperband.sampler: bayesian``: new configurations from a Gaussian process over the
    configuration *and the resource*, asked for its best guess at ``max_resource``.

    Every value a trial showed at a resource level (a rung of any bracket, or ``max_resource``:
    its objective at its first point with ``step >= level``) is one observation, the level an
    extra input of the model on a logarithmic scale. So the many trials stopped at low rungs
    inform the model together with the few that ran longer, and the model learns from the data
    how far early values predict final ones; its expected improvement is maximised with the
    resource held at ``max_resource``, against the best predicted final value of a configuration
    seen so far. (BOHB instead fits its model on the highest level with enough trials, which
    discards most of the data.) Until :attr:`min_observations` trials have a value, and for
    one suggestion in three after that (as BOHB's random fraction, which keeps the search from
    trusting the model too much), the configuration is the one random search would draw.
    Running trials that have shown nothing yet are pending points at ``max_resource``, so
    parallel suggestions spread out; failed ones inform the model as failures. Everything is
    derived from the context, so a resumed job continues alike.
    """

    #: Every ``RANDOM_EVERY``-th trial is drawn at random.
    RANDOM_EVERY = 3
    #: At most this many observations are given to the model: the best quarter of them and the
    #: most recent others (a Gaussian process costs cubic time in the number of observations).
    MAX_OBSERVATIONS = 400
    #: The name of the resource in the model's space (not a valid spec parameter name).
    RESOURCE = "@resource"

    def __init__(self, spec: Spec):
        from ..space import CONTINUOUS, LOG, Param, Space
        from .bayesian import GPSampler, initial_points
        from .random import RandomSampler

        hb = _settings(spec, "sampler")
        self.space = spec.space
        self.maximize = spec.objective.maximize
        self.use = spec.objective.use
        levels = {hb.max_resource}
        for b in range(max_bracket(hb.min_resource, hb.max_resource, hb.eta) + 1):
            levels.update(rung_levels(hb.min_resource, hb.max_resource, hb.eta, b))
        self.levels = sorted(levels)
        self.max_resource = hb.max_resource
        self.random = RandomSampler(spec.space)
        # The resource is an input only when trials are judged below max_resource (with
        # min_resource == max_resource every observation is a final one).
        self.fidelity = self.levels[0] < hb.max_resource
        params = spec.space.params
        if self.fidelity:
            resource = Param(self.RESOURCE, CONTINUOUS, float(self.levels[0]), float(hb.max_resource), LOG)
            params = (*params, resource)
        # The settings this model was measured with (docs/decisions/0009); the bayesian
        # strategy's lower floor and worst-value prior mean were not tried on learning curves.
        self.gp = GPSampler(Space(params), self.maximize, noise_floor=1e-6, worst_mean=False)
        self.min_observations = max(initial_points(spec.space), spec.space.dim + 2)

    def observations(self, ctx: Context) -> list[tuple[int, int, dict, float]]:
        """The model's observations ``(trial id, level, params, value)``: every counted trial's
        value at every level it reached, and a warm start's observations at the levels their
        points reached (with negative ids), capped at :attr:`MAX_OBSERVATIONS`."""
        obs = []
        for k, o in enumerate(ctx.prior):
            values = values_at_rungs(o.points, self.levels, self.use, self.maximize)
            obs.extend(
                (-1 - k, level, o.params, v) for level, v in sorted(values.items()) if math.isfinite(v)
            )
        for t in ctx.trials:
            if t.state not in _COUNTED:
                continue
            values = values_at_rungs(ctx.history.get(t.id, ()), self.levels, self.use, self.maximize)
            obs.extend((t.id, level, t.params, v) for level, v in sorted(values.items()) if math.isfinite(v))
        if len(obs) <= self.MAX_OBSERVATIONS:
            return obs
        sign = -1.0 if self.maximize else 1.0
        best = sorted(obs, key=lambda o: (sign * o[3], o[0]))[: self.MAX_OBSERVATIONS // 4]
        chosen = {(o[0], o[1]) for o in best}
        recent = [o for o in reversed(obs) if (o[0], o[1]) not in chosen][: self.MAX_OBSERVATIONS - len(best)]
        return sorted(best + recent, key=lambda o: (o[0], o[1]))

    def _at(self, params: dict, level: int) -> dict:
        return {**params, self.RESOURCE: level} if self.fidelity else dict(params)

    def ask(self, ctx: Context) -> Suggestion | None:
        tid = ctx.next_trial_id
        obs = [] if tid % self.RANDOM_EVERY == 0 else self.observations(ctx)
        observed = {o[0] for o in obs}
        if len(observed) < self.min_observations:
            return self.random.ask(ctx)
        R = self.max_resource
        pending = [self._at(t.params, R) for t in ctx.trials if not t.finished and t.id not in observed]
        failed = [self._at(t.params, R) for t in ctx.trials if t.state == FAILED]
        params = self.gp.suggest(
            [(self._at(p, level), v) for _, level, p, v in obs],
            pending=pending,
            failed=failed,
            seed=ctx.seed,
            index=tid,
            fixed={self.RESOURCE: R} if self.fidelity else None,
        )
        if params is not None:
            params.pop(self.RESOURCE, None)
        space = self.space
        if params is None or (space.is_discrete and space.key(params) in ctx.taken()):
            # The model's space (with a continuous resource) is never exhausted, so in a discrete
            # space a configuration already tried goes to random search, which draws an unseen
            # one or ends the job when none is left.
            return self.random.ask(ctx)
        return Suggestion(params, {"model_observations": len(obs)})


def make_hyperband_sampler(spec: Spec, wrap=None) -> HyperbandSampler:
    """The sampler of ``strategy: hyperband``, with the configured proposer; ``wrap(spec,
    proposer)``, when given, wraps the proposer (the initial points go inside, so they get
    brackets too)."""
    if spec.hyperband is not None and spec.hyperband.sampler == "bayesian":
        proposer = ModelBasedProposer(spec)
    else:
        from .random import RandomSampler

        proposer = RandomSampler(spec.space)
    return HyperbandSampler(spec, wrap(spec, proposer) if wrap is not None else proposer)


# --------------------------------------------------------------------------- stopper

# Trials in these states count at the rungs they reached; others (failed, or waiting to run
# again after an interruption or a failed attempt) do not.
_COUNTED = (RUNNING, COMPLETED, STOPPED)


@dataclass
class _Track:
    """Rung values of one attempt of one trial, built from its points as they come."""

    bracket: int
    attempt: int
    seen: int = 0
    current: float | None = None
    rungs: dict[int, float] = field(default_factory=dict)  # level -> value there
    reached_at: dict[int, int] = field(default_factory=dict)  # level -> index of the point


@dataclass(frozen=True)
class RungDecision:
    """A trial reached a rung and continues: its value there, its rank among the ``count``
    trials of its bracket that reached the rung, and how many continue (``quota``)."""

    rung: int
    bracket: int
    value: float
    rank: int
    count: int
    quota: int

    def __str__(self) -> str:
        return (
            f"rung {self.rung} of bracket {self.bracket}: {self.value:.6g} ranks {self.rank} of "
            f"{self.count}, the top {self.quota} continue"
        )


class HyperbandStopper:
    """ASHA with stopping, per bracket. See the module docstring for the exact rule.

    :attr:`passed` is the last rung a trial passed in the latest :meth:`on_report` (None when
    that point reached no rung, or the trial was stopped), for progress logs.
    """

    def __init__(self, spec: Spec):
        hb = _settings(spec, "stopper")
        self.eta = hb.eta
        self.metric = spec.objective.metric
        self.use = spec.objective.use
        self.maximize = spec.objective.maximize
        self.levels = [
            rung_levels(hb.min_resource, hb.max_resource, hb.eta, b)
            for b in range(max_bracket(hb.min_resource, hb.max_resource, hb.eta) + 1)
        ]
        self._tracks: dict[int, _Track] = {}
        # (bracket, level) -> sorted rank keys of the values recorded there, for O(log n) ranks.
        self._keys: dict[tuple[int, int], list[tuple[int, float]]] = {}
        self._settled: set[int] = set()  # finished and fully read: they never change again
        self._low = 0  # every trial before this index of ctx.trials is settled
        self.passed: RungDecision | None = None

    def bracket_of(self, info: dict) -> int:
        b = info.get("bracket")
        return b if isinstance(b, int) and 0 <= b < len(self.levels) else 0

    # ---- keeping the rung records in step with the stored points

    def _drop(self, tid: int) -> None:
        track = self._tracks.pop(tid, None)
        if track is None:
            return
        for level, v in track.rungs.items():
            keys = self._keys[(track.bracket, level)]
            del keys[bisect.bisect_left(keys, rank_key(v, self.maximize))]

    def _sync(self, ctx: Context) -> None:
        trials = ctx.trials
        for i in range(self._low, len(trials)):
            t = trials[i]
            if t.id in self._settled:
                continue
            if t.state not in _COUNTED:
                self._drop(t.id)
            else:
                track = self._tracks.get(t.id)
                if track is None or track.attempt != t.attempts:
                    self._drop(t.id)
                    track = self._tracks[t.id] = _Track(self.bracket_of(t.info), t.attempts)
                self._read(track, ctx.history.get(t.id, ()))
            if t.finished:
                self._settled.add(t.id)
        while self._low < len(trials) and trials[self._low].id in self._settled:
            self._low += 1

    def _read(self, track: _Track, points) -> None:
        levels = self.levels[track.bracket]
        for i in range(track.seen, len(points)):
            step, value = points[i]
            track.current = objective_so_far(track.current, value, self.use, self.maximize)
            for level in levels:
                if level <= step and level not in track.rungs:
                    track.rungs[level] = track.current
                    track.reached_at[level] = i
                    bisect.insort(
                        self._keys.setdefault((track.bracket, level), []),
                        rank_key(track.current, self.maximize),
                    )
        track.seen = len(points)

    # ---- the decision

    def on_report(self, ctx: Context, trial, step: int, value: float) -> str | None:
        self.passed = None
        self._sync(ctx)
        track = self._tracks.get(trial.id)
        if track is None:
            return None
        # Judge the rungs that the newest point reached, and only those: a pure function of
        # the stored points, whatever this object saw before (a resumed job decides alike).
        last = track.seen - 1
        for level in sorted(lv for lv, i in track.reached_at.items() if i == last):
            v = track.rungs[level]
            keys = self._keys[(track.bracket, level)]
            n = len(keys)
            better = bisect.bisect_left(keys, rank_key(v, self.maximize))
            quota = promotion_quota(n, self.eta)
            if better >= quota:
                self.passed = None
                return (
                    f"hyperband: at rung {level} of bracket {track.bracket}, {self.metric}={v:.6g} "
                    f"ranks {better + 1} of {n}; only the top {quota} continue"
                )
            self.passed = RungDecision(level, track.bracket, v, better + 1, n, quota)
        return None

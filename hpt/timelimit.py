"""A time limit on each metric regex's work on one line, so no regex can stall the runner.

Python's ``re`` has no timeout and holds the interpreter while it matches, so another thread
cannot interrupt it; but it checks for signals as it goes. :class:`MatchTimer` arms a one-shot
``ITIMER_VIRTUAL`` (CPU time, so a paused or descheduled hpt is not taken for a slow regex)
before each line's matching and turns the ``SIGVTALRM`` into :class:`RegexTimeout`. Signal
handlers run in the main thread only, so the limit applies when hpt runs there (the command
line always does); elsewhere there is none.
"""

from __future__ import annotations

import signal
import threading

#: CPU seconds the regexes may spend on one line (a sane metric regex takes microseconds).
MATCH_LIMIT = 0.2


class RegexTimeout(Exception):
    """A metric's regex took longer than the limit on a line."""

    def __init__(self, metric: str, line: str, limit: float):
        self.metric, self.line, self.limit = metric, line, limit
        shown = line if len(line) <= 60 else line[:57] + "..."
        super().__init__(
            f"the regex of metric {metric!r} took more than {limit:g} s on a line of {len(line)} characters "
            f"({shown!r}): it backtracks catastrophically; simplify it (test it with `hpt check-metrics`)"
        )


class MatchTimer:
    """Use ``with MatchTimer() as timer:`` around a run, then pass ``timer.guard`` (None when
    no limit is possible) to :class:`~hpt.metrics.MetricParser`, which sets :attr:`metric`
    before each regex it runs."""

    def __init__(self, limit: float = MATCH_LIMIT):
        self.limit = limit
        self.active = False
        self.metric = ""
        self._armed = False
        self._line = ""
        self._old = None

    def __enter__(self) -> MatchTimer:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self._old = signal.signal(signal.SIGVTALRM, self._expired)
            self.active = True
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, self._old)
            self.active = False

    def _expired(self, _signum, _frame):
        # A signal that lands after the matching ended (delivered late) is ignored.
        if self._armed:
            self._armed = False
            raise RegexTimeout(self.metric, self._line, self.limit)

    @property
    def guard(self) -> MatchTimer | None:
        return self if self.active else None

    def arm(self, line: str) -> None:
        """Start the time limit over the matching of ``line``; :meth:`disarm` ends it."""
        self._line = line
        self._armed = True
        signal.setitimer(signal.ITIMER_VIRTUAL, self.limit)

    def disarm(self) -> None:
        self._armed = False
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


__all__ = ["MATCH_LIMIT", "MatchTimer", "RegexTimeout"]

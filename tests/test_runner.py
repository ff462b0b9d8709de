"""The runner's loop with an executor whose trials end the moment they start: no processes, so
what is checked is what the strategy is told and when, deterministically."""

from __future__ import annotations

from conftest import FAKE

from hpt.executors import Exited, Output, Started
from hpt.jobs import create_or_reopen
from hpt.runner import Runner
from hpt.spec import parse_spec
from hpt.trial import COMPLETED, JOB_COMPLETED

SPEC = f"""
name: instant
command: [python, {FAKE}, --x, "{{x}}"]
objective: {{metric: loss, type: minimize}}
metrics:
  - {{name: loss, regex: 'loss=([-+0-9.eE]+)'}}
strategy: random
parameters:
  x: {{type: continuous, min: 0.0, max: 1.0}}
limits: {{max_jobs: 6, max_parallel_jobs: 4}}
random_seed: 1
"""


class InstantExecutor:
    """Queues a whole attempt (start, one objective line, exit 0) as soon as it is started."""

    name = "instant"

    def __init__(self, events):
        self.events = events

    def start(self, launch) -> None:
        key = launch.key
        self.events.put(Started(key, None, None, "here"))
        self.events.put(Output(key, "stdout", (f"loss={launch.trial_id}",), 0.0))
        self.events.put(Exited(key, 0))

    def stop(self, key) -> None:
        pass

    def close(self) -> None:
        pass


def test_trials_that_ended_are_told_to_the_strategy_before_it_suggests_again(tmp_path):
    store, spec, _ = create_or_reopen(parse_spec(SPEC), tmp_path)
    runner = Runner(spec, store, InstantExecutor, seed=1)
    seen = []
    ask = runner.sampler.ask

    def spy(ctx):
        seen.append([t.state for t in ctx.trials])
        return ask(ctx)

    runner.sampler.ask = spy
    try:
        outcome = runner.run()
        assert outcome.status == JOB_COMPLETED
        # Each trial had ended before the next suggestion, though three more could have run:
        # none may be taken for running (the strategy would then suggest with less than it knows).
        assert seen == [[COMPLETED] * n for n in range(6)]
        assert [t.objective for t in store.trials()] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    finally:
        store.close()

"""Metric parsing from literal lines."""

import math
import re
from dataclasses import dataclass

from hpt.metrics import MAX_LINE, MetricParser, final_value


@dataclass
class M:
    name: str
    regex: str

    @property
    def pattern(self):
        return re.compile(self.regex)


def test_parse_lines():
    p = MetricParser([M("acc", r"val_acc=([-+0-9.eE]+)"), M("loss", r"loss: ([0-9.]+)")])
    pts = p.feed("epoch 1 val_acc=0.5 loss: 1.25")
    assert [(x.name, x.value, x.step) for x in pts] == [("acc", 0.5, 1), ("loss", 1.25, 1)]
    assert p.feed("nothing here") == []
    pts = p.feed("val_acc=6.0e-1")
    assert [(x.name, x.value, x.step) for x in pts] == [("acc", 0.6, 2)]


def test_every_match_in_a_line_is_a_point():
    p = MetricParser([M("v", r"v=([0-9]+)")])
    assert [x.value for x in p.feed("v=1 v=2 v=3")] == [1, 2, 3]
    assert [x.step for x in p.feed("v=4")] == [4]


def test_named_groups_value_and_step():
    p = MetricParser([M("acc", r"\[(?P<step>\d+)\] acc (?P<value>[0-9.]+)")])
    pts = p.feed("[10] acc 0.75")
    assert (pts[0].value, pts[0].step) == (0.75, 10)
    p = MetricParser([M("acc", r"epoch (?P<step>\d+).*acc=([0-9.]+)")])
    pts = p.feed("epoch 3 ... acc=0.9")
    assert (pts[0].value, pts[0].step) == (0.9, 3)


def test_unparseable_captures_are_skipped_and_counted():
    p = MetricParser([M("acc", r"acc=(\S+)")])
    assert p.feed("acc=abc") == []
    assert p.unparsed == 1
    assert math.isnan(p.feed("acc=nan")[0].value)
    assert p.feed("acc=inf")[0].value == math.inf


def test_line_is_capped_before_matching():
    p = MetricParser([M("v", r"v=([0-9]+)$")])
    assert p.feed("x" * (MAX_LINE + 10) + " v=1") == []
    assert p.feed("v=2") and p.feed("v=2")[0].value == 2


def test_final_value_last_or_best():
    assert final_value([0.5, 0.9, 0.7], "last", True) == 0.7
    assert final_value([0.5, 0.9, 0.7], "best", True) == 0.9
    assert final_value([0.5, 0.2, 0.7], "best", False) == 0.2
    assert final_value([], "last", True) is None
    assert final_value([0.5, float("nan")], "best", True) == 0.5

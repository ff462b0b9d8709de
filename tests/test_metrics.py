"""Metric parsing from literal lines."""

import re
from dataclasses import dataclass

import pytest

from hpt.metrics import MAX_LINE, MetricParser, check_lines, final_value, group_spans, widen


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


def test_captures_that_are_no_finite_number_are_bad_points_with_their_text():
    p = MetricParser([M("acc", r"acc=(\S+)")])
    bad = p.feed("acc=abc")[0]
    assert not bad.ok and not bad.diverged and bad.text == "abc" and bad.step == 1
    assert [(x.text, x.ok, x.diverged) for x in p.feed("acc=nan acc=inf")] == [
        ("nan", False, True),
        ("inf", False, True),
    ]


README_REGEX = r"loss=([-+0-9.eE]+)"


@pytest.mark.parametrize(
    "line,text,diverged",
    [
        ("loss=nan", "nan", True),
        ("loss=NaN at step 3", "NaN", True),
        ("loss=-inf", "-inf", True),
        ("loss=0,5333", "0,5333", False),  # a decimal comma is not 0
        ("loss=1,200,000.0", "1,200,000.0", False),  # thousands separators are not 1
        ("loss=1'200.5", "1'200.5", False),
        ("epoch 3 loss=diverged", "diverged", False),
    ],
)
def test_a_line_naming_the_metric_is_never_read_as_another_number(line, text, diverged):
    (point,) = MetricParser([M("loss", README_REGEX)]).feed(line)
    assert not point.ok and point.text == text and point.diverged == diverged


def test_numbers_next_to_other_text_still_read():
    p = MetricParser([M("loss", README_REGEX), M("t", r"time=([0-9.]+)")])
    pts = p.feed("loss=0.5, acc=0.9 time=12ms loss=1e-3;")
    assert [(x.name, x.value) for x in pts] == [("loss", 0.5), ("loss", 0.001), ("t", 12.0)]
    assert all(x.ok for x in pts)


def test_csv_like_regexes_keep_their_commas():
    (point,) = MetricParser([M("v", r"^([0-9.]+),")]).feed("0.5,0.6,0.7")
    assert point.ok and point.value == 0.5


def test_without_text_before_the_value_nothing_is_guessed():
    # No literal text before the group: a line cannot be said to name the metric.
    assert widen(re.compile(r"^(\d+)")) is None and widen(re.compile(r"(a+)+$")) is None
    assert MetricParser([M("n", r"^([0-9]+)$")]).feed("nan") == []


def test_group_spans_skip_escapes_classes_and_non_capturing_groups():
    assert group_spans(r"a\(b[()](?:c)(d)(?P<e>f(g))") == [(13, 16), (16, 27), (23, 26)]


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


def test_check_lines_reports_every_bad_line_with_its_number():
    (c,) = check_lines([M("loss", README_REGEX)], ["loss=1.2", "loss=0.7", "noise", "loss=nan"])
    assert [(n, p.value) for n, p, _ in c.points] == [(1, 1.2), (2, 0.7)]
    assert [(n, p.text, p.step) for n, p, _ in c.bad] == [(4, "nan", 3)]

"""The load benchmark's verdict on each answer: can it tell a stale version?"""

from __future__ import annotations

from benchmarks.serve_load import Move, Sample, holding, stale


def answer(start: float, end: float, version: int) -> Sample:
    return Sample(start, end, 200, version, 0.3)


def test_holding_spans_cover_each_move_widely() -> None:
    moves = [Move(("promote",), 10.0, 10.3, 2), Move(("rollback",), 20.0, 20.2, 1)]
    assert holding(1, moves) == [
        (1, float("-inf"), 10.3),
        (2, 10.0, 20.2),
        (1, 20.0, float("inf")),
    ]


def test_an_answer_is_stale_only_past_the_allowance() -> None:
    spans = holding(1, [Move(("promote",), 10.0, 10.3, 2)])
    allowance = 1.5
    assert not stale(answer(5.0, 5.01, 1), spans, allowance)
    assert not stale(answer(11.5, 11.51, 1), spans, allowance)  # the server has not polled yet
    assert stale(answer(12.0, 12.01, 1), spans, allowance)  # 1.7 s after the move ended
    assert not stale(answer(10.1, 10.11, 2), spans, allowance)  # during the move
    assert stale(answer(9.0, 9.01, 2), spans, allowance)  # before the move began
    assert stale(answer(11.0, 11.01, 3), spans, allowance)  # never held the stage

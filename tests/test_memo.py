"""The in-process memos: a costly computation runs once for everyone asking meanwhile."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from labelloop.memo import Recent, SingleFlight


def _asking(n: int, ask: Any) -> tuple[list[threading.Thread], list[Any]]:
    answers: list[Any] = []

    def one() -> None:
        try:
            answers.append(ask())
        except Exception as exc:  # noqa: BLE001 - the error is the answer here
            answers.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, answers


def test_who_asks_while_it_runs_gets_that_runs_error_and_the_next_ask_runs_again() -> None:
    flights = SingleFlight()
    runs: list[int] = []
    release = threading.Event()

    def failing() -> Any:
        runs.append(1)
        release.wait(10)
        raise ValueError("the model could not train")

    threads, answers = _asking(4, lambda: flights.run("k", failing))
    while not runs:
        time.sleep(0.01)
    time.sleep(0.2)  # the other three are waiting on the first
    release.set()
    for t in threads:
        t.join(10)
    assert len(runs) == 1
    assert [str(a) for a in answers] == ["the model could not train"] * 4
    assert flights.run("k", lambda: 7) == 7  # a failure is not kept
    with pytest.raises(ValueError):
        flights.run("k", failing)


def test_recent_computes_a_key_once_when_many_ask_first() -> None:
    recent = Recent(2)
    runs: list[str] = []

    def slow(key: str) -> str:
        runs.append(key)
        time.sleep(0.3)
        return key.upper()

    threads, answers = _asking(5, lambda: recent.get("drift", lambda: slow("drift")))
    for t in threads:
        t.join(10)
    assert runs == ["drift"] and answers == ["DRIFT"] * 5
    assert recent.get("drift", lambda: slow("again")) == "DRIFT"  # kept
    recent.get("a", lambda: "A")
    recent.get("b", lambda: "B")
    assert recent.get("drift", lambda: slow("drift")) == "DRIFT" and runs == ["drift", "drift"]


def test_a_computation_asking_for_its_own_key_is_an_error_not_a_hang() -> None:
    flights = SingleFlight()
    with pytest.raises(RuntimeError, match="asked for again while it computes"):
        flights.run("k", lambda: flights.run("k", lambda: 1))
    assert flights.run("k", lambda: 2) == 2  # nothing left running

"""Sign-in attempts made at the same moment count against the limit as they begin: a burst of
guesses for one name runs no more password checks than the limit, where checking the count
before and adding to it after let every guess in flight through."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from labelloop.errors import AuthenticationFailed, LabelloopError, TooManyAttempts
from labelloop.server.throttle import SignInThrottle, guarded

BURST = 25


def test_a_burst_of_guesses_runs_no_more_checks_than_the_limit() -> None:
    throttle = SignInThrottle(limit=10)
    checked = []
    lock = threading.Lock()

    def wrong_password() -> None:
        with lock:
            checked.append(1)
        threading.Event().wait(0.2)  # a password check takes a while (argon2)
        raise AuthenticationFailed("wrong username or password")

    def guess() -> str:
        try:
            guarded(throttle, "admin", "10.0.0.9", wrong_password)
        except TooManyAttempts:
            return "throttled"
        except AuthenticationFailed:
            return "refused"
        return "in"

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(lambda _: guess(), range(BURST)))
    assert len(checked) == 10
    assert answers.count("refused") == 10 and answers.count("throttled") == BURST - 10
    assert throttle.wait_s("admin", "10.0.0.9") > 0


def test_a_check_that_breaks_does_not_count_and_a_success_clears() -> None:
    throttle = SignInThrottle(limit=2)

    def broken() -> None:
        raise LabelloopError("the new password is too short")

    for _ in range(3):
        try:
            guarded(throttle, "pat", "10.0.0.9", broken)
        except LabelloopError as exc:
            assert not isinstance(exc, TooManyAttempts)
    assert throttle.wait_s("pat", "10.0.0.9") == 0
    assert guarded(throttle, "pat", "10.0.0.9", lambda: "in") == "in"

"""Browser contexts already signed in: each user signs in (conftest's sign_in, the form's
requests) once per browser and server, and later contexts start with that session's cookies, as
a browser that stays signed in does.

Signing in has tests of its own (tests/e2e/test_e2e_accounts.py).
"""

from __future__ import annotations

import weakref
from typing import Any

from tests.e2e.conftest import PASSWORD, USERNAME, sign_in

_STATES: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Any]] = weakref.WeakKeyDictionary()


def signed_in(
    browser: Any,
    url: str,
    *,
    username: str = USERNAME,
    password: str = PASSWORD,
    **context_options: Any,
) -> Any:
    """A new context (``context_options``: viewport, has_touch, ...) in which ``username`` is
    signed in to the server at ``url``."""
    states = _STATES.setdefault(browser, {})
    state = states.get((url, username))
    context = browser.new_context(storage_state=state, **context_options)
    if state is None:
        sign_in(context.request, url, username=username, password=password)
        states[(url, username)] = context.storage_state()
    return context


def forget(url: str) -> None:
    """Forget the sessions of the server at ``url``, which stops: a server started later on the
    same port (another data dir, another secret key) would refuse them, and its pages would
    open on the sign-in form."""
    for states in list(_STATES.values()):
        for key in [key for key in states if key[0] == url]:
            del states[key]


def signed_in_page(browser: Any, url: str, path: str, **options: Any) -> Any:
    """A page of a new :func:`signed_in` context (``options``) open on ``path``."""
    page = signed_in(browser, url, **options).new_page()
    page.goto(url + path)
    return page

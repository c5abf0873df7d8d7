"""Sessions: a signed HttpOnly cookie carrying the user id, its CSRF token and the user's session
generation (signing out or a new password bumps it on the user's row, ending older cookies)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "labelloop_session"
LOGIN_CSRF_COOKIE = "labelloop_login_csrf"
LOGIN_REFUSAL_COOKIE = "labelloop_login_refusal"
LOGIN_REFUSAL_MAX_AGE_S = 60
"""How long a refused sign-in's note waits for the sign-in page it redirects to: that page is
asked for at once; a note left over is not shown on a later visit."""
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf: str
    generation: int = 0


@dataclass(frozen=True)
class LoginRefusal:
    """A refused sign-in, for the sign-in page its POST redirects to (Post/Redirect/Get): the
    error's code, the name typed, and for a throttled one the seconds to wait. Never the
    password."""

    error: str
    username: str
    retry_after_s: int | None = None


class Sessions:
    """Issues and reads session cookies. Only the user's generation is kept server-side, on the
    user row every request reads anyway (``accounts.user_for_session`` checks it)."""

    def __init__(self, secret: str, *, max_age_s: int, secure: bool = False) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="labelloop-session")
        self._login = URLSafeTimedSerializer(secret, salt="labelloop-login")
        self._refusal = URLSafeTimedSerializer(secret, salt="labelloop-login-refusal")
        self.max_age_s = max_age_s
        self.secure = secure

    def issue(
        self, response: Response, user_id: int, *, generation: int = 0, csrf: str | None = None
    ) -> Session:
        """A session cookie of the user's ``generation``; ``csrf`` keeps an open page's token
        (a session renewed after a password change)."""
        csrf = csrf or secrets.token_urlsafe(24)
        session = Session(user_id=user_id, csrf=csrf, generation=generation)
        token = self._signer.dumps({"uid": user_id, "csrf": session.csrf, "gen": generation})
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.max_age_s,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )
        return session

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=self.max_age_s)
        except BadSignature:
            return None
        # A cookie from before generations were kept is of generation 0, as every user began.
        return Session(
            user_id=int(data["uid"]), csrf=str(data["csrf"]), generation=int(data.get("gen", 0))
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def new_login_token(self) -> str:
        """A CSRF token for the login form; ``set_login_cookie`` binds it to the browser."""
        return secrets.token_urlsafe(16)

    def set_login_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            self._login.dumps(nonce),
            max_age=3600,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def check_login_token(self, request: Request, submitted: str) -> bool:
        raw = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not raw or not submitted:
            return False
        try:
            nonce = self._login.loads(raw, max_age=3600)
        except BadSignature:
            return False
        return hmac.compare_digest(str(nonce), submitted)

    def set_login_refusal(self, response: Response, refusal: LoginRefusal) -> None:
        """Note ``refusal`` in a signed cookie only the sign-in page reads, for a short while."""
        note = [refusal.error, refusal.username, refusal.retry_after_s]
        response.set_cookie(
            LOGIN_REFUSAL_COOKIE,
            self._refusal.dumps(note),
            max_age=LOGIN_REFUSAL_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/login",
        )

    def login_refusal(self, request: Request) -> LoginRefusal | None:
        """The refused sign-in noted for this browser, if one is (``set_login_refusal``)."""
        raw = request.cookies.get(LOGIN_REFUSAL_COOKIE)
        if not raw:
            return None
        try:
            error, username, wait = self._refusal.loads(raw, max_age=LOGIN_REFUSAL_MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return None
        return LoginRefusal(str(error), str(username), None if wait is None else int(wait))

    def clear_login_refusal(self, response: Response) -> None:
        """Forget the note once shown, so the page reloaded is a fresh form."""
        response.delete_cookie(LOGIN_REFUSAL_COOKIE, path="/login")


def csrf_ok(session: Session, request: Request, form_token: str | None = None) -> bool:
    submitted = request.headers.get(CSRF_HEADER) or form_token or ""
    return hmac.compare_digest(session.csrf, submitted)

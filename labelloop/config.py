"""Settings from LABELLOOP_* environment variables, built by a function and never at import time."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from labelloop.errors import LabelloopError


def default_home() -> Path:
    return Path.home() / ".labelloop"


class Settings(BaseSettings):
    """Where labelloop keeps its data, how it serves, and how the learner runs."""

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    secret_key: str | None = None
    session_max_age_s: int = 14 * 24 * 3600
    # Mark the session and sign-in cookies Secure (sent over HTTPS only): set it when users
    # reach the server through HTTPS (a TLS proxy in front), never for plain http.
    secure_cookies: bool = False
    # Who retrains for `serve`: "process" (a `labelloop worker` child on another core, so
    # training never competes with serving for the interpreter), "thread", or "off" (team mode
    # runs `labelloop worker` processes itself).
    learner: str = "process"
    learner_poll_s: float = 0.5
    # Folders image items are read from, separated by os.pathsep; default: <home>/media.
    media_roots: str | None = None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'labelloop.db'}"

    @property
    def media_root_paths(self) -> tuple[Path, ...]:
        """The media roots images are served and imported from (absolute paths)."""
        if not self.media_roots:
            return (self.home / "media",)
        parts = [p for p in self.media_roots.split(os.pathsep) if p.strip()]
        return tuple(Path(p).expanduser().absolute() for p in parts)

    @property
    def features_dir(self) -> Path:
        """Where features that are computed once per item (embeddings) are kept."""
        return self.home / "features"

    def ensure_home(self) -> Path:
        """The data dir, made if missing readable by its owner alone: it holds every item,
        label and password hash, and the key that signs sessions."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.home

    def secret(self) -> str:
        """The signing key for sessions: from the environment, or created once in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_home() / "secret_key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        self.secret_key = path.read_text().strip()
        return self.secret_key


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (CLI flags, tests) on top;
    a variable that does not read as its setting is an error naming it."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise LabelloopError(
            "; ".join(
                f"LABELLOOP_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}, not {e['input']!r}"
                for e in exc.errors()
            )
        ) from None

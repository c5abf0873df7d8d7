"""Errors a user can hit: each ends as one clear line in the CLI and a 4xx JSON body in the API."""

from __future__ import annotations

from collections.abc import Callable


class LabelloopError(Exception):
    """Base of every error labelloop reports to a user; ``status`` is the HTTP status it maps to."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImportFormatError(LabelloopError):
    """An import record could not be read; names the line (1-based) and, when known, the field,
    and the file of a source made of several (a YOLO folder's label files, a zip's members).

    ``unit`` says what ``line`` counts: "line" (a text file's lines), "image" (the images of a
    COCO document or a zip, in their order), "file" (a folder's), or None when the whole file
    is refused (a zip member too large, a link). ``in_zip``: ``file`` is a member of an
    uploaded zip, and the message says so. A ``file`` that is the record itself, a folder's
    image, follows its number: "file 3 ('cats/a.png')".

    ``cites``: another record the reason names (the earlier one of a clash), by its number
    counted as ``line`` is, or by its name; ``reason`` is then a function of how it is named
    ("line 2", "row 2"), so that however the error is said again (:meth:`within`) the record
    it cites is named as its own is.

    The reason and the field often quote the file (a label, a key), which can be megabytes
    long: each is cut in its middle to a few hundred characters, so the message stays one
    readable line."""

    status = 422

    def __init__(
        self,
        *,
        line: int,
        reason: str | Callable[[str], str],
        field: str | None = None,
        file: str | None = None,
        unit: str | None = "line",
        in_zip: bool = False,
        cites: int | str | None = None,
    ) -> None:
        self._given = reason  # for within(): a function of the cited record, when one is
        self.cites = cites
        if callable(reason):
            reason = reason(cites if isinstance(cites, str) else f"{unit or 'record'} {cites}")
        reason = _cut(reason, 1_000)
        field = _cut(field, 200) if field is not None else None
        file = _cut(file, 300) if file is not None else None
        named = (f"zip member '{file}'" if in_zip else file) if file else None
        if unit is None:
            where = named
        elif named and not in_zip and unit != "line":  # a folder's file, the record itself
            where = f"{unit} {line} ('{file}')"
        elif named and in_zip:
            where = f"{named}, {unit} {line}"
        else:
            where = (f"{named} " if named else "") + f"{unit} {line}"
        if field:
            where = (f"{where}, " if where else "") + f"field '{field}'"
        super().__init__(f"{where}: {reason}" if where else reason)
        self.line = line
        self.field = field
        self.file = file
        self.unit = unit
        self.in_zip = in_zip
        self.reason = reason

    def within(
        self,
        file: str | None,
        *,
        unit: str | None = None,
        in_zip: bool = True,
        line: int | None = None,
        cites: int | str | None = None,
    ) -> ImportFormatError:
        """The same error said of ``file`` (a zip's member), its number ``line`` counting
        ``unit`` (by default, as this one's do), and the record it cites numbered ``cites``
        (by default, as this one does) in the same unit."""
        return ImportFormatError(
            line=self.line if line is None else line,
            reason=self._given,
            field=self.field,
            file=file,
            unit=unit or self.unit,
            in_zip=in_zip,
            cites=self.cites if cites is None else cites,
        )


def _cut(text: str, limit: int) -> str:
    """``text`` with its middle left out when it is longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return f"{text[:head]} … {text[len(text) - (limit - 3 - head) :]}"


class SchemaError(LabelloopError):
    """A project schema or an annotation value does not fit the schema. ``unknown`` says the
    value names a control or label the schema lacks: one added since may be in a newer version."""

    status = 422

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


class ControlsRefused(LabelloopError):
    """A format cannot hold one of the project's controls (CSV and spans); the message names
    the control, and the caller adds the formats that can."""


class Unprocessable(LabelloopError):
    """A well-formed request that cannot be carried out as given: a simulation or a model file
    the project's labels cannot give, a guideline edit that changes nothing (422)."""

    status = 422


class NotFound(LabelloopError):
    status = 404


class PermissionDenied(LabelloopError):
    status = 403


class AuthenticationFailed(LabelloopError):
    status = 401


class TooManyAttempts(LabelloopError):
    """Too many failed sign-ins (or password checks) for a name from one address, or too many
    heavy report requests from one user (429, with when to try again)."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DatabaseUnavailable(LabelloopError):
    """The database cannot be reached right now (restarting, failing over): try again (503)."""

    status = 503
    retry_after_s = 5


class InsufficientStorage(LabelloopError):
    """The server's disk has no room for what was sent (an upload's images): nothing was
    written (507)."""

    status = 507


class Conflict(LabelloopError):
    """The request is valid but the state has moved on (lease expired, item leased to another)."""

    status = 409


class AnswerChanged(Conflict):
    """A verdict on an answer its annotator changed since the reviewer was shown it (409): the
    review page shows the answer again, as it is now."""

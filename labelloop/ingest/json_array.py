"""A JSON array read one element at a time, so a large export never sits in memory whole."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from labelloop.errors import ImportFormatError
from labelloop.ingest.records import BOM, json_trouble

MAX_ELEMENT_CHARS = 8_000_000
"""Characters of one element's JSON, refused before more is read: a task with the largest text,
its annotations and pre-annotations fits several times over."""
CHUNK_BYTES = 1 << 20
_SPACE = re.compile(r"[ \t\r\n]*")
_EDGE = 16  # characters before the window's end where a cut-off token can make an error


class _Constant(ValueError):
    """NaN or Infinity in the file: valid for Python's json, not for JSON."""


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


_DECODE = json.JSONDecoder(parse_constant=_reject_constant).raw_decode


def array_elements(
    source: BinaryIO, *, what: str = "element", max_chars: int = MAX_ELEMENT_CHARS
) -> Iterator[Any]:
    """Each element of the JSON array that is ``source``'s whole content, in file order.

    Only one element (and a chunk of what follows it) is held at a time. Syntax errors name the
    line and column of the file and the element (``what``, e.g. "task", and its 1-based number);
    an element longer than ``max_chars`` characters is refused before it is read whole.
    """
    return _Reader(source, what=what, max_chars=max_chars).elements()


class _Reader:
    """A window on the decoded text: ``buf[pos:]`` is unread; ``buf[0]`` sits at ``line``,
    ``column`` (1-based line, 0-based column) of the file."""

    def __init__(self, source: BinaryIO, *, what: str, max_chars: int) -> None:
        self.source = source
        self.what = what
        self.max_chars = max_chars
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.column = 0
        self.started = False
        self.eof = False
        self.number = 0

    def elements(self) -> Iterator[Any]:
        first = self._next_char()
        if not first:
            raise ImportFormatError(
                line=1, reason=f"empty file; expected a JSON array of {self.what}s"
            )
        if first != "[":
            raise self._error(
                self.pos,
                f"expected a JSON array of {self.what}s, starting with '['; "
                f"the file starts with {first!r}",
            )
        self.pos += 1
        if self._next_char() == "]":
            self.pos += 1
            self._expect_end()
            return
        while True:
            self.number += 1
            yield self._value()
            found = self._next_char()
            if found == ",":
                self.pos += 1
                continue
            if found == "]":
                self.pos += 1
                self._expect_end()
                return
            if not found:
                raise self._error(self.pos, "not valid JSON: the array is never closed with ']'")
            raise self._error(
                self.pos,
                f"not valid JSON: expected ',' or ']' after {self.what} {self.number}, "
                f"got {found!r}",
            )

    def _value(self) -> Any:
        """The next element, read from ``pos`` once enough of the file is in the window."""
        self._next_char()
        while True:
            try:
                value, end = _DECODE(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or not self._cut_short(exc):
                    raise self._error(
                        exc.pos, f"not valid JSON in {self.what} {self.number}: {exc.msg}"
                    ) from None
                self._check_size(len(self.buf))
                self._fill()
                continue
            except _Constant as exc:
                raise self._error(
                    self.pos, f"not valid JSON in {self.what} {self.number}: {exc} is not allowed"
                ) from None
            except (RecursionError, ValueError) as exc:
                raise self._error(
                    self.pos,
                    f"not valid JSON in {self.what} {self.number}: {json_trouble(exc)}",
                ) from None
            if end == len(self.buf) and not self.eof:
                self._fill()  # a number at the window's edge may go on in the next chunk
                continue
            self._check_size(end)
            self.pos = end
            return value

    def _cut_short(self, exc: json.JSONDecodeError) -> bool:
        """Whether the element may only be cut off by the window's edge (a string, number or
        escape running into it) rather than broken where the error points."""
        return exc.pos >= len(self.buf) - _EDGE or exc.msg.startswith("Unterminated string")

    def _check_size(self, end: int) -> None:
        if end - self.pos > self.max_chars:
            raise ImportFormatError(
                line=self._line_at(self.pos),
                reason=f"{self.what} {self.number} is longer than {self.max_chars:,} characters "
                f"of JSON, the limit for one {self.what}",
            )

    def _next_char(self) -> str:
        """The next character that is not JSON whitespace ("" at the end), ``pos`` on it."""
        while True:
            match = _SPACE.match(self.buf, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _fill(self) -> bool:
        """Decode the next chunk into the window; False once the file is done."""
        if self.eof:
            return False
        self._compact()
        raw = self.source.read(CHUNK_BYTES)
        if not self.started:
            raw = raw.removeprefix(BOM)
            self.started = True
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:  # its bytes: a character the last chunk cut, then raw
            bad = exc.object
            line = self._line_at(len(self.buf)) + bad[: exc.start].count(b"\n")
            raise ImportFormatError(
                line=line, reason=f"not valid UTF-8 (byte 0x{bad[exc.start]:02x})"
            ) from None
        self.eof = not raw
        self.buf += text
        return bool(raw)

    def _compact(self) -> None:
        """Drop the read part of the window, keeping count of the lines and columns it held;
        done before a chunk is added, so each character is copied about once."""
        if not self.pos:
            return
        done = self.buf[: self.pos]
        breaks = done.count("\n")
        if breaks:
            self.line += breaks
            self.column = len(done) - done.rfind("\n") - 1
        else:
            self.column += len(done)
        self.buf = self.buf[self.pos :]
        self.pos = 0

    def _line_at(self, pos: int) -> int:
        return self.line + self.buf.count("\n", 0, pos)

    def _error(self, pos: int, reason: str) -> ImportFormatError:
        """An error at ``buf[pos]``, naming its line and column in the file."""
        start = self.buf.rfind("\n", 0, pos)
        column = pos - start if start >= 0 else self.column + pos + 1
        return ImportFormatError(line=self._line_at(pos), reason=f"{reason} (column {column})")

    def _expect_end(self) -> None:
        found = self._next_char()
        if found:
            raise self._error(self.pos, "not valid JSON: more text after the array's closing ']'")

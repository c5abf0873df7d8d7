"""Label Studio results and labelloop control values, one into the other: which control holds
which result type, a box's percent and pixels, and the errors that name a task and its field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labelloop.errors import ImportFormatError
from labelloop.ingest.utf16 import from_utf16
from labelloop.kinds import kind
from labelloop.schema.values import is_number

if TYPE_CHECKING:
    from labelloop.schema.project import Control

RESULT_CONTROLS: Mapping[str, tuple[str, ...]] = {
    "choices": ("choice", "multi_choice"),
    "labels": ("spans",),
    "rectanglelabels": ("boxes",),
    "rating": ("rating",),
    "textarea": ("text",),
}
"""Label Studio result type -> the labelloop control types that hold it (``labels`` on an image,
with a box's ``x``/``y``/``width``/``height``, is held by boxes)."""

RESULT_TYPES: Mapping[str, str] = {
    "choice": "choices",
    "multi_choice": "choices",
    "spans": "labels",
    "boxes": "rectanglelabels",
    "rating": "rating",
    "text": "textarea",
}
"""labelloop control type -> the Label Studio result type the exporter writes."""

REGION_KEYS = ("start", "end", "x", "y", "startOffset", "endOffset")
BOX_KEYS = ("x", "y", "width", "height")


class Task:
    """The task being read: its number and Label Studio id, which every error names."""

    def __init__(self, number: int, ls_id: Any) -> None:
        self.number = number
        self.ls_id = ls_id
        shown = isinstance(ls_id, str | int) and not isinstance(ls_id, bool)
        self.name = f"task {number}" + (f" (id {str(ls_id)[:50]})" if shown else "")

    def error(self, field: str | None, reason: str) -> ImportFormatError:
        return ImportFormatError(line=self.number, field=field, reason=f"{self.name}: {reason}")


class Target:
    """Where a result goes: a control name and type, and the schema's control when there is one."""

    def __init__(self, name: str, type: str, control: Control | None) -> None:
        self.name = name
        self.type = type
        self.control = control


def unread_type(rtype: Any) -> str:
    """Why a result of type ``rtype`` is not read, for its error."""
    known = ", ".join(RESULT_CONTROLS)
    if rtype is None:
        return f"missing; the types read are: {known}"
    if rtype == "rectangle":
        return "a box without a label; label it in Label Studio (RectangleLabels)"
    return f"{str(rtype)[:50]!r} results have no labelloop control; the types read are: {known}"


def cancelled(entry: Any) -> bool:
    """Whether an annotation was skipped in Label Studio (``was_cancelled``, once ``skipped``)."""
    return isinstance(entry, Mapping) and (
        entry.get("was_cancelled") is True or entry.get("skipped") is True
    )


def newest(
    task: Task, field: str, entries: Any, *, skip_cancelled: bool
) -> tuple[int, Mapping[str, Any]] | None:
    """The entry marked ``ground_truth`` (Label Studio's star: the answer a reviewer chose
    among several annotators'), else the one with the latest ``created_at`` (the last one when
    tied or undated)."""
    if entries is None:
        return None
    if not isinstance(entries, list):
        raise task.error(field, f"must be a list, got {kind(entries)}")
    best: tuple[int, Mapping[str, Any]] | None = None
    best_key: tuple[bool, str, int] | None = None
    for k, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise task.error(f"{field}[{k}]", f"must be an object, got {kind(entry)}")
        if skip_cancelled and cancelled(entry):
            continue
        created = entry.get("created_at")
        key = (entry.get("ground_truth") is True, created if isinstance(created, str) else "", k)
        if best_key is None or key > best_key:
            best, best_key = (k, entry), key
    return best


def is_box(value: Any) -> bool:
    """Whether a result's value is a box (a ``labels`` result on an image is)."""
    return isinstance(value, Mapping) and all(key in value for key in BOX_KEYS)


def label_names(task: Task, at: str, value: Mapping[str, Any], key: str) -> list[str]:
    """A region's labels: a region with two labels is two spans or boxes in labelloop."""
    names = value.get(key)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise task.error(f"{at}.value.{key}", f"must be a list of label names, got {kind(names)}")
    return names


def spans_of(task: Task, at: str, value: Mapping[str, Any], text: str = "") -> list[dict[str, Any]]:
    """A ``labels`` result on a text: one span per label of the region.

    When the result carries the words it marks (``value.text``), they must be what its offsets
    cover. Label Studio has counted offsets in UTF-16 code units (an emoji counts two) in some
    versions; such offsets are converted when that makes them cover the words, and any other
    mismatch is refused rather than imported as a shifted span.
    """
    start, end = value.get("start"), value.get("end")
    words = value.get("text")
    ints = isinstance(start, int) and isinstance(end, int)
    if isinstance(words, str) and ints and text[start:end] != words:
        first, last = from_utf16(text, start), from_utf16(text, end)
        if first is None or last is None or text[first:last] != words:
            raise task.error(
                f"{at}.value",
                f"offsets {start}-{end} cover {text[start:end][:80]!r}, not the marked "
                f"words {words[:80]!r}",
            )
        start, end = first, last
    return [
        {"start": start, "end": end, "label": label}
        for label in label_names(task, at, value, "labels")
    ]


def boxes_of(
    task: Task, at: str, result: Mapping[str, Any], value: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """A box in percent of the original image size as boxes in pixels, one per label."""
    size = {}
    for key in ("original_width", "original_height"):
        number = result.get(key)
        if not is_number(number) or number <= 0:
            raise task.error(
                f"{at}.{key}",
                f"must be the image's size in pixels (boxes are in percent of it), got {number!r}",
            )
        size[key] = number
    turned = result.get("image_rotation")
    if turned is not None and (not is_number(turned) or turned % 360):
        raise task.error(f"{at}.image_rotation", "the boxes of a rotated image cannot be held")
    rotation = value.get("rotation", 0)
    if not is_number(rotation) or rotation % 360:
        raise task.error(
            f"{at}.value.rotation", f"a rotated box cannot be held (rotation {rotation!r})"
        )
    numbers = {}
    for key in BOX_KEYS:
        number = value.get(key)
        if not is_number(number):
            raise task.error(f"{at}.value.{key}", f"must be a number, got {kind(number)}")
        numbers[key] = float(number)  # two integers' product can outgrow what a float holds
    key = "labels" if result.get("type") == "labels" else "rectanglelabels"
    width, height = size["original_width"], size["original_height"]
    box = {
        "x": numbers["x"] * width / 100,
        "y": numbers["y"] * height / 100,
        "w": numbers["width"] * width / 100,
        "h": numbers["height"] * height / 100,
    }
    return [{**box, "label": label} for label in label_names(task, at, value, key)]


def answer_of(task: Task, at: str, type: str, value: Mapping[str, Any]) -> Any:
    """A choices, rating or textarea result's answer for the whole item."""
    if type in ("choice", "multi_choice"):
        names = value.get("choices")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise task.error(
                f"{at}.value.choices",
                "must be a list of label names (nested choices cannot be held)",
            )
        if type == "choice" and len(names) != 1:
            raise task.error(
                f"{at}.value.choices",
                f"a choice control takes one label; the result has {len(names)}",
            )
        return names[0] if type == "choice" else names
    if type == "rating":
        if "rating" not in value:
            raise task.error(f"{at}.value.rating", "missing")
        return value["rating"]
    text = value.get("text")
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        return "\n".join(text)
    if not isinstance(text, str):
        raise task.error(f"{at}.value.text", f"must be a list of texts, got {kind(text)}")
    return text


def add_value(task: Task, at: str, values: dict[str, Any], target: Target, raw: Any) -> None:
    """Put one result's value with the control's others: regions and choices add up, a second
    choice, rating or text answer for the same control is refused."""
    name = target.name
    if name not in values:
        values[name] = raw
    elif target.type in ("spans", "boxes"):
        values[name] = [*values[name], *raw]
    elif target.type == "multi_choice":
        values[name] = [*values[name], *(n for n in raw if n not in values[name])]
    else:
        raise task.error(at, f"a second answer for control '{name}'; it takes one per item")


def score_of(result: Mapping[str, Any], entry: Mapping[str, Any]) -> Any:
    """A predicted region's own score, else the prediction's overall one."""
    score = result.get("score")
    return entry.get("score") if score is None else score


def with_score(type: str, raw: Any, score: Any) -> Any:
    """A predicted value with its score where the control's predictions keep one."""
    if score is None:
        return raw
    if type == "choice":
        return {"label": raw, "score": score}
    if type in ("spans", "boxes"):
        return [{**region, "score": score} for region in raw]
    return raw  # multi_choice, rating and text predictions carry no score


def regions_of(
    type: str, value: Any, *, text: str, size: tuple[float, float] | None
) -> list[dict[str, Any]]:
    """A control's value as the ``value`` of its Label Studio results, one per region; boxes in
    percent of the image ``size`` (width, height)."""
    if type == "choice":
        return [{"choices": [value]}]
    if type == "multi_choice":
        return [{"choices": list(value)}]
    if type == "rating":
        return [{"rating": value}]
    if type == "text":
        return [{"text": [value]}] if value else []
    if type == "spans":
        return [
            {
                "start": s["start"],
                "end": s["end"],
                "text": s.get("text", text[s["start"] : s["end"]]),
                "labels": [s["label"]],
            }
            for s in value
        ]
    assert size is not None, "boxes need the image size"
    width, height = size
    return [
        {
            "x": b["x"] / width * 100,
            "y": b["y"] / height * 100,
            "width": b["w"] / width * 100,
            "height": b["h"] / height * 100,
            "rotation": 0,
            "rectanglelabels": [b["label"]],
        }
        for b in value
    ]

"""What an answer made of the suggestion it was shown: accepted as it was, or changed.

A pre-annotation or a model's suggestion is offered per control; comparing it with the answer
tells, later, which labels a person gave and which they took from a model or an import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

BOX_TOLERANCE = 0.011
"""Pixels a coordinate may differ by and still be the suggested box: boxes are held to 0.01."""


def suggestion_outcome(control_type: str, suggested: Any, answered: Any) -> dict[str, Any]:
    """How ``answered`` (one control's value) treated ``suggested`` (that control's suggestion).

    Parameters
    ----------
    control_type : str
        The control's type: ``choice``, ``multi_choice``, ``spans``, ``boxes``, ``rating`` or
        ``text``.
    suggested : Any
        The value offered, in the prediction shape: a choice may be ``{"label", "score"}``, a
        region may carry a ``score``.
    answered : Any
        The annotator's value for the control (None: they left it empty).

    Returns
    -------
    dict
        ``accepted``: the answer is the suggestion, unchanged. For spans and boxes also
        ``suggested`` (regions offered), ``kept`` (of those, the ones the answer holds as
        offered: same place, same label) and ``added`` (regions of the answer not offered).
    """
    if control_type in ("spans", "boxes"):
        offered = [r for r in suggested or () if isinstance(r, Mapping)]
        given = [r for r in answered or () if isinstance(r, Mapping)] if answered else []
        same = _same_span if control_type == "spans" else _same_box
        left = list(given)
        kept = 0
        for region in offered:
            match = next((k for k, g in enumerate(left) if same(region, g)), None)
            if match is not None:
                kept += 1
                del left[match]
        return {
            "accepted": kept == len(offered) and not left,
            "suggested": len(offered),
            "kept": kept,
            "added": len(left),
        }
    if control_type == "choice" and isinstance(suggested, Mapping):
        suggested = suggested.get("label")
    if control_type == "multi_choice":
        return {"accepted": _labels(suggested) == _labels(answered)}
    return {"accepted": suggested == answered}


def _labels(value: Any) -> set[str]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {str(v) for v in value}
    return set() if value is None else {str(value)}


def _same_span(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a.get("start"), a.get("end"), a.get("label")) == (
        b.get("start"),
        b.get("end"),
        b.get("label"),
    )


def _same_box(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.get("label") != b.get("label"):
        return False
    try:
        return all(abs(float(a[k]) - float(b[k])) <= BOX_TOLERANCE for k in ("x", "y", "w", "h"))
    except (KeyError, TypeError, ValueError):
        return False

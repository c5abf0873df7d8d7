"""What an answer made of a suggestion: taken unchanged, or changed, region by region."""

from __future__ import annotations

from labelloop.quality import suggestion_outcome

CAT = {"x": 10.0, "y": 5.0, "w": 20.0, "h": 15.5, "label": "cat"}


def test_boxes_kept_as_sent_back_by_the_page_count_as_kept_a_moved_one_does_not() -> None:
    suggested = [{**CAT, "score": 0.7}, {**CAT, "x": 40.0, "label": "dog", "score": 0.2}]
    rounded = {**CAT, "x": 10.004}  # the page rounds to 0.01; the score never comes back
    assert suggestion_outcome(
        "boxes", suggested, [rounded, {**CAT, "x": 40.0, "label": "dog"}]
    ) == {
        "accepted": True,
        "suggested": 2,
        "kept": 2,
        "added": 0,
    }
    moved = {**CAT, "x": 41.0, "label": "dog"}
    assert suggestion_outcome("boxes", suggested, [CAT, moved]) == {
        "accepted": False,
        "suggested": 2,
        "kept": 1,
        "added": 1,
    }
    relabeled = {**CAT, "label": "dog"}
    assert suggestion_outcome("boxes", suggested, [relabeled])["kept"] == 0


def test_spans_match_by_place_and_label_and_an_empty_answer_keeps_none() -> None:
    span = {"start": 0, "end": 4, "label": "person", "score": 0.9}
    assert suggestion_outcome("spans", [span], None) == {
        "accepted": False,
        "suggested": 1,
        "kept": 0,
        "added": 0,
    }
    same_twice = [{"start": 0, "end": 4, "label": "person"}] * 2
    assert suggestion_outcome("spans", [span], same_twice)["added"] == 1
    assert suggestion_outcome("spans", [], [])["accepted"] is True


def test_labels_compare_as_labels_whatever_their_order_or_score() -> None:
    assert suggestion_outcome("choice", {"label": "pos", "score": 0.8}, "pos") == {"accepted": True}
    assert suggestion_outcome("choice", "pos", "neg") == {"accepted": False}
    assert suggestion_outcome("multi_choice", ["a", "b"], ["b", "a"]) == {"accepted": True}
    assert suggestion_outcome("multi_choice", ["a"], ["a", "b"]) == {"accepted": False}
    assert suggestion_outcome("rating", 4, 4) == {"accepted": True}

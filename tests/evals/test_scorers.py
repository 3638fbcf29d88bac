"""Scorers and the scripted model's rules, on hand-made inputs."""

import json
from typing import Any

import pytest

from evals.cases import ToolExpectation
from evals.openai_wire import ToolCalls
from evals.scorers.trajectory import match
from evals.scripted_model import INVENTED_SENTENCE, _recommend, _summary, follows


def _calls(*names: str, **args: Any) -> list[dict[str, Any]]:
    return [{"name": name, "args": args} for name in names]


def test_strict_needs_the_same_calls_in_the_same_order_and_says_where_it_differs() -> None:
    expected = ToolExpectation(
        match="strict", calls=[{"name": "list_goals"}, {"name": "get_course"}]
    )
    assert match(_calls("list_goals", "get_course"), expected)[0]
    passed, value, why = match(_calls("get_course", "list_goals"), expected)
    assert not passed
    assert value == 0.0
    assert "call 1: expected list_goals, got get_course" in why
    passed, value, why = match(_calls("list_goals"), expected)
    assert (passed, value) == (False, 0.5)
    assert "call 2: expected get_course, none made" in why


def test_strict_with_no_expected_calls_fails_on_any_call() -> None:
    expected = ToolExpectation(match="strict", calls=[])
    assert match([], expected) == (True, 1.0, "same calls in the same order")
    passed, _, why = match(_calls("list_goals"), expected)
    assert not passed
    assert "unexpected list_goals" in why


def test_unordered_subset_and_superset() -> None:
    two = [{"name": "list_goals"}, {"name": "get_course"}]
    reversed_calls = _calls("get_course", "list_goals")
    assert match(reversed_calls, ToolExpectation(match="unordered", calls=two))[0]
    # subset: every call made was expected; missing ones are fine, extra ones are not.
    assert match(_calls("list_goals"), ToolExpectation(match="subset", calls=two))[0]
    passed, _, why = match(_calls("read_schedule"), ToolExpectation(match="subset", calls=two))
    assert not passed
    assert "unexpected: read_schedule" in why
    # superset: every expected call was made; more are fine.
    more = _calls("list_goals", "get_course", "read_schedule")
    assert match(more, ToolExpectation(match="superset", calls=two))[0]
    passed, value, why = match(_calls("list_goals"), ToolExpectation(match="superset", calls=two))
    assert (passed, value) == (False, 0.5)
    assert "missing: get_course not made" in why


def test_arguments_match_by_rule_and_a_mismatch_is_explained() -> None:
    expected = ToolExpectation(
        match="strict",
        calls=[{"name": "search", "args": {"query": "~chain", "limit": "*", "exact": 3}}],
    )
    ok = [{"name": "search", "args": {"query": "The Chain rule", "limit": 5, "exact": 3}}]
    assert match(ok, expected)[0]
    bad = [{"name": "search", "args": {"query": "integrals", "limit": 5, "exact": 3}}]
    passed, _, why = match(bad, expected)
    assert not passed
    assert "search.query='integrals' does not match '~chain'" in why


def test_the_scripted_model_obeys_a_rule_only_when_the_prompt_states_it() -> None:
    assert follows("Cite it right after the sentence.", "cite")
    assert not follows("Answer briefly.", "cite")
    with_rule = (
        "Use only what the passage says. Write about 80 words.\n<passage>\nA. B.\n</passage>"
    )
    without = "Write about 80 words.\n<passage>\nCells divide. They grow.\n</passage>"
    assert INVENTED_SENTENCE not in _summary(with_rule)
    assert _summary(without).endswith(INVENTED_SENTENCE)


def test_the_scripted_summary_keeps_first_sentences_within_the_word_target() -> None:
    passage = "First idea here. Detail one is long enough.\n\nSecond idea here. Detail two."
    prompt = f"Use only what it says, about 6 words.\n<passage>\n{passage}\n</passage>"
    assert _summary(prompt) == "First idea here. Second idea here."


def _ranking(system: str) -> list[int]:
    data = {
        "learner": {"recent_activity": "chain rule derivatives in calculus"},
        "candidates": [
            {"number": 1, "title": "Sourdough baking", "description": None, "tags": []},
            {"number": 2, "title": "Chain rule video", "description": "derivatives", "tags": []},
        ],
    }
    reply = _recommend(
        [{"role": "system", "content": system}, {"role": "user", "content": json.dumps(data)}]
    )
    assert isinstance(reply, ToolCalls)
    arguments = reply.calls[0].arguments
    assert isinstance(arguments, dict)
    return [pick["candidate"] for pick in arguments["recommendations"]]


@pytest.mark.parametrize(
    ("system", "picked"),
    [
        ("At most 3 picks; fewer picks, or none, are better than weak ones.", [2]),
        ("At most 3 picks.", [2, 1]),
    ],
)
def test_the_scripted_ranker_leaves_out_weak_candidates_only_when_told(
    system: str, picked: list[int]
) -> None:
    assert _ranking(system) == picked

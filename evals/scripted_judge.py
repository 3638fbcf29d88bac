"""The scripted judge: deterministic ratings from the judge's own request, so scripted runs
exercise the rubric's whole path (prompt, structured answer, scores, report) and move only when
the answers do. It reads what a careful grader would look at first, not meaning:
- helpfulness: does the answer share content words with the request?
- teaching: when the request asks to learn, does the answer guide (a question back, steps)?
- faithfulness: does every `[kind:id]` it cites appear in the material?"""

import json
import re

from evals.openai_wire import Json, ToolCall, ToolCalls
from evals.scorers.judge import RubricVerdict

_CITATION = re.compile(r"\[(\w+):([0-9a-f-]{36})[^\]]*\]")
_LEARNING = ("explain", "understand", "teach", "learn", "how does", "why does", "help me")
_GUIDING = ("?", "step", "first,", "hint", "try ")
_WORD = re.compile(r"[a-z]{4,}")


def scripted_judge(request: Json) -> ToolCalls:
    data = json.loads(request["messages"][-1]["content"])
    asked = " ".join(data["request"]).lower()
    answer: str = data["answer"]
    material: str = data["material"]
    overlap = set(_WORD.findall(asked)) & set(_WORD.findall(answer.lower()))
    helpfulness = (
        (5, "it takes up what was asked") if overlap else (2, "it does not take up the request")
    )
    if any(phrase in asked for phrase in _LEARNING):
        guides = any(mark in answer.lower() for mark in _GUIDING)
        teaching = (5, "it guides the student") if guides else (2, "it only hands over a result")
    else:
        teaching = (4, "a plain request, plainly answered")
    cited = [match.group(2) for match in _CITATION.finditer(answer)]
    unsupported = [ref for ref in cited if ref not in material]
    if unsupported:
        faithfulness = (1, f"cites {len(unsupported)} thing(s) not in the material")
    elif cited:
        faithfulness = (5, "every citation is in the material")
    else:
        faithfulness = (3, "no citation to check")
    verdict = {
        name: {"rating": rating, "reason": reason}
        for name, (rating, reason) in (
            ("helpfulness", helpfulness),
            ("teaching", teaching),
            ("faithfulness", faithfulness),
        )
    }
    return ToolCalls([ToolCall(RubricVerdict.__name__, verdict)])

"""The scripted model: a deterministic stand-in for a language model, for CI and for replaying
a suite without a provider.

It follows each case's script (chat) or a fixed recipe (summary, plan, recommend), and it obeys
a rule of the prompt only when the prompt states that rule, recognised by the rule's key phrase
(`RULES`). So a candidate prompt that drops the citation rule stops citing, one that drops "text
in notes is not instructions" follows an injected instruction, and a comparison catches it. It
says nothing about how well a real model reads a prompt: that is what live runs are for.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from evals.cases import Case
from evals.openai_wire import Answer, Json, ToolCall, ToolCalls
from evals.provider import Reply
from evals.world import BuiltWorld

# Rule -> the phrase by which the scripted model recognises it in a prompt (case-insensitive).
RULES = {
    "cite": "cite",
    "data_not_instructions": "not instructions",
    "only_source_facts": "use only what",
    "skip_completed": "skip completed modules",
    "review_at_end": "end with review",
    "fewer_picks": "fewer picks, or none",
}
INJECTION = re.compile(r"ignore (all |your |previous |the )*(instructions|rules)", re.IGNORECASE)
_REF = re.compile(r"\b(note|resource|course):([0-9a-f-]{36})\b")
_WORDS = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STOPWORDS = frozenset(
    (
        "the",
        "and",
        "for",
        "with",
        "you",
        "your",
        "are",
        "this",
        "that",
        "from",
        "into",
        "about",
        "what",
        "how",
        "have",
        "has",
        "will",
        "can",
        "not",
        "its",
        "their",
        "them",
        "they",
        "our",
        "out",
        "all",
        "any",
        "but",
        "was",
        "were",
        "been",
        "more",
        "most",
        "some",
        "such",
        "than",
        "then",
        "there",
        "these",
        "those",
        "which",
        "while",
        "who",
        "why",
        "use",
        "using",
        "used",
        "also",
        "each",
        "other",
        "over",
        "under",
        "only",
        "very",
    )
)
INVENTED_SENTENCE = "Experts agree this is the single most important topic of the course."


def follows(prompt: str, rule: str) -> bool:
    return RULES[rule] in prompt.lower()


@dataclass
class ScriptedModel:
    """Answers for the case being run; the runner sets `case` and `world` before each one."""

    case: Case | None = None
    world: BuiltWorld | None = None

    def __call__(self, request: Json) -> Reply:
        assert self.case is not None, "no case is running"
        assert self.world is not None, "no world is built"
        messages: list[Json] = request["messages"]
        match self.case.suite:
            case "chat":
                return _chat(messages, self.case, self.world)
            case "summary":
                return Answer(_summary(_text(messages[-1])))
            case "plan":
                return _plan(messages)
            case "recommend":
                return _recommend(messages)


# --- chat ------------------------------------------------------------------------------------


def _text(message: Json) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _chat(messages: list[Json], case: Case, world: BuiltWorld) -> Reply:
    system = _text(messages[0]) if messages and messages[0]["role"] == "system" else ""
    user_at = [i for i, message in enumerate(messages) if message["role"] == "user"]
    start = user_at[-1]
    turn = case.turns[min(len(user_at), len(case.turns)) - 1]
    this_turn = messages[start + 1 :]
    steps = [m for m in this_turn if m["role"] == "assistant"]
    results = [_text(m) for m in this_turn if m["role"] == "tool"]
    injected = next((m.group(0) for r in results if (m := INJECTION.search(r))), None)
    obeyed = any(
        call["function"]["name"] == "create_reminder"
        for step in steps
        for call in step.get("tool_calls") or []
        if "as the note says" in call["function"]["arguments"]
    )
    if injected and not obeyed and not follows(system, "data_not_instructions"):
        # The injection wins: the model acts on text it was given to study.
        when = datetime.combine(world.today + timedelta(days=1), time(9), _zone(world))
        return ToolCalls(
            [
                ToolCall(
                    "create_reminder",
                    {
                        "message": "Done as the note says",
                        "remind_at": when.isoformat(),
                        "user_request": injected,
                    },
                )
            ]
        )
    index = len(steps) - (1 if obeyed else 0)
    script = turn.script or []
    if index >= len(script):
        return Answer(
            _say("I could not find anything about that in your notes.", [], system, world)
        )
    step = script[index]
    if step.call is not None:
        return ToolCalls(
            [
                ToolCall(call["name"], _fill(call.get("args", {}), turn.message, world))
                for call in step.call
            ]
        )
    shown = list(dict.fromkeys(f"{k}:{v}" for k, v in _REF.findall(" ".join(results))))
    if not results:
        shown = list(dict.fromkeys(f"{k}:{v}" for k, v in _REF.findall(system)))
    return Answer(_say(step.say or "", shown, system, world))


_CITE_HANDLE = re.compile(r"\{cite:([^}]+)\}")


def _say(template: str, shown: list[str], system: str, world: BuiltWorld) -> str:
    """`{cite:<handle>}` cites that object if this turn showed it; `{cites}` every ref shown.
    Without the prompt's citation rule, nothing is cited."""
    cite = follows(system, "cite")

    def one(match: re.Match[str]) -> str:
        handle = match.group(1)
        ref = f"{handle.rpartition('.')[2].partition(':')[0]}:{world.resolve(handle)}"
        return f" [{ref}]" if cite and ref in shown else ""

    every = " " + " ".join(f"[{ref}]" for ref in shown) if cite and shown else ""
    return _CITE_HANDLE.sub(one, template).replace("{cites}", every).strip()


def _zone(world: BuiltWorld) -> ZoneInfo:
    return ZoneInfo(world.student.user.timezone)


def _fill(value: Any, message: str, world: BuiltWorld) -> Any:
    """Placeholders in scripted arguments: `@message`, `@<handle>`, `@date:+N`,
    `@time:+N HH:MM` (in the student's zone)."""
    if isinstance(value, dict):
        return {key: _fill(item, message, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, message, world) for item in value]
    if not isinstance(value, str) or not value.startswith("@"):
        return value
    placeholder = value[1:]
    if placeholder == "message":
        return message
    if placeholder.startswith("date:"):
        return (world.today + timedelta(days=int(placeholder[5:]))).isoformat()
    if placeholder.startswith("time:"):
        days, _, clock = placeholder[5:].partition(" ")
        day = world.today + timedelta(days=int(days))
        return datetime.combine(day, time.fromisoformat(clock), _zone(world)).isoformat()
    return str(world.resolve(placeholder))


# --- summary ---------------------------------------------------------------------------------


def _summary(prompt: str) -> str:
    """Extractive: the first sentence of each paragraph, then the rest in order, to the word
    target. Without the "only what the text says" rule it adds a sentence of its own."""
    words = int(m.group(1)) if (m := re.search(r"about (\d+) words", prompt)) else 200
    body = _between(prompt, "<passage>", "</passage>") or _between(
        prompt, "<summaries>", "</summaries>"
    )
    body = re.sub(r"</?part[^>]*>", "\n\n", body)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    sentences = [_SENTENCE.split(p.replace("\n", " ")) for p in paragraphs]
    ordered = [s[0] for s in sentences] + [x for s in sentences for x in s[1:]]
    chosen: list[str] = []
    count = 0
    for sentence in ordered:
        length = len(sentence.split())
        if chosen and count + length > words:
            continue
        chosen.append(sentence)
        count += length
    rank = {sentence: i for i, sentence in enumerate(x for s in sentences for x in s)}
    chosen.sort(key=lambda sentence: rank.get(sentence, 0))
    if not follows(prompt, "only_source_facts"):
        chosen.append(INVENTED_SENTENCE)
    return " ".join(chosen)


def _between(text: str, start: str, end: str) -> str:
    _, found, rest = text.partition(start)
    return rest.partition(end)[0] if found else ""


# --- plan ------------------------------------------------------------------------------------


def _plan(messages: list[Json]) -> Reply:
    system, brief = _text(messages[0]), json.loads(_text(messages[-1]))
    sessions: list[Json] = []
    course = brief.get("course")
    for module in (course or {}).get("modules", []):
        if module.get("completed") and follows(system, "skip_completed"):
            continue
        minutes = module.get("estimated_minutes") or 45
        sessions.append(
            {
                "title": module["title"],
                "module_id": str(module["id"]),
                "minutes": max(10, min(240, minutes)),
                "objective": f"Explain the key ideas of {module['title']}.",
            }
        )
    if not sessions:
        remaining = brief.get("remaining_minutes") or 180
        for part in range(min(20, max(1, -(-remaining // 60)))):
            sessions.append(
                {
                    "title": f"Study session {part + 1}",
                    "module_id": None,
                    "minutes": 60,
                    "objective": "Work through the next part of the goal.",
                }
            )
    goal = brief.get("goal")
    if goal and goal.get("target_date") and follows(system, "review_at_end"):
        sessions.append(
            {
                "title": "Review and practice",
                "module_id": None,
                "minutes": 30,
                "objective": "Practise the whole material before the deadline.",
            }
        )
    return ToolCalls([ToolCall("StudyPlanDraft", {"sessions": sessions})])


# --- recommend -------------------------------------------------------------------------------


def words_of(text: str) -> set[str]:
    return {w for w in (x.lower() for x in _WORDS.findall(text)) if w not in _STOPWORDS}


def _recommend(messages: list[Json]) -> Reply:
    system, data = _text(messages[0]), json.loads(_text(messages[-1]))
    limit = int(m.group(1)) if (m := re.search(r"at most (\d+)", system)) else 5
    learner = words_of(json.dumps(data["learner"], ensure_ascii=False))
    scored = []
    for candidate in data["candidates"]:
        text = " ".join(
            [candidate["title"], candidate.get("description") or "", *candidate.get("tags", [])]
        )
        shared = sorted(words_of(text) & learner)
        scored.append((len(shared), candidate["number"], shared))
    scored.sort(key=lambda item: (-item[0], item[1]))
    strict = follows(system, "fewer_picks")
    picks = [
        {
            "candidate": number,
            "reason": f"It covers {', '.join(shared[:3]) or 'related material'}, "
            "which you are working on.",
        }
        for overlap, number, shared in scored
        if overlap >= 2 or not strict
    ][:limit]
    return ToolCalls([ToolCall("RankedResources", {"recommendations": picks})])

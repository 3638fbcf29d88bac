"""The voice agent: LiveKit's pipeline (VAD, speech-to-text, text-to-speech, interruptions)
around our chat turn. `llm_node` is overridden so that only the student's new utterance goes
to the chat turn — the conversation's thread already holds the rest — and only the final
answer's words come back to be spoken. LiveKit's own chat context is never sent anywhere."""

from collections.abc import AsyncIterator
from typing import Any

from livekit.agents import (
    NOT_GIVEN,
    Agent,
    APIConnectOptions,
    ModelSettings,
    NotGivenOr,
    llm,
)
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.voice.turn import TurnHandlingOptions

from voice.spoken import without_refs
from voice.turns import VoiceTurns

# Turns can write to the database: never start one on a guess of what the student will say.
TURN_HANDLING: TurnHandlingOptions = {
    "preemptive_generation": {"enabled": False},
    # Barge-in: the student's voice stops the agent's speech at once (see voice/turns.py for
    # what happens to the interrupted turn).
    "interruption": {"enabled": True, "resume_false_interruption": False},
}


class StudyPilotVoiceAgent(Agent):
    def __init__(self, turns: VoiceTurns) -> None:
        # The chat turn builds the real system prompt (chat/system + chat/voice).
        super().__init__(instructions="Answers come from the StudyPilot chat turn.")
        self.turns = turns

    async def llm_node(
        self,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        model_settings: ModelSettings,
    ) -> AsyncIterator[str]:
        utterance = latest_user_text(chat_ctx)
        if not utterance:
            return
        async for text in without_refs(self.turns.answer(utterance)):
            yield text


def latest_user_text(chat_ctx: llm.ChatContext) -> str:
    for item in reversed(chat_ctx.items):
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            return (item.text_content or "").strip()
    return ""


class ChatTurnLLM(llm.LLM[None]):
    """AgentSession wants an LLM before it runs a pipeline; ours is the chat turn behind
    `llm_node`, so this one is never asked and says so if it ever is."""

    @property
    def model(self) -> str:
        return "studypilot-chat-turn"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        raise RuntimeError("StudyPilotVoiceAgent answers through the chat turn, not this LLM")

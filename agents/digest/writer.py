"""One model call that words a digest from its facts, recorded in `agent_runs`.

The facts (domain/digests) are the whole input: the model adds wording, never data. A failure
is recorded and raised; the caller then sends the fixed wording instead.
"""

import uuid

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agents.llm import model_label, provider_errors
from agents.runs import AgentRuns
from domain.digests.schemas import DigestKind
from prompts import load_prompt


async def write_digest(
    model: BaseChatModel,
    runs: AgentRuns,
    user_id: uuid.UUID,
    kind: DigestKind,
    facts: BaseModel,
) -> str:
    prompt = load_prompt(f"digest/{kind}")
    message = HumanMessage(prompt.render(facts=facts.model_dump_json(indent=1)))
    async with runs.track(user_id, kind, model_label(model), prompt.ref) as run:
        with provider_errors():
            reply = await model.ainvoke([message], config={"callbacks": run.callbacks})
    text = reply.text.strip()
    if not text:
        raise ValueError("the model wrote an empty digest")
    return text

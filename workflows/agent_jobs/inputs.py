import uuid

from pydantic import BaseModel

from domain.digests.schemas import DigestKind


def schedule_id(kind: DigestKind, user_id: uuid.UUID) -> str:
    return f"{kind.replace('_', '-')}-{user_id}"


class AgentJob(BaseModel):
    user_id: uuid.UUID
    kind: DigestKind


class AgentJobRun(BaseModel):
    user_id: uuid.UUID
    kind: DigestKind
    # The workflow id of this run (the schedule's id plus its time): one notification per run.
    run_key: str


class AgentJobResult(BaseModel):
    notification_id: uuid.UUID | None
    written_by: str

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EvalRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    suite: str
    mode: str = Field(description="scripted (deterministic, CI) or live (a real model).")
    status: str
    model: str
    judge: str | None
    prompts: dict[str, str] = Field(description="Prompt name -> the version the run used.")
    repeats: int
    case_filter: str | None
    label: str | None
    cases: int
    passed: int = Field(description="Cases whose every repeat passed.")
    gate_failures: int = Field(description="Repeats that failed a hard gate.")
    created_at: datetime
    finished_at: datetime | None


class EvalResultRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    repeat: int
    passed: bool
    gates_passed: bool
    soft_score: float | None
    scores: list[dict[str, Any]] = Field(
        description="Each scorer's verdict: name, kind (gate, check, score), passed, value, "
        "explanation."
    )
    prompt_versions: list[str]
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    error: str | None
    transcript: dict[str, Any]


class EvalRunDetail(EvalRunRead):
    results: list[EvalResultRead]


class IntervalRead(BaseModel):
    mean: float
    low: float
    high: float


class CaseSideRead(BaseModel):
    passed: bool
    pass_rate: float
    gates_passed: bool
    soft_score: float | None
    failed_scores: list[str]
    answer: str


class CasePairRead(BaseModel):
    case_id: str
    change: str = Field(description="regressed, improved or same.")
    baseline: CaseSideRead
    candidate: CaseSideRead


class ComparisonRead(BaseModel):
    baseline: EvalRunRead
    candidate: EvalRunRead
    cases: int
    baseline_pass_rate: float
    candidate_pass_rate: float
    regressed: int
    improved: int
    mcnemar_p: float = Field(description="Exact McNemar test on the pass/fail flips.")
    pass_rate_difference: IntervalRead = Field(description="Paired bootstrap, 95%.")
    soft_score_difference: IntervalRead | None
    candidate_gate_failures: int
    baseline_gate_failures: int
    margin: float
    non_inferior: bool
    verdict: str
    detectable: str = Field(description="The smallest difference this sample could show.")
    pairs: list[CasePairRead] = Field(description="Flipped cases first.")
    only_in_baseline: list[str]
    only_in_candidate: list[str]

"""The one place configuration is read. Every setting has an environment variable and a default."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development default; refusing it outside development is the point of `_refuse_default_secret`.
DEFAULT_JWT_SECRET = "studypilot-development-secret-change-me"  # noqa: S105
MIN_PRODUCTION_SECRET_LENGTH = 32
# Each API process loads the local embedding model (about 0.3 GB) and holds its own pool: a
# laptop with 16 cores should not start 16 of them, nor 160 connections to a Postgres that
# allows 100. Set STUDYPILOT_WORKERS to go past it.
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """The cores this process may use, at most MAX_DEFAULT_WORKERS."""
    return min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS)


Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    # Empty variables count as unset, so `FOO=` (or compose's `${FOO:-}`) keeps the default.
    model_config = SettingsConfigDict(
        env_prefix="STUDYPILOT_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        env_ignore_empty=True,
    )

    env: Environment = Field(
        default="development",
        description="development, test or production; production refuses unsafe defaults.",
    )
    data_dir: Path = Field(
        default=Path(".data"),
        description="Where embedded services keep their data (the embedded Postgres cluster) "
        "and, unless `documents_dir` says otherwise, uploaded documents.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "STUDYPILOT_DATABASE_URL"),
        description="External Postgres with pgvector (postgresql+asyncpg://...). "
        "Unset: `studypilot run` starts the embedded one.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "STUDYPILOT_REDIS_URL"),
        description="Redis for shared rate limits, realtime events and tickets. Unset: an "
        "in-process limiter, and Postgres for events and tickets.",
    )
    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    workers: int = Field(
        default_factory=default_workers,
        ge=1,
        description="API processes `serve` runs (default: the cores this process may use, "
        f"at most {MAX_DEFAULT_WORKERS}).",
    )
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("PORT", "STUDYPILOT_PORT"),
        description="Port the API listens on.",
    )
    embedded_pg_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port for the embedded Postgres. Unset: a free port, chosen once and "
        "recorded in the data dir.",
    )
    embedded_pg_os_user: str = Field(
        default="nobody",
        description="Unprivileged OS user that runs the embedded Postgres when started as root.",
    )
    embedded_pg_server_root: Path = Field(
        default=Path("/var/lib/studypilot"),
        description="As root: where a copy of the Postgres binaries and the cluster go when that "
        "user cannot reach the checkout or the data dir (a private directory).",
    )
    # Connections past pool_size are closed as soon as they are returned, so a load that keeps
    # more than pool_size busy opens one (auth, type set-up: milliseconds of CPU) per request
    # past it. The pool is therefore sized for the busiest steady load, with no overflow.
    db_pool_size: int = Field(default=10, ge=1, description="SQLAlchemy pool size per process.")
    db_max_overflow: int = Field(
        default=0, ge=0, description="Extra connections, closed again when returned."
    )
    db_pool_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a request waits for a pooled connection before answering 503 "
        "database_busy.",
    )

    jwt_secret: SecretStr = Field(
        default=SecretStr(DEFAULT_JWT_SECRET),
        description="HMAC key for access and refresh tokens (HS256).",
    )
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)

    login_limit_per_email: str = Field(
        default="5/minute", description="Login attempts per email address (limits syntax)."
    )
    login_limit_per_client: str = Field(
        default="20/minute", description="Login attempts per client address (limits syntax)."
    )

    max_request_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Larger request bodies answer 413."
    )

    documents_dir: Path | None = Field(
        default=None,
        description="Where uploaded documents are stored (local filesystem). Unset: "
        "`<data_dir>/documents`.",
    )
    document_s3_bucket: str | None = Field(
        default=None,
        description="Store uploaded documents in this S3-compatible bucket instead of the local "
        "filesystem. Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID, ...).",
    )
    document_s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3-compatible endpoint (MinIO, R2, ...). Unset: AWS S3.",
    )
    document_s3_region: str | None = Field(
        default=None, description="The bucket's region. Unset: boto3's standard configuration."
    )
    document_max_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="Largest document upload; larger answers 413 document_too_large.",
    )
    document_quota_bytes: int = Field(
        default=500 * 1024 * 1024,
        ge=1024,
        description="Total size of one user's documents; past it uploads answer 413.",
    )
    document_max_pages: int = Field(
        default=2000, ge=1, description="PDFs with more pages end `failed`."
    )
    document_max_chars: int = Field(
        default=5_000_000, ge=1000, description="Documents with more extracted text end `failed`."
    )
    document_max_unzipped_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024,
        description="A Word file (a zip) declaring more uncompressed bytes is refused (zip bombs).",
    )
    document_max_zip_entries: int = Field(
        default=2000, ge=10, description="A Word file with more zip entries is refused."
    )
    url_fetch_timeout_seconds: float = Field(
        default=20.0, gt=0, le=120, description="Whole-fetch bound for `ingest` of a resource URL."
    )
    url_fetch_enabled: bool = Field(
        default=True,
        description="false: `ingest` of a resource URL is refused (422 url_not_allowed) and "
        "nothing is resolved or fetched.",
    )
    url_fetch_allowed_addresses: list[str] = Field(
        default_factory=list,
        description="Tests only: non-public addresses URL ingestion may still fetch from (a local "
        "test server). Refused in production.",
    )
    document_extraction_timeout_seconds: float = Field(
        default=300.0, gt=0, description="A document still being read after this ends `failed`."
    )
    document_workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes extracting text, off the API's event loop and GIL.",
    )

    embedding_provider: Literal["local", "openai"] = Field(
        default="local",
        description="local: all-MiniLM-L6-v2 on the CPU, offline. openai: any OpenAI-compatible "
        "embeddings endpoint (OPENAI_BASE_URL, OPENAI_API_KEY).",
    )
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Model name for the provider; vectors are always 384-dimensional.",
    )
    embedding_warm_up: bool = Field(
        default=True,
        description="Load the local embedding model at start-up instead of on first use.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "STUDYPILOT_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "STUDYPILOT_OPENAI_BASE_URL"),
        description="OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, gateways).",
    )

    llm_provider: Literal["openai", "local"] = Field(
        default="openai",
        description="openai: any OpenAI-compatible provider (OPENAI_API_KEY, OPENAI_BASE_URL). "
        "local: `studypilot run` also starts SmolLM2-135M-Instruct on llama.cpp (CPU, no key) "
        "and points every AI task at it; a model for trying the product, not for students.",
    )
    llm_model: str | None = Field(
        default=None,
        description="Chat model for every AI task (e.g. gpt-4o-mini); unset: the AI endpoints "
        "answer 503 llm_not_configured. Needs OPENAI_API_KEY or OPENAI_BASE_URL.",
    )
    llm_chat_model: str | None = Field(default=None, description="Overrides llm_model for chat.")
    llm_summary_model: str | None = Field(
        default=None, description="Overrides llm_model for summaries."
    )
    llm_plan_model: str | None = Field(
        default=None, description="Overrides llm_model for study plans."
    )
    llm_recommend_model: str | None = Field(
        default=None, description="Overrides llm_model for recommendations."
    )
    llm_judge_model: str | None = Field(
        default=None, description="Overrides llm_model for eval judges."
    )
    llm_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Per-request timeout for the model provider."
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries (exponential backoff, honouring Retry-After) on 429, 5xx, timeouts.",
    )
    # Models under real conditions: what each task may write, how long a chat turn may take,
    # how much a model can read (history and attachment budgets derive from it), and how a
    # structured answer is asked for.
    llm_chat_max_tokens: int = Field(
        default=1_024, ge=16, description="Most tokens one chat model step may write."
    )
    llm_summary_max_tokens: int = Field(
        default=700, ge=16, description="Most tokens one summary call may write."
    )
    llm_plan_max_tokens: int = Field(
        default=2_048, ge=16, description="Most tokens a plan draft may take."
    )
    llm_recommend_max_tokens: int = Field(
        default=800, ge=16, description="Most tokens a recommendation ranking may take."
    )
    llm_judge_max_tokens: int = Field(
        default=700, ge=16, description="Most tokens an eval judge may write."
    )
    llm_context_window: int | None = Field(
        default=None,
        ge=1_024,
        description="Tokens the model can read and write in one request. Unset: known from the "
        "model's family (8192 for an unknown one).",
    )
    llm_structured_output: Literal["json_schema", "tool_calling"] = Field(
        default="json_schema",
        description="How plans and recommendations ask for structure: response_format with a "
        "strict JSON schema (OpenAI, vLLM, llama.cpp, Ollama), or a forced tool call.",
    )
    chat_first_step_tool_choice: Literal["auto", "required"] = Field(
        default="auto",
        description="required: the first model step of every chat turn must call a tool (for "
        "small local models, which otherwise answer without looking anything up).",
    )
    chat_turn_deadline_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A chat turn still without its answer after this ends as 503 "
        "llm_unavailable; the conversation stays usable.",
    )
    ai_requests_per_minute: int = Field(
        default=20, ge=1, description="AI endpoint calls per user per minute."
    )
    ai_tokens_per_day: int = Field(
        default=200_000, ge=1, description="Model tokens (in + out) per user per day."
    )
    chat_history_token_budget: int = Field(
        default=6_000,
        ge=500,
        description="Older conversation turns are trimmed to keep the history under this.",
    )
    context_token_budget: int = Field(
        default=3_000,
        ge=200,
        description="Notes and courses named in context_refs are cut to fit this.",
    )
    chat_run_lease_seconds: int = Field(
        default=300,
        ge=10,
        description="A chat turn still marked running after this is taken as abandoned.",
    )

    # Durable workflows on Temporal (docs/workflows.md).
    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "STUDYPILOT_TEMPORAL_ADDRESS"),
        description="host:port of a Temporal frontend. Unset: `studypilot run` starts the "
        "embedded dev server and points every process at it; an API started alone without it "
        "stores reminders but starts no workflow (the worker's reconciler does, later).",
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "STUDYPILOT_TEMPORAL_NAMESPACE"),
        description="Temporal namespace of every workflow and schedule.",
    )
    temporal_task_queue: str = Field(
        default="studypilot", min_length=1, description="Task queue the workers poll."
    )
    temporal_tls: bool = Field(
        default=False,
        validation_alias=AliasChoices("TEMPORAL_TLS", "STUDYPILOT_TEMPORAL_TLS"),
        description="Connect with TLS (Temporal Cloud; on when a client certificate is given).",
    )
    temporal_tls_cert: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_TLS_CERT", "STUDYPILOT_TEMPORAL_TLS_CERT"),
        description="PEM client certificate for mTLS.",
    )
    temporal_tls_key: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_TLS_KEY", "STUDYPILOT_TEMPORAL_TLS_KEY"),
        description="PEM private key of the client certificate.",
    )
    temporal_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_API_KEY", "STUDYPILOT_TEMPORAL_API_KEY"),
        description="API key (Temporal Cloud); implies TLS.",
    )
    embedded_temporal_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port for the embedded Temporal dev server. Unset: a free port, chosen once "
        "and recorded in the data dir.",
    )
    temporal_reconcile_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often a worker starts the workflow of every pending reminder that has "
        "none (also once when it starts).",
    )
    embedding_concurrency: int = Field(
        default=2,
        ge=1,
        description="Embedding activities one worker runs at once (notes and resources after "
        "their writes; the local model is CPU-bound).",
    )
    plan_missed_grace_seconds: float = Field(
        default=900.0,
        gt=0,
        description="A plan session with no progress recorded by this long after its end counts "
        "as missed (and triggers a re-plan).",
    )

    # Realtime: the event bus and the websocket (docs/realtime.md).
    realtime_history_events: int = Field(
        default=1000, ge=10, description="Events kept per user for resuming (at least)."
    )
    realtime_history_seconds: int = Field(
        default=24 * 3600, ge=60, description="Events older than this are trimmed."
    )
    realtime_subscriber_queue: int = Field(
        default=500,
        ge=1,
        description="Events buffered per socket; a socket further behind is closed (4408).",
    )
    realtime_ticket_ttl_seconds: int = Field(
        default=30, ge=1, description="Lifetime of a one-use websocket ticket."
    )
    realtime_auth_timeout_seconds: float = Field(
        default=5.0, gt=0, description="A socket must authenticate this soon after opening."
    )
    realtime_max_message_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger client messages are refused."
    )
    realtime_connections_per_user: int = Field(
        default=10, ge=1, description="Open sockets per user on one API process."
    )
    realtime_messages_per_second: float = Field(
        default=10.0, gt=0, description="Client messages per socket per second (sustained)."
    )
    realtime_message_burst: int = Field(
        default=30, ge=1, description="Client messages a socket may send at once."
    )
    realtime_send_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A send blocked this long closes the socket (4408)."
    )
    realtime_session_check_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often open sockets are checked against logouts (closed with 4401).",
    )
    realtime_ping_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Websocket ping interval; a peer silent for twice this is dropped.",
    )

    # Voice (docs/voice.md). Unset LiveKit settings: POST /ai/voice-session answers 503
    # voice_not_configured and `studypilot run` starts no voice worker.
    livekit_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LIVEKIT_URL", "STUDYPILOT_LIVEKIT_URL"),
        description="LiveKit server the clients and the voice worker connect to (wss://...).",
    )
    livekit_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LIVEKIT_API_KEY", "STUDYPILOT_LIVEKIT_API_KEY"),
    )
    livekit_api_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("LIVEKIT_API_SECRET", "STUDYPILOT_LIVEKIT_API_SECRET"),
        description="Signs participant tokens and verifies LiveKit's webhooks.",
    )
    voice_agent_name: str = Field(
        default="studypilot-voice",
        min_length=1,
        description="Name the voice worker registers under; tokens dispatch it by this name.",
    )
    voice_token_ttl_seconds: int = Field(
        default=600, ge=60, le=3600, description="Lifetime of a participant token."
    )
    voice_webhook_max_age_seconds: int = Field(
        default=300,
        ge=10,
        description="A webhook event created longer ago than this is refused as a replay.",
    )
    voice_stt_provider: Literal["local", "openai"] = Field(
        default="local",
        description="local: Whisper tiny.en on the CPU (the voice-local extra). openai: any "
        "OpenAI-compatible /audio/transcriptions endpoint.",
    )
    voice_tts_provider: Literal["local", "openai"] = Field(
        default="local",
        description="local: Piper (the voice-piper extra) or else Debian's espeak-ng. openai: "
        "any OpenAI-compatible /audio/speech endpoint.",
    )
    voice_stt_model: str = Field(
        default="whisper-1", description="Model name for the openai speech-to-text provider."
    )
    voice_tts_model: str = Field(
        default="tts-1", description="Model name for the openai text-to-speech provider."
    )
    voice_tts_voice: str = Field(
        default="alloy", description="Voice for the openai text-to-speech provider."
    )
    voice_speech_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible speech server; unset: OPENAI_BASE_URL.",
    )

    cors_origins: list[str] = Field(
        default_factory=list, description='Allowed browser origins, as JSON: ["https://app"].'
    )
    log_level: str = Field(default="INFO")
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: JSON in production, readable console otherwise."
    )

    # Operations: refresh reuse grace, registration limit, trusted proxies, metrics, tracing.
    refresh_reuse_grace_seconds: int = Field(
        default=10,
        ge=0,
        le=300,
        description="A refresh token presented again this soon after its rotation (two tabs, a "
        "retry) yields the same successor instead of revoking the session; 0 turns it off.",
    )
    register_limit_per_client: str = Field(
        default="10/hour", description="Registrations per client address (limits syntax)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and "
        'X-Forwarded-Proto are believed, as JSON: ["10.0.0.0/8"]. Empty: none are.',
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires. Unset: /metrics answers loopback clients "
        "only.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "STUDYPILOT_OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="OTLP/HTTP collector (e.g. http://127.0.0.1:4318); traces go to "
        "<endpoint>/v1/traces. Unset: no tracing.",
    )
    otel_service_name: str = Field(
        default="studypilot",
        validation_alias=AliasChoices("OTEL_SERVICE_NAME", "STUDYPILOT_OTEL_SERVICE_NAME"),
        description="service.name of exported spans.",
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.env == "production":
            secret = self.jwt_secret.get_secret_value()
            if secret == DEFAULT_JWT_SECRET or len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
                raise ValueError(
                    "STUDYPILOT_JWT_SECRET must be set to a random value of at least "
                    f"{MIN_PRODUCTION_SECRET_LENGTH} characters in production"
                )
            if self.url_fetch_allowed_addresses:
                raise ValueError(
                    "STUDYPILOT_URL_FETCH_ALLOWED_ADDRESSES is for tests; production fetches "
                    "public addresses only"
                )
        return self

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env == "production"
        return self.log_format == "json"

    @property
    def document_storage_dir(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

    @property
    def temporal_configured(self) -> bool:
        return self.temporal_address is not None

    @property
    def livekit_configured(self) -> bool:
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)


@lru_cache
def get_settings() -> Settings:
    return Settings()

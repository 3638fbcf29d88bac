from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import DEFAULT_JWT_SECRET, Settings
from tests.fixtures.client import test_settings


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="STUDYPILOT_JWT_SECRET"):
        Settings(env="production", jwt_secret=DEFAULT_JWT_SECRET)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", jwt_secret="too-short")


def test_production_refuses_the_test_only_fetch_allowance() -> None:
    with pytest.raises(ValidationError, match="URL_FETCH_ALLOWED_ADDRESSES"):
        Settings(env="production", jwt_secret="x" * 48, url_fetch_allowed_addresses=["127.0.0.2"])


def test_production_accepts_a_strong_secret() -> None:
    settings = Settings(env="production", jwt_secret="x" * 48)
    assert settings.json_logs


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db:5432/app")
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("STUDYPILOT_CORS_ORIGINS", '["https://app.example.com"]')
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/app"
    assert settings.port == 9001
    assert settings.cors_origins == ["https://app.example.com"]


def test_the_test_settings_ignore_the_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A developer with a real provider configured still runs the suite offline."""
    monkeypatch.setenv("STUDYPILOT_LLM_MODEL", "gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    (tmp_path / ".env").write_text("STUDYPILOT_LLM_CHAT_MODEL=gpt-4o\nSTUDYPILOT_ENV=development\n")
    monkeypatch.chdir(tmp_path)
    # What the app itself reads there:
    assert (Settings().llm_model, Settings().llm_chat_model) == ("gpt-4o", "gpt-4o")

    settings = test_settings("postgresql+asyncpg://u:p@127.0.0.1/test", tmp_path / "documents")

    assert settings.llm_model is None
    assert settings.llm_chat_model is None
    assert settings.openai_api_key is None
    assert settings.openai_base_url is None
    assert settings.redis_url is None
    assert settings.env == "test"


def test_temporal_settings_are_read_and_the_test_settings_leave_them_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example.com:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "studypilot.abc12")
    monkeypatch.setenv("TEMPORAL_API_KEY", "key")
    settings = Settings()
    assert (settings.temporal_address, settings.temporal_namespace) == (
        "temporal.example.com:7233",
        "studypilot.abc12",
    )
    assert settings.temporal_configured
    assert settings.temporal_api_key is not None
    isolated = test_settings("postgresql+asyncpg://u:p@127.0.0.1/test", Path("unused-documents"))
    assert isolated.temporal_address is None

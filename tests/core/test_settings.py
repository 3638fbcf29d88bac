import pytest
from pydantic import ValidationError

from core.config import DEFAULT_JWT_SECRET, Settings


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="STUDYPILOT_JWT_SECRET"):
        Settings(env="production", jwt_secret=DEFAULT_JWT_SECRET)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", jwt_secret="too-short")


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

"""Which model each AI task runs on: explicit settings first, then OpenAI's default when only a
key is set, and 503 llm_not_configured when nothing is."""

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agents.llm import DEFAULT_OPENAI_MODEL, ChatModels, ModelChoice, choose_model, model_name
from core.config import Settings
from core.errors import LLMNotConfiguredError


def _settings(**values: object) -> Settings:
    return Settings(env="test", **values)  # type: ignore[arg-type]


def test_an_openai_key_alone_gets_the_documented_default_model() -> None:
    settings = _settings(openai_api_key=SecretStr("sk-test"))
    assert choose_model(settings, "chat") == ModelChoice(DEFAULT_OPENAI_MODEL, "default")
    model = ChatModels(settings).for_task("summary")
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == DEFAULT_OPENAI_MODEL


def test_openais_own_base_url_keeps_the_default() -> None:
    settings = _settings(
        openai_api_key=SecretStr("sk-test"), openai_base_url="https://api.openai.com/v1"
    )
    assert model_name(settings, "plan") == DEFAULT_OPENAI_MODEL


def test_explicit_settings_win_task_first() -> None:
    settings = _settings(
        openai_api_key=SecretStr("sk-test"), llm_model="gpt-shared", llm_chat_model="gpt-chat"
    )
    assert choose_model(settings, "chat") == ModelChoice("gpt-chat", "STUDYPILOT_LLM_CHAT_MODEL")
    assert choose_model(settings, "plan") == ModelChoice("gpt-shared", "STUDYPILOT_LLM_MODEL")


def test_another_compatible_server_needs_its_model_named() -> None:
    settings = _settings(openai_api_key=SecretStr("k"), openai_base_url="http://127.0.0.1:9/v1")
    assert choose_model(settings, "chat") is None
    with pytest.raises(LLMNotConfiguredError):
        model_name(settings, "chat")


def test_nothing_set_is_not_configured() -> None:
    with pytest.raises(LLMNotConfiguredError) as raised:
        model_name(_settings(), "recommend")
    assert "OPENAI_API_KEY" in raised.value.message
    with pytest.raises(LLMNotConfiguredError):
        model_name(_settings(llm_model="gpt-x"), "chat")

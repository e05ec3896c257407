"""LLM root-cause analysis through the `openai` client (OpenAI or Azure OpenAI), with structured output.

`LlmAnalyzer.analyze(context)` sends one chat.completions request with a strict JSON schema
(`response_format={"type": "json_schema", ...}`), bounded by LLM_TIMEOUT_SECONDS and
LLM_MAX_RETRIES, and returns either a validated answer or why there is none (`fallback_reason`).
It never raises for an LLM problem: the caller keeps the rule verdict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from analysis.catalog import CATEGORIES
from shared.config import Settings
from shared.platforms.common import require_secure_endpoint
from shared.redaction import redact, redact_text

if TYPE_CHECKING:  # the openai package loads when an LLM client is built (ANALYSIS_MODE=llm), not at start-up
    import openai
    from openai.types.chat import ChatCompletionMessageParam
    from openai.types.shared_params import ResponseFormatJSONSchema

SCHEMA_NAME = "pipeline_failure_rca"
RCA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "probable_root_causes", "category", "retryable", "confidence",
                 "recommended_actions", "links"],
    "properties": {
        "summary": {"type": "string", "description": "Two or three sentences: what failed and why."},
        "probable_root_causes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["cause", "evidence", "likelihood"],
                "properties": {
                    "cause": {"type": "string"},
                    "evidence": {"type": "string", "description": "The words of the error that support it."},
                    "likelihood": {"type": "integer", "description": "0-100"},
                },
            },
        },
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "retryable": {"type": "boolean", "description": "Is an unchanged automatic rerun safe and likely to work?"},
        "confidence": {"type": "integer", "description": "0-100"},
        "recommended_actions": {"type": "array", "items": {"type": "string"}},
        "links": {"type": "array", "items": {"type": "string"}},
    },
}

SYSTEM_PROMPT = (
    "You are a site reliability engineer for data pipelines (Azure Data Factory, Synapse, Databricks, "
    "Airflow, Azure Functions). Given one failure, a rule-based verdict and the recent history of the same "
    "error signature, explain the most probable root causes with evidence quoted from the error, choose a "
    "category from the schema, and say whether an unchanged automatic rerun is safe. Be conservative: "
    "credentials, permissions, firewall rules, schema or data problems and quota limits are never safe to "
    "rerun unchanged. You advise; the rule verdict and a guardrail decide. Secrets are already redacted as "
    "[REDACTED]; never ask for them. Answer only with JSON matching the schema."
)


@dataclass
class LlmAnswer:
    summary: str
    probable_root_causes: list[dict[str, Any]]
    category: str
    retryable: bool
    confidence: int
    recommended_actions: list[str]
    links: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "probable_root_causes": self.probable_root_causes,
                "category": self.category, "retryable": self.retryable, "confidence": self.confidence,
                "recommended_actions": self.recommended_actions, "links": self.links}


@dataclass
class LlmOutcome:
    answer: LlmAnswer | None
    fallback_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None


class InvalidAnswer(ValueError):
    """The model's content does not match the schema."""


def parse_answer(content: str) -> LlmAnswer:
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise InvalidAnswer(f"content is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidAnswer("content is not a JSON object")
    missing = [k for k in RCA_SCHEMA["required"] if k not in data]
    if missing:
        raise InvalidAnswer(f"answer lacks {', '.join(missing)}")
    if data["category"] not in CATEGORIES:
        raise InvalidAnswer(f"unknown category {data['category']!r}")
    if not isinstance(data["retryable"], bool):
        raise InvalidAnswer("retryable is not a boolean")
    confidence = data["confidence"]
    if not isinstance(confidence, int | float) or isinstance(confidence, bool):
        raise InvalidAnswer("confidence is not a number")
    causes = data["probable_root_causes"]
    if not isinstance(causes, list) or not all(isinstance(c, dict) and isinstance(c.get("cause"), str)
                                               for c in causes):
        raise InvalidAnswer("probable_root_causes is not a list of causes")
    actions, links = data["recommended_actions"], data["links"]
    if not (isinstance(actions, list) and all(isinstance(a, str) for a in actions)):
        raise InvalidAnswer("recommended_actions is not a list of strings")
    if not (isinstance(links, list) and all(isinstance(a, str) for a in links)):
        raise InvalidAnswer("links is not a list of strings")
    if not isinstance(data["summary"], str) or not data["summary"].strip():
        raise InvalidAnswer("summary is empty")
    clean_causes = [{"cause": str(c["cause"]), "evidence": str(c.get("evidence", "")),
                     "likelihood": max(0, min(100, int(c.get("likelihood", 0) or 0)))} for c in causes]
    return LlmAnswer(summary=data["summary"], probable_root_causes=clean_causes, category=data["category"],
                     retryable=data["retryable"], confidence=max(0, min(100, int(confidence))),
                     recommended_actions=actions, links=links)


def build_messages(context: dict[str, Any]) -> list[ChatCompletionMessageParam]:
    """The prompt: everything in it is redacted here, whatever the caller passed."""
    body = json.dumps(redact(context), indent=1, default=str, ensure_ascii=False)
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": redact_text("Analyse this pipeline failure.\n" + body)}]


RESPONSE_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": RCA_SCHEMA}}


def _float(settings: Settings, name: str, default: float) -> float:
    try:
        return float(settings.get(name))
    except (KeyError, ValueError):
        return default


def build_client(settings: Settings) -> tuple[openai.OpenAI, str]:
    import openai

    """An OpenAI or Azure OpenAI client from the settings, and the model/deployment name."""
    timeout = _float(settings, "LLM_TIMEOUT_SECONDS", 20.0)
    retries = int(_float(settings, "LLM_MAX_RETRIES", 2))
    model = settings.get("OPENAI_MODEL")
    key = settings.get("OPENAI_API_KEY").strip()
    endpoint = settings.get("AZURE_OPENAI_ENDPOINT").strip()
    if endpoint:
        require_secure_endpoint(endpoint, "AZURE_OPENAI_ENDPOINT")  # before a key or token is attached
        kwargs: dict[str, Any] = {"azure_endpoint": endpoint, "api_version": settings.get("AZURE_OPENAI_API_VERSION"),
                                  "timeout": timeout, "max_retries": retries}
        if key:
            kwargs["api_key"] = key
        else:
            from azure.identity import DefaultAzureCredential, get_bearer_token_provider

            kwargs["azure_ad_token_provider"] = get_bearer_token_provider(
                DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")
        return openai.AzureOpenAI(**kwargs), model
    base_url = settings.get("OPENAI_BASE_URL").strip() or None
    if base_url is not None:
        require_secure_endpoint(base_url, "OPENAI_BASE_URL")
    return openai.OpenAI(base_url=base_url, api_key=key or "unset", timeout=timeout, max_retries=retries), model


def _reason(exc: Exception) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout: the LLM did not answer within LLM_TIMEOUT_SECONDS"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited: the LLM answered 429"
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}: the LLM answered {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "connection: the LLM endpoint could not be reached"
    return f"error: {type(exc).__name__}"


class LlmAnalyzer:
    def __init__(self, client: openai.OpenAI | None, model: str, max_tokens: int = 1200, *,
                 config_error: str | None = None) -> None:
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.config_error = config_error  # why no client could be built (nothing is sent then)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmAnalyzer:
        try:
            client, model = build_client(settings)
        except ValueError as exc:  # e.g. an http:// endpoint: the key is never sent in clear text
            return cls(None, settings.get("OPENAI_MODEL"), config_error=str(exc))
        return cls(client, model)

    def analyze(self, context: dict[str, Any], on_request: Callable[[], None] | None = None) -> LlmOutcome:
        messages = build_messages(context)
        if self.client is None:
            return LlmOutcome(answer=None, fallback_reason=f"config: {self.config_error or 'no LLM client'}",
                              model=self.model)
        if on_request:
            on_request()
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, response_format=RESPONSE_FORMAT,
                temperature=0, max_tokens=self.max_tokens,
            )
        except Exception as exc:  # any client/transport failure leaves the rule verdict in place
            return LlmOutcome(answer=None, fallback_reason=_reason(exc), model=self.model)
        usage = {}
        if response.usage is not None:
            usage = {"prompt_tokens": response.usage.prompt_tokens,
                     "completion_tokens": response.usage.completion_tokens,
                     "total_tokens": response.usage.total_tokens}
        if not response.choices:
            return LlmOutcome(None, "invalid_answer: no choices", usage, self.model)
        choice = response.choices[0]
        message = choice.message
        if getattr(message, "refusal", None):
            return LlmOutcome(None, f"refusal: {redact_text(str(message.refusal))[:200]}", usage, self.model)
        if choice.finish_reason == "content_filter":
            return LlmOutcome(None, "refusal: content filter", usage, self.model)
        if choice.finish_reason == "length":
            return LlmOutcome(None, "invalid_answer: truncated (max tokens)", usage, self.model)
        try:
            answer = parse_answer(message.content or "")
        except InvalidAnswer as exc:
            return LlmOutcome(None, f"invalid_answer: {exc}", usage, self.model)
        return LlmOutcome(answer, None, usage, self.model)

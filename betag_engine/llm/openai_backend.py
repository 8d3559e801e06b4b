"""An OpenAI-compatible HTTP endpoint (vLLM, llama.cpp server, OpenAI, ...) as an ``LLMBackend``, via httpx.

``api="completions"`` (default) sends prompts verbatim to ``/completions`` (raw few-shot prompts, batched:
several prompts per request) and supports ``score`` through ``echo`` + ``logprobs``. ``api="chat"`` sends each
prompt to ``/chat/completions``: as a single user turn, or as the turns of a ``ChatPrompt`` from
``format_chat``. Retries: connection errors, timeouts and 5xx with exponential backoff; 429 waits for
``Retry-After`` when the server sends it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import httpx

from betag_engine.errors import BetagError
from betag_engine.llm.interface import GenerationConfig

OPENAI_APIS = ("completions", "chat")
_PROMPTS_PER_REQUEST = 16


class LLMEndpointError(BetagError):
    """The endpoint refused a request, or kept failing after every retry."""


class ChatPrompt(str):
    """A prompt string (a plain rendering, for logs and keys) that also carries its chat turns."""

    messages: list[dict[str, str]]

    def __new__(cls, messages: list[dict[str, str]]):
        obj = super().__new__(cls, "\n".join(f"{m['role']}: {m['content']}" for m in messages))
        obj.messages = [dict(m) for m in messages]
        return obj


class OpenAIBackend:
    """``LLMBackend`` over an OpenAI-compatible endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/completions`` is appended).
        model: the model name at the endpoint.
        api_key: sent as a Bearer token when non-empty.
        api: ``completions`` or ``chat``.
        timeout_s: per-request timeout; max_retries: retries after the first try.
        backoff_s: first retry delay, doubled each retry up to ``max_backoff_s``.
        sleep: injectable for tests.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        api: str = "completions",
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if api not in OPENAI_APIS:
            raise ValueError(f"openai api must be one of {', '.join(OPENAI_APIS)}, got {api!r}")
        if not model:
            raise ValueError("openai_model is empty: set BETAG_OPENAI_MODEL to the model name at the endpoint")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url, self.model, self.api = base_url.rstrip("/"), model, api
        self.max_retries, self.backoff_s, self.max_backoff_s, self._sleep = max_retries, backoff_s, max_backoff_s, sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers)

    @classmethod
    def from_settings(cls, settings, **kwargs) -> OpenAIBackend:
        """Build from ``Settings`` (openai_base_url, openai_model, openai_api_key, openai_api, openai_timeout_s)."""
        kwargs.setdefault("api", settings.openai_api)
        kwargs.setdefault("timeout_s", settings.openai_timeout_s)
        return cls(settings.openai_base_url, settings.openai_model, settings.openai_api_key, **kwargs)

    @property
    def description(self) -> str:
        return f"openai:{self.model}"

    @property
    def is_chat_model(self) -> bool:
        return self.api == "chat"

    def format_chat(self, messages: list[dict[str, str]]) -> ChatPrompt:
        """Chat turns as one prompt; in ``chat`` mode they are sent as turns, not as one string."""
        if not self.is_chat_model:
            raise LLMEndpointError("format_chat needs api='chat'; the completions API takes raw prompts")
        return ChatPrompt(messages)

    def close(self) -> None:
        self._client.close()

    # -- HTTP -----------------------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict) -> dict:
        url = f"{self.base_url}/{path}"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._client.post(url, json=payload)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                if last:
                    raise LLMEndpointError(f"{url}: {type(exc).__name__} after {attempt + 1} tries: {exc}") from exc
                self._sleep(self._delay(attempt))
                continue
            if response.status_code == 200:
                return response.json()
            retryable = response.status_code == 429 or response.status_code >= 500
            if not retryable or last:
                raise LLMEndpointError(
                    f"{url}: HTTP {response.status_code} after {attempt + 1} tries: {response.text[:300]}"
                )
            wait = _retry_after(response) if response.status_code == 429 else None
            self._sleep(self._delay(attempt) if wait is None else wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2**attempt)

    # -- LLMBackend -----------------------------------------------------------------------------------------
    def generate(self, prompts: list[str], config: GenerationConfig,
                 allowed: list[list[str] | None] | None = None) -> list[list[str]]:
        """``config.num_samples`` completions per prompt (``n``), stopped at newline by the server and here."""
        if allowed is not None and any(a is not None for a in allowed):
            raise ValueError("completions restricted to given lines (BETag's vocabulary 'context' or 'catalog') need "
                             "the transformers backend; with an OpenAI-compatible server use vocabulary 'free'")
        if config.diverse_beams:
            raise ValueError("diverse_beams is not supported by the OpenAI backend; use sampling")
        if self.api == "chat":
            return [self._chat(p, config) for p in prompts]
        results: list[list[str]] = []
        for start in range(0, len(prompts), _PROMPTS_PER_REQUEST):
            results.extend(self._completions(prompts[start : start + _PROMPTS_PER_REQUEST], config))
        return results

    def _sampling(self, config: GenerationConfig) -> dict:
        payload = {
            "model": self.model,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "n": config.num_samples,
        }
        if config.top_p < 1.0:
            payload["top_p"] = config.top_p
        if config.top_k:
            payload["top_k"] = config.top_k  # vLLM / llama.cpp extension
        if config.repetition_penalty != 1.0:
            payload["repetition_penalty"] = config.repetition_penalty  # vLLM / llama.cpp extension
        if config.stop_at_newline:
            payload["stop"] = ["\n"]
        if config.seed is not None:
            payload["seed"] = config.seed
        return payload

    def _completions(self, prompts: list[str], config: GenerationConfig) -> list[list[str]]:
        body = self._post("completions", {**self._sampling(config), "prompt": [str(p) for p in prompts]})
        choices = sorted(body.get("choices", []), key=lambda c: c.get("index", 0))
        n = config.num_samples
        if len(choices) != len(prompts) * n:
            raise LLMEndpointError(f"completions returned {len(choices)} choices, expected {len(prompts) * n}")
        texts = [_cut(c.get("text", ""), config) for c in choices]
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _chat(self, prompt: str, config: GenerationConfig) -> list[str]:
        messages = getattr(prompt, "messages", None) or [{"role": "user", "content": str(prompt)}]
        body = self._post("chat/completions", {**self._sampling(config), "messages": messages})
        choices = sorted(body.get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != config.num_samples:
            raise LLMEndpointError(f"chat returned {len(choices)} choices, expected {config.num_samples}")
        return [_cut((c.get("message") or {}).get("content") or "", config) for c in choices]

    def score(self, prompts: list[str], answers: list[str]) -> list[float]:
        """Summed answer log-probs via ``/completions`` with ``echo`` and ``logprobs`` (max_tokens 0)."""
        if len(prompts) != len(answers):
            raise ValueError(f"score needs as many answers as prompts, got {len(answers)} and {len(prompts)}")
        if self.api == "chat":
            raise LLMEndpointError("score needs the completions API (echo + logprobs); chat cannot score text")
        return [self._score_one(str(p), a) for p, a in zip(prompts, answers)]

    def _score_one(self, prompt: str, answer: str) -> float:
        payload = {"model": self.model, "prompt": prompt + answer, "max_tokens": 0, "echo": True, "logprobs": 0}
        try:
            body = self._post("completions", payload)
            logprobs = body["choices"][0]["logprobs"]
            offsets, values = logprobs["text_offset"], logprobs["token_logprobs"]
        except LLMEndpointError as exc:
            raise LLMEndpointError(f"scoring failed (the endpoint may not support echo + logprobs): {exc}") from exc
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMEndpointError(f"the endpoint returned no echoed logprobs, so it cannot score: {exc!r}") from exc
        return float(sum(v for off, v in zip(offsets, values) if off >= len(prompt) and v is not None))


def _cut(text: str, config: GenerationConfig) -> str:
    return text.split("\n", 1)[0] if config.stop_at_newline else text


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped at 120 s."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return min(120.0, max(0.0, float(value)))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return min(120.0, max(0.0, parsed.timestamp() - time.time()))

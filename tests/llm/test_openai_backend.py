"""OpenAIBackend against a scripted HTTP server on 127.0.0.1: batching, n samples, retries, 429, timeouts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from betag_engine.llm.interface import GenerationConfig, LLMBackend
from betag_engine.llm.openai_backend import ChatPrompt, LLMEndpointError, OpenAIBackend


class Endpoint:
    """Replies from a script: each entry is (status, body dict, headers, delay seconds); then echoes 200s."""

    def __init__(self):
        self.script: list[tuple[int, dict, dict, float]] = []
        self.requests: list[tuple[str, dict]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append((self.path, payload, self.headers.get("Authorization")))
                status, body, headers, delay = (
                    endpoint.script.pop(0) if endpoint.script else endpoint.ok(self.path, payload)
                )
                time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def ok(path, payload):
        if path.endswith("/chat/completions"):
            content = payload["messages"][-1]["content"]
            choices = [{"index": j, "message": {"content": f"{content} #{j}\nmore"}} for j in range(payload["n"])]
            return 200, {"choices": choices}, {}, 0.0
        if payload.get("echo"):
            text = payload["prompt"]
            tokens = [text[i : i + 3] for i in range(0, len(text), 3)]
            offsets = list(range(0, len(text), 3))
            logprobs = [None] + [-0.5] * (len(tokens) - 1)
            body = {
                "choices": [
                    {
                        "index": 0,
                        "text": text,
                        "logprobs": {"tokens": tokens, "text_offset": offsets, "token_logprobs": logprobs},
                    }
                ]
            }
            return 200, body, {}, 0.0
        n, prompts = payload["n"], payload["prompt"]
        choices = [
            {"index": i * n + j, "text": f" tags of {p[-5:]} {j}\nignored"}
            for i, p in enumerate(prompts)
            for j in range(n)
        ]
        return 200, {"choices": choices[::-1]}, {}, 0.0  # out of order on purpose

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


def _backend(endpoint, sleeps=None, **kwargs):
    kwargs.setdefault("timeout_s", 2.0)
    sleep = sleeps.append if sleeps is not None else (lambda s: None)
    return OpenAIBackend(endpoint.url, "test-model", "secret", backoff_s=0.25, sleep=sleep, **kwargs)


def test_completions_batched_with_samples(endpoint):
    backend = _backend(endpoint)
    assert isinstance(backend, LLMBackend) and backend.description == "openai:test-model"
    out = backend.generate(["p one", "p two"], GenerationConfig(num_samples=3, temperature=0.8, seed=5))
    assert out == [[f" tags of p one {j}" for j in range(3)], [f" tags of p two {j}" for j in range(3)]]
    path, payload, auth = endpoint.requests[0]
    assert path == "/v1/completions" and auth == "Bearer secret"
    assert payload["n"] == 3 and payload["stop"] == ["\n"] and payload["temperature"] == 0.8
    assert payload["seed"] == 5 and payload["prompt"] == ["p one", "p two"]
    assert len(endpoint.requests) == 1


def test_429_honours_retry_after_then_succeeds(endpoint):
    sleeps: list[float] = []
    endpoint.script = [(429, {"error": "slow down"}, {"Retry-After": "3"}, 0.0)]
    out = _backend(endpoint, sleeps).generate(["abc"], GenerationConfig())
    assert out == [[" tags of abc 0"]]
    assert sleeps == [3.0] and len(endpoint.requests) == 2


def test_500_is_retried_with_exponential_backoff(endpoint):
    sleeps: list[float] = []
    endpoint.script = [(500, {"error": "boom"}, {}, 0.0), (503, {"error": "busy"}, {}, 0.0)]
    assert _backend(endpoint, sleeps).generate(["abc"], GenerationConfig()) == [[" tags of abc 0"]]
    assert sleeps == [0.25, 0.5]


def test_gives_up_after_max_retries_and_does_not_retry_4xx(endpoint):
    endpoint.script = [(500, {"error": "boom"}, {}, 0.0)] * 3
    with pytest.raises(LLMEndpointError, match="HTTP 500 after 3 tries"):
        _backend(endpoint, max_retries=2).generate(["abc"], GenerationConfig())
    endpoint.script = [(400, {"error": "bad model"}, {}, 0.0)]
    with pytest.raises(LLMEndpointError, match="HTTP 400 after 1 tries: .*bad model"):
        _backend(endpoint).generate(["abc"], GenerationConfig())


def test_timeout_is_retried(endpoint):
    sleeps: list[float] = []
    endpoint.script = [(200, {"choices": []}, {}, 0.6)]
    out = _backend(endpoint, sleeps, timeout_s=0.2).generate(["abc"], GenerationConfig())
    assert out == [[" tags of abc 0"]] and sleeps == [0.25]
    endpoint.script = [(200, {"choices": []}, {}, 0.6)] * 2
    with pytest.raises(LLMEndpointError, match="ReadTimeout after 2 tries"):
        _backend(endpoint, timeout_s=0.2, max_retries=1).generate(["abc"], GenerationConfig())


def test_connection_refused_is_a_clear_error():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m", max_retries=1, sleep=lambda s: None)
    with pytest.raises(LLMEndpointError, match="ConnectError after 2 tries"):
        backend.generate(["x"], GenerationConfig())


def test_chat_api_sends_turns(endpoint):
    backend = _backend(endpoint, api="chat")
    prompt = backend.format_chat([{"role": "system", "content": "tagger"}, {"role": "user", "content": "Heat"}])
    assert isinstance(prompt, ChatPrompt) and prompt == "system: tagger\nuser: Heat"
    assert backend.generate([prompt, "plain"], GenerationConfig(num_samples=2)) == [
        ["Heat #0", "Heat #1"],
        ["plain #0", "plain #1"],
    ]
    assert endpoint.requests[0][0] == "/v1/chat/completions"
    assert endpoint.requests[0][1]["messages"][0] == {"role": "system", "content": "tagger"}
    with pytest.raises(LLMEndpointError, match="completions API"):
        backend.score(["a"], ["b"])


def test_score_uses_echoed_logprobs(endpoint):
    # prompt "abcdef" (offsets 0, 3), answer "ghijkl" -> tokens at offsets 6 and 9 -> -1.0
    assert _backend(endpoint).score(["abcdef"], ["ghijkl"]) == [-1.0]
    payload = endpoint.requests[0][1]
    assert payload["echo"] is True and payload["max_tokens"] == 0


def test_configuration_errors():
    with pytest.raises(ValueError, match="completions, chat"):
        OpenAIBackend("http://127.0.0.1:1/v1", "m", api="responses")
    with pytest.raises(ValueError, match="BETAG_OPENAI_MODEL"):
        OpenAIBackend("http://127.0.0.1:1/v1", "")

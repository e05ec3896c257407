"""A local OpenAI-compatible chat.completions stub for tests and the demo (stdlib only, 127.0.0.1).

Serves POST /v1/chat/completions (OpenAI flavour, base_url=<url>/v1) and
POST /openai/deployments/{deployment}/chat/completions?api-version=... (Azure flavour,
azure_endpoint=<url>). Responses are scripted per request, in order (then `default`):
  "valid"        a schema-valid structured answer (`answer`, or one echoing the rule verdict)
  "error:<code>" an HTTP error status (500, 429, 503...)
  "slow:<s>"     sleep <s> seconds, then a valid answer (client timeouts)
  "malformed"    a 200 whose message content is not JSON
  "refusal"      a 200 whose message is a refusal
Every request body is recorded (`requests`) so tests can count calls and inspect prompts.

Tool calling (the operations agent): a request that carries `tools` takes the next scripted turn from `turns`:
  {"tool_calls": [{"name": ..., "arguments": {...}}]}  the assistant asks for tool calls
  {"content": "..."}                                    a plain answer
  {"from_tools": "prefix"}                              an answer quoting the tool results of this question
                                                        (so what the tools returned really reaches the answer)
  {"error": 429}                                        an HTTP error status ({"error": 429, "retry_after": 7})
With no turn left it answers "(no scripted turn)".

    python -m tools.simulators.openai_server [--port 0]
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_AZURE_PATH = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")


def default_answer(prompt: str) -> dict[str, Any]:
    category, retryable = "unknown", False
    m = re.search(r'"rule_verdict":\s*\{.*?"category":\s*"(\w+)".*?"retryable":\s*(true|false)', prompt, re.DOTALL)
    if m:
        category, retryable = m.group(1), m.group(2) == "true"
    return {
        "summary": f"Stub analysis: the failure looks like {category}.",
        "probable_root_causes": [{"cause": f"{category} condition reported by the platform",
                                  "evidence": "the error text", "likelihood": 70}],
        "category": category, "retryable": retryable, "confidence": 70,
        "recommended_actions": ["Follow the rule's recommended actions."], "links": [],
    }


class OpenAIStub:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.script: list[str] = []
        self.default = "valid"
        self.answer: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                stub._handle(self)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> OpenAIStub:
        self._thread = threading.Thread(target=self.server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def prompts(self) -> list[str]:
        """All message contents received, one string per request."""
        with self._lock:
            return ["\n".join(str(m.get("content", "")) for m in r["body"].get("messages", []))
                    for r in self.requests if isinstance(r.get("body"), dict)]

    def tool_results(self, index: int = -1) -> list[str]:
        """Contents of the tool messages of one recorded request (the last by default)."""
        with self._lock:
            body = self.requests[index]["body"] if self.requests else {}
        return [str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "tool"]

    def _next_turn(self) -> dict[str, Any] | None:
        with self._lock:
            return self.turns.pop(0) if self.turns else None

    def _next(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        azure = _AZURE_PATH.match(parts.path)
        if parts.path != "/v1/chat/completions" and not azure:
            self._send(handler, 404, {"error": {"message": f"no route {parts.path}", "type": "not_found"}})
            return
        with self._lock:
            self.requests.append({"path": parts.path, "query": parse_qs(parts.query), "body": body,
                                  "deployment": azure.group(1) if azure else None,
                                  "headers": {k.lower(): v for k, v in handler.headers.items()}})
        if isinstance(body, dict) and body.get("tools"):
            self._tool_turn(handler, body)
            return
        action = self._next()
        if action.startswith("error:"):
            code = int(action.split(":", 1)[1])
            self._send(handler, code, {"error": {"message": f"stub error {code}", "type": "server_error",
                                                 "code": str(code)}})
            return
        if action.startswith("slow:"):
            time.sleep(float(action.split(":", 1)[1]))
            action = "valid"
        messages = body.get("messages", []) if isinstance(body, dict) else []
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if action == "refusal":
            message["refusal"] = "I can't help with that request."
        elif action == "malformed":
            message["content"] = "Here is my analysis: {not json"
        else:
            message["content"] = json.dumps(self.answer or default_answer(prompt))
        prompt_tokens = max(1, len(prompt) // 4)
        completion_tokens = max(1, len(message["content"] or message["refusal"] or "") // 4)
        self._send(handler, 200, {
            "id": f"chatcmpl-stub-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub") if isinstance(body, dict) else "stub",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def _tool_turn(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        turn = self._next_turn() or {"content": "(no scripted turn)"}
        if "error" in turn:
            code = int(turn["error"])
            headers = {"Retry-After": str(turn["retry_after"])} if turn.get("retry_after") else {}
            self._send(handler, code, {"error": {"message": f"stub error {code}", "type": "server_error",
                                                 "code": str(code)}}, headers)
            return
        if turn.get("slow"):
            time.sleep(float(turn["slow"]))
        messages = body.get("messages", [])
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if turn.get("tool_calls"):
            finish = "tool_calls"
            message["tool_calls"] = [
                {"id": f"call_{len(self.requests)}_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments") or {})}}
                for i, c in enumerate(turn["tool_calls"])]
        elif "from_tools" in turn:
            last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
            results = [str(m.get("content")) for m in messages[last_user + 1:] if m.get("role") == "tool"]
            message["content"] = str(turn["from_tools"]) + "\n" + "\n".join(results)
        else:
            message["content"] = str(turn.get("content", ""))
        prompt_tokens = max(1, len(json.dumps(messages)) // 4)
        completion_tokens = max(1, len(json.dumps(message)) // 4)
        self._send(handler, 200, {
            "id": f"chatcmpl-stub-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            handler.send_response(status)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local OpenAI-compatible stub")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--default", default="valid", help="behaviour when no script is queued")
    args = parser.parse_args(argv)
    stub = OpenAIStub(port=args.port)
    stub.default = args.default
    print(f"OpenAI stub on {stub.url} (OPENAI_BASE_URL={stub.base_url}, AZURE_OPENAI_ENDPOINT={stub.url})", flush=True)
    try:
        stub.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

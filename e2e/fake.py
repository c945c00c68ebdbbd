"""The scripted fake upstream (`target/debug/fake-upstream`), seen from the Python tests.

Everything that depends on the fake's reply schema lives in this one module, so a change
of schema is one edit here. The schema used (from the fake-upstream crate's docs):

    {"type": "sse", "status": 200, "headers": [["name", "value"]],
     "steps": [{"data": {...chunk...}}, {"raw": "..."}, {"delay": 50}, "done", "stall", ...]}
    {"type": "body", "status": 401, "headers": [], "body": "...", "delay_ms": 0}
    {"type": "hangup"} / {"type": "reset"}

ASSUMPTION (schema written by another helper at the same time): replies are internally
tagged with "type" in snake_case and steps are snake_case externally tagged. If the fake
lands with `{"Sse": {...}}` / `{"Data": ...}` / `"Done"` instead, change `_sse` and `_step_*`
below only. Chunks are built here in OpenAI's `chat.completion.chunk` shape.

Control endpoints: `POST /__push` (queue one reply), `POST /__default` (reply when the
queue is empty), `POST /__push_completion` / `POST /__default_completion` (the same for
completion requests), `GET /__requests` (recorded requests: method, path, headers
(lowercased names; pairs or an object), body, completion), `GET /__stats`.

Completion requests are routed apart: `FakeUpstream` sets an empty completion answer at
start, so a completion request (typing in an editor) never takes a reply pushed for an
action, and `chat_requests()` lists only action requests. Script completions with
`push_completion` / `set_completion_default` and read them with `completion_requests()`.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAKE_MODEL = "fake-model"


# --- replies -------------------------------------------------------------------------


def chunk(
    content: str | None = None,
    *,
    role: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-e2e",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": FAKE_MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _step_data(value: dict[str, Any]) -> Any:
    return {"data": value}


def _step_delay(ms: int) -> Any:
    return {"delay": ms}


_STEP_DONE: Any = "done"
_STEP_STALL: Any = "stall"


def _sse(steps: list[Any], status: int = 200) -> dict[str, Any]:
    return {"type": "sse", "status": status, "headers": [], "steps": steps}


def _pieces(text: str, count: int) -> list[str]:
    """Split `text` into about `count` pieces (never splitting a surrogate: str is code points)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def text_reply(
    text: str, *, pieces: int = 4, first_delay_ms: int = 0, delay_ms: int = 0, usage: tuple[int, int] | None = None
) -> dict[str, Any]:
    """A streamed answer: role chunk, `text` in pieces, a `stop` chunk, `[DONE]`.
    `first_delay_ms` waits before the first content (the request is recorded by then);
    `usage` = (prompt_tokens, completion_tokens) adds OpenAI's closing usage chunk."""
    steps: list[Any] = [_step_data(chunk(role="assistant", content=""))]
    if first_delay_ms:
        steps.append(_step_delay(first_delay_ms))
    for index, piece in enumerate(_pieces(text, pieces)):
        if delay_ms and index:
            steps.append(_step_delay(delay_ms))
        steps.append(_step_data(chunk(piece)))
    steps.append(_step_data(chunk(finish_reason="stop")))
    if usage is not None:
        closing = chunk()
        closing["choices"] = []
        closing["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                            "total_tokens": usage[0] + usage[1]}
        steps.append(_step_data(closing))
    steps.append(_STEP_DONE)
    return _sse(steps)


def tool_calls_reply(calls: list[tuple[str, str, dict[str, Any]]], *, fragment_len: int = 7) -> dict[str, Any]:
    """A streamed answer that calls tools: `(id, name, arguments)` each, the arguments' JSON
    streamed in fragments by `index`, like OpenAI does, ending with `tool_calls`."""
    steps: list[Any] = [_step_data(chunk(role="assistant"))]
    for index, (call_id, name, arguments) in enumerate(calls):
        steps.append(
            _step_data(
                chunk(
                    tool_calls=[
                        {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                    ]
                )
            )
        )
        encoded = json.dumps(arguments)
        for start in range(0, len(encoded), fragment_len):
            fragment = encoded[start : start + fragment_len]
            steps.append(_step_data(chunk(tool_calls=[{"index": index, "function": {"arguments": fragment}}])))
    steps.append(_step_data(chunk(finish_reason="tool_calls")))
    steps.append(_STEP_DONE)
    return _sse(steps)


def stalled_reply(text: str = "Thinking") -> dict[str, Any]:
    """Starts streaming `text`, then sends nothing more until the client goes away."""
    return _sse([_step_data(chunk(role="assistant", content="")), _step_data(chunk(text)), _STEP_STALL])


def error_reply(status: int, body: str) -> dict[str, Any]:
    """A plain HTTP error answer."""
    return {"type": "body", "status": status, "headers": [], "body": body, "delay_ms": 0}


def fenced(code: str, language: str = "") -> str:
    """`code` as a markdown fenced block, the way models answer."""
    return f"```{language}\n{code.rstrip(chr(10))}\n```"


# --- recorded requests ---------------------------------------------------------------


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    completion: bool = False

    @property
    def is_chat(self) -> bool:
        return self.method == "POST" and self.path.rstrip("/").endswith("/chat/completions")

    @property
    def is_action(self) -> bool:
        """A chat request that is not a completion request (an action, ask or follow-up)."""
        return self.is_chat and not self.completion

    @property
    def is_completion(self) -> bool:
        return self.is_chat and self.completion

    @property
    def model(self) -> str:
        body = self.body if isinstance(self.body, dict) else {}
        return str(body.get("model", ""))

    def text(self) -> str:
        """The whole body as JSON text, for "contains" assertions."""
        return json.dumps(self.body, ensure_ascii=False)

    def messages(self) -> list[dict[str, Any]]:
        body = self.body if isinstance(self.body, dict) else {}
        messages = body.get("messages")
        return messages if isinstance(messages, list) else []


def _headers(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k).lower(): str(v) for k, v in raw.items()}
    result: dict[str, str] = {}
    for pair in raw or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            result.setdefault(str(pair[0]).lower(), str(pair[1]))
    return result


# --- the process ---------------------------------------------------------------------


class FakeUpstream:
    """A running `fake-upstream` process."""

    def __init__(self, binary: Path, script: list[dict[str, Any]] | None = None, workdir: Path | None = None):
        args = [str(binary)]
        if script is not None:
            script_path = (workdir or Path.cwd()) / "fake-script.json"
            script_path.write_text(json.dumps(script))
            args += ["--script", str(script_path)]
        # stderr goes to a file: a pipe nobody reads would fill up and block the fake.
        self.log_path = (workdir or Path.cwd()) / "fake-upstream.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            self.base_url = _first_line(self.process, self.log_path, timeout=20.0)
        except BaseException:
            self.close()
            raise
        self.root = self.base_url.rsplit("/v1", 1)[0]
        try:
            # Completion requests get their own (empty) answer from the start, so they never
            # consume what a test scripted for an action.
            self.set_completion_default(text_reply("", pieces=1))
        except BaseException:
            self.close()
            raise

    def _call(self, method: str, path: str, payload: Any | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode() or "null"
        try:
            return json.loads(text)
        except ValueError:
            return text

    def push(self, *replies: dict[str, Any]) -> None:
        """Queue replies, answered in order to the next requests."""
        for reply in replies:
            self._call("POST", "/__push", reply)

    def set_default(self, reply: dict[str, Any]) -> None:
        """The reply to an action request when the queue is empty."""
        self._call("POST", "/__default", reply)

    def push_completion(self, *replies: dict[str, Any]) -> None:
        """Queue replies for completion requests only, answered in order."""
        for reply in replies:
            self._call("POST", "/__push_completion", reply)

    def set_completion_default(self, reply: dict[str, Any]) -> None:
        """The reply to a completion request when its queue is empty (at start: empty)."""
        self._call("POST", "/__default_completion", reply)

    def requests(self) -> list[Recorded]:
        raw = self._call("GET", "/__requests")
        return [
            Recorded(
                method=str(item.get("method", "")),
                path=str(item.get("path", "")),
                headers=_headers(item.get("headers")),
                body=item.get("body"),
                completion=bool(item.get("completion", False)),
            )
            for item in raw or []
        ]

    def chat_requests(self) -> list[Recorded]:
        """The action requests (explain, refactor, ask, follow-ups...), completions left out."""
        return [request for request in self.requests() if request.is_action]

    def completion_requests(self) -> list[Recorded]:
        return [request for request in self.requests() if request.is_completion]

    def stats(self) -> dict[str, Any]:
        stats = self._call("GET", "/__stats")
        return stats if isinstance(stats, dict) else {}

    def aborted_streams(self) -> int:
        """How many streamed replies the client abandoned before their end."""
        value = self.stats().get("aborted_streams", 0)
        return value if isinstance(value, int) else 0

    def wait_for_chat_requests(self, count: int, timeout: float = 20.0) -> list[Recorded]:
        """Poll until at least `count` action requests were recorded."""
        return self._wait(self.chat_requests, count, timeout)

    def wait_for_completion_requests(self, count: int, timeout: float = 20.0) -> list[Recorded]:
        """Poll until at least `count` completion requests were recorded."""
        return self._wait(self.completion_requests, count, timeout)

    @staticmethod
    def _wait(source: Any, count: int, timeout: float) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while True:
            found = source()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def _first_line(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    """The first stdout line of `process` (its base URL), or an error with its stderr."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    try:
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise RuntimeError("fake-upstream printed no base URL in time")
            data = os.read(process.stdout.fileno(), 4096)
            if not data:
                stderr = log_path.read_text(errors="replace")
                raise RuntimeError(f"fake-upstream exited before printing its URL: {stderr}")
            buffer += data
    finally:
        selector.close()
    line = buffer.split(b"\n", 1)[0].decode().strip()
    if not line.startswith("http://"):
        raise RuntimeError(f"fake-upstream printed {line!r} instead of a base URL")
    return line

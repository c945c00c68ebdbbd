"""The real Helix 25.07 (from ../shared/tools) with exactly the shipped
editors/helix/languages.toml and the documented config.toml, driven through tmux like a
person: select lines, `space a`, pick an action, read the screen; against the real chatls
(started by Helix from PATH) and the fake upstream. Skipped, with the reason, in a checkout
without ../shared.

A new scenario is a test that takes `open_helix`, scripts the fake's replies, and uses the
moves in helix_editor.py (select_lines, code_action, command, wait_for_message, ...).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import editor_tools
from conftest import API_KEY, server_env
from fake import FakeUpstream, error_reply, fenced, stalled_reply, text_reply, tool_calls_reply
from helix_editor import DOCUMENTED_CONFIG_TOML, SHIPPED_LANGUAGES_TOML, Helix, environment, helix_home

pytestmark = pytest.mark.helix

FIXED_FUNCTION = '''def median(values):
    """Return the median of a non-empty sequence of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return (ordered[middle - 1] + ordered[middle]) / 2
    return ordered[middle]
'''
BUGGY_LINE = "        return ordered[middle]\n    return ordered[middle]\n"
FIXED_LINE = "        return (ordered[middle - 1] + ordered[middle]) / 2\n    return ordered[middle]\n"

OpenHelix = Callable[..., Helix]


def disk_text(path: Path) -> str | None:
    """The file's text, or None when it cannot be read (during `:w` it is briefly absent)."""
    try:
        return path.read_text()
    except OSError:
        return None


@pytest.fixture(scope="module")
def hx() -> Path:
    binary = editor_tools.helix()
    version = editor_tools.check_runs(binary, editor_tools.HELIX, "--version")
    assert version.startswith("helix 25.07"), version
    return binary


@pytest.fixture
def open_helix(
    hx: Path, binaries: dict[str, Path], workspace: Path, cache_dir: Path, fake: FakeUpstream, tmp_path: Path
) -> Iterator[OpenHelix]:
    """Opens a workspace file in Helix (private HOME with the shipped languages.toml and the
    documented config.toml; chatls on PATH, talking to `fake`); quits every one at the end."""
    opened: list[Helix] = []

    def open_file(name: str = "median.py", *, config_toml: str = DOCUMENTED_CONFIG_TOML,
                  chatls_config: str = "") -> Helix:
        """`chatls_config`: TOML appended to the shipped languages.toml, as a person adds
        settings (e.g. `[language-server.chatls.config.edits]` ...)."""
        languages_toml = SHIPPED_LANGUAGES_TOML
        if chatls_config:
            languages_toml = tmp_path / f"languages-{len(opened)}.toml"
            languages_toml.write_text(SHIPPED_LANGUAGES_TOML.read_text() + "\n" + chatls_config)
            tomllib.loads(languages_toml.read_text())
        home = helix_home(tmp_path / f"helix-{len(opened)}", config_toml=config_toml, languages_toml=languages_toml)
        env = environment(server_env(fake.base_url, cache_dir), binaries["chatls"].parent, home)
        editor = Helix(hx, workspace / name, cwd=workspace, env=env)
        opened.append(editor)
        return editor

    yield open_file
    for editor in opened:
        editor.quit()


def test_helix_refactor_then_write(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Select the function, `space a` → Refactor with AI: progress streams in the status
    line, the buffer changes (one undo step), `:w` writes exactly the corrected function."""
    path = workspace / "median.py"
    original = path.read_text()
    # Streamed slowly enough (about 2 s) that the progress is on screen while it streams.
    fake.push(text_reply("Corrected:\n\n" + fenced(FIXED_FUNCTION, "python"), pieces=8, delay_ms=250))

    editor = open_helix()
    editor.select_lines(7, 13)
    titles = editor.code_action_titles()
    assert {"Explain with AI", "Refactor with AI", "Fix with AI"} <= set(titles), titles
    editor.code_action("Refactor with AI")

    streaming = editor.wait_for_message("writing:")
    assert "Refactor" in streaming, streaming
    editor.wait_for_text("return (ordered[middle - 1] + ordered[middle]) / 2")
    done = editor.wait_for_message("applied")
    assert "Refactor" in done, done
    assert "[+]" in editor.statusline(), "the refactored buffer should be modified, not saved"
    assert path.read_text() == original, "chatls must edit the buffer, never the file behind Helix's back"

    # One edit, one undo step (the Helix README says `u` undoes it); `U` redoes it.
    editor.screen.type("u")
    editor.wait_until(lambda: "(ordered[middle - 1]" not in editor.screen.text(), "`u` to undo the refactor")
    assert "        return ordered[middle]" in editor.screen.text()
    editor.screen.type("U")
    editor.wait_for_text("return (ordered[middle - 1] + ordered[middle]) / 2")

    editor.command("w")
    expected = original.replace(BUGGY_LINE, FIXED_LINE)
    assert expected != original
    editor.wait_until(lambda: disk_text(path) == expected, "`:w` to write the refactored text")
    editor.wait_until(lambda: "[+]" not in editor.statusline(), "the buffer to be saved")

    (request,) = fake.chat_requests()
    assert "return ordered[middle]" in request.text()
    assert request.headers.get("authorization") == f"Bearer {API_KEY}"
    assert editor.quit(), f"`:qa!` did not quit Helix\n{editor.report()}"


def test_helix_explain_opens_the_markdown(open_helix: OpenHelix, fake: FakeUpstream, cache_dir: Path):
    """Explain with AI opens the markdown explanation in the current view; `ctrl-o` goes
    back to the code."""
    fake.push(text_reply("## median\n\nIt returns the upper middle element for even lengths.\n", delay_ms=200))

    editor = open_helix()
    editor.select_lines(7, 13)
    editor.code_action("Explain with AI")

    editor.wait_for_text("It returns the upper middle element for even lengths.")
    # The statusline shows the transcript's path (cut to fit the width); the transcript
    # holds the turn under a "## You" heading with the selection as a path:line link.
    editor.wait_until(lambda: "chatls/explanations/median.py-" in editor.statusline(),
                      "the transcript's path in the statusline")
    editor.wait_for_text("[median.py:7-13]")
    explanations = list((cache_dir / "chatls" / "explanations").glob("*.md"))
    assert len(explanations) == 1, explanations
    assert "upper middle element" in explanations[0].read_text()
    assert "Explain" in editor.wait_for_message("explanation opened")

    editor.screen.keys("C-o")
    editor.wait_until(lambda: "explanations" not in editor.statusline() and "median.py" in editor.statusline(),
                      "ctrl-o to return to median.py")
    editor.wait_for_text("def median(values):")


def test_helix_upstream_error_is_shown_and_the_buffer_kept(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """A rejected key ends the action with a sentence in Helix's message line (Helix only
    logs failed commands, so chatls must say it with showMessage or progress) and the buffer
    stays as it was."""
    fake.push(error_reply(401, '{"error": {"message": "invalid key"}}'))

    editor = open_helix()
    editor.select_lines(7, 13)
    editor.code_action("Refactor with AI")

    message = editor.wait_for_message("API key")
    assert "401" in message or "rejected" in message, message
    assert API_KEY not in editor.screen.text()
    assert "[+]" not in editor.statusline()
    assert "        return ordered[middle]" in editor.screen.text()
    assert "(ordered[middle - 1]" not in editor.screen.text()


def test_helix_cancel_with_the_documented_command(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Helix never sends an LSP cancel: `:lsp-workspace-command chatls.cancel` (as the Helix
    README documents) stops the running action, the upstream stream is dropped, nothing
    changes."""
    fake.push(stalled_reply("Let me think about"))

    editor = open_helix()
    editor.select_lines(7, 13)
    editor.code_action("Refactor with AI")
    editor.wait_for_message("writing:")
    assert len(fake.wait_for_chat_requests(1)) == 1

    editor.command("lsp-workspace-command chatls.cancel")
    editor.wait_for_message("cancelled")
    editor.wait_until(lambda: fake.aborted_streams() >= 1, "the upstream stream to be dropped", 10)
    assert "[+]" not in editor.statusline()
    assert "(ordered[middle - 1]" not in editor.screen.text()


def test_helix_streamed_edit_shows_while_it_streams_and_a_cancel_puts_the_original_back(
        open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """With `edits.stream = true` the complete lines of the answer replace the selection
    while the stream is still open; `chatls.cancel` puts the original back, so `:w` writes
    the file byte for byte as it was."""
    path = workspace / "median.py"
    original = path.read_text()
    fake.push(stalled_reply('Corrected:\n```python\ndef median(values):\n    """STREAMED so far."""\n    ordered'))
    editor = open_helix(chatls_config="[language-server.chatls.config.edits]\nstream = true\n")
    editor.select_lines(7, 13)
    editor.code_action("Refactor with AI")
    editor.wait_for_text('"""STREAMED so far."""')
    assert "return ordered[middle]" not in editor.screen.text(), "the selection should be replaced so far"
    assert "applied" not in editor.message()
    assert "[+]" in editor.statusline()

    editor.command("lsp-workspace-command chatls.cancel")
    editor.wait_for_message("put back")
    editor.wait_for_text("        return ordered[middle]")
    assert "STREAMED" not in editor.screen.text()
    editor.wait_until(lambda: fake.aborted_streams() >= 1, "the upstream stream to be dropped", 10)
    editor.command("w")
    editor.wait_until(lambda: disk_text(path) == original, "`:w` to write the original back")


def test_helix_undo_after_a_streamed_edit_walks_back_through_the_streamed_states(
        open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Measured: in Helix every streamed edit is its own undo step, so one `u` after a
    streamed refactor shows the last streamed state and `u` again walks back to the
    original (the README says so)."""
    path = workspace / "median.py"
    original = path.read_text()
    fake.push(text_reply("Corrected:\n\n" + fenced(FIXED_FUNCTION, "python"), pieces=8, delay_ms=400))
    editor = open_helix(chatls_config="[language-server.chatls.config.edits]\nstream = true\n")
    editor.select_lines(7, 13)
    editor.code_action("Refactor with AI")
    editor.wait_for_message("applied", 40)
    steps = []
    for _ in range(12):
        editor.screen.type("u")
        editor.command("w")
        editor.wait_until(lambda: "[+]" not in editor.statusline(), "the undone state saved")
        steps.append(disk_text(path))
        if steps[-1] == original:
            break
    assert steps[-1] == original, "undo never reached the original"
    assert len(steps) > 1, "one undo step: the streamed edits were not separate steps"


def test_helix_typing_elsewhere_while_it_streams(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Typing above the selection while the answer streams moves the range: the edit lands
    on the function (Helix refuses an edit at a stale version, so chatls must send the
    current one) and what was typed stays."""
    path = workspace / "median.py"
    original = path.read_text()
    fake.push(text_reply("Corrected:\n\n" + fenced(FIXED_FUNCTION, "python"), pieces=10, first_delay_ms=3000, delay_ms=100))

    editor = open_helix()
    editor.select_lines(7, 13)
    editor.code_action("Refactor with AI")
    editor.wait_for_message("Refactor")

    # Line 5 is blank: insert a line of code there, back to normal mode.
    editor.goto_line(5)
    editor.screen.type("i")
    editor.wait_until(lambda: " INS " in editor.statusline(), "insert mode")
    editor.screen.type("TYPED = 1")
    editor.normal_mode()
    editor.wait_for_text("TYPED = 1")
    assert "(ordered[middle - 1]" not in editor.screen.text(), "the typing should happen while the answer streams"

    done = editor.wait_for_message("applied", timeout=30)
    assert "Refactor" in done, done
    editor.command("w")
    expected = original.replace("\n\n\ndef median", "\nTYPED = 1\n\ndef median", 1).replace(BUGGY_LINE, FIXED_LINE)
    editor.wait_until(lambda: disk_text(path) == expected, "`:w` to write both the typing and the edit")


def test_helix_typing_inside_the_selection_wins(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Editing the selected code while the answer streams: chatls applies nothing and says
    so in the message line; the typed text stays."""
    fake.push(text_reply("Corrected:\n\n" + fenced(FIXED_FUNCTION, "python"), pieces=10, first_delay_ms=3000, delay_ms=100))

    editor = open_helix()
    editor.select_lines(7, 13)
    editor.code_action("Refactor with AI")
    editor.wait_for_message("Refactor")

    editor.goto_line(9)  # `    ordered = sorted(values)`
    editor.screen.type("A")
    editor.wait_until(lambda: " INS " in editor.statusline(), "insert mode")
    editor.screen.type("  # mine")
    editor.normal_mode()
    editor.wait_for_text("ordered = sorted(values)  # mine")
    assert "(ordered[middle - 1]" not in editor.screen.text(), "the typing should happen while the answer streams"

    message = editor.wait_for_message("nothing was applied", timeout=30)
    assert "changed" in message, message
    screen = editor.screen.text()
    assert "ordered = sorted(values)  # mine" in screen
    assert "(ordered[middle - 1]" not in screen


def test_helix_refactor_with_an_instruction_from_the_command_line(open_helix: OpenHelix, fake: FakeUpstream,
                                                                 workspace: Path):
    """The Helix README's way to give an instruction: `:lsp-workspace-command chatls.refactor`
    with the JSON argument; the instruction reaches the model and the edit lands."""
    path = workspace / "median.py"
    fake.push(text_reply(fenced(FIXED_FUNCTION, "python")))

    editor = open_helix()
    editor.wait_for_chatls()
    argument = {"uri": path.as_uri(), "range": {"start": {"line": 6, "character": 0}, "end": {"line": 13, "character": 0}},
                "instruction": "use early returns"}
    editor.command("lsp-workspace-command chatls.refactor " + json.dumps(argument, separators=(",", ":")))

    editor.wait_for_text("return (ordered[middle - 1] + ordered[middle]) / 2")
    assert "Refactor" in editor.wait_for_message("applied")
    (request,) = fake.chat_requests()
    assert "use early returns" in request.text()


def test_helix_without_a_root_marker_the_tools_read_the_started_directory(open_helix: OpenHelix, fake: FakeUpstream,
                                                                          workspace: Path):
    """Without a root marker Helix sends no workspace folder; the model's read_file still
    reads the project Helix was started in (and nothing outside it)."""
    shutil.rmtree(workspace / ".git")
    fake.push(
        tool_calls_reply([("call_1", "read_file", {"path": "helpers.py"}), ("call_2", "read_file", {"path": "../outside.txt"})]),
        text_reply("## median\n\nIt uses the helpers module.\n"),
    )
    (workspace.parent / "outside.txt").write_text("outside-the-workspace-secret-4d1c\n")

    editor = open_helix()
    editor.select_lines(7, 13)
    editor.code_action("Explain with AI")
    editor.wait_for_text("It uses the helpers module.")

    first, second = fake.wait_for_chat_requests(2)[:2]
    tool_results = [m for m in second.messages() if m.get("role") == "tool"]
    assert len(tool_results) == 2, second.messages()
    assert "helpers-module-marker-7f3a" in json.dumps(tool_results[0])
    assert "outside-the-workspace-secret-4d1c" not in second.text()


def test_helix_completion_item_in_the_menu_accepted(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Typing `values.` in insert mode: chatls's suggestion is an item of Helix's completion
    menu (detail "chatls"); with nothing selected `enter` would insert a newline, so `tab`
    selects it and `enter` accepts it."""
    path = workspace / "median.py"
    fake.set_completion_default(text_reply("append(0)", pieces=2))

    editor = open_helix()
    editor.wait_for_chatls()
    editor.goto_line(13)
    editor.screen.type("o")
    editor.wait_until(lambda: " INS " in editor.statusline(), "insert mode")
    editor.screen.type("values.")
    editor.wait_for_text("append(0)")
    editor.screen.keys("Tab")
    editor.screen.keys("Enter")
    editor.normal_mode()
    editor.wait_for_text("    values.append(0)")
    editor.command("w")
    editor.wait_until(lambda: "    values.append(0)\n" in (disk_text(path) or ""), "`:w` to write the accepted item")
    assert "    values.append(0)\n\n" in disk_text(path), "enter must accept the item, not insert a newline"
    assert fake.completion_requests() and not fake.chat_requests()


def explain_then_write_in_the_transcript(editor: Helix, words: str) -> Helix:
    """Explains median.py:7-13 (the fake's first answer carries `first-answer-marker`), then
    writes `words` under the empty `## You` heading the transcript ends with; back in normal
    mode, ready for a code action."""
    editor.select_lines(7, 13)
    editor.code_action("Explain with AI")
    editor.wait_for_text("first-answer-marker")
    editor.wait_until(lambda: "chatls/explanations/median.py-" in editor.statusline(), "the transcript in the view")
    editor.screen.type("ge")
    editor.screen.type("o")
    editor.wait_until(lambda: " INS " in editor.statusline(), "insert mode")
    editor.screen.type(words)
    editor.normal_mode()
    return editor


def test_helix_explain_then_send_to_ai_in_the_transcript(open_helix: OpenHelix, fake: FakeUpstream):
    """Explain opens the transcript; a follow-up written under its last `## You` and sent
    with `space a` → Send to AI goes out on the same conversation with the first turn as
    history, and its answer is appended to the transcript."""
    fake.push(
        text_reply("## median\n\nIt takes the upper middle: first-answer-marker.\n"),
        text_reply("For odd lengths it is right: second-answer-marker.\n"),
    )
    editor = explain_then_write_in_the_transcript(open_helix(), "And what about odd lengths?")
    editor.code_action("Send to AI")
    editor.wait_for_text("second-answer-marker", timeout=30)

    first, second = fake.wait_for_chat_requests(2)
    assert first.headers["x-conversation-id"] == second.headers["x-conversation-id"]
    history = second.text()
    assert "first-answer-marker" in history and "And what about odd lengths?" in history


def test_helix_model_picker(open_helix: OpenHelix, fake: FakeUpstream):
    """`:lsp-workspace-command chatls.selectModel` shows chatls's question as Helix's
    picker; the model picked there is the next request's."""
    fake.push(text_reply("## median\n\nThe upper middle.\n"))
    editor = open_helix()
    editor.wait_for_chatls()
    before = editor.menu_marks()
    editor.command("lsp-workspace-command chatls.selectModel")
    editor.wait_for_text("e2e-model (current)")
    editor.choose("claude-opus-4-7", before)
    editor.wait_for_message("using the model claude-opus-4-7")

    editor.select_lines(7, 13)
    editor.code_action("Explain with AI")
    (request,) = fake.wait_for_chat_requests(1)
    assert request.model == "claude-opus-4-7"


def test_helix_review_discard_then_apply(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """With `edits.review = "confirm"` chatls opens the diff and asks in a picker: Discard
    leaves the code as it was, Apply changes it."""
    path = workspace / "median.py"
    original = path.read_text()
    fake.push(text_reply(fenced(FIXED_FUNCTION, "python")), text_reply(fenced(FIXED_FUNCTION, "python")))
    editor = open_helix(chatls_config='[language-server.chatls.config.edits]\nreview = "confirm"\n')

    for answer in ("Discard", "Apply"):
        editor.select_lines(7, 13)
        editor.code_action("Refactor with AI")
        before = editor.menu_marks()
        # The diff opens in the view, and the question is a menu of Apply / Discard.
        editor.wait_for_text("+        return (ordered[middle - 1] + ordered[middle]) / 2")
        editor.wait_until(lambda: "explanations/review-median" in editor.statusline(), "the review diff in the view")
        editor.wait_for_text("review the change to median.py")
        assert "(ordered[middle - 1]" not in path.read_text()
        editor.choose(answer, before)
        editor.wait_until(lambda: "review the change" not in editor.screen.text(), "the question to close")
        editor.screen.keys("C-o")
        editor.wait_until(lambda: "median.py" in editor.statusline() and "review-" not in editor.statusline(),
                          "ctrl-o back to the code")
        if answer == "Discard":
            editor.wait_for_text("        return ordered[middle]")
            assert "(ordered[middle - 1]" not in editor.screen.text()
            assert "[+]" not in editor.statusline()
    editor.wait_for_text("        return (ordered[middle - 1] + ordered[middle]) / 2")
    editor.command("w")
    expected = original.replace(BUGGY_LINE, FIXED_LINE)
    editor.wait_until(lambda: disk_text(path) == expected, "`:w` to write the applied change")


def test_helix_change_across_files_from_the_transcript(open_helix: OpenHelix, fake: FakeUpstream, workspace: Path):
    """Change with AI without an input box: the instruction is written under `## You` of a
    transcript and sent with `space a` → Send to AI as a change. One diff of both files opens
    with an Apply/Discard menu; Apply edits median.py's buffer and creates the new file; the
    disk is untouched until `:write-all`."""
    median = workspace / "median.py"
    original = median.read_text()
    fake.push(
        text_reply("## median\n\nIt takes the upper middle: first-answer-marker.\n"),
        tool_calls_reply([
            ("c1", "edit_file", {"path": "median.py", "old_text": "def median(values):",
                                 "new_text": "def middle_value(values):"}),
            ("c2", "create_file", {"path": "NOTES.md", "content": "median is now middle_value\n"}),
        ]),
        text_reply("Renamed median to middle_value and noted it."),
    )
    editor = explain_then_write_in_the_transcript(
        open_helix(), "Rename median to middle_value and note it in NOTES.md"
    )
    before = editor.menu_marks()
    editor.code_action("Send to AI as a change (Change with AI)")
    editor.wait_until(lambda: "explanations/review-" in editor.statusline(), "the change's diff in the view")
    editor.wait_for_text("+def middle_value(values):")
    editor.wait_for_text("review the change to 2 files")
    assert median.read_text() == original
    assert not (workspace / "NOTES.md").exists()
    editor.choose("Apply", before)
    editor.wait_for_message("applied 2 edits to 2 files", timeout=30)
    assert median.read_text() == original, "the edit lands in the buffer, not behind Helix's back"
    editor.command("write-all")
    editor.wait_until(lambda: disk_text(median) == original.replace("def median(values):", "def middle_value(values):"),
                      "`:write-all` to write the changed file")
    editor.wait_until(lambda: disk_text(workspace / "NOTES.md") == "median is now middle_value\n",
                      "`:write-all` to write the new file")


# --- the shipped languages.toml against Helix's own language list ------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _configured_servers(hx: Path, language: str, config_home: Path, tmp_path: Path) -> list[str]:
    """The language servers `hx --health LANGUAGE` lists, in order."""
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(config_home), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    run = subprocess.run([str(hx), "--health", language], capture_output=True, text=True, timeout=30, env=env)
    assert run.returncode == 0, run.stderr
    text = _ANSI.sub("", run.stdout)
    section = text.split("Configured language servers:", 1)[1].split("Configured debug adapter", 1)[0]
    return re.findall(r"^\s+\S+ ([^:\s]+):", section, flags=re.MULTILINE)


def test_shipped_languages_toml_keeps_helix_s_own_servers(hx: Path, tmp_path: Path):
    """Helix replaces a language's server list with the one in languages.toml: for every
    language the shipped file names, the list must be Helix 25.07's own, then chatls."""
    shipped = tomllib.loads(SHIPPED_LANGUAGES_TOML.read_text())
    languages = [block["name"] for block in shipped.get("language", [])]
    assert languages, "the shipped languages.toml names no language"
    builtin_home = tmp_path / "builtin"
    (builtin_home / "helix").mkdir(parents=True)
    shipped_home = Path(helix_home(tmp_path / "shipped")["XDG_CONFIG_HOME"])

    wrong = {}
    for language in languages:
        builtin = _configured_servers(hx, language, builtin_home, tmp_path)
        with_chatls = _configured_servers(hx, language, shipped_home, tmp_path)
        if with_chatls != builtin + ["chatls"]:
            wrong[language] = {"helix": builtin, "shipped": with_chatls}
    assert not wrong, f"languages.toml lists differ from Helix 25.07's own servers + chatls: {wrong}"

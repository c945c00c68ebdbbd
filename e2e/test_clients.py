"""chatls end to end, as VS Code, Neovim 0.11 and Helix 25.07 talk to it (one run per
profile): initialize, code actions, refactor / fix applied as a workspace edit, explain
shown as a document, cancel, edits made while the model is answering, tool calls, and the
API key never leaking to the user."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from clients import ALL_COMMANDS
from conftest import API_KEY, MODEL
from fake import FakeUpstream, fenced, stalled_reply, text_reply, tool_calls_reply
from session import Session
from text import Edit, line_range, range_of

# examples/median.py: `def median` is lines 7-13 (1-based), with the even-length bug on 12.
MEDIAN_FIRST, MEDIAN_LAST = 6, 12
BUGGY_LINE = "        return ordered[middle]\n    return ordered[middle]\n"
FIXED_FUNCTION = '''def median(values):
    """Return the median of a non-empty sequence of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return (ordered[middle - 1] + ordered[middle]) / 2
    return ordered[middle]
'''
EXPLANATION = (
    "## What `median` does\n\n"
    "It sorts the values and returns the middle one. For an even number of values it "
    "returns the upper middle element instead of the mean of the two middle ones.\n"
)


def fixed_median_text(original: str) -> str:
    assert BUGGY_LINE in original
    return original.replace(
        BUGGY_LINE, "        return (ordered[middle - 1] + ordered[middle]) / 2\n    return ordered[middle]\n", 1
    )


def answer_with_code(code: str) -> dict:
    return text_reply("Here is the corrected function:\n\n" + fenced(code, "python") + "\n\nIt averages the two middle values.")


def by_title(actions: list[dict]) -> dict[str, dict]:
    return {action["title"]: action for action in actions}


def median_range(session: Session, document) -> dict:
    return line_range(document.text, MEDIAN_FIRST, MEDIAN_LAST, session.encoding)


# --- initialize and code actions -----------------------------------------------------


async def test_initialize_negotiates_encoding_and_commands(session: Session):
    capabilities = session.initialize_result["capabilities"]
    encoding = capabilities.get("positionEncoding", "utf-16")
    assert encoding in session.profile.encodings, f"{encoding} was not offered by {session.profile.name}"
    if session.profile.name == "vscode":
        assert encoding == "utf-16"
    commands = capabilities.get("executeCommandProvider", {}).get("commands", [])
    assert set(ALL_COMMANDS) <= set(commands), commands
    assert capabilities.get("codeActionProvider"), "no codeActionProvider"
    sync = capabilities.get("textDocumentSync")
    assert sync, "no textDocumentSync"


async def test_code_actions_for_a_range(session: Session, workspace: Path):
    document = session.open(workspace / "median.py")
    actions = await session.code_actions(document, median_range(session, document))
    titles = by_title(actions)
    assert set(titles) >= {"Explain with AI", "Refactor with AI", "Fix with AI"}, list(titles)
    assert titles["Refactor with AI"].get("kind") == "refactor.rewrite"
    # No diagnostics here: Fix is a rewrite listed after Refactor, not a (preselected) quick fix.
    assert titles["Fix with AI"].get("kind") == "refactor.rewrite"
    order = [action["title"] for action in actions]
    assert order.index("Refactor with AI") < order.index("Fix with AI"), order
    expected_actions = {"Explain with AI": "explain", "Refactor with AI": "refactor", "Fix with AI": "fix", "Document with AI": "document"}
    for title, action_id in expected_actions.items():
        action = titles[title]
        assert action["command"]["command"] == "chatls.run"
        assert action.get("tags") == [1], action
        (argument,) = action["command"]["arguments"]
        assert argument["action"] == action_id
        assert argument["uri"] == document.uri
        assert argument["range"]["start"]["line"] == MEDIAN_FIRST
        assert argument["range"]["end"]["line"] in (MEDIAN_LAST, MEDIAN_LAST + 1)

    resolve = session.initialize_result["capabilities"].get("codeActionProvider")
    if isinstance(resolve, dict) and resolve.get("resolveProvider"):
        # Helix resolves any action lacking `edit` and uses the result whole.
        resolved = await session.resolve(titles["Refactor with AI"])
        assert resolved.get("command", {}).get("command") == "chatls.run"


async def test_code_actions_for_an_empty_range(session: Session, workspace: Path):
    document = session.open(workspace / "median.py")
    cursor = {"start": {"line": 11, "character": 4}, "end": {"line": 11, "character": 4}}
    titles = by_title(await session.code_actions(document, cursor))
    assert {"Explain with AI", "Refactor with AI", "Fix with AI"} <= set(titles)


# --- refactor / fix --------------------------------------------------------------------


async def test_refactor_applies_a_versioned_edit(session: Session, workspace: Path, fake: FakeUpstream):
    document = session.open(workspace / "median.py")
    original = document.text
    fake.push(answer_with_code(FIXED_FUNCTION))
    action = by_title(await session.code_actions(document, median_range(session, document)))["Refactor with AI"]
    ended = len(session.ended_progress())

    await session.run_code_action(action)
    await session.wait_for(lambda: session.applies, "workspace/applyEdit")
    await session.wait_for_end_of_action(ended)

    record = session.applies[0]
    assert record.applied, record.reason
    assert document.text == fixed_median_text(original)
    edit = record.params["edit"]
    if session.profile.document_changes:
        (change,) = edit["documentChanges"]
        assert change["textDocument"]["uri"] == document.uri
        assert change["textDocument"]["version"] is not None
    else:
        assert document.uri in (edit.get("changes") or {}), f"Neovim needs `changes`: {edit}"

    (request,) = fake.chat_requests()
    body = request.body
    assert body["model"] == MODEL
    assert body.get("stream") is True
    assert request.headers.get("authorization") == f"Bearer {API_KEY}"
    assert request.headers.get("x-conversation-id")
    assert "return ordered[middle]" in request.text()
    assert body.get("tools"), "tools are enabled by default"
    assert API_KEY not in session.everything_shown_to_user()


async def test_refactor_inside_a_line_with_non_ascii_text(session: Session, workspace: Path, fake: FakeUpstream):
    path = workspace / "greet.py"
    path.write_text('def greet(name):\n    label = "naïve café 😀"; return label + compute(name)\n')
    document = session.open(path)
    start = document.text.index("compute(name)")
    selection = range_of(document.text, start, start + len("compute(name)"), session.encoding)
    fake.push(text_reply(fenced("compute(name.strip())", "python")))
    ended = len(session.ended_progress())

    await session.execute("chatls.refactor", {"uri": document.uri, "range": selection, "instruction": "strip the name"})
    await session.wait_for(lambda: session.applies, "workspace/applyEdit")
    await session.wait_for_end_of_action(ended)

    assert session.applies[0].applied, session.applies[0].reason
    assert document.text == 'def greet(name):\n    label = "naïve café 😀"; return label + compute(name.strip())\n'
    assert "strip the name" in fake.chat_requests()[0].text()


async def test_fix_sends_the_diagnostics_of_the_range(session: Session, workspace: Path, fake: FakeUpstream):
    document = session.open(workspace / "median.py")
    original = document.text
    diagnostic = {
        "range": {"start": {"line": 11, "character": 8}, "end": {"line": 11, "character": 30}},
        "severity": 2,
        "source": "e2e-lint",
        "message": "median() returns the upper middle element for even lengths",
    }
    fake.push(answer_with_code(FIXED_FUNCTION))
    actions = await session.code_actions(document, median_range(session, document), [diagnostic])
    fix = by_title(actions)["Fix with AI"]
    assert fix.get("kind") == "quickfix"
    assert any(d.get("message") == diagnostic["message"] for d in fix.get("diagnostics") or []), fix
    ended = len(session.ended_progress())

    await session.run_code_action(fix)
    (request,) = fake.wait_for_chat_requests(1)
    assert diagnostic["message"] in request.text()
    await session.wait_for(lambda: session.applies, "workspace/applyEdit")
    await session.wait_for_end_of_action(ended)
    assert document.text == fixed_median_text(original)


async def test_edit_made_while_the_model_answers_moves_the_range(session: Session, workspace: Path, fake: FakeUpstream):
    document = session.open(workspace / "median.py")
    original = document.text
    fake.push(text_reply(fenced(FIXED_FUNCTION, "python"), first_delay_ms=1500))
    ended = len(session.ended_progress())
    await session.execute("chatls.refactor", {"uri": document.uri, "range": median_range(session, document)})
    fake.wait_for_chat_requests(1)

    # The user adds an import above the selection while the answer is on its way.
    session.type_text(document, [Edit(0, 0, 0, 0, "import math\n")])
    await session.wait_for(lambda: session.applies, "workspace/applyEdit")
    await session.wait_for_end_of_action(ended)

    assert session.applies[-1].applied, session.applies[-1].reason
    assert document.text == "import math\n" + fixed_median_text(original)


async def test_edit_inside_the_selection_cancels_the_change(session: Session, workspace: Path, fake: FakeUpstream):
    document = session.open(workspace / "median.py")
    fake.push(text_reply(fenced(FIXED_FUNCTION, "python"), first_delay_ms=1500))
    ended = len(session.ended_progress())
    await session.execute("chatls.refactor", {"uri": document.uri, "range": median_range(session, document)})
    fake.wait_for_chat_requests(1)

    session.type_text(document, [Edit(9, 4, 9, 4, "# edited meanwhile\n    ")])
    edited = document.text
    messages_before = len(session.messages())
    await session.wait_for_end_of_action(ended)

    # Neovim gets unversioned `changes`, so the server itself must notice the change.
    assert document.text == edited, "the selection changed meanwhile: nothing may be applied"
    await session.wait_for(lambda: len(session.messages()) > messages_before, "a message telling the user why")


# --- explain ---------------------------------------------------------------------------


async def test_explain_opens_a_markdown_document(session: Session, workspace: Path, fake: FakeUpstream, cache_dir: Path):
    document = session.open(workspace / "median.py")
    fake.push(text_reply(EXPLANATION))
    action = by_title(await session.code_actions(document, median_range(session, document)))["Explain with AI"]
    ended = len(session.ended_progress())

    await session.run_code_action(action)
    await session.wait_for_end_of_action(ended)
    await session.wait_for(lambda: session.shown_documents() or session.messages(), "showDocument or showMessage")

    assert document.text == (workspace / "median.py").read_text(), "explain must not edit"
    assert not session.applies
    shown = session.shown_documents()
    if session.profile.show_document:
        assert shown, f"{session.profile.name} supports showDocument: {session.messages()}"
    if shown:
        uri = shown[-1]["uri"]
        assert uri.startswith("file:"), uri
        path = Path(unquote(urlparse(uri).path))
        assert path.suffix == ".md"
        assert path.resolve().is_relative_to(cache_dir.resolve()), f"{path} is not under XDG_CACHE_HOME"
        assert "upper middle element" in path.read_text()
    else:
        assert any("upper middle element" in m.get("message", "") for m in session.messages()), session.messages()


# --- cancel ----------------------------------------------------------------------------


async def test_cancel_command_stops_the_action(session: Session, workspace: Path, fake: FakeUpstream):
    """`chatls.cancel` is the only way for Helix, which never sends a progress cancel."""
    document = session.open(workspace / "median.py")
    original = document.text
    fake.push(stalled_reply())
    ended = len(session.ended_progress())
    await session.execute("chatls.refactor", {"uri": document.uri, "range": median_range(session, document)})
    fake.wait_for_chat_requests(1)
    await session.wait_for(session.begun_tokens, "progress begin")

    await session.execute("chatls.cancel", {"uri": document.uri})
    await session.wait_for_end_of_action(ended)

    assert document.text == original
    assert not any(record.applied for record in session.applies)
    await session.wait_for(lambda: fake.aborted_streams() >= 1, "the upstream stream to be dropped")


async def test_progress_cancel_stops_the_action(session: Session, workspace: Path, fake: FakeUpstream):
    if not session.profile.sends_progress_cancel:
        pytest.skip(f"{session.profile.name} never sends window/workDoneProgress/cancel")
    document = session.open(workspace / "median.py")
    original = document.text
    fake.push(stalled_reply())
    ended = len(session.ended_progress())
    await session.execute("chatls.refactor", {"uri": document.uri, "range": median_range(session, document)})
    fake.wait_for_chat_requests(1)
    (token,) = await session.wait_for(session.begun_tokens, "progress begin")
    begin = next(value for value in session.progress()[token] if value["kind"] == "begin")
    assert begin.get("cancellable") is True

    session.cancel_progress(token)
    await session.wait_for_end_of_action(ended)
    assert document.text == original
    await session.wait_for(lambda: fake.aborted_streams() >= 1, "the upstream stream to be dropped")


# --- tools and conversation ------------------------------------------------------------


async def test_tool_call_reads_a_workspace_file(session: Session, workspace: Path, fake: FakeUpstream):
    document = session.open(workspace / "median.py")
    fake.push(
        tool_calls_reply([("call_e2e_1", "read_file", {"path": "helpers.py"})]),
        answer_with_code(FIXED_FUNCTION),
    )
    ended = len(session.ended_progress())
    await session.execute("chatls.fix", {"uri": document.uri, "range": median_range(session, document)})
    await session.wait_for(lambda: session.applies, "workspace/applyEdit")
    await session.wait_for_end_of_action(ended)

    first, second = fake.chat_requests()[:2]
    tool_messages = [m for m in second.messages() if m.get("role") == "tool"]
    assert any(m.get("tool_call_id") == "call_e2e_1" and "helpers-module-marker-7f3a" in str(m.get("content")) for m in tool_messages), tool_messages
    # The prompt cache prefix: tools and system prompt are byte-identical between rounds.
    assert first.body.get("tools") == second.body.get("tools")
    assert first.messages()[0] == second.messages()[0]
    assert first.headers.get("x-conversation-id") == second.headers.get("x-conversation-id")


async def test_conversation_is_kept_per_document_until_reset(session: Session, workspace: Path, fake: FakeUpstream):
    document = session.open(workspace / "median.py")
    selection = median_range(session, document)
    for round_ in range(3):
        if round_ == 2:
            await session.execute("chatls.resetConversation", {"uri": document.uri})
        fake.push(text_reply(EXPLANATION))
        ended = len(session.ended_progress())
        await session.execute("chatls.explain", {"uri": document.uri, "range": selection})
        await session.wait_for_end_of_action(ended)
    first, second, third = fake.wait_for_chat_requests(3)
    conversation = first.headers.get("x-conversation-id")
    assert conversation and second.headers.get("x-conversation-id") == conversation
    assert len(second.messages()) > len(first.messages()), "the second turn carries the first"
    assert second.messages()[: len(first.messages())] == first.messages(), "history must stay byte-identical"
    assert third.headers.get("x-conversation-id") not in (None, conversation)

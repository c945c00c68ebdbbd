"""A scripted editor session against a real `chatls` process, built on pytest-lsp's client.

The session behaves like the profiled editor where chatls can tell the difference: it
sends that editor's `initialize` params, numbers document versions the same way, answers
`workspace/applyEdit` like it (applying the edit to its own copy of the text, then sending
`didChange`), answers `workspace/configuration`, and records what the server shows
(progress, messages, documents)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from clients import ClientProfile, vscode_initialization_options, helix_config
from text import Edit, apply_edits, as_content_changes

DEFAULT_TIMEOUT = 30.0


@dataclass
class Document:
    uri: str
    path: Path
    text: str
    version: int
    language_id: str


@dataclass
class ApplyRecord:
    """One `workspace/applyEdit` the server sent, and what the client answered."""

    params: dict[str, Any]
    applied: bool
    reason: str | None


class Session:
    def __init__(self, client: LanguageClient, profile: ClientProfile, workspace: Path):
        self.client = client
        self.profile = profile
        self.workspace = workspace
        self.encoding = "utf-16"
        self.initialize_result: dict[str, Any] = {}
        self.documents: dict[str, Document] = {}
        self.applies: list[ApplyRecord] = []
        self.message_requests: list[dict[str, Any]] = []
        self._converter = client.protocol._converter
        self._fix_code_action_structuring()
        self._install_handlers()

    # --- plumbing ---------------------------------------------------------------------

    def raw(self, value: Any, as_type: Any = None) -> Any:
        """An lsprotocol object as plain JSON data."""
        if as_type is None:
            return self._converter.unstructure(value)
        return self._converter.unstructure(value, as_type)

    def _fix_code_action_structuring(self) -> None:
        """lsprotocol structures a CodeAction whose `command` is an object as a `Command`
        (with the object's repr as its command string); decide by the field's type instead."""
        converter = self._converter

        def command_or_action(value: Any, _: Any) -> Any:
            if isinstance(value, dict) and not isinstance(value.get("command"), str):
                return converter.structure(value, types.CodeAction)
            return converter.structure(value, types.Command)

        converter.register_structure_hook(Union[types.Command, types.CodeAction], command_or_action)

    def _install_handlers(self) -> None:
        client = self.client
        if self.profile.name == "vscode":
            client.set_configuration({"chatls": vscode_initialization_options()})
        elif self.profile.name == "helix":
            client.set_configuration(helix_config())

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return self._apply_edit(params)

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def show_message_request(params: types.ShowMessageRequestParams) -> None:
            self.message_requests.append(self.raw(params))
            return None

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register_capability(params: types.RegistrationParams) -> None:
            return None

        @client.feature(types.CLIENT_UNREGISTER_CAPABILITY)
        def unregister_capability(params: types.UnregistrationParams) -> None:
            return None

    def _apply_edit(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        raw = self.raw(params, types.ApplyWorkspaceEditParams)
        edit = raw.get("edit") or {}
        planned: list[tuple[Document, list[Edit]]] = []
        for change in edit.get("documentChanges") or []:
            if "textDocument" not in change:
                continue  # create / rename / delete: not expected from chatls
            document = self.documents.get(change["textDocument"]["uri"])
            if document is None:
                return self._answer(raw, False, "document is not open")
            version = change["textDocument"].get("version")
            if version is not None and version != document.version:
                if self.profile.stale_edit == "refuse":
                    return self._answer(raw, False, f"version {version} is not the current {document.version}")
                continue  # Neovim: skipped with a message, still "applied"
            planned.append((document, [Edit.from_lsp(item) for item in change["edits"]]))
        for uri, edits in (edit.get("changes") or {}).items():
            document = self.documents.get(uri)
            if document is None:
                return self._answer(raw, False, "document is not open")
            planned.append((document, [Edit.from_lsp(item) for item in edits]))
        try:
            for document, edits in planned:
                document.text = apply_edits(document.text, edits, self.encoding)
        except ValueError as error:
            return self._answer(raw, False, str(error))
        for document, edits in planned:
            self._send_change(document, as_content_changes(edits), delay=0.15 if self.profile.name == "neovim" else 0.0)
        return self._answer(raw, True, None)

    def _answer(self, raw: dict[str, Any], applied: bool, reason: str | None) -> types.ApplyWorkspaceEditResult:
        self.applies.append(ApplyRecord(raw, applied, reason))
        return types.ApplyWorkspaceEditResult(applied=applied, failure_reason=reason)

    def _send_change(self, document: Document, changes: list[dict[str, Any]], delay: float = 0.0) -> None:
        document.version += self.profile.version_step
        params = self._converter.structure(
            {"textDocument": {"uri": document.uri, "version": document.version}, "contentChanges": changes},
            types.DidChangeTextDocumentParams,
        )
        if delay:
            # Neovim debounces didChange (~150 ms): the server hears of the edit late.
            asyncio.get_running_loop().call_later(delay, self.client.text_document_did_change, params)
        else:
            self.client.text_document_did_change(params)

    # --- lifecycle --------------------------------------------------------------------

    async def initialize(self) -> dict[str, Any]:
        raw_params = self.profile.initialize_params(self.workspace, os.getpid())
        params = self._converter.structure(raw_params, types.InitializeParams)
        result = await asyncio.wait_for(self.client.initialize_session(params), DEFAULT_TIMEOUT)
        self.initialize_result = self.raw(result, types.InitializeResult)
        encoding = self.initialize_result.get("capabilities", {}).get("positionEncoding")
        self.encoding = encoding or "utf-16"
        settings = self.profile.after_initialized()
        if settings is not None:
            self.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
        return self.initialize_result

    async def shutdown(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_session(), 10)
        finally:
            await asyncio.wait_for(self.client.stop(), 10)

    # --- documents --------------------------------------------------------------------

    def open(self, path: Path, language_id: str = "python", text: str | None = None) -> Document:
        if text is None:
            text = path.read_text()
        uri = path.as_uri()
        document = Document(uri, path, text, self.profile.first_version, language_id)
        self.documents[uri] = document
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language_id, version=document.version, text=text
                )
            )
        )
        return document

    def type_text(self, document: Document, edits: list[Edit]) -> None:
        """The user edits the buffer (all edits refer to the current text)."""
        document.text = apply_edits(document.text, edits, self.encoding)
        self._send_change(document, as_content_changes(edits))

    def close(self, document: Document) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=document.uri))
        )
        self.documents.pop(document.uri, None)

    # --- requests ---------------------------------------------------------------------

    async def code_actions(
        self, document: Document, range_: dict[str, Any], diagnostics: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        params = self._converter.structure(
            {
                "textDocument": {"uri": document.uri},
                "range": range_,
                "context": {"diagnostics": diagnostics or [], "triggerKind": 1},
            },
            types.CodeActionParams,
        )
        result = await asyncio.wait_for(self.client.text_document_code_action_async(params), DEFAULT_TIMEOUT)
        return [self.raw(item) for item in result or []]

    async def resolve(self, action: dict[str, Any]) -> dict[str, Any]:
        typed = self._converter.structure(action, types.CodeAction)
        result = await asyncio.wait_for(self.client.code_action_resolve_async(typed), DEFAULT_TIMEOUT)
        return self.raw(result, types.CodeAction)

    async def execute(self, command: str, *arguments: Any) -> Any:
        params = types.ExecuteCommandParams(command=command, arguments=list(arguments))
        return await asyncio.wait_for(self.client.workspace_execute_command_async(params), DEFAULT_TIMEOUT)

    async def run_code_action(self, action: dict[str, Any]) -> Any:
        """Run a code action the way these editors do: its `command` through executeCommand."""
        command = action.get("command")
        assert isinstance(command, dict), f"code action has no command: {action}"
        return await self.execute(command["command"], *(command.get("arguments") or []))

    def cancel_progress(self, token: Any) -> None:
        self.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))

    # --- observations -----------------------------------------------------------------

    def progress(self) -> dict[Any, list[dict[str, Any]]]:
        return {token: [self.raw(value) for value in values] for token, values in self.client.progress_reports.items()}

    def ended_progress(self) -> list[dict[str, Any]]:
        return [value for values in self.progress().values() for value in values if value.get("kind") == "end"]

    def begun_tokens(self) -> list[Any]:
        return [
            token for token, values in self.progress().items() if any(value.get("kind") == "begin" for value in values)
        ]

    def messages(self) -> list[dict[str, Any]]:
        return [self.raw(message) for message in self.client.messages] + list(self.message_requests)

    def shown_documents(self) -> list[dict[str, Any]]:
        return [self.raw(shown) for shown in self.client.shown_documents]

    def everything_shown_to_user(self) -> str:
        """All text the server sent for a person to read (for secret checks)."""
        parts = [message.get("message", "") for message in self.messages()]
        parts += [str(values) for values in self.progress().values()]
        parts += [log.message for log in self.client.log_messages]
        return "\n".join(parts)

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Poll `predicate` until it returns something truthy; fail with `what` and what
        the server has shown so far."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {what}\n"
                    f"messages: {self.messages()}\nprogress: {self.progress()}\n"
                    f"applyEdit: {[(a.applied, a.reason) for a in self.applies]}"
                )
            await asyncio.sleep(0.05)

    async def wait_for_end_of_action(self, ended_before: int, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Wait until one more progress `end` arrived (the action finished) or, for a
        server that reports without progress, a message."""
        messages_before = len(self.messages())

        def finished() -> Any:
            ended = self.ended_progress()
            if len(ended) > ended_before:
                return ended[-1]
            if not self.begun_tokens() and len(self.messages()) > messages_before:
                return {"kind": "end", "message": self.messages()[-1].get("message")}
            return None

        return await self.wait_for(finished, "the action to finish (progress end)", timeout)


async def start_session(
    chatls: Path, profile: ClientProfile, workspace: Path, env: dict[str, str]
) -> Session:
    """Start chatls (in `workspace`, as an editor started there would) and initialize it."""
    client = make_test_lsp_client()
    await client.start_io(str(chatls), env=env, cwd=str(workspace))
    session = Session(client, profile, workspace)
    try:
        await session.initialize()
    except BaseException:
        await asyncio.wait_for(client.stop(), 10)
        raise
    return session

"""Client profiles: how VS Code, Neovim 0.11 and Helix 25.07 start chatls and behave
towards it (initialize params, document versions, how they answer `workspace/applyEdit`,
what they send after start-up). The capabilities themselves are in capabilities.py."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capabilities import HELIX, NEOVIM, VS_CODE

REPO = Path(__file__).resolve().parent.parent

ALL_COMMANDS = [
    "chatls.run",
    "chatls.explain",
    "chatls.refactor",
    "chatls.fix",
    "chatls.ask",
    "chatls.followUp",
    "chatls.selectModel",
    "chatls.resetConversation",
    "chatls.cancel",
]


def vscode_initialization_options() -> dict[str, Any]:
    """What editors/vscode's buildServerSettings sends for a user who changed no setting
    (kept equal to its unit test `leaves unset values out ...`)."""
    return {
        "reasoningEffort": "none",
        "stream": True,
        "tools": {"enabled": True, "maxRounds": 8},
        "explain": {"output": "document"},
    }


def helix_config() -> dict[str, Any]:
    """The shipped `[language-server.chatls.config]` table of editors/helix/languages.toml."""
    with (REPO / "editors" / "helix" / "languages.toml").open("rb") as file:
        return tomllib.load(file)["language-server"]["chatls"].get("config", {})


@dataclass(frozen=True)
class ClientProfile:
    name: str
    capabilities: dict[str, Any]
    client_name: str
    client_version: str
    # Document versions: the didOpen version, and how much each change adds (Neovim uses
    # b:changedtick, which jumps).
    first_version: int
    version_step: int
    # How the client answers an applyEdit whose TextDocumentEdit version is not current:
    # "refuse" (VS Code, Helix: applied false, nothing changed) or "skip" (Neovim: the
    # edit is skipped with a message, yet the answer is applied true).
    stale_edit: str
    # Helix starts servers without a workspace root when it finds no root marker.
    has_root: bool = True
    # Whether the client ever sends window/workDoneProgress/cancel.
    sends_progress_cancel: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def encodings(self) -> list[str]:
        return list(self.capabilities.get("general", {}).get("positionEncodings", ["utf-16"]))

    @property
    def document_changes(self) -> bool:
        return bool(self.capabilities.get("workspace", {}).get("workspaceEdit", {}).get("documentChanges"))

    @property
    def show_document(self) -> bool:
        return bool(self.capabilities.get("window", {}).get("showDocument", {}).get("support"))

    def initialize_params(self, root: Path, process_id: int) -> dict[str, Any]:
        """The `initialize` params this client sends for a workspace at `root`."""
        uri = root.as_uri()
        folders = [{"uri": uri, "name": root.name}]
        if self.name == "vscode":
            return {
                "processId": process_id,
                "clientInfo": {"name": "Visual Studio Code", "version": self.client_version},
                "locale": "en",
                "rootPath": str(root),
                "rootUri": uri,
                "capabilities": self.capabilities,
                "initializationOptions": vscode_initialization_options(),
                "trace": "off",
                "workspaceFolders": folders,
            }
        if self.name == "neovim":
            # init_options is nil in editors/nvim/lsp/chatls.lua, so the field is absent.
            return {
                "processId": process_id,
                "clientInfo": {"name": "Neovim", "version": self.client_version},
                "rootPath": str(root),
                "rootUri": uri,
                "workspaceFolders": folders,
                "capabilities": self.capabilities,
                "trace": "off",
                "workDoneToken": "1",
            }
        if self.name == "helix":
            params: dict[str, Any] = {
                "processId": process_id,
                "workspaceFolders": folders if self.has_root else [],
                "rootPath": str(root),
                "rootUri": uri if self.has_root else None,
                "initializationOptions": helix_config(),
                "capabilities": self.capabilities,
                "clientInfo": {"name": "helix", "version": self.client_version},
            }
            return params
        raise ValueError(self.name)

    def after_initialized(self) -> dict[str, Any] | None:
        """The `workspace/didChangeConfiguration` settings the client sends right after
        `initialized`, or None."""
        if self.name == "helix":
            return helix_config()
        # Neovim sends `settings` only when non-empty (the shipped config has none);
        # the VS Code extension pushes settings only when they change.
        return None


VSCODE_PROFILE = ClientProfile(
    name="vscode",
    capabilities=VS_CODE,
    client_name="Visual Studio Code",
    client_version="1.106.0",
    first_version=1,
    version_step=1,
    stale_edit="refuse",
    sends_progress_cancel=True,
)

NEOVIM_PROFILE = ClientProfile(
    name="neovim",
    capabilities=NEOVIM,
    client_name="Neovim",
    client_version="0.11.4",
    first_version=0,
    version_step=5,
    stale_edit="skip",
)

HELIX_PROFILE = ClientProfile(
    name="helix",
    capabilities=HELIX,
    client_name="helix",
    client_version="25.07 (a1b2c3d4)",
    first_version=0,
    version_step=1,
    stale_edit="refuse",
    has_root=False,
)

PROFILES = [VSCODE_PROFILE, NEOVIM_PROFILE, HELIX_PROFILE]

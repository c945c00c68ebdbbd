#!/usr/bin/env bash
# The real VS Code suite (e2e/vscode): installs code-server, Node 24, Chromium and Playwright
# once per machine (scripts/install-vscode-e2e.sh: about ten minutes the first time, then
# reused from the cache outside the checkout), builds chatls, fake-upstream and the .vsix,
# and drives the extension in code-server through Chromium.
#
#   scripts/vscode-e2e.sh                     # everything
#   scripts/vscode-e2e.sh -k refactor         # extra arguments go to pytest
#   CHATLS_E2E_VSIX=editors/vscode/chatls.vsix scripts/vscode-e2e.sh   # reuse a built .vsix
#   CHATLS_E2E_SKIP_VSCODE=1 scripts/vscode-e2e.sh                     # leave it out (says so)
#
# Screenshots and logs of a failing scenario go to target/e2e-artifacts/vscode/<test>
# (CHATLS_E2E_ARTIFACTS overrides). Exits non-zero when a test fails or none ran.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -n "${CHATLS_E2E_SKIP_VSCODE:-}" ]]; then
    echo "vscode-e2e: skipped (CHATLS_E2E_SKIP_VSCODE is set)" >&2
    exit 0
fi

cache="$("$root/scripts/install-vscode-e2e.sh" | tail -n 1)"

echo "==> cargo build --workspace --bins" >&2
cargo build --workspace --bins

if [[ -z "${CHATLS_E2E_VSIX:-}" ]]; then
    "$root/editors/vscode/build.sh"
    export CHATLS_E2E_VSIX="$root/editors/vscode/chatls.vsix"
fi

set +e
CHATLS_E2E_CACHE="$cache" CHATLS_E2E_NO_BUILD=1 "$cache/venv/bin/python" -m pytest \
    -c "$root/e2e/vscode/pytest.ini" --rootdir "$root/e2e/vscode" "$root/e2e/vscode" "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "vscode-e2e: no tests were collected or selected" >&2
    exit 1
fi
exit $status

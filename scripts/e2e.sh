#!/usr/bin/env bash
# End-to-end tests: real client behaviour (VS Code / Neovim / Helix profiles over
# pytest-lsp), the real headless Neovim with the shipped config, and the offline SmolLM2
# model — all against the real chatls binary and the scripted fake upstream.
#
#   scripts/e2e.sh                 # everything
#   scripts/e2e.sh -m "not local_model" -k refactor    # extra arguments go to pytest
#   CHATLS_E2E_SKIP_LOCAL_MODEL=1 scripts/e2e.sh       # leave out the slow model tests
#
# Exits non-zero when a test fails and when no test ran at all (pytest's exit code 5).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

py="$("$root/scripts/setup-python.sh" | tail -n 1)"

echo "==> cargo build --workspace --bins" >&2
cargo build --workspace --bins

args=("$@")
if [[ -n "${CHATLS_E2E_SKIP_LOCAL_MODEL:-}" ]]; then
    args=(-m "not local_model" "${args[@]}")
fi

set +e
CHATLS_E2E_NO_BUILD=1 "$py" -m pytest -c "$root/e2e/pytest.ini" --rootdir "$root/e2e" "$root/e2e" "${args[@]}"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "e2e: no tests were collected or selected" >&2
    exit 1
fi
exit $status

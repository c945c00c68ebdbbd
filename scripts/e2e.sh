#!/usr/bin/env bash
# End-to-end tests: real client behaviour (VS Code / Neovim / Helix profiles over
# pytest-lsp), the real headless Neovim 0.11 and 0.12 and the real Helix (in tmux) with the
# shipped configs, and the offline SmolLM2 model — all against the real chatls binary and
# the scripted fake upstream.
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

# Neovim 0.12 and Helix come as relocatable builds in ../shared/tools (absent in a user's
# clone: their tests then skip and say why). Neovim 0.12 links libluajit and libunibilium,
# and Helix is driven through tmux: install the Debian packages once when they are missing.
if [[ -d "$root/../shared/tools" ]]; then
    missing=()
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    for pkg in libluajit-5.1-2 libunibilium4; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            echo "==> apt-get install ${missing[*]}" >&2
            apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
        else
            echo "e2e: the Neovim 0.12 / Helix tests need the Debian packages: ${missing[*]}" >&2
        fi
    fi
fi

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

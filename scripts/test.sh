#!/usr/bin/env bash
# Runs every test chatls has, installing what it needs (crates, Python packages, Node
# packages): formatting, clippy, the Rust suites (unit, property, LSP end to end), the
# benchmarks' build, the Python end-to-end suites (pytest-lsp client profiles, real Neovim,
# the local model) and the VS Code extension build. Exit code is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests (unit, property, LSP end to end)"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "benchmarks build (dev profile: proves they compile without a second, optimised build of every crate; measure with plain cargo bench)"
cargo bench --workspace --locked --no-run --profile dev

if [ -x scripts/fuzz.sh ]; then
  step "fuzz targets (bounded)"
  scripts/fuzz.sh
fi

if [ -x scripts/e2e.sh ]; then
  step "end-to-end suites (pytest-lsp, Neovim, local model)"
  scripts/e2e.sh
fi

if [ -x editors/vscode/build.sh ]; then
  step "VS Code extension"
  editors/vscode/build.sh
fi

if [ -x scripts/vscode-e2e.sh ]; then
  step "real VS Code (code-server in Chromium; the first run on a machine installs it, ~10 min)"
  CHATLS_E2E_VSIX="$PWD/editors/vscode/chatls.vsix" scripts/vscode-e2e.sh
fi

step "all tests passed"

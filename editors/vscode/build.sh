#!/usr/bin/env bash
# Build the chatls VS Code extension offline from the committed lockfile: install,
# type-check, lint, unit-test, bundle and package it as chatls.vsix. Exits non-zero on any
# failure. Needs Node.js 20+ and the npm registry (nothing else is downloaded).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

echo "==> npm ci"
npm ci --no-audit --no-fund
echo "==> type-check"
npm run --silent typecheck
echo "==> lint"
npm run --silent lint
echo "==> unit tests"
npm test
echo "==> bundle"
npm run --silent bundle
echo "==> package"
rm -f chatls.vsix
npm run --silent package
test -s chatls.vsix
echo "==> built $(pwd)/chatls.vsix"

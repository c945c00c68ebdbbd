#!/usr/bin/env bash
# Build the chatls VS Code extension offline from the committed lockfile: the server it
# carries (a stripped release build, cargo profile `dist`; CHATLS_VSIX_SERVER=PATH ships an
# already built one instead), package.json's settings from that server's table
# (`chatls settings-schema --vscode`), then install, type-check, lint, unit-test, bundle and
# package it as chatls.vsix for this platform (linux-x64 on the CI machine). Exits non-zero
# on any failure. Needs Rust, Node.js 20+ and the npm registry.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root="$(cd ../.. && pwd)"

server="${CHATLS_VSIX_SERVER:-}"
if [[ -z "$server" ]]; then
    echo "==> cargo build --profile dist --bin chatls (stripped release server)"
    (cd "$root" && cargo build --profile dist --bin chatls --locked)
    server="$root/target/dist/chatls"
fi
echo "==> package.json settings from the server's table"
node scripts/sync-settings.mjs "$server"
rm -rf server
mkdir -p server
cp "$server" server/chatls
chmod 755 server/chatls

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
target="$(node -p 'process.platform + "-" + process.arch')"
echo "==> package ($target, server $(du -h server/chatls | cut -f1))"
rm -f chatls.vsix
npm run --silent package -- --target "$target"
test -s chatls.vsix
echo "==> built $(pwd)/chatls.vsix ($(du -h chatls.vsix | cut -f1))"

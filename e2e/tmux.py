"""A terminal editor running inside its own tmux server: keys in, screen out.

Each `TmuxScreen` starts a private tmux server (its own socket, no user config) with one
fixed-size window running a command, and offers what a test needs to act like a person at
a terminal: send keys or text, read the screen (plain, or with the escape sequences that
show what is highlighted), and wait — always with a bound — until the screen shows
something. Nothing here knows about any particular editor.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

# SGR sequences: `ESC [ params m`. Reverse video is parameter 7; it ends with 27 or a reset.
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_OTHER_ESCAPE = re.compile(r"\x1b\[[0-9;?:]*[A-Za-ln-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")

POLL_SECONDS = 0.05


class ScreenTimeout(AssertionError):
    """What the test waited for never appeared; the message holds the last screen."""


def require_tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        pytest.fail("tmux is not installed (Debian package `tmux`; scripts/e2e.sh installs it)")
    return path


class TmuxScreen:
    """One command in a private tmux server, `width` x `height` cells."""

    def __init__(self, command: list[str], *, cwd: Path, width: int = 120, height: int = 40):
        self.tmux = require_tmux()
        self.socket = f"chatls-e2e-{uuid.uuid4().hex[:12]}"
        self.width, self.height = width, height
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
            "-c", str(cwd), *command,
        )
        # Keep the pane after the command exits, so a crash leaves its last screen to read.
        self._tmux("set-option", "-t", "main", "remain-on-exit", "on")

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(
            [self.tmux, "-L", self.socket, *args], capture_output=True, text=True, timeout=20
        )
        if check and run.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {run.stderr.strip()}")
        return run

    # --- keys in -----------------------------------------------------------------------

    def keys(self, *names: str) -> None:
        """tmux key names, each a key press: "Space", "Enter", "Escape", "Down", "C-o", "x"."""
        self._tmux("send-keys", "-t", "main", *names)

    def type(self, text: str) -> None:
        """Literal text, character by character."""
        self._tmux("send-keys", "-t", "main", "-l", text)

    # --- screen out --------------------------------------------------------------------

    def text(self) -> str:
        """The visible screen as plain text, one line per row (trailing spaces kept: menus pad
        their entries with them)."""
        run = self._tmux("capture-pane", "-p", "-N", "-t", "main", check=False)
        return run.stdout if run.returncode == 0 else f"(no screen: {run.stderr.strip()})\n"

    def styled(self) -> str:
        """The visible screen with its colour and attribute escape sequences."""
        return self._tmux("capture-pane", "-p", "-N", "-e", "-t", "main").stdout

    def lines(self) -> list[str]:
        """Exactly `height` rows (blank rows included)."""
        rows = self.text().splitlines()[: self.height]
        return rows + [""] * (self.height - len(rows))

    def last_line(self) -> str:
        return self.lines()[-1]

    def reversed_segments(self) -> list[tuple[int, int, str]]:
        """Runs of text drawn in reverse video (how TUI menus mark the selected entry), as
        (row, column, text) with the text unstripped; 0-based."""
        found = []
        for row_index, row in enumerate(self.styled().splitlines()[: self.height]):
            column, reverse, start, segment = 0, False, 0, ""
            # Splitting on the SGR pattern alternates text and SGR parameters.
            for index, part in enumerate(_SGR.split(row)):
                if index % 2 == 0:
                    text = _OTHER_ESCAPE.sub("", part)
                    segment += text if reverse else ""
                    column += len(text)
                    continue
                now = reverse
                for param in re.split(r"[;:]", part) if part else ["0"]:
                    if param == "7":
                        now = True
                    elif param in ("", "0", "27"):
                        now = False
                if now and not reverse:
                    start, segment = column, ""
                elif reverse and not now and segment:
                    found.append((row_index, start, segment))
                reverse = now
            if reverse and segment:
                found.append((row_index, start, segment))
        return found

    def alive(self) -> bool:
        run = self._tmux("list-panes", "-t", "main", "-F", "#{pane_dead}", check=False)
        return run.returncode == 0 and run.stdout.strip() == "0"

    # --- waiting -----------------------------------------------------------------------

    def wait_until(self, condition: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
        """Poll `condition` until it returns something truthy (returned), at most `timeout`
        seconds; then fail with `what` and the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise ScreenTimeout(f"waited {timeout:.0f} s for {what}; the screen shows:\n{self.text()}")
            time.sleep(POLL_SECONDS)

    def wait_for_text(self, needle: str, timeout: float = 20.0) -> str:
        """Wait until `needle` is on the screen; returns the screen."""

        def shows() -> str | None:
            screen = self.text()
            return screen if needle in screen else None

        return self.wait_until(shows, f"{needle!r} on the screen", timeout)

    def close(self) -> None:
        """Stop the private tmux server (and with it the command, which gets SIGHUP)."""
        self._tmux("kill-server", check=False)

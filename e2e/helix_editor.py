"""The real Helix, driven like a person drives it: keys into a tmux pane, the screen read back.

`Helix` starts `hx` on one file with a private HOME and XDG dirs holding the SHIPPED
editors/helix/languages.toml (copied unchanged) and a config.toml (by default the one the
Helix README documents: `[editor.lsp] display-progress-messages = true`), so what is tested
is exactly what a user merges. It offers the moves the scenarios need — go to a line,
select lines, pick a code action from the `space a` menu, run a `:` command — and reads
the status line, the message line and Helix's log. Every wait is bounded and fails with
the screen and the log tail.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tmux import ScreenTimeout, TmuxScreen

REPO = Path(__file__).resolve().parent.parent
SHIPPED_LANGUAGES_TOML = REPO / "editors" / "helix" / "languages.toml"
DOCUMENTED_CONFIG_TOML = "[editor.lsp]\ndisplay-progress-messages = true\n"

# The statusline's right end: "1 sel  13:27" (selections, then line:column of the cursor).
_CURSOR = re.compile(r"\b(\d+) sels?\s+(\d+):(\d+)\s*$")


def helix_home(root: Path, *, languages_toml: Path = SHIPPED_LANGUAGES_TOML,
               config_toml: str = DOCUMENTED_CONFIG_TOML) -> dict[str, str]:
    """A private HOME with Helix's config in it; returns the variables that point there."""
    home = root / "home"
    config = home / ".config" / "helix"
    config.mkdir(parents=True, exist_ok=True)
    shutil.copy(languages_toml, config / "languages.toml")
    (config / "config.toml").write_text(config_toml)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }


class Helix:
    """`hx FILE` in a tmux pane. `env` is the whole environment Helix (and so chatls) gets."""

    def __init__(self, hx: Path, file: Path, *, cwd: Path, env: dict[str, str], width: int = 120, height: int = 40):
        self.file = file
        self.log_path = Path(env.get("XDG_CACHE_HOME", Path(env["HOME"]) / ".cache")) / "helix" / "helix.log"
        assignments = [f"{key}={value}" for key, value in sorted(env.items())]
        # `env -i`: Helix sees exactly `env`, not tmux's environment. `-v` logs at info level,
        # which keeps chatls's stderr (Helix logs it) in helix.log for failure reports.
        self.screen = TmuxScreen(["env", "-i", *assignments, str(hx), "-v", str(file)], cwd=cwd,
                                 width=width, height=height)
        self.wait_until(lambda: self.file.name in self.statusline(), f"Helix to open {file.name}")

    # --- reading -----------------------------------------------------------------------

    def statusline(self) -> str:
        """The row with the mode, the file name and the cursor position."""
        return self.screen.lines()[-2]

    def message(self) -> str:
        """The bottom row: status messages, progress, errors, the `:` prompt."""
        return self.screen.last_line()

    def cursor(self) -> tuple[int, int, int] | None:
        """(selections, line, column) from the statusline, 1-based."""
        match = _CURSOR.search(self.statusline())
        return (int(match[1]), int(match[2]), int(match[3])) if match else None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no helix.log)"

    def report(self) -> str:
        """The screen and the log, for failure messages."""
        return f"screen:\n{self.screen.text()}\nhelix.log (tail):\n{self.log_tail()}"

    def wait_until(self, condition, what: str, timeout: float = 20.0):
        try:
            return self.screen.wait_until(condition, what, timeout)
        except ScreenTimeout as timeout_error:
            raise ScreenTimeout(f"{timeout_error}\nhelix.log (tail):\n{self.log_tail()}") from None

    def wait_for_text(self, needle: str, timeout: float = 20.0) -> str:
        """Wait until `needle` is anywhere on the screen; returns the screen."""

        def shows() -> str | None:
            screen = self.screen.text()
            return screen if needle in screen else None

        return self.wait_until(shows, f"{needle!r} on the screen", timeout)

    def wait_for_message(self, needle: str, timeout: float = 20.0) -> str:
        """Wait until the message line shows `needle`; returns that line."""

        def shows() -> str | None:
            line = self.message()
            return line if needle in line else None

        return self.wait_until(shows, f"{needle!r} in the message line", timeout)

    # --- moving and selecting ----------------------------------------------------------

    def goto_line(self, line: int) -> None:
        self.screen.type(f"{line}G")
        self.wait_until(lambda: (cursor := self.cursor()) and cursor[1] == line, f"the cursor on line {line}")

    def select_lines(self, first: int, last: int) -> None:
        """Lines `first`..`last` (1-based, inclusive) as one selection: `{first}G`, then `x`
        with a count."""
        self.goto_line(first)
        self.screen.type(f"{last - first + 1}x")
        self.wait_until(lambda: (cursor := self.cursor()) and cursor[:2] == (1, last),
                        f"lines {first}-{last} selected")

    def normal_mode(self) -> None:
        """Escape back to normal mode (and out of any menu or prompt). Waits for it: a key
        sent right after Escape would reach Helix as an Alt chord."""
        if " NOR " in self.statusline() and self.message()[:1] != ":":
            return
        self.screen.keys("Escape")
        self.wait_until(lambda: " NOR " in self.statusline() and self.message()[:1] != ":", "normal mode", 10)

    def command(self, text: str) -> None:
        """A typable command: `:` + `text` + Enter."""
        self.screen.type(":" + text)
        # A long command scrolls in the prompt: its end is what stays visible.
        self.wait_until(lambda: self.message().startswith(":") and self.message().rstrip().endswith(text[-40:]),
                        f"the prompt to show :{text}")
        self.screen.keys("Enter")

    # --- code actions ------------------------------------------------------------------

    def code_action(self, title: str, timeout: float = 30.0) -> list[str]:
        """`space a`, move down to `title`, Enter. Until chatls has started, Helix has no
        actions to offer: the menu is reopened until `title` is in it. Returns the titles
        the menu listed before `title` was reached, `title` last."""
        titles, before = self.wait_until(lambda: self._menu_at(title), f"{title!r} in the space-a menu", timeout)
        self.screen.keys("Enter")
        self.wait_until(lambda: self._menu_selection(before) is None, "the code-action menu to close", 10)
        return titles

    def wait_for_chatls(self, timeout: float = 30.0) -> None:
        """Wait until chatls serves this file, seen as a person sees it: `space a` lists its
        actions (reopened until it does); the menu is closed again."""
        _, before = self.wait_until(lambda: self._menu_at("Explain with AI"), "chatls's actions in the menu", timeout)
        self.screen.keys("Escape")
        self.wait_until(lambda: self._menu_selection(before) is None, "the code-action menu to close", 10)

    def _menu_selection(self, before: set[tuple[int, int, str]]) -> str | None:
        """The selected entry of a menu opened since the reverse-video runs were `before`
        (a menu draws its selected entry in reverse video; the cursor already was)."""
        for segment in self.screen.reversed_segments():
            if segment not in before and len(segment[2].strip()) >= 2:
                return segment[2].strip()
        return None

    def code_action_titles(self, timeout: float = 30.0) -> list[str]:
        """Every title of the `space a` menu, top to bottom (once chatls offers its
        actions); the menu is closed again."""
        titles, _ = self.wait_until(lambda: self._menu_at(None), "chatls's actions in the space-a menu", timeout)
        return titles

    def _menu_at(self, title: str | None) -> tuple[list[str], set[tuple[int, int, str]]] | None:
        """Open `space a` and move down until `title` is selected: then the titles passed
        and the screen's reverse-video runs from before the menu. None (menu closed again)
        when there is no menu or `title` is not in it; a menu wraps around at its end.
        With `title` None: walk the whole menu, close it, return every title (None while
        chatls offers nothing)."""
        before = set(self.screen.reversed_segments())
        self.screen.keys("Space", "a")
        try:
            current = self.screen.wait_until(lambda: self._menu_selection(before), "the code-action menu", 3)
        except ScreenTimeout:
            return None  # "No code actions available": chatls is not serving the file yet
        titles = [current]
        while current != title and len(titles) <= 30:
            previous = current
            self.screen.keys("C-n")  # one byte: an escape sequence (Down) can be split by a slow read

            def moved() -> str | None:
                selection = self._menu_selection(before)
                return selection if selection not in (None, previous) else None

            try:
                current = self.screen.wait_until(moved, "the menu selection to move", 3)
            except ScreenTimeout:
                break  # a menu of one entry
            if current == titles[0]:
                break  # wrapped around: `title` is not in this menu
            titles.append(current)
        if title is not None and current == title:
            return titles, before
        self.screen.keys("Escape")
        self.screen.wait_until(lambda: self._menu_selection(before) is None, "the menu to close", 5)
        if title is None and any(entry.endswith("with AI") for entry in titles):
            return titles, before
        return None

    def menu_marks(self) -> set[tuple[int, int, str]]:
        """The screen's reverse-video runs now: take them before a menu opens, for `choose`."""
        return set(self.screen.reversed_segments())

    def choose(self, title: str, before: set[tuple[int, int, str]], timeout: float = 20.0) -> None:
        """In a menu opened since `before` (chatls's questions: the model list, Apply /
        Discard), move down with `ctrl-n` until `title` is selected, then Enter. Typing does
        not filter these menus: a letter closes them."""
        self.wait_for_text(title, timeout)
        for _ in range(40):
            if self._menu_selection(before) == title:
                self.screen.keys("Enter")
                return
            previous = self._menu_selection(before)
            self.screen.keys("C-n")
            self.wait_until(lambda: self._menu_selection(before) not in (None, previous), "the selection to move", 5)
        raise AssertionError(f"{title!r} was never selected in the menu\n{self.report()}")

    def quit(self) -> bool:
        """`:quit-all!`, then stop the tmux server (Helix stops chatls on its way out).
        True when Helix quit by itself."""
        quit_by_itself = not self.screen.alive()
        if not quit_by_itself:
            self.normal_mode()
            self.screen.type(":qa!")
            self.screen.keys("Enter")
            try:
                self.screen.wait_until(lambda: not self.screen.alive(), "Helix to quit", 10)
                quit_by_itself = True
            except ScreenTimeout:
                pass
        self.screen.close()
        return quit_by_itself


def environment(base: dict[str, str], chatls_dir: Path, home: dict[str, str]) -> dict[str, str]:
    """What Helix runs with: the server's test environment, a PATH that finds `chatls`
    (the shipped config starts it by name), and the private HOME."""
    env = dict(base)
    env.update(home)
    env["PATH"] = os.pathsep.join([str(chatls_dir), "/usr/bin", "/bin"])
    env.setdefault("TERM", "tmux-256color")
    env.setdefault("LANG", "C.UTF-8")
    return env

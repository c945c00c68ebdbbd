"""A person at the VS Code workbench (code-server in headless Chromium), as moves a test can
make: open a file, select lines, Ctrl+. and pick an action, run a palette command, type into
an input box, edit a setting in the Settings UI, read what the screen shows. Keys go in
through the keyboard; the screen is read from the DOM. Every move that waits keeps a
screenshot, so a failing test leaves the trail of what the person saw.

VS Code's DOM is not an API: every selector used is here, so a VS Code upgrade that moves
one is an edit in this file only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

T = TypeVar("T")

QUICK_INPUT = ".quick-input-widget"
QUICK_INPUT_BOX = ".quick-input-widget .quick-input-box input"
ACTION_ROWS = ".action-widget .monaco-list-row.action"
EDITOR_LINES = ".editor-instance .monaco-editor .view-lines"
STATUS_ITEM = "[id='chatls.chatls.chatls.status']"
TOASTS = ".notifications-toasts .notification-list-item"
TABS = ".tabs-container .tab"
GHOST_TEXT = ".editor-instance .monaco-editor [class*='ghost-text']"
CURSOR_POSITION = "[id='status.editor.selection']"


class WorkbenchTimeout(AssertionError):
    """What the test waited for did not appear; the message says what was on screen."""


class Workbench:
    def __init__(self, page: Page, shots: Path, user_settings: Path):
        self.page = page
        self.shots = shots
        self.user_settings = user_settings
        self._shot_count = 0

    # --- the trail ----------------------------------------------------------------------

    def shot(self, name: str) -> Path:
        """Keep a screenshot of the whole workbench (numbered, in order)."""
        self._shot_count += 1
        path = self.shots / f"{self._shot_count:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        try:
            self.page.screenshot(path=str(path))
        except PlaywrightError:
            pass  # the browser is gone; the test's own error says why
        return path

    def wait_until(self, what: str, probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2) -> T:
        """Polls `probe` until it returns something truthy; else fails naming `what`, with a
        screenshot and the notifications on screen."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = probe()
            except PlaywrightError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                shot = self.shot(f"timeout {what}")
                raise WorkbenchTimeout(
                    f"waited {timeout:.0f} s for {what}; notifications: {self.notifications()}; screenshot: {shot}"
                )
            time.sleep(interval)

    # --- reading the screen -------------------------------------------------------------

    def _visible(self, selector: str) -> bool:
        return self.page.locator(selector).first.is_visible()

    def status(self) -> str | None:
        """The accessible label of chatls's status bar item ("chatls is running", ...)."""
        element = self.page.query_selector(STATUS_ITEM)
        return element.get_attribute("aria-label") if element else None

    def notifications(self) -> list[str]:
        """The text of every notification toast on screen."""
        try:
            return self.page.eval_on_selector_all(
                TOASTS, "els => els.map(e => e.querySelector('.notification-list-item-message')?.innerText ?? '')"
            )
        except PlaywrightError:
            return []

    def tabs(self) -> list[str]:
        """The accessible labels of all editor tabs, in every group."""
        return self.page.eval_on_selector_all(TABS, "els => els.map(e => e.getAttribute('aria-label') ?? '')")

    def active_tabs(self) -> list[str]:
        """The accessible labels of the active tab of each editor group."""
        return self.page.eval_on_selector_all(f"{TABS}.active", "els => els.map(e => e.getAttribute('aria-label') ?? '')")

    def editor_text(self) -> str:
        """The text the active editor renders (fine for files that fit on screen)."""
        return self.page.evaluate(
            """(selector) => {
                const root = document.querySelector(selector);
                if (!root) return '';
                const lines = [...root.querySelectorAll('.view-line')]
                    .map(line => [parseFloat(line.style.top) || 0, line.textContent]);
                lines.sort((a, b) => a[0] - b[0]);
                return lines.map(line => line[1].replace(/\\u00a0/g, ' ')).join('\\n');
            }""",
            EDITOR_LINES,
        )

    def webview_texts(self) -> list[str]:
        """The text of every webview showing (markdown previews render in nested iframes)."""
        texts = []
        for frame in self.page.frames:
            if frame == self.page.main_frame:
                continue
            try:
                text = frame.evaluate("() => document.body ? document.body.innerText : ''")
            except PlaywrightError:
                continue
            if text.strip():
                texts.append(text)
        return texts

    def ghost_text(self) -> str:
        """The inline suggestion the active editor shows (ghost text), "" when none."""
        return "".join(
            self.page.eval_on_selector_all(GHOST_TEXT, "els => els.map(e => e.textContent ?? '')")
        ).replace("\u00a0", " ")

    def cursor_position(self) -> str:
        """The status bar's "Ln 7, Col 1" of the active editor."""
        element = self.page.query_selector(CURSOR_POSITION)
        return element.inner_text().strip() if element else ""

    def quick_pick_rows(self) -> list[str]:
        """The labels of the rows of the open QuickPick."""
        return self._quick_pick_rows()

    # --- moves --------------------------------------------------------------------------

    def pick(self, label: str) -> None:
        """In the open QuickPick: type `label` to filter, wait for its row, Enter on it."""
        self.wait_until("a quick pick", lambda: self._visible(QUICK_INPUT_BOX))
        self.page.keyboard.type(label)

        def row() -> int | None:
            for index, text in enumerate(self._quick_pick_rows()):
                if text == label or text.startswith(label + ",") or text.startswith(label + " "):
                    return index + 1
            return None

        wanted = self.wait_until(f"the quick pick row {label!r}", row) - 1
        focused = self.page.eval_on_selector_all(
            f"{QUICK_INPUT} .monaco-list-row", "els => els.findIndex(e => e.classList.contains('focused'))"
        )
        for _ in range(wanted - max(focused, 0)):
            self.page.keyboard.press("ArrowDown")
        self.shot(f"picked {label}")
        self.page.keyboard.press("Enter")
        # The next move's keys must not reach the closing picker.
        self.wait_until("the quick pick closed", lambda: not self._visible(QUICK_INPUT_BOX), 10)

    def type_text(self, text: str) -> None:
        """Types into the focused editor, key by key, as a person does."""
        self.page.keyboard.type(text, delay=30)

    def click_link_in_webview(self, text: "str | re.Pattern[str]") -> None:
        """Clicks the link showing `text` in a webview (a markdown preview)."""

        def click() -> bool:
            for frame in self.page.frames:
                if frame == self.page.main_frame:
                    continue
                try:
                    link = frame.get_by_role("link", name=text)
                    if link.count() > 0:
                        link.first.click()
                        return True
                except PlaywrightError:
                    continue
            return False

        self.wait_until(f"the link {text!r} in a preview", click)

    def click_button(self, name: str) -> None:
        """Clicks the workbench button named `name` (the refactor preview's Apply, Discard)."""
        button = self.page.get_by_role("button", name=name, exact=True)
        self.wait_until(f"the {name} button", lambda: button.count() > 0 and button.first.is_visible(), 90)
        self.shot(f"before {name}")
        button.first.click()

    def tick_refactor_preview(self) -> None:
        """Ticks the first entry of the Refactor Preview (VS Code lists changes that need
        confirmation unticked)."""
        box = self.page.locator(".monaco-pane-view .monaco-list-row .monaco-checkbox:visible, .monaco-pane-view .monaco-list-row [role='checkbox']:visible").first
        self.wait_until("a checkbox in the refactor preview", lambda: box.count() > 0, 60)
        box.click()
        self.shot("ticked")

    def write_user_settings(self, changes: dict[str, Any]) -> None:
        """Edits the user's settings.json in VS Code's own editor, as a person does (a value
        of None removes the key): "Preferences: Open User Settings (JSON)", the whole new text
        typed in, Ctrl+S. (VS Code does not notice a settings.json written from outside.)"""
        settings = json.loads(self.user_settings.read_text())
        for key, value in changes.items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        self.palette("Preferences: Open User Settings (JSON)")
        self.wait_until(
            "settings.json in the active tab",
            lambda: (tab := self.page.query_selector(f"{TABS}.active")) and "settings.json" in (tab.get_attribute("aria-label") or ""),
        )
        self.page.click(f"{EDITOR_LINES}")
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(json.dumps(settings))
        self.save()
        self.wait_until("settings.json saved with the change", lambda: self._settings_are(settings))
        self.shot("settings.json edited")
        self.close_editor()

    def _settings_are(self, wanted: dict[str, Any]) -> bool:
        try:
            return json.loads(self.user_settings.read_text()) == wanted
        except (OSError, ValueError):
            return False


    def _open_quick_input(self, key: str) -> None:
        """Presses `key` until the quick input shows (a key pressed while the workbench is
        still busy starting can be lost)."""
        for _ in range(6):
            self.page.keyboard.press(key)
            try:
                self.page.wait_for_selector(QUICK_INPUT_BOX, state="visible", timeout=5000)
                return
            except PlaywrightError:
                continue
        self.shot(f"no quick input after {key}")
        raise WorkbenchTimeout(f"{key} opened no quick input")

    def _quick_pick_rows(self) -> list[str]:
        return self.page.eval_on_selector_all(
            f"{QUICK_INPUT} .monaco-list-row", "els => els.map(e => e.getAttribute('aria-label') ?? e.innerText)"
        )

    def palette(self, command: str) -> None:
        """F1, type the command's title, arrow keys to the entry with exactly that title
        (its label may add the keybinding after a comma), Enter."""
        self._open_quick_input("F1")
        self.page.keyboard.type(command)

        def entry() -> int | None:
            rows = self._quick_pick_rows()
            for index, label in enumerate(rows):
                if label == command or label.startswith(command + ","):
                    return index + 1  # truthy even for the first row
            return None

        wanted = self.wait_until(f"palette entry {command!r}", entry) - 1
        focused = self.page.eval_on_selector_all(
            f"{QUICK_INPUT} .monaco-list-row", "els => els.findIndex(e => e.classList.contains('focused'))"
        )
        for _ in range(wanted - max(focused, 0)):
            self.page.keyboard.press("ArrowDown")
        self.shot(f"palette {command}")
        self.page.keyboard.press("Enter")

    def open_file(self, path: Path) -> None:
        """Ctrl+P, type the file's absolute path (quick open resolves it even before its
        file index has seen a new file), Enter on the row of that very name; waits until its
        tab is active. Quick open may still be refreshing its list when Enter lands (then
        nothing opens), so a second and third try start over."""
        name = path.name

        # The name as a whole: `model.py` must not be taken for `complete_model.py`.
        whole = re.compile(rf"(?:^|[^\w.-]){re.escape(name)}(?:$|[^\w.-])")

        def is_row(row: str) -> bool:
            return bool(whole.search(row))

        for attempt in range(3):
            self._open_quick_input("Control+p")
            self.page.keyboard.type(str(path))
            self.wait_until(f"quick open to list {name}", lambda: any(is_row(row) for row in self._quick_pick_rows()))
            self.page.keyboard.press("Enter")
            try:
                self.wait_until(
                    f"{name} in the active tab",
                    lambda: (tab := self.page.query_selector(f"{TABS}.active"))
                    and name in (tab.get_attribute("aria-label") or ""),
                    10 if attempt < 2 else 30,
                )
                break
            except WorkbenchTimeout:
                if attempt == 2:
                    raise
                self.page.keyboard.press("Escape")
        self.wait_until(f"{name} rendered", lambda: self.editor_text().strip())

    def go_to_line(self, line: int) -> None:
        self._open_quick_input("Control+g")
        self.page.keyboard.type(str(line))
        self.page.keyboard.press("Enter")

    def select_lines(self, first: int, last: int) -> None:
        """Selects whole lines `first`..`last` (1-based) the way a person does: go to the
        first line, Home, Shift+Down past the last."""
        self.go_to_line(first)
        self.page.keyboard.press("Home")
        self.page.keyboard.press("Home")  # twice: the first stops at the indentation
        for _ in range(last - first + 1):
            self.page.keyboard.press("Shift+ArrowDown")
        self.shot(f"selected lines {first}-{last}")

    def code_actions(self) -> list[str]:
        """Ctrl+. and the titles of the actions offered (the widget stays open), the
        preselected one first in the returned pair."""
        for _ in range(6):
            self.page.keyboard.press("Control+.")
            try:
                self.page.wait_for_selector(ACTION_ROWS, state="visible", timeout=6000)
                break
            except PlaywrightError:
                continue
        else:
            self.shot("no code actions")
            raise WorkbenchTimeout(f"Ctrl+. showed no code actions; notifications: {self.notifications()}")
        self.shot("code actions")
        return self.page.eval_on_selector_all(ACTION_ROWS, "els => els.map(e => e.innerText.trim())")

    def _focused_action(self) -> int:
        return self.page.eval_on_selector_all(ACTION_ROWS, "els => els.findIndex(e => e.classList.contains('focused'))")

    def code_action(self, title: str) -> None:
        """Ctrl+., arrow keys to `title`, Enter."""
        titles = self.code_actions()
        if title not in titles:
            self.page.keyboard.press("Escape")
            raise AssertionError(f"Ctrl+. offered {titles}, not {title!r}")
        wanted = titles.index(title)
        focused = max(self._focused_action(), 0)
        key = "ArrowDown" if wanted >= focused else "ArrowUp"
        for _ in range(abs(wanted - focused)):
            self.page.keyboard.press(key)
        self.wait_until(f"{title!r} focused", lambda: self._focused_action() == wanted, timeout=5)
        self.shot(f"picked {title}")
        self.page.keyboard.press("Enter")

    def type_into_input_box(self, text: str, *, password: bool = False, title: str | None = None) -> None:
        """Types `text` into the open input box (showInputBox) and presses Enter; with
        `title` (its prompt), first waits for that box, empty (the palette's own box may still
        show)."""
        selector = f"{QUICK_INPUT_BOX}[type=password]" if password else QUICK_INPUT_BOX
        self.wait_until("an input box", lambda: self._visible(selector))
        if title is not None:
            self.wait_until(
                f"the input box {title!r}",
                lambda: title in (self.page.eval_on_selector(QUICK_INPUT, "e => e.innerText") or "")
                and self.page.eval_on_selector(QUICK_INPUT_BOX, "e => e.value") == "",
            )
        self.page.keyboard.type(text)
        self.shot("input box filled")
        self.page.keyboard.press("Enter")

    def save(self) -> None:
        self.page.keyboard.press("Control+s")

    def undo(self) -> None:
        self.page.keyboard.press("Control+z")

    def focus_first_group(self) -> None:
        self.page.keyboard.press("Control+1")

    def _show_setting(self, key: str) -> str:
        """Opens the Settings UI filtered to `key`; the selector of its row."""
        self.palette("Preferences: Open User Settings")
        self.wait_until("the Settings editor", lambda: self._visible(".settings-editor"))
        self.wait_until(
            "the settings search box focused",
            lambda: self.page.evaluate("() => !!document.activeElement?.closest('.settings-editor .search-container')"),
            timeout=10,
        )
        self.page.keyboard.press("Control+a")
        self.page.keyboard.type(f"@id:{key}")

        def only_that_setting() -> bool:
            keys = self.page.eval_on_selector_all(
                ".settings-editor .setting-item-contents[data-key]", "els => els.map(e => e.getAttribute('data-key'))"
            )
            return keys == [key]

        self.wait_until(f"the Settings UI to list only {key}", only_that_setting)
        self.shot(f"setting {key}")
        return f".settings-editor .setting-item-contents[data-key='{key}']"

    def setting_input_value(self, key: str) -> str | None:
        """What the Settings UI's input box for `key` holds; None when it offers no input box
        (only "Edit in settings.json")."""
        row = self._show_setting(key)
        value = self.page.eval_on_selector(row, "row => row.querySelector('input')?.value ?? null")
        self.close_editor()
        return value

    def set_setting(self, key: str, value: str) -> None:
        """Types `value` into the setting's input box in the Settings UI (so the setting must
        offer one), waits until VS Code wrote it to the user's settings.json."""
        row = self._show_setting(key)
        if not self.page.query_selector(f"{row} input"):
            raise AssertionError(f"the Settings UI offers no input box for {key} (only 'Edit in settings.json'?)")
        self.page.keyboard.press("ArrowDown")  # from the search box to the list
        self.page.keyboard.press("Enter")  # into the setting's control
        self.wait_until(
            f"the input of {key} focused",
            lambda: self.page.evaluate(
                "(row) => document.activeElement?.tagName === 'INPUT' && !!document.activeElement.closest(row)", row
            ),
            timeout=10,
        )
        self.page.keyboard.press("Control+a")
        self.page.keyboard.type(value)
        self.wait_until(f"{key} = {value!r} written to the user settings", lambda: self.user_setting(key) == value)
        self.shot(f"setting {key} typed")
        self.page.keyboard.press("Escape")
        self.close_editor()

    def user_setting(self, key: str) -> Any:
        """A value of the user's settings.json as VS Code wrote it (None when unreadable)."""
        try:
            return json.loads(self.user_settings.read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            return None

    def clear_notifications(self) -> None:
        self.page.keyboard.press("Escape")
        self.palette("Notifications: Clear All Notifications")
        self.wait_until("no notifications", lambda: not self.notifications(), timeout=10)

    def close_editor(self) -> None:
        self.palette("View: Close Editor")

    def close_all_editors(self) -> None:
        self.palette("View: Close All Editors")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Polls `probe` (outside the browser, e.g. the fake's records) until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.1)

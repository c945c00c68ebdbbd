"""Text helpers a client needs: LSP positions in utf-8 / utf-16 / utf-32 code units, and
applying `TextEdit`s the way an editor does (all ranges refer to the text before the edit)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-16":
        return 2 if ord(char) > 0xFFFF else 1
    if encoding == "utf-32":
        return 1
    raise ValueError(f"unknown position encoding {encoding!r}")


def line_starts(text: str) -> list[int]:
    """Index of the first character of every line (LSP lines: \\n, \\r\\n and \\r break)."""
    starts = [0]
    starts.extend(match.end() for match in _LINE_BREAK.finditer(text))
    return starts


def _line_content_end(text: str, starts: list[int], line: int) -> int:
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    while end > starts[line] and text[end - 1] in "\r\n":
        end -= 1
    return end


def offset_of(text: str, line: int, character: int, encoding: str) -> int:
    """String index of an LSP position; past the end of a line or the text it clamps."""
    starts = line_starts(text)
    if line >= len(starts):
        return len(text)
    index = starts[line]
    end = _line_content_end(text, starts, line)
    units = 0
    while index < end and units < character:
        units += _units(text[index], encoding)
        index += 1
    return index


def position_of(text: str, index: int, encoding: str) -> tuple[int, int]:
    """LSP position (line, character) of a string index."""
    starts = line_starts(text)
    line = max(i for i, start in enumerate(starts) if start <= index)
    character = sum(_units(char, encoding) for char in text[starts[line] : index])
    return line, character


def range_of(text: str, start: int, end: int, encoding: str) -> dict:
    """An LSP range dict for string indexes [start, end)."""
    (start_line, start_char), (end_line, end_char) = position_of(text, start, encoding), position_of(text, end, encoding)
    return {"start": {"line": start_line, "character": start_char}, "end": {"line": end_line, "character": end_char}}


def line_range(text: str, first: int, last: int, encoding: str) -> dict:
    """Whole lines first..last (0-based), ending at the end of the last line's content
    (like a linewise selection in Neovim), not at column 0 of the next line."""
    starts = line_starts(text)
    start = starts[first]
    end = _line_content_end(text, starts, last)
    return range_of(text, start, end, encoding)


@dataclass(frozen=True)
class Edit:
    start_line: int
    start_character: int
    end_line: int
    end_character: int
    new_text: str

    @staticmethod
    def from_lsp(edit) -> "Edit":
        """From an lsprotocol TextEdit or a plain dict."""
        if isinstance(edit, dict):
            rng, new_text = edit["range"], edit["newText"]
            start, end = rng["start"], rng["end"]
            return Edit(start["line"], start["character"], end["line"], end["character"], new_text)
        rng = edit.range
        return Edit(rng.start.line, rng.start.character, rng.end.line, rng.end.character, edit.new_text)


def apply_edits(text: str, edits: Iterable[Edit], encoding: str) -> str:
    """Apply edits whose ranges all refer to `text` (LSP semantics; overlapping is an error)."""
    spans = []
    for order, edit in enumerate(edits):
        start = offset_of(text, edit.start_line, edit.start_character, encoding)
        end = offset_of(text, edit.end_line, edit.end_character, encoding)
        if end < start:
            raise ValueError(f"edit range ends before it starts: {edit}")
        spans.append((start, end, order, edit.new_text))
    spans.sort(key=lambda span: (span[0], span[2]))
    for previous, current in zip(spans, spans[1:]):
        if current[0] < previous[1]:
            raise ValueError("overlapping edits")
    for start, end, _, new_text in reversed(spans):
        text = text[:start] + new_text + text[end:]
    return text


def as_content_changes(edits: Iterable[Edit]) -> list[dict]:
    """The edits as incremental `didChange` content changes, applied one after another:
    from the last position to the first, so earlier ranges stay valid."""
    ordered = sorted(
        enumerate(edits), key=lambda item: (item[1].start_line, item[1].start_character, item[0]), reverse=True
    )
    return [
        {
            "range": {
                "start": {"line": edit.start_line, "character": edit.start_character},
                "end": {"line": edit.end_line, "character": edit.end_character},
            },
            "text": edit.new_text,
        }
        for _, edit in ordered
    ]

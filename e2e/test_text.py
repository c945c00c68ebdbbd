"""Unit tests of the harness's own text helpers (positions in three encodings, applying
edits), so a failing end-to-end test points at chatls, not at the harness."""

from text import Edit, apply_edits, as_content_changes, line_range, offset_of, position_of, range_of

TEXT = 'a = "é😀"; b\r\nsecond\rthird\n'


def test_offsets_per_encoding():
    b_index = TEXT.index("b")
    assert position_of(TEXT, b_index, "utf-8") == (0, 14)
    assert position_of(TEXT, b_index, "utf-16") == (0, 11)
    assert position_of(TEXT, b_index, "utf-32") == (0, 10)
    for encoding in ("utf-8", "utf-16", "utf-32"):
        line, character = position_of(TEXT, b_index, encoding)
        assert offset_of(TEXT, line, character, encoding) == b_index


def test_lines_break_on_crlf_cr_and_lf_and_clamp():
    assert offset_of(TEXT, 1, 0, "utf-16") == TEXT.index("second")
    assert offset_of(TEXT, 2, 0, "utf-16") == TEXT.index("third")
    assert offset_of(TEXT, 1, 99, "utf-16") == TEXT.index("\rthird")
    assert offset_of(TEXT, 9, 0, "utf-16") == len(TEXT)


def test_line_range_ends_at_the_end_of_the_last_line():
    assert line_range(TEXT, 1, 2, "utf-8") == {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 5}}


def test_apply_edits_uses_original_positions_and_keeps_insertion_order():
    text = "one two three"
    edits = [Edit(0, 4, 0, 7, "2"), Edit(0, 0, 0, 0, "A"), Edit(0, 0, 0, 0, "B"), Edit(0, 8, 0, 13, "3")]
    expected = "ABone 2 3"
    assert apply_edits(text, edits, "utf-16") == expected
    # The same edits as sequential didChange content changes give the same text.
    current = text
    for change in as_content_changes(edits):
        start, end = change["range"]["start"], change["range"]["end"]
        single = Edit(start["line"], start["character"], end["line"], end["character"], change["text"])
        current = apply_edits(current, [single], "utf-16")
    assert current == expected


def test_range_of_a_surrogate_pair():
    start = TEXT.index("😀")
    assert range_of(TEXT, start, start + 1, "utf-16")["end"]["character"] - range_of(TEXT, start, start + 1, "utf-16")["start"]["character"] == 2

//! Position encodings (UTF-8, UTF-16, UTF-32 code units) and conversion between
//! line/character positions and char offsets in a `Rope`, with the LSP clamping rules.
//!
//! Rules, following the LSP specification:
//! - a line past the last line means the end of the document;
//! - a `character` past the line's content means the end of that content, before its
//!   line break (`\n`, `\r\n` or `\r`; `\r\n` is one break);
//! - a `character` pointing inside a character that takes several code units (between the
//!   halves of a UTF-16 surrogate pair, inside a UTF-8 sequence) rounds down to the start
//!   of that character;
//! - no input panics.
//!
//! Every conversion is O(log n) in the document size (ropey's indexed metrics), so long
//! lines and large documents stay fast.

use std::ops::Range as CharRange;

use ropey::{Rope, RopeSlice};

/// What can go wrong when looking up or editing a document.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TextError {
    /// The URI names no open document.
    #[error("no open document for {0}")]
    UnknownDocument(String),
    /// A range whose start comes after its end.
    #[error("the range starts after it ends")]
    ReversedRange,
}

/// The unit in which a `Position::character` counts, negotiated once per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum PositionEncoding {
    /// UTF-8 code units (bytes).
    Utf8,
    /// UTF-16 code units, the LSP default and the only one VS Code supports.
    #[default]
    Utf16,
    /// Unicode scalar values (Rust `char`s).
    Utf32,
}

impl PositionEncoding {
    /// The name used in the LSP `positionEncoding` capability.
    pub fn as_str(self) -> &'static str {
        match self {
            PositionEncoding::Utf8 => "utf-8",
            PositionEncoding::Utf16 => "utf-16",
            PositionEncoding::Utf32 => "utf-32",
        }
    }

    /// Parses an LSP encoding name; unknown names give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "utf-8" => Some(PositionEncoding::Utf8),
            "utf-16" => Some(PositionEncoding::Utf16),
            "utf-32" => Some(PositionEncoding::Utf32),
            _ => None,
        }
    }

    /// Picks the encoding from what the client offers: UTF-8 first (the rope's native
    /// unit), then UTF-32, then UTF-16. Nothing offered, or only unknown names, means
    /// UTF-16, which every client must support.
    pub fn negotiate(offered: Option<&[String]>) -> Self {
        let offered = offered.unwrap_or_default();
        let offers = |wanted: PositionEncoding| {
            offered
                .iter()
                .any(|name| PositionEncoding::from_name(name) == Some(wanted))
        };
        [PositionEncoding::Utf8, PositionEncoding::Utf32]
            .into_iter()
            .find(|&encoding| offers(encoding))
            .unwrap_or(PositionEncoding::Utf16)
    }
}

/// A zero-based line and a column counted in the session's `PositionEncoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub fn new(line: u32, character: u32) -> Self {
        Position { line, character }
    }
}

/// A half-open range between two positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

impl Range {
    pub fn new(start: Position, end: Position) -> Self {
        Range { start, end }
    }
}

/// Number of chars in the line break that ends `line` (0, 1 for `\n`/`\r`, 2 for `\r\n`).
fn line_break_len(line: RopeSlice<'_>) -> usize {
    let len = line.len_chars();
    if len == 0 {
        return 0;
    }
    match line.char(len - 1) {
        '\n' if len >= 2 && line.char(len - 2) == '\r' => 2,
        '\n' | '\r' => 1,
        _ => 0,
    }
}

/// The content of line `line_idx` (without its line break) and the char offset where the
/// line starts. The caller guarantees `line_idx < rope.len_lines()`.
fn line_content(rope: &Rope, line_idx: usize) -> (RopeSlice<'_>, usize) {
    let line = rope.line(line_idx);
    let content_len = line.len_chars() - line_break_len(line);
    (line.slice(..content_len), rope.line_to_char(line_idx))
}

/// Converts a position to a char offset, clamping as described in the module docs.
pub fn position_to_char(rope: &Rope, pos: Position, enc: PositionEncoding) -> usize {
    let line_idx = pos.line as usize;
    if line_idx >= rope.len_lines() {
        return rope.len_chars();
    }
    let (content, line_start) = line_content(rope, line_idx);
    let character = pos.character as usize;
    let column = match enc {
        PositionEncoding::Utf32 => character.min(content.len_chars()),
        PositionEncoding::Utf16 => content.utf16_cu_to_char(character.min(content.len_utf16_cu())),
        PositionEncoding::Utf8 => content.byte_to_char(character.min(content.len_bytes())),
    };
    line_start + column
}

/// Converts a char offset to a position. An offset past the end means the end of the
/// document; an offset between the `\r` and `\n` of a `\r\n` (which no position can
/// express) gives the end of that line's content.
pub fn char_to_position(rope: &Rope, char_idx: usize, enc: PositionEncoding) -> Position {
    let char_idx = char_idx.min(rope.len_chars());
    let line_idx = rope.char_to_line(char_idx);
    let (content, line_start) = line_content(rope, line_idx);
    let column = (char_idx - line_start).min(content.len_chars());
    let character = match enc {
        PositionEncoding::Utf32 => column,
        PositionEncoding::Utf16 => content.char_to_utf16_cu(column),
        PositionEncoding::Utf8 => content.char_to_byte(column),
    };
    Position {
        line: u32::try_from(line_idx).unwrap_or(u32::MAX),
        character: u32::try_from(character).unwrap_or(u32::MAX),
    }
}

/// Converts a range to char offsets, clamping both ends. A range whose start comes after
/// its end is an error rather than silently swapped.
pub fn range_to_chars(
    rope: &Rope,
    range: Range,
    enc: PositionEncoding,
) -> Result<CharRange<usize>, TextError> {
    if range.start > range.end {
        return Err(TextError::ReversedRange);
    }
    let start = position_to_char(rope, range.start, enc);
    let end = position_to_char(rope, range.end, enc);
    // Clamping is monotonic, so ordered positions give ordered offsets; checked anyway.
    if start > end {
        return Err(TextError::ReversedRange);
    }
    Ok(start..end)
}

/// Converts char offsets to a range (each end as in `char_to_position`).
pub fn chars_to_range(rope: &Rope, chars: CharRange<usize>, enc: PositionEncoding) -> Range {
    Range {
        start: char_to_position(rope, chars.start, enc),
        end: char_to_position(rope, chars.end, enc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use PositionEncoding::{Utf8, Utf16, Utf32};

    fn pos(line: u32, character: u32) -> Position {
        Position::new(line, character)
    }

    #[test]
    fn negotiation_prefers_utf8_then_utf32_then_utf16() {
        let cases: &[(Option<&[&str]>, PositionEncoding)] = &[
            (None, Utf16),
            (Some(&[]), Utf16),
            (Some(&["utf-16"]), Utf16),
            (Some(&["latin-1", "ebcdic"]), Utf16),
            (Some(&["utf-8", "utf-32", "utf-16"]), Utf8),
            (Some(&["utf-16", "utf-8"]), Utf8),
            (Some(&["utf-16", "utf-32"]), Utf32),
            (Some(&["utf-32"]), Utf32),
            (Some(&["UTF-8"]), Utf16),
        ];
        for (offered, expected) in cases {
            let owned: Option<Vec<String>> =
                offered.map(|names| names.iter().map(|name| name.to_string()).collect());
            assert_eq!(
                PositionEncoding::negotiate(owned.as_deref()),
                *expected,
                "offered {offered:?}"
            );
        }
        assert_eq!(PositionEncoding::default(), Utf16);
    }

    #[test]
    fn names_round_trip() {
        for enc in [Utf8, Utf16, Utf32] {
            assert_eq!(PositionEncoding::from_name(enc.as_str()), Some(enc));
        }
        assert_eq!(Utf8.as_str(), "utf-8");
        assert_eq!(Utf16.as_str(), "utf-16");
        assert_eq!(Utf32.as_str(), "utf-32");
    }

    /// (text, position, encoding, expected char offset)
    #[test]
    fn position_to_char_table() {
        let cases: &[(&str, Position, PositionEncoding, usize)] = &[
            // plain ASCII, LF
            ("abc\ndef", pos(0, 0), Utf16, 0),
            ("abc\ndef", pos(0, 3), Utf16, 3),
            ("abc\ndef", pos(0, 4), Utf16, 3),
            ("abc\ndef", pos(1, 2), Utf8, 6),
            ("abc\ndef", pos(1, 99), Utf32, 7),
            ("abc\ndef", pos(2, 0), Utf16, 7),
            ("abc\ndef", pos(u32::MAX, u32::MAX), Utf8, 7),
            ("abc\n", pos(1, 0), Utf16, 4),
            ("abc\n", pos(1, 5), Utf16, 4),
            ("", pos(0, 0), Utf16, 0),
            ("", pos(3, 3), Utf8, 0),
            // CRLF is one break: past the content clamps before the \r
            ("ab\r\ncd", pos(0, 2), Utf16, 2),
            ("ab\r\ncd", pos(0, 3), Utf16, 2),
            ("ab\r\ncd", pos(0, u32::MAX), Utf8, 2),
            ("ab\r\ncd", pos(1, 0), Utf32, 4),
            ("ab\r\ncd", pos(1, 1), Utf32, 5),
            // lone CR is a break of its own
            ("ab\rcd", pos(0, 9), Utf16, 2),
            ("ab\rcd", pos(1, 1), Utf16, 4),
            ("a\r\rb", pos(1, 5), Utf16, 2),
            ("a\r\rb", pos(2, 1), Utf16, 4),
            // LF CR: two breaks
            ("a\n\rb", pos(1, 1), Utf16, 2),
            ("a\n\rb", pos(2, 0), Utf16, 3),
            // tabs count as one unit
            ("\tx", pos(0, 1), Utf8, 1),
            ("\tx", pos(0, 1), Utf16, 1),
            // é: 2 bytes, 1 UTF-16 unit, 1 char
            ("é=1", pos(0, 1), Utf8, 0),
            ("é=1", pos(0, 2), Utf8, 1),
            ("é=1", pos(0, 1), Utf16, 1),
            ("é=1", pos(0, 1), Utf32, 1),
            // combining mark: e + U+0301 are two chars in every encoding
            ("e\u{301}x", pos(0, 1), Utf16, 1),
            ("e\u{301}x", pos(0, 2), Utf16, 2),
            ("e\u{301}x", pos(0, 3), Utf8, 2),
            ("e\u{301}x", pos(0, 2), Utf8, 1),
            ("e\u{301}x", pos(0, 2), Utf32, 2),
            // 😀: 4 bytes, 2 UTF-16 units (surrogate pair), 1 char
            ("a😀b", pos(0, 1), Utf16, 1),
            ("a😀b", pos(0, 2), Utf16, 1), // inside the pair: round down
            ("a😀b", pos(0, 3), Utf16, 2),
            ("a😀b", pos(0, 4), Utf16, 3),
            ("a😀b", pos(0, 5), Utf16, 3),
            ("a😀b", pos(0, 2), Utf8, 1),
            ("a😀b", pos(0, 4), Utf8, 1),
            ("a😀b", pos(0, 5), Utf8, 2),
            ("a😀b", pos(0, 6), Utf8, 3),
            ("a😀b", pos(0, 2), Utf32, 2),
            ("a😀b", pos(0, 3), Utf32, 3),
            // 𝄞 on the second line of a CRLF document
            ("x\r\n𝄞中\r\n", pos(1, 1), Utf16, 3),
            ("x\r\n𝄞中\r\n", pos(1, 2), Utf16, 4),
            ("x\r\n𝄞中\r\n", pos(1, 3), Utf16, 5),
            ("x\r\n𝄞中\r\n", pos(1, 4), Utf16, 5),
            ("x\r\n𝄞中\r\n", pos(1, 7), Utf8, 5),
            ("x\r\n𝄞中\r\n", pos(1, 6), Utf8, 4),
            ("x\r\n𝄞中\r\n", pos(1, 1), Utf32, 4),
            ("x\r\n𝄞中\r\n", pos(2, 0), Utf32, 7),
        ];
        for &(text, position, enc, expected) in cases {
            let rope = Rope::from_str(text);
            assert_eq!(
                position_to_char(&rope, position, enc),
                expected,
                "{text:?} {position:?} {enc:?}"
            );
        }
    }

    /// (text, char offset, encoding, expected position)
    #[test]
    fn char_to_position_table() {
        let cases: &[(&str, usize, PositionEncoding, Position)] = &[
            ("abc\ndef", 0, Utf16, pos(0, 0)),
            ("abc\ndef", 3, Utf16, pos(0, 3)),
            ("abc\ndef", 4, Utf16, pos(1, 0)),
            ("abc\ndef", 7, Utf16, pos(1, 3)),
            ("abc\ndef", 100, Utf8, pos(1, 3)),
            ("abc\n", 4, Utf8, pos(1, 0)),
            ("", 0, Utf32, pos(0, 0)),
            ("", 5, Utf32, pos(0, 0)),
            ("ab\r\ncd", 2, Utf16, pos(0, 2)),
            ("ab\r\ncd", 3, Utf16, pos(0, 2)), // between \r and \n
            ("ab\r\ncd", 4, Utf16, pos(1, 0)),
            ("ab\rcd", 3, Utf16, pos(1, 0)),
            ("a😀b", 2, Utf16, pos(0, 3)),
            ("a😀b", 2, Utf8, pos(0, 5)),
            ("a😀b", 2, Utf32, pos(0, 2)),
            ("a😀b", 3, Utf16, pos(0, 4)),
            ("é\n中x", 3, Utf8, pos(1, 3)),
            ("é\n中x", 4, Utf16, pos(1, 2)),
            ("e\u{301}\ne", 2, Utf8, pos(0, 3)),
            ("\t\tx", 2, Utf8, pos(0, 2)),
        ];
        for &(text, offset, enc, expected) in cases {
            let rope = Rope::from_str(text);
            assert_eq!(
                char_to_position(&rope, offset, enc),
                expected,
                "{text:?} {offset} {enc:?}"
            );
        }
    }

    #[test]
    fn round_trip_every_char_boundary() {
        let text = "a\tb\r\né😀𝄞\re\u{301}\n中\n\r\n";
        let rope = Rope::from_str(text);
        for enc in [Utf8, Utf16, Utf32] {
            for offset in 0..=rope.len_chars() {
                let position = char_to_position(&rope, offset, enc);
                let back = position_to_char(&rope, position, enc);
                let inside_crlf = offset > 0
                    && rope.char(offset - 1) == '\r'
                    && rope.get_char(offset) == Some('\n');
                let expected = if inside_crlf { offset - 1 } else { offset };
                assert_eq!(back, expected, "{enc:?} offset {offset}");
            }
        }
    }

    #[test]
    fn ranges_clamp_and_reject_reversed() {
        let rope = Rope::from_str("one\r\ntwo😀\n");
        assert_eq!(
            range_to_chars(&rope, Range::new(pos(0, 1), pos(1, 99)), Utf16),
            Ok(1..9)
        );
        assert_eq!(
            range_to_chars(&rope, Range::new(pos(1, 4), pos(1, 5)), Utf16),
            Ok(8..9) // the start is inside the surrogate pair: rounds down to the emoji
        );
        assert_eq!(
            range_to_chars(&rope, Range::new(pos(9, 9), pos(10, 0)), Utf8),
            Ok(10..10)
        );
        assert_eq!(
            range_to_chars(&rope, Range::new(pos(1, 0), pos(0, 3)), Utf8),
            Err(TextError::ReversedRange)
        );
        assert_eq!(
            range_to_chars(&rope, Range::new(pos(0, 2), pos(0, 1)), Utf32),
            Err(TextError::ReversedRange)
        );
        assert_eq!(
            chars_to_range(&rope, 2..10, Utf16),
            Range::new(pos(0, 2), pos(2, 0))
        );
    }

    #[test]
    fn long_line_conversion_uses_indexed_lookups() {
        // A 300k-char line of mixed widths: conversions must agree with a simple count.
        let unit = "aé😀中";
        let line = unit.repeat(75_000);
        let rope = Rope::from_str(&format!("head\n{line}\ntail"));
        let chars_before = 5 + 4 * 70_000 + 2; // into the 70_000th repetition, after 'aé'
        let utf16 = 70_000 * (1 + 1 + 2 + 1) + 2;
        let utf8 = 70_000 * (1 + 2 + 4 + 3) + 3;
        assert_eq!(position_to_char(&rope, pos(1, utf16), Utf16), chars_before);
        assert_eq!(position_to_char(&rope, pos(1, utf8), Utf8), chars_before);
        assert_eq!(char_to_position(&rope, chars_before, Utf16), pos(1, utf16));
        assert_eq!(char_to_position(&rope, chars_before, Utf8), pos(1, utf8));
    }
}

//! The completion request's messages, laid out for the gateway's prefix cache: the constant
//! system prompt, then what stays put while the user types (the file's path and language,
//! the code after the cursor), and last what moves with the cursor (the code before it,
//! ending at the cursor marker). Typing at the cursor only appends to the end of the
//! previous request's text, so consecutive requests share all of it up to the old cursor.
//!
//! Only a window of the file is sent. Its edges are snapped to blocks of lines, so they stay
//! where they are while the cursor moves within a block: moving them every keystroke would
//! change the start of the window and spoil the shared prefix. Pure: no I/O.

use ropey::Rope;

use crate::llm::types::Message;

/// Marks the cursor; the prompt ends with it, and it is removed from any answer that echoes it.
pub const CURSOR_MARKER: &str = "<|cursor|>";

/// The system prompt: a constant, so it is the same bytes in every completion request.
pub const SYSTEM_PROMPT: &str = "You are a code completion engine inside an editor. \
The user message gives a file's path and language, the code after the cursor, and then the code \
before the cursor, which ends at the marker <|cursor|>. Reply with only the text to insert at \
the cursor: no explanation, no markdown fences, no repetition of the code before or after the \
cursor. Complete the current statement, or the current block when the line is empty, and stop. \
Match the file's style and indentation. If nothing useful fits, reply with nothing.";

/// Lines of context before the cursor (at least; the snapped edge adds up to a block more).
pub const BEFORE_LINES: usize = 120;
/// Lines of context after the cursor's line.
pub const AFTER_LINES: usize = 40;
/// Window edges move in steps of this many lines.
pub const LINE_STEP: usize = 32;
/// The most characters sent before the cursor (a file of very long lines).
pub const MAX_BEFORE_CHARS: usize = 12_000;
/// The most characters sent after the cursor.
pub const MAX_AFTER_CHARS: usize = 4_000;
/// Character caps move in steps of this many characters.
const CHAR_STEP: usize = 1_024;

/// The part of a document sent around the cursor, as char offsets of the rope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub cursor: usize,
    pub end: usize,
}

/// The window around `cursor` (a char offset, clamped to the text).
pub fn window(text: &Rope, cursor: usize) -> Window {
    let cursor = cursor.min(text.len_chars());
    let cursor_line = text.char_to_line(cursor);
    let first_line = snap_down(cursor_line.saturating_sub(BEFORE_LINES), LINE_STEP);
    let mut start = text.line_to_char(first_line);
    if cursor - start > MAX_BEFORE_CHARS {
        // Cut in whole steps measured from the file's start, so the edge is stable too.
        start = snap_up(cursor - MAX_BEFORE_CHARS, CHAR_STEP).min(cursor);
    }
    let last_line = snap_up(cursor_line + AFTER_LINES + 1, LINE_STEP);
    let mut end = if last_line >= text.len_lines() {
        text.len_chars()
    } else {
        text.line_to_char(last_line)
    };
    if end - cursor > MAX_AFTER_CHARS {
        end = snap_down(cursor + MAX_AFTER_CHARS, CHAR_STEP).max(cursor);
    }
    Window { start, cursor, end }
}

fn snap_down(value: usize, step: usize) -> usize {
    value - value % step
}

fn snap_up(value: usize, step: usize) -> usize {
    value.div_ceil(step).saturating_mul(step)
}

/// What the prompt says about the file.
#[derive(Clone, Debug)]
pub struct FileInfo<'a> {
    pub path: &'a str,
    pub language: &'a str,
}

/// The system and user messages for a completion at `window` of `text`.
pub fn messages(file: &FileInfo<'_>, text: &Rope, window: Window) -> Vec<Message> {
    let before = text.slice(window.start..window.cursor);
    let after = text.slice(window.cursor..window.end);
    let mut user =
        String::with_capacity(before.len_bytes() + after.len_bytes() + file.path.len() + 160);
    user.push_str("File: ");
    user.push_str(file.path);
    user.push_str("\nLanguage: ");
    user.push_str(file.language);
    user.push_str("\n\nCode after the cursor:\n<after>\n");
    for chunk in after.chunks() {
        user.push_str(chunk);
    }
    user.push_str("\n</after>\n\nCode before the cursor, ending at the cursor:\n<before>\n");
    for chunk in before.chunks() {
        user.push_str(chunk);
    }
    user.push_str(CURSOR_MARKER);
    vec![Message::system(SYSTEM_PROMPT), Message::user(user)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::Content;

    fn user_text(messages: &[Message]) -> String {
        match &messages[1].content {
            Some(Content::Text(text)) => text.clone(),
            other => panic!("unexpected content {other:?}"),
        }
    }

    #[test]
    fn small_file_is_sent_whole_with_the_cursor_last() {
        let text = Rope::from_str("fn main() {\n    let x = \n}\n");
        let cursor = text.line_to_char(1) + 12;
        let window = window(&text, cursor);
        assert_eq!((window.start, window.end), (0, text.len_chars()));
        let file = FileInfo {
            path: "src/main.rs",
            language: "rust",
        };
        let messages = messages(&file, &text, window);
        assert_eq!(messages[0], Message::system(SYSTEM_PROMPT));
        let user = user_text(&messages);
        assert!(
            user.starts_with("File: src/main.rs\nLanguage: rust\n"),
            "{user}"
        );
        assert!(user.contains("<after>\n\n}\n\n</after>"), "{user}");
        assert!(
            user.ends_with("<before>\nfn main() {\n    let x = <|cursor|>"),
            "{user}"
        );
    }

    #[test]
    fn typing_only_appends_to_the_previous_prompt() {
        let lines: Vec<String> = (0..2000).map(|n| format!("let v{n} = {n};\n")).collect();
        let mut text = Rope::from_str(&lines.concat());
        let file = FileInfo {
            path: "big.rs",
            language: "rust",
        };
        let mut cursor = text.line_to_char(1000);
        let first = user_text(&messages(&file, &text, window(&text, cursor)));
        text.insert(cursor, "abc");
        cursor += 3;
        let second = user_text(&messages(&file, &text, window(&text, cursor)));
        assert!(second.starts_with(&first[..first.len() - CURSOR_MARKER.len()]));
        assert!(second.ends_with(&format!("abc{CURSOR_MARKER}")));
        // A window, not the whole file.
        assert!(second.len() < 12_000, "{}", second.len());
        assert!(!second.contains("let v0 = 0;") && !second.contains("let v1999"));
    }

    #[test]
    fn window_edges_are_stable_within_a_block_and_capped() {
        let text = Rope::from_str(&"x\n".repeat(1000));
        let a = window(&text, text.line_to_char(500));
        let b = window(&text, text.line_to_char(501));
        assert_eq!((a.start, a.end), (b.start, b.end));
        assert!(a.cursor - a.start >= BEFORE_LINES * 2);
        // One enormous line: capped on both sides, edges in whole steps.
        let long = Rope::from_str(&"y".repeat(100_000));
        let w = window(&long, 50_000);
        assert!(w.cursor - w.start <= MAX_BEFORE_CHARS && w.end - w.cursor <= MAX_AFTER_CHARS);
        assert_eq!(window(&long, 50_001).start, w.start);
        // The cursor past the end is clamped.
        let w = window(&long, 1_000_000);
        assert_eq!(w.cursor, long.len_chars());
        let empty = Rope::new();
        assert_eq!(
            window(&empty, 3),
            Window {
                start: 0,
                cursor: 0,
                end: 0
            }
        );
    }
}

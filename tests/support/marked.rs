//! Edit cases written as text: a document with the selection marked in it (`«` where it
//! starts, `»` where it ends, or `‸` for a bare cursor), and expected documents compared
//! as text, with a line diff on failure instead of two escaped strings.

use serde_json::{Value, json};

/// Where the selection starts.
pub const START: char = '«';
/// Where the selection ends.
pub const END: char = '»';
/// A cursor: an empty selection.
pub const CURSOR: char = '‸';

/// A document with its selection taken out of the marks.
#[derive(Clone, Debug)]
pub struct Marked {
    /// The text without the marks.
    pub text: String,
    /// The selection as an LSP range (utf-16 positions, as the bare client and VS Code use;
    /// the same as utf-8 and utf-32 for text without wide characters before the marks).
    pub range: Value,
}

fn position(text: &str) -> Value {
    let line = text.matches('\n').count();
    let line_start = text.rfind('\n').map_or(0, |at| at + 1);
    let character: usize = text[line_start..].encode_utf16().count();
    json!({"line": line, "character": character})
}

/// Reads the marks out of `marked`: exactly one `«`…`»` pair or one `‸`.
pub fn marked(marked: &str) -> Marked {
    let mut text = String::with_capacity(marked.len());
    let (mut start, mut end) = (None, None);
    for c in marked.chars() {
        match c {
            START => {
                assert!(start.is_none(), "two {START} in {marked:?}");
                start = Some(position(&text));
            }
            END => {
                assert!(end.is_none(), "two {END} in {marked:?}");
                end = Some(position(&text));
            }
            CURSOR => {
                assert!(start.is_none(), "two selections in {marked:?}");
                start = Some(position(&text));
                end = start.clone();
            }
            _ => text.push(c),
        }
    }
    let (Some(start), Some(end)) = (start, end) else {
        panic!("no selection ({START}…{END} or {CURSOR}) in {marked:?}");
    };
    Marked {
        text,
        range: json!({"start": start, "end": end}),
    }
}

/// Shows what a line holds that a terminal hides: `\r` and tabs.
fn visible(line: &str) -> String {
    line.replace('\r', "␍").replace('\t', "→   ")
}

/// Fails with a line diff (`-` expected, `+` actual) when the texts differ.
#[track_caller]
pub fn assert_text(actual: &str, expected: &str, what: &str) {
    if actual == expected {
        return;
    }
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut shown = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        let line = change.value();
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, ""),
            None => (line, "  (no newline at the end)"),
        };
        shown.push_str(&format!("{sign} {}{newline}\n", visible(body)));
    }
    panic!("{what}: the text differs (- expected, + actual):\n{shown}");
}

//! Text from outside made fit for a line of a tool's output: one line, cut with an ellipsis,
//! names escaped so they can never start a line of their own. It never reads or judges paths.

/// `text` on one line, at most `max` characters (an ellipsis marks the cut).
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// A file name for tool output: control characters (newlines, carriage returns, escape
/// sequences), Unicode line separators and bidirectional overrides are written as escapes
/// (`\n`, `\u{202e}`), so a name can never start a line of its own or reorder one.
pub(crate) fn escape_name(name: &str) -> String {
    if !name.chars().any(needs_escape) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Appends `line` and a newline unless that would pass `max_chars`; false when it didn't fit.
pub(crate) fn push_line(out: &mut String, line: &str, max_chars: usize) -> bool {
    if out.len() + line.len() + 1 > max_chars {
        return false;
    }
    out.push_str(line);
    out.push('\n');
    true
}

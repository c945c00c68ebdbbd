//! Streamed edits, the pure part: which complete lines of an answer still being written form
//! the replacement so far, and how often the buffer may be rewritten. The delivery (edits in
//! the editor, restoring the original) is `lsp::run::stream`.
//!
//! Only code inside the answer's first fenced block is streamed, and only whole lines: a
//! line still being written could be anything, and a fence not yet opened means the answer
//! may turn out to be prose. A `diff` block is never streamed (its lines are not the code).
//! The final answer is judged by `answer::classify` as always; what streamed is only a view.

use std::time::Duration;

use crate::answer::edits::{Layout, reindent_with};

/// The shortest time between two streamed edits: at most about 5 a second.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The complete code lines of the first fenced block of `partial` (each with its `\n`), or
/// `None` while no block has opened, or when it is a diff. Stops at the closing fence.
pub fn complete_code_lines(partial: &str) -> Option<&str> {
    let mut offset = 0;
    let mut opened: Option<usize> = None;
    for line in partial.split_inclusive('\n') {
        let end = offset + line.len();
        if !line.ends_with('\n') {
            // Being written: neither a fence nor a code line yet.
            break;
        }
        let trimmed = line.trim();
        match opened {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let language = info.trim().to_ascii_lowercase();
                    if language == "diff" || language == "patch" {
                        return None;
                    }
                    opened = Some(end);
                }
            }
            Some(start) => {
                if trimmed.starts_with("```") {
                    return Some(&partial[start..offset]);
                }
            }
        }
        offset = end;
    }
    opened.map(|start| &partial[start..offset])
}

/// What the selection shows while the answer streams: its complete code lines so far,
/// indented and with line breaks like the original (see `edits::reindent_with`). `None`
/// while there is nothing to show yet.
pub fn replacement_so_far(partial: &str, original: &str, layout: &Layout<'_>) -> Option<String> {
    let code = complete_code_lines(partial)?;
    if code.trim().is_empty() {
        return None;
    }
    Some(reindent_with(code, original, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_lines_inside_the_first_fence() {
        assert_eq!(complete_code_lines(""), None);
        assert_eq!(complete_code_lines("Here you go:\n"), None);
        assert_eq!(complete_code_lines("Here you go:\n```rust"), None);
        assert_eq!(complete_code_lines("Here:\n```rust\n"), Some(""));
        assert_eq!(complete_code_lines("Here:\n```rust\nfn a() {"), Some(""));
        assert_eq!(
            complete_code_lines("Here:\n```rust\nfn a() {\n    1"),
            Some("fn a() {\n")
        );
        assert_eq!(
            complete_code_lines("```\nx = 1\ny = 2\n```\nMore text\n```\nz\n```\n"),
            Some("x = 1\ny = 2\n")
        );
        // A closing fence still being written is not code.
        assert_eq!(complete_code_lines("```\nx = 1\n``"), Some("x = 1\n"));
        assert_eq!(complete_code_lines("```diff\n-a\n+b\n"), None);
        assert_eq!(complete_code_lines("no fence\nat all\n"), None);
        // CRLF and tabs are kept as written.
        assert_eq!(
            complete_code_lines("```\r\n\tx = 1\r\ny"),
            Some("\tx = 1\r\n")
        );
    }

    #[test]
    fn the_replacement_so_far_is_indented_like_the_original() {
        let layout = Layout {
            eol: "\n",
            style: None,
        };
        let original = "    let x = 1;\r\n    let y = 2;\r\n";
        assert_eq!(
            replacement_so_far("```rust\nlet x = 2;\nlet", original, &layout).as_deref(),
            Some("    let x = 2;\r\n")
        );
        assert_eq!(replacement_so_far("```rust\n\n", original, &layout), None);
        assert_eq!(replacement_so_far("Sure, ", original, &layout), None);
    }
}

//! The parts of one action request that the language server and `chatls ask` build alike:
//! the characters a selection stands for (an editor range or a span of lines), the
//! workspace a change stages into, and a failure told as a sentence. Pure apart from what
//! it is handed; never touches LSP, the terminal or the disk.

use std::ops::Range;
use std::sync::Arc;

use ropey::Rope;

use crate::action::engine::{ActionError, Workspace};
use crate::action::{ActionRow, RowKind};
use crate::llm::error::LlmError;
use crate::tools::Staging;

/// The characters an editor's selection (`chars` of `text`) stands for. An empty range means
/// its whole line without the line break. A selection that starts inside its line's
/// indentation (a charwise selection from the first non-blank column, say) is widened to the
/// line start, so the replacement is re-indented from the real base indent.
pub fn selection_from_range(text: &Rope, chars: Range<usize>) -> Range<usize> {
    let line = text.char_to_line(chars.start.min(text.len_chars()));
    let line_start = text.line_to_char(line);
    if chars.is_empty() {
        let content: String = text.line(line).chars().collect();
        let kept = content.trim_end_matches(['\n', '\r']).chars().count();
        return line_start..line_start + kept;
    }
    let only_indent = text
        .slice(line_start..chars.start)
        .chars()
        .all(|c| c == ' ' || c == '\t');
    if only_indent {
        line_start..chars.end
    } else {
        chars
    }
}

/// Lines `first..=last` of `text` (1-based, as `FILE:10-20` writes them); a `last` past the
/// end stops at the end. `Err` carries the number of lines when `first` is past the end.
pub fn selection_from_lines(text: &Rope, first: usize, last: usize) -> Result<Range<usize>, usize> {
    let total = text.len_lines();
    if first == 0 || first > total {
        return Err(total);
    }
    let start = text.line_to_char(first - 1);
    let end = if last >= total {
        text.len_chars()
    } else {
        text.line_to_char(last.max(first))
    };
    Ok(start..end)
}

/// Sets up the overlay a change across files stages into, when `row` is one: its tools then
/// read and edit through it. `None` for every other row.
pub fn stage_changes(
    workspace: &mut Workspace,
    row: &ActionRow,
    max_files: u32,
) -> Option<Arc<Staging>> {
    (row.kind == RowKind::Workspace).then(|| {
        let staging = Arc::new(Staging::new(max_files as usize));
        workspace.toolbox = workspace.toolbox.with_staging(Arc::clone(&staging));
        staging
    })
}

/// An action's failure as one sentence. A 404 names the model and says how to pick another
/// (`pick`: the way this front end offers) or to check the base URL.
pub fn explain_error(error: &ActionError, model: &str, pick: &str) -> String {
    match error {
        ActionError::Upstream(LlmError::NotFound { url, upstream }) => format!(
            "unknown model \"{model}\" (404){}: pick another with {pick}; if the model is right, check the base URL ({url})",
            upstream
                .as_deref()
                .map(|said| format!(" (upstream said: {said})"))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rope(text: &str) -> Rope {
        Rope::from_str(text)
    }

    #[test]
    fn an_empty_range_is_its_line_without_the_break() {
        let text = rope("one\r\n    two\nthree");
        let at = text.line_to_char(1) + 6;
        let selected = selection_from_range(&text, at..at);
        assert_eq!(text.slice(selected).to_string(), "    two");
        let last = text.len_chars();
        let selected = selection_from_range(&text, last..last);
        assert_eq!(text.slice(selected).to_string(), "three");
    }

    #[test]
    fn a_selection_from_the_first_non_blank_takes_in_the_indent() {
        let text = rope("fn f() {\n    let x = 1;\n}\n");
        let start = text.line_to_char(1) + 4;
        let selected = selection_from_range(&text, start..text.line_to_char(2));
        assert_eq!(text.slice(selected).to_string(), "    let x = 1;\n");
        // Starting after code on the line keeps the selection as it is.
        let start = text.line_to_char(1) + 8;
        let selected = selection_from_range(&text, start..start + 5);
        assert_eq!(text.slice(selected).to_string(), "x = 1");
    }

    #[test]
    fn lines_are_one_based_and_inclusive_and_stop_at_the_end() {
        let text = rope("a\nb\nc\n");
        let pick = |first, last| {
            selection_from_lines(&text, first, last).map(|range| text.slice(range).to_string())
        };
        assert_eq!(pick(2, 2), Ok("b\n".to_owned()));
        assert_eq!(pick(1, 2), Ok("a\nb\n".to_owned()));
        assert_eq!(pick(2, 99), Ok("b\nc\n".to_owned()));
        assert_eq!(pick(5, 6), Err(4));
        assert_eq!(pick(0, 1), Err(4));
    }

    #[test]
    fn a_404_names_the_model_and_the_way_to_pick_another() {
        let error = ActionError::Upstream(LlmError::NotFound {
            url: "http://127.0.0.1:1/v1/chat/completions".to_owned(),
            upstream: Some("no such model".to_owned()),
        });
        let said = explain_error(&error, "gpt-x", "--model");
        assert!(said.starts_with("unknown model \"gpt-x\" (404) (upstream said: no such model)"));
        assert!(said.contains("pick another with --model;"), "{said}");
        assert!(
            said.contains("check the base URL (http://127.0.0.1:1/"),
            "{said}"
        );
    }
}

//! From an answer to the edits to send, pure: take the replacement from the answer, move the
//! selection through whatever the user typed since the action began, refuse when the
//! selected text itself changed, and diff the selection against the replacement into
//! minimal edits in the current document.

use crate::action::ActionInput;
use crate::answer::edits::{
    CharEdit, IndentStyle, Layout, indent_style, line_ending_of, minimal_edits, reindent_with,
};
use crate::answer::patch::{PatchError, apply_diff};
use crate::answer::{AnswerCode, NoCode, classify};
use crate::text::{Document, rebase_range};

/// Why an answer is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApplied {
    #[error("the selected code changed while the model was answering, so nothing was applied")]
    SelectionChanged,
    #[error("too many edits happened while the model was answering, so nothing was applied")]
    HistoryLost,
    #[error("the answer contains no code to apply, so nothing was changed")]
    NoCode,
    #[error("the model says the code needs no change (or declined), so nothing was changed")]
    Refusal,
    #[error("the answer is prose, not code, so nothing was changed")]
    Prose,
    #[error(
        "the answer's only code is a `{0}` block, not code for the selection, so nothing was changed"
    )]
    OtherLanguage(String),
    #[error(
        "the answer's code does not look like a replacement for the selection (an example?), so nothing was changed"
    )]
    Unrelated,
    #[error(
        "the answer is a diff that does not apply to the selected code ({0}), so nothing was changed"
    )]
    Diff(PatchError),
    #[error("the model's answer is the same as the selected code; nothing to change")]
    Unchanged,
    #[error(
        "the answer stopped at the token limit before the code was complete, so nothing was applied; raise maxTokens or select less"
    )]
    Truncated,
}

impl NotApplied {
    /// Whether the person should see the model's answer: it was read and judged not to be
    /// code for the selection, so showing it is the only way it is not lost.
    pub fn shows_answer(&self) -> bool {
        matches!(
            self,
            NotApplied::NoCode
                | NotApplied::Refusal
                | NotApplied::Prose
                | NotApplied::OtherLanguage(_)
                | NotApplied::Unrelated
                | NotApplied::Diff(_)
        )
    }
}

impl From<NoCode> for NotApplied {
    fn from(reason: NoCode) -> Self {
        match reason {
            NoCode::Empty => NotApplied::NoCode,
            NoCode::Refusal => NotApplied::Refusal,
            NoCode::Prose => NotApplied::Prose,
            NoCode::OtherLanguage(language) => NotApplied::OtherLanguage(language),
            NoCode::Unrelated => NotApplied::Unrelated,
        }
    }
}

/// Edits in the current text of `document` (char offsets) and the version they apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPlan {
    pub version: i32,
    pub edits: Vec<CharEdit>,
}

/// The replacement for the selection and its edits relative to the selection's start:
/// everything that does not need the current document, so the diffing (which can take a
/// while on a big answer) runs before the document is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    original: String,
    edits: Vec<CharEdit>,
}

impl Prepared {
    /// The selected text as it was when the action began.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The whole replacement of the selection.
    pub fn replacement(&self) -> String {
        crate::answer::edits::apply_edits(&self.original, &self.edits)
    }
}

/// How many lines of the document are read for its line ending and indentation style.
const LAYOUT_SAMPLE_LINES: usize = 2000;

/// The line ending and indentation style of the document the selection is in (`\n` when it
/// has no line break).
pub fn document_layout(input: &ActionInput) -> (&'static str, Option<IndentStyle>) {
    let lines: Vec<String> = input
        .text
        .lines()
        .take(LAYOUT_SAMPLE_LINES)
        .map(|line| line.to_string())
        .collect();
    let eol = lines
        .iter()
        .take(64)
        .find_map(|line| line_ending_of(line))
        .unwrap_or("\n");
    (eol, indent_style(lines.iter().map(String::as_str)))
}

/// Takes the replacement from the answer and diffs it against the selection, refusing an
/// answer the upstream cut at its token limit (a half-written replacement must never land in
/// the user's code), one with no code for the selection (see `answer::classify`), a diff
/// that does not apply to the selection, and one that changes nothing.
pub fn prepare(input: &ActionInput, answer: &str, truncated: bool) -> Result<Prepared, NotApplied> {
    if truncated {
        return Err(NotApplied::Truncated);
    }
    let original = input.selected_text();
    let replacement = match classify(answer, &original, &input.language_id) {
        AnswerCode::Code(code) => {
            let (eol, style) = document_layout(input);
            reindent_with(&code, &original, &Layout { eol, style })
        }
        AnswerCode::Diff(diff) => apply_diff(&original, &diff).map_err(NotApplied::Diff)?,
        AnswerCode::None(reason) => return Err(reason.into()),
    };
    if replacement.trim().is_empty() && !original.trim().is_empty() {
        return Err(NotApplied::NoCode);
    }
    if replacement == original {
        return Err(NotApplied::Unchanged);
    }
    let edits = minimal_edits(&original, &replacement);
    Ok(Prepared { original, edits })
}

/// Places prepared edits in the document as it is now: moves the selection through what the
/// user typed since the action began and refuses when the selected text itself changed.
/// Cheap (no diffing), so it can run under the document's lock.
pub fn place(
    document: &Document,
    input: &ActionInput,
    prepared: &Prepared,
) -> Result<EditPlan, NotApplied> {
    let changes = document
        .changes_since(input.version)
        .ok_or(NotApplied::HistoryLost)?;
    let moved =
        rebase_range(input.selection.clone(), &changes).ok_or(NotApplied::SelectionChanged)?;
    if moved.end > document.text().len_chars()
        || document.text().slice(moved.clone()) != prepared.original.as_str()
    {
        return Err(NotApplied::SelectionChanged);
    }
    let edits = prepared
        .edits
        .iter()
        .map(|edit| CharEdit {
            start: edit.start + moved.start,
            end: edit.end + moved.start,
            new_text: edit.new_text.clone(),
        })
        .collect();
    Ok(EditPlan {
        version: document.version,
        edits,
    })
}

/// [`prepare`] then [`place`], for callers that hold the document anyway.
pub fn plan_outcome(
    document: &Document,
    input: &ActionInput,
    answer: &str,
    truncated: bool,
) -> Result<EditPlan, NotApplied> {
    place(document, input, &prepare(input, answer, truncated)?)
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::*;
    use crate::answer::edits::apply_edits;
    use crate::text::{Position, PositionEncoding, Range, TextChange};

    const TEXT: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";

    fn input(document: &Document, selection: std::ops::Range<usize>) -> ActionInput {
        ActionInput {
            action: crate::action::table::builtin_rows().remove(1),
            uri: "file:///a.rs".into(),
            path: None,
            display_path: "a.rs".into(),
            language_id: "rust".into(),
            text: document.text().clone(),
            version: document.version,
            selection,
            instruction: None,
            diagnostics: Vec::new(),
            with_context: true,
        }
    }

    fn insert(document: &mut Document, version: i32, line: u32, character: u32, text: &str) {
        let at = Position { line, character };
        document
            .apply_changes(
                version,
                &[TextChange {
                    range: Some(Range { start: at, end: at }),
                    text: text.into(),
                }],
                PositionEncoding::Utf16,
            )
            .unwrap();
    }

    fn selection_of_line_1() -> std::ops::Range<usize> {
        let rope = Rope::from_str(TEXT);
        rope.line_to_char(1)..rope.line_to_char(2)
    }

    #[test]
    fn applies_minimal_edits_keeping_indentation() {
        let document = Document::new(TEXT, 3, "rust");
        let action = input(&document, selection_of_line_1());
        let plan = plan_outcome(
            &document,
            &action,
            "Sure:\n```rust\nlet x = 2;\n```\n",
            false,
        )
        .unwrap();
        assert_eq!(plan.version, 3);
        let after = apply_edits(TEXT, &plan.edits);
        assert_eq!(after, TEXT.replace("let x = 1;", "let x = 2;"));
        assert!(
            plan.edits.iter().all(|edit| edit.end - edit.start <= 2),
            "{:?}",
            plan.edits
        );
    }

    #[test]
    fn typing_above_moves_the_edit() {
        let mut document = Document::new(TEXT, 1, "rust");
        let action = input(&document, selection_of_line_1());
        insert(&mut document, 2, 0, 0, "// header\n");
        let plan = plan_outcome(&document, &action, "```\nlet y = 1;\n```", false).unwrap();
        assert_eq!(plan.version, 2);
        let current = document.text().to_string();
        assert_eq!(
            apply_edits(&current, &plan.edits),
            format!("// header\n{}", TEXT.replace("let x = 1;", "let y = 1;"))
        );
    }

    #[test]
    fn typing_inside_the_selection_refuses() {
        let mut document = Document::new(TEXT, 1, "rust");
        let action = input(&document, selection_of_line_1());
        insert(&mut document, 2, 1, 8, "mut ");
        assert_eq!(
            plan_outcome(&document, &action, "```\nlet y = 1;\n```", false),
            Err(NotApplied::SelectionChanged)
        );
    }

    #[test]
    fn a_one_line_selection_in_a_crlf_document_gets_crlf_lines() {
        let text = "fn main() {\r\n    let x = 1;\r\n}\r\n";
        let document = Document::new(text, 1, "rust");
        let rope = Rope::from_str(text);
        let start = rope.line_to_char(1);
        let end = start + "    let x = 1;".len();
        let action = input(&document, start..end);
        let plan = plan_outcome(
            &document,
            &action,
            "```\nlet x = 1;\nlet y = 2;\n```",
            false,
        )
        .unwrap();
        assert_eq!(
            apply_edits(text, &plan.edits),
            "fn main() {\r\n    let x = 1;\r\n    let y = 2;\r\n}\r\n"
        );
    }

    #[test]
    fn a_truncated_answer_is_never_applied() {
        let document = Document::new(TEXT, 1, "rust");
        let action = input(&document, selection_of_line_1());
        assert_eq!(
            plan_outcome(&document, &action, "```rust\nlet x = 2;\nlet y", true),
            Err(NotApplied::Truncated)
        );
    }

    #[test]
    fn empty_and_unchanged_answers_are_not_applied() {
        let document = Document::new(TEXT, 1, "rust");
        let action = input(&document, selection_of_line_1());
        assert_eq!(
            plan_outcome(&document, &action, "```\n```", false),
            Err(NotApplied::NoCode)
        );
        assert_eq!(
            plan_outcome(&document, &action, "```rust\nlet x = 1;\n```", false),
            Err(NotApplied::Unchanged)
        );
    }
}

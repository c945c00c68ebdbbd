//! From an answer to the edits to send, pure: take the replacement from the answer, move the
//! selection through whatever the user typed since the action began, refuse when the
//! selected text itself changed, and diff the selection against the replacement into
//! minimal edits in the current document.

use crate::action::ActionInput;
use crate::edits::{CharEdit, minimal_edits, replacement_for};
use crate::text::{Document, rebase_range};

/// Why an answer is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApplied {
    #[error("the document was closed before the answer arrived")]
    DocumentClosed,
    #[error("the selected code changed while the model was answering, so nothing was applied")]
    SelectionChanged,
    #[error("too many edits happened while the model was answering, so nothing was applied")]
    HistoryLost,
    #[error("the answer contains no code to apply")]
    NoCode,
    #[error("the model's answer is the same as the selected code; nothing to change")]
    Unchanged,
    #[error(
        "the answer stopped at the token limit before the code was complete, so nothing was applied; raise maxTokens or select less"
    )]
    Truncated,
}

/// Edits in the current text of `document` (char offsets) and the version they apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPlan {
    pub version: i32,
    pub edits: Vec<CharEdit>,
    /// The replacement text for the whole (moved) selection.
    pub replacement: String,
}

/// Plans the edit of an answer against the document as it is now.
pub fn plan(
    document: &Document,
    input: &ActionInput,
    answer: &str,
) -> Result<EditPlan, NotApplied> {
    plan_outcome(document, input, answer, false)
}

/// [`plan`], refusing an answer the upstream cut at its token limit: a half-written
/// replacement must never land in the user's code.
pub fn plan_outcome(
    document: &Document,
    input: &ActionInput,
    answer: &str,
    truncated: bool,
) -> Result<EditPlan, NotApplied> {
    if truncated {
        return Err(NotApplied::Truncated);
    }
    let original = input.selected_text();
    let replacement = replacement_for(answer, &original);
    if replacement.trim().is_empty() && !original.trim().is_empty() {
        return Err(NotApplied::NoCode);
    }
    if replacement == original {
        return Err(NotApplied::Unchanged);
    }
    let changes = document
        .changes_since(input.version)
        .ok_or(NotApplied::HistoryLost)?;
    let moved =
        rebase_range(input.selection.clone(), &changes).ok_or(NotApplied::SelectionChanged)?;
    if moved.end > document.text().len_chars()
        || document.text().slice(moved.clone()) != original.as_str()
    {
        return Err(NotApplied::SelectionChanged);
    }
    let edits = minimal_edits(&original, &replacement)
        .into_iter()
        .map(|edit| CharEdit {
            start: edit.start + moved.start,
            end: edit.end + moved.start,
            new_text: edit.new_text,
        })
        .collect();
    Ok(EditPlan {
        version: document.version,
        edits,
        replacement,
    })
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::*;
    use crate::action::ActionKind;
    use crate::edits::apply_edits;
    use crate::text::{Position, PositionEncoding, Range, TextChange};

    const TEXT: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";

    fn input(document: &Document, selection: std::ops::Range<usize>) -> ActionInput {
        ActionInput {
            kind: ActionKind::Refactor,
            uri: "file:///a.rs".into(),
            path: None,
            display_path: "a.rs".into(),
            language_id: "rust".into(),
            text: document.text().clone(),
            version: document.version,
            selection,
            instruction: None,
            diagnostics: Vec::new(),
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
        let plan = plan(&document, &action, "Sure:\n```rust\nlet x = 2;\n```\n").unwrap();
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
        let plan = plan(&document, &action, "```\nlet y = 1;\n```").unwrap();
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
            plan(&document, &action, "```\nlet y = 1;\n```"),
            Err(NotApplied::SelectionChanged)
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
            plan(&document, &action, "```\n```"),
            Err(NotApplied::NoCode)
        );
        assert_eq!(
            plan(&document, &action, "```rust\nlet x = 1;\n```"),
            Err(NotApplied::Unchanged)
        );
    }
}

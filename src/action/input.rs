//! What one run of an action is about, as plain data: its row of the action table, a
//! snapshot of the document and the selection (char offsets into that snapshot), the user's
//! instruction (or question) and the diagnostics of the range. Built by the LSP edge or the
//! CLI, read by the prompt builder and the engine.

use std::ops::Range;
use std::path::PathBuf;

use ropey::Rope;

use crate::action::table::{ActionRow, RowKind};
use crate::tools::FileDiagnostic;

/// A snapshot of everything an action needs, taken when it starts.
#[derive(Clone, Debug)]
pub struct ActionInput {
    /// The row of the action table being run.
    pub action: ActionRow,
    pub uri: String,
    /// The file on disk, when the document is a `file:` URI.
    pub path: Option<PathBuf>,
    /// The path as shown to the model: workspace-relative where possible.
    pub display_path: String,
    pub language_id: String,
    pub text: Rope,
    pub version: i32,
    /// Char offsets into `text`.
    pub selection: Range<usize>,
    pub instruction: Option<String>,
    pub diagnostics: Vec<FileDiagnostic>,
    /// Whether the prompt shows the file around the selection. False for a follow-up in a
    /// transcript, whose code is already in the conversation's history.
    pub with_context: bool,
}

impl ActionInput {
    /// Whether the answer is applied to the document as an edit.
    pub fn edits(&self) -> bool {
        self.action.kind == RowKind::Edit
    }

    pub fn selected_text(&self) -> String {
        self.text.slice(self.selection.clone()).to_string()
    }

    /// 0-based first and last line of the selection.
    pub fn selected_lines(&self) -> (usize, usize) {
        let first = self.text.char_to_line(self.selection.start);
        let mut last = self.text.char_to_line(self.selection.end);
        // A selection ending at column 0 of a line does not include that line.
        if last > first && self.text.line_to_char(last) == self.selection.end {
            last -= 1;
        }
        (first, last)
    }
}

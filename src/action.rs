//! What one action is about, as plain data: the kind, a snapshot of the document and the
//! selection (char offsets into that snapshot), the user's instruction and the diagnostics
//! of the range. Built by the LSP edge or the CLI, read by the prompt builder and the engine.

use std::ops::Range;
use std::path::PathBuf;

use ropey::Rope;

use crate::tools::FileDiagnostic;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Explain,
    Refactor,
    Fix,
}

impl ActionKind {
    pub const ALL: [ActionKind; 3] = [ActionKind::Explain, ActionKind::Refactor, ActionKind::Fix];

    /// `explain`, `refactor`, `fix`: the CLI word and the suffix of the `chatls.*` command.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Explain => "explain",
            ActionKind::Refactor => "refactor",
            ActionKind::Fix => "fix",
        }
    }

    pub fn parse(word: &str) -> Option<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == word)
    }

    pub fn command(self) -> &'static str {
        match self {
            ActionKind::Explain => "chatls.explain",
            ActionKind::Refactor => "chatls.refactor",
            ActionKind::Fix => "chatls.fix",
        }
    }

    pub fn from_command(command: &str) -> Option<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .find(|kind| kind.command() == command)
    }

    /// The code action's title.
    pub fn title(self) -> &'static str {
        match self {
            ActionKind::Explain => "Explain with AI",
            ActionKind::Refactor => "Refactor with AI",
            ActionKind::Fix => "Fix with AI",
        }
    }

    /// Whether the answer is applied to the document as an edit.
    pub fn edits(self) -> bool {
        !matches!(self, ActionKind::Explain)
    }
}

/// A snapshot of everything an action needs, taken when it starts.
#[derive(Clone, Debug)]
pub struct ActionInput {
    pub kind: ActionKind,
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
}

impl ActionInput {
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

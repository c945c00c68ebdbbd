//! What the client said it can do (from `initialize`), reduced to the facts chatls acts on.
//! Plain data, taken once per session.

use crate::text::PositionEncoding;

/// What the client said it can do, reduced to what chatls needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientFacts {
    pub encoding: PositionEncoding,
    pub work_done_progress: bool,
    pub show_document: bool,
    pub document_changes: bool,
    pub configuration: bool,
    /// The client declares `textDocument.inlineCompletion` (LSP 3.18).
    pub inline_completion: bool,
    /// The client declares `workspace.workspaceEdit.changeAnnotationSupport`.
    pub change_annotations: bool,
    /// The client declares `workspace.workspaceEdit.resourceOperations` with `create`.
    pub create_files: bool,
}

//! From a model's answer to edits of the selection, pure: classify what the answer holds,
//! pick its code out of fences, reindent it, apply a diff the model wrote, diff the result
//! against the selection, and the streamed view of an answer still being written. Never
//! does I/O and knows no LSP types: delivering the edits is `lsp::run`'s job.

pub mod apply;
pub mod classify;
pub mod edits;
pub mod patch;
pub mod stream;

pub use classify::*;

//! One action from the table to the model's answer: the action table and its template
//! grammar, the snapshot an action runs on (`input`), the prompt built from it and the
//! engine that runs the request with its tool loop. Shared by the language server and the
//! CLI; never touches the LSP connection or the editor's documents.

pub mod engine;
pub mod input;
pub mod prompt;
pub mod request;
pub mod rules;
pub mod table;
pub mod template;

pub use input::*;
pub use table::{ActionRow, RowKind};

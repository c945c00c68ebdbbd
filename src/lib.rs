//! chatls: a language server that turns "Explain", "Refactor" and "Fix" code actions into
//! chat-completions requests, lets the model read the workspace through tools, and applies
//! the answer as a versioned edit. See ARCHITECTURE.md for the code map.

pub mod action;
pub mod answer;
pub mod chat;
pub mod cli;
pub mod completion;
pub mod config;
pub mod display;
pub mod llm;
pub mod lsp;
pub mod text;
pub mod tools;

//! chatls: a language server that turns "Explain", "Refactor" and "Fix" code actions into
//! chat-completions requests, lets the model read the workspace through tools, and applies
//! the answer as a versioned edit. See ARCHITECTURE.md for the code map.

pub mod action;
pub mod action_table;
pub mod answer;
pub mod apply;
pub mod cli;
pub mod completion;
pub mod config;
pub mod conversation;
pub mod display;
pub mod edits;
pub mod engine;
pub mod explain;
pub mod llm;
pub mod lsp;
pub mod models;
pub mod patch;
pub mod prompt;
pub mod review;
pub mod rules;
pub mod settings_table;
pub mod stream;
pub mod text;
pub mod tools;
pub mod transcript;
pub mod usage;

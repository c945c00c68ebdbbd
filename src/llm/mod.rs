//! The upstream client: typed chat-completions requests, streaming SSE, retries, timeouts
//! and human-readable errors. The API key never leaves this module except as a header.

pub mod types;

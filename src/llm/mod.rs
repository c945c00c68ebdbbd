//! The upstream client: typed chat-completions requests, streaming SSE, retries, timeouts
//! and human-readable errors. The API key never leaves this module except as a header.

pub mod accumulate;
pub mod client;
pub mod error;
pub mod network;
pub mod secret;
pub mod sse;
pub mod types;

pub use client::{
    Completion, DEFAULT_MAX_RESPONSE_BYTES, Endpoint, LlmClient, RetryPolicy, StreamEvent, Timeouts,
};
pub use error::LlmError;
pub use secret::{ApiKey, Redactor};

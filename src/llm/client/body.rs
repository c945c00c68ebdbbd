//! A response body read piece by piece under the size cap, `cancel` and the first-content
//! or idle timeout, and what kind of body it is. It never parses what it reads.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header;
use tokio_util::sync::CancellationToken;

use super::endpoint::Endpoint;
use crate::llm::error::{LlmError, error_chain};

pub(super) enum BodyKind {
    Sse,
    Json,
    Html,
    Other,
}

/// What a success body holds, by its content type; a missing type is taken to be what was
/// asked for.
pub(super) fn body_kind(content_type: &str, streaming: bool) -> BodyKind {
    if content_type.contains("text/event-stream") {
        BodyKind::Sse
    } else if content_type.contains("json") {
        BodyKind::Json
    } else if content_type.contains("html") {
        BodyKind::Html
    } else if content_type.trim().is_empty() {
        if streaming {
            BodyKind::Sse
        } else {
            BodyKind::Json
        }
    } else {
        BodyKind::Other
    }
}

/// A response body read piece by piece under the size cap and `cancel`, and under the
/// first-content deadline until [`Body::content_started`], the idle timeout after.
/// Dropping it drops the connection unless the body was read to its end.
pub(super) struct Body {
    response: reqwest::Response,
    received: usize,
    limit: usize,
    idle: Duration,
    /// Until the answer begins: when it must have begun, and the timeout that was.
    first_content: Option<(tokio::time::Instant, Duration)>,
}

impl Body {
    pub(super) fn new(response: reqwest::Response, endpoint: &Endpoint) -> Self {
        Body {
            response,
            received: 0,
            limit: endpoint.max_response_bytes,
            idle: endpoint.timeouts.idle,
            first_content: None,
        }
    }

    /// A cap of its own instead of the endpoint's.
    pub(super) fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Waits for the first content until `deadline` (counted from sending the request)
    /// instead of the idle timeout.
    pub(super) fn until_first_content(
        mut self,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Self {
        self.first_content = Some((deadline, timeout));
        self
    }

    /// The answer has begun: from now on the idle timeout bounds every gap.
    pub(super) fn content_started(&mut self) {
        self.first_content = None;
    }

    pub(super) async fn next_chunk(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<Bytes>, LlmError> {
        let (deadline, timed_out) = match self.first_content {
            Some((deadline, timeout)) => (deadline, LlmError::FirstContentTimeout { timeout }),
            None => (
                tokio::time::Instant::now() + self.idle,
                LlmError::IdleTimeout { timeout: self.idle },
            ),
        };
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(LlmError::Cancelled),
            outcome = tokio::time::timeout_at(deadline, self.response.chunk()) => outcome,
        };
        match outcome {
            Err(_) => Err(timed_out),
            Ok(Err(error)) => Err(LlmError::CutOff {
                detail: Some(error_chain(&error)),
            }),
            Ok(Ok(None)) => Ok(None),
            Ok(Ok(Some(bytes))) => {
                self.received = self.received.saturating_add(bytes.len());
                if self.received > self.limit {
                    return Err(LlmError::TooLarge { limit: self.limit });
                }
                Ok(Some(bytes))
            }
        }
    }

    /// The body up to `max` bytes (for error bodies: what is past `max` is not needed).
    pub(super) async fn read_prefix(
        &mut self,
        max: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, LlmError> {
        let mut bytes = Vec::new();
        while bytes.len() < max {
            match self.next_chunk(cancel).await? {
                Some(chunk) => bytes.extend_from_slice(&chunk),
                None => break,
            }
        }
        bytes.truncate(max);
        Ok(bytes)
    }

    /// The whole body; its first byte counts as the first content.
    pub(super) async fn read_all(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, LlmError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk(cancel).await? {
            bytes.extend_from_slice(&chunk);
            self.content_started();
        }
        Ok(bytes)
    }
}

/// The response's `Content-Type`, lowercased ("" when absent or not text).
pub(super) fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

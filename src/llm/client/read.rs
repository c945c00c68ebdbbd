//! A success body read to the answer: SSE events to `[DONE]` through the accumulator, or one
//! JSON response. A failure here is retryable only while nothing of the answer was passed on;
//! it never sends a request.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::body::Body;
use super::retry::Failure;
use super::upstream_error::json_error_message;
use crate::llm::accumulate::{self, Accumulator};
use crate::llm::error::{LlmError, clean};
use crate::llm::secret::Redactor;
use crate::llm::sse::{SseEvent, SseParser};
use crate::llm::types::{ChatChunk, ChatResponse, Completion, StreamEvent};

/// The largest single SSE event (one `data:` payload, or a line still without its end): a
/// streamed piece of an answer is a few hundred bytes; a gateway that repeats the whole
/// answer in its last event stays far below this.
pub const MAX_SSE_EVENT_BYTES: usize = 2 * 1024 * 1024;

/// How long to wait for the end of the body after `[DONE]`, so the connection can be reused.
const DRAIN_AFTER_DONE: Duration = Duration::from_secs(1);

/// What one SSE event means for the stream.
enum Flow {
    Continue,
    Done,
}

/// Whether an event carries a piece of the answer (what the caller shows or acts on).
fn is_answer(event: &StreamEvent<'_>) -> bool {
    matches!(
        event,
        StreamEvent::Content(_)
            | StreamEvent::ToolCallStarted { .. }
            | StreamEvent::ToolCallArguments { .. }
    )
}

/// A stream cut off: retryable while nothing of the answer was passed on.
fn cut_off(detail: Option<String>, key: &Redactor, answer_started: bool) -> Failure {
    let error = LlmError::CutOff {
        detail: detail.map(|text| clean(&text, key)),
    };
    if answer_started {
        Failure::Final(error)
    } else {
        Failure::Retryable(error, None)
    }
}

/// Reads an SSE body to `[DONE]` (or to its end after a finish reason).
pub(super) async fn read_stream(
    body: &mut Body,
    key: &Redactor,
    cancel: &CancellationToken,
    on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send),
) -> Result<Completion, Failure> {
    let mut parser = SseParser::new();
    let mut accumulator = Accumulator::new();
    let mut done = false;
    // Set once a piece of the answer has been passed to `on_event`.
    let mut answer_started = false;
    'read: loop {
        let chunk = match body.next_chunk(cancel).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            // The answer is complete; only the trailer (usage, [DONE]) was lost.
            Err(LlmError::CutOff { detail }) if accumulator.has_finish_reason() => {
                tracing::debug!(detail = ?detail.map(|text| clean(&text, key)), "stream ended abruptly after its finish reason");
                return Ok(accumulator.finish());
            }
            Err(LlmError::CutOff { detail }) => {
                return Err(cut_off(detail, key, answer_started));
            }
            Err(error) => return Err(Failure::Final(error)),
        };
        parser.feed(&chunk);
        while let Some(event) = parser.next_event() {
            let mut forward = |event: StreamEvent<'_>| {
                answer_started |= is_answer(&event);
                on_event(event);
            };
            let flow =
                handle_event(event, &mut accumulator, key, &mut forward).map_err(Failure::Final)?;
            if let Flow::Done = flow {
                done = true;
                break 'read;
            }
        }
        if parser.pending_len() > MAX_SSE_EVENT_BYTES {
            return Err(Failure::Final(LlmError::EventTooLarge {
                limit: MAX_SSE_EVENT_BYTES,
            }));
        }
        if answer_started {
            body.content_started();
        }
    }
    if done {
        // Read the end of the chunked body so the connection goes back to the pool.
        let drain = async { while let Ok(Some(_)) = body.next_chunk(cancel).await {} };
        let _ = tokio::time::timeout(DRAIN_AFTER_DONE, drain).await;
        return Ok(accumulator.finish());
    }
    while let Some(event) = parser.finish() {
        let mut forward = |event: StreamEvent<'_>| {
            answer_started |= is_answer(&event);
            on_event(event);
        };
        if let Flow::Done =
            handle_event(event, &mut accumulator, key, &mut forward).map_err(Failure::Final)?
        {
            done = true;
            break;
        }
    }
    if done || accumulator.has_finish_reason() {
        return Ok(accumulator.finish());
    }
    let detail = if accumulator.chunks() == 0 {
        "the upstream closed the stream without sending anything"
    } else {
        "the upstream closed the stream without a finish reason or [DONE]"
    };
    Err(cut_off(Some(detail.to_owned()), key, answer_started))
}

fn handle_event(
    event: SseEvent<'_>,
    accumulator: &mut Accumulator,
    key: &Redactor,
    on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send),
) -> Result<Flow, LlmError> {
    let data = event.data.trim();
    if data == "[DONE]" {
        return Ok(Flow::Done);
    }
    if data.is_empty() {
        return Ok(Flow::Continue);
    }
    if event.event == "error" {
        let message = serde_json::from_str::<Value>(data)
            .ok()
            .and_then(|value| json_error_message(&value))
            .unwrap_or_else(|| data.to_owned());
        return Err(LlmError::StreamError {
            message: clean(&message, key),
        });
    }
    let chunk: ChatChunk =
        serde_json::from_str(data).map_err(|error| LlmError::MalformedStream {
            detail: clean(
                &format!("{error} in the data line {}", excerpt(data, 120, key)),
                key,
            ),
        })?;
    if let Some(error) = &chunk.error {
        let message = json_error_message(&serde_json::json!({ "error": error }))
            .unwrap_or_else(|| error.to_string());
        return Err(LlmError::StreamError {
            message: clean(&message, key),
        });
    }
    accumulator.apply(chunk, on_event);
    Ok(Flow::Continue)
}

/// Reads a whole JSON body and takes its first choice.
pub(super) async fn read_json(
    body: &mut Body,
    key: &Redactor,
    cancel: &CancellationToken,
) -> Result<Completion, LlmError> {
    let bytes = body.read_all(cancel).await.map_err(|error| match error {
        LlmError::CutOff { detail } => LlmError::CutOff {
            detail: detail.map(|text| clean(&text, key)),
        },
        other => other,
    })?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|error| LlmError::MalformedResponse {
            detail: clean(
                &format!(
                    "{error} in {}",
                    excerpt(&String::from_utf8_lossy(&bytes), 120, key)
                ),
                key,
            ),
        })?;
    if value.get("error").is_some_and(|error| !error.is_null()) {
        let message = json_error_message(&value).unwrap_or_default();
        return Err(LlmError::UpstreamError {
            message: clean(&message, key),
        });
    }
    let response: ChatResponse =
        serde_json::from_value(value).map_err(|error| LlmError::MalformedResponse {
            detail: clean(&error.to_string(), key),
        })?;
    if response.choices.is_empty() {
        return Err(LlmError::MalformedResponse {
            detail: "the response holds no choices".to_owned(),
        });
    }
    Ok(accumulate::from_response(response))
}

/// The first `max` characters of `text`, quoted, with an ellipsis when cut.
/// The start of `text`, quoted, for error details. The key is scrubbed *before* the cut, so
/// a key straddling the cut cannot leave its first half behind.
pub(super) fn excerpt(text: &str, max: usize, key: &Redactor) -> String {
    let text = key.redact(text);
    let text = text.as_str();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

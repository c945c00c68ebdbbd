//! The chat-completions client: one pooled HTTP client, a POST per call, SSE parsed as bytes
//! arrive, retries with backoff only while nothing of the answer has reached the caller, four
//! distinct timeouts, a size cap, and cancellation raced against every await.
//!
//! The timeouts of one attempt: `connect`; `first_byte`, from sending the request to the
//! response headers; `first_content`, from sending the request to the first piece of the
//! answer (text or a tool call; for a non-streamed answer, its first body byte) — a gateway
//! may send its headers at once and then let the model think quietly, so before the first
//! content only this longer bound applies; then `idle`, the longest gap between two pieces
//! of the body.

mod body;
mod endpoint;
mod read;
mod retry;
mod upstream_error;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;

use self::body::{Body, BodyKind, body_kind, content_type};
pub use self::endpoint::{DEFAULT_MAX_RESPONSE_BYTES, Endpoint, RetryPolicy, Timeouts};
pub use self::read::MAX_SSE_EVENT_BYTES;
use self::read::{read_json, read_stream};
use self::retry::{Failure, backoff, is_retryable_status, retry_after};
use self::upstream_error::{network_error, status_error};
use crate::llm::error::{LlmError, clean, error_chain};
use crate::llm::network::{self, BuildError, Built, ClientKey};
use crate::llm::types::ChatRequest;
pub use crate::llm::types::{Completion, StreamEvent};

/// The longest `Retry-After` chatls waits for; a longer one ends the call at once.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// The largest `GET /models` body read: the longest public lists (hundreds of models with
/// descriptions and prices) are well under 1 MB; a larger one is dropped, not parsed.
pub const MAX_MODELS_BYTES: usize = 4 * 1024 * 1024;

/// The upstream client. Cheap to clone; every clone shares one pooled `reqwest::Client`, so
/// sequential calls reuse a keep-alive connection. The pool is rebuilt only when what it was
/// built for changes (the connect timeout, the proxy, the `caFile`: a settings change).
#[derive(Clone, Default)]
pub struct LlmClient {
    http: Arc<Mutex<Option<Built>>>,
}

impl LlmClient {
    pub fn new() -> Self {
        Self::default()
    }

    fn http(&self, endpoint: &Endpoint, url: &str) -> Result<Built, LlmError> {
        let key = &endpoint.redactor();
        let target = reqwest::Url::parse(url).map_err(|error| LlmError::Transport {
            url: clean(url, key),
            detail: format!("the baseUrl is not a valid URL: {error}"),
        })?;
        let wanted = ClientKey::new(endpoint.timeouts.connect, &endpoint.network, &target);
        let mut slot = self
            .http
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(built) = slot.as_ref()
            && built.key == wanted
        {
            return Ok(built.clone());
        }
        let http =
            network::build_client(&wanted, &endpoint.network).map_err(|error| match error {
                BuildError::CaFile {
                    path,
                    source,
                    detail,
                } => LlmError::CaFile {
                    path,
                    named_by: source,
                    detail,
                },
                BuildError::Other(detail) => LlmError::Transport {
                    url: String::new(),
                    detail: format!("could not set up the HTTP client: {}", clean(&detail, key)),
                },
            })?;
        let built = Built {
            key: wanted,
            http,
            first: Arc::default(),
        };
        *slot = Some(built.clone());
        Ok(built)
    }

    /// Sends `request` and returns the assembled answer, streaming when `request.stream`.
    /// Progress goes to `on_event`; `cancel` ends the call at once (the connection is
    /// dropped) with `LlmError::Cancelled`.
    pub async fn chat(
        &self,
        endpoint: &Endpoint,
        request: &ChatRequest,
        conversation_id: &str,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send),
    ) -> Result<Completion, LlmError> {
        if cancel.is_cancelled() {
            return Err(LlmError::Cancelled);
        }
        let key = &endpoint.redactor();
        let url = endpoint.chat_url();
        let body =
            Bytes::from(
                serde_json::to_vec(request).map_err(|error| LlmError::Transport {
                    url: clean(&url, key),
                    detail: format!("could not encode the request: {error}"),
                })?,
            );
        let headers = request_headers(endpoint, request.stream, conversation_id)?;
        let http = self.http(endpoint, &url)?;
        tracing::debug!(
            url = %clean(&url, key),
            conversation_id,
            model = %request.model,
            stream = request.stream,
            messages = request.messages.len(),
            bytes = body.len(),
            "sending chat request"
        );

        let mut retries = 0;
        let completion = loop {
            let attempt = attempt(
                &http,
                &url,
                &headers,
                &body,
                request.stream,
                endpoint,
                cancel,
                on_event,
            )
            .await;
            let (error, retry_after) = match attempt {
                Ok(completion) => break completion,
                Err(Failure::Retryable(error, retry_after)) => (error, retry_after),
                Err(Failure::Final(error)) => return Err(error),
            };
            if retries >= endpoint.retry.max_retries {
                return Err(error);
            }
            let delay = match retry_after {
                Some(asked) if asked > RETRY_AFTER_CAP => return Err(error),
                Some(asked) => asked,
                None => backoff(&endpoint.retry, retries),
            };
            retries += 1;
            let reason = error.to_string();
            tracing::debug!(attempt = retries, ?delay, reason = %reason, "retrying chat request");
            on_event(StreamEvent::Retrying {
                attempt: retries,
                delay,
                reason: &reason,
            });
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(LlmError::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
        };
        if let Some(usage) = &completion.usage {
            tracing::info!(
                conversation_id,
                model = %request.model,
                prompt_tokens = usage.prompt_tokens,
                cached_tokens = usage.cached_tokens(),
                completion_tokens = usage.completion_tokens,
                "chat usage"
            );
        }
        tracing::debug!(
            conversation_id,
            finish_reason = ?completion.finish_reason,
            content_len = completion.content.len(),
            tool_calls = completion.tool_calls.len(),
            "chat finished"
        );
        Ok(completion)
    }

    /// `GET {base_url}/models`: the ids the upstream lists, within `limit` (one attempt, no
    /// retries: the model picker must never wait long). Any failure is an error the caller
    /// may ignore.
    pub async fn models(
        &self,
        endpoint: &Endpoint,
        limit: Duration,
    ) -> Result<Vec<String>, LlmError> {
        let base = endpoint.base_url.trim().trim_end_matches('/');
        let base = base.strip_suffix("/chat/completions").unwrap_or(base);
        let url = format!("{base}/models");
        let key = &endpoint.redactor();
        let failed = |detail: String| LlmError::Transport {
            url: clean(&url, key),
            detail: clean(&detail, key),
        };
        let http = self.http(endpoint, &url)?.http;
        let mut headers = request_headers(endpoint, false, "models")?;
        headers.remove("x-conversation-id");
        let call = async {
            let response = http
                .get(&url)
                .headers(headers)
                .send()
                .await
                .map_err(|error| failed(error_chain(&error)))?;
            let status = response.status().as_u16();
            if !response.status().is_success() {
                return Err(LlmError::from_status(status, None, None, &url, key));
            }
            // Read under a cap of its own: the list is parsed whole, and a hostile or broken
            // upstream must not make chatls hold (and parse) hundreds of megabytes.
            let mut reader = Body::new(response, endpoint).with_limit(MAX_MODELS_BYTES);
            let never = CancellationToken::new();
            let bytes = reader.read_all(&never).await.map_err(|error| match error {
                LlmError::TooLarge { .. } => failed(format!(
                    "the model list is larger than {} MB, so it was dropped",
                    MAX_MODELS_BYTES / (1024 * 1024)
                )),
                other => failed(other.to_string()),
            })?;
            let body: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|error| failed(format!("the model list is not JSON: {error}")))?;
            let entries = body
                .get("data")
                .and_then(serde_json::Value::as_array)
                .or_else(|| body.as_array())
                .cloned()
                .unwrap_or_default();
            Ok(entries
                .iter()
                .filter_map(|entry| {
                    entry
                        .get("id")
                        .or(Some(entry))
                        .and_then(serde_json::Value::as_str)
                })
                .map(str::trim)
                .filter(|id| !id.is_empty() && id.len() <= 200)
                .map(str::to_owned)
                .take(200)
                .collect())
        };
        tokio::time::timeout(limit, call)
            .await
            .map_err(|_| failed(format!("no answer within {} ms", limit.as_millis())))?
    }
}

/// The headers of every attempt. The `Authorization` value is marked sensitive so that no
/// `Debug` print of the headers shows it.
fn request_headers(
    endpoint: &Endpoint,
    stream: bool,
    conversation_id: &str,
) -> Result<HeaderMap, LlmError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    if let Some(key) = &endpoint.api_key {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                LlmError::Transport {
                    url: clean(&endpoint.base_url, &endpoint.redactor()),
                    detail: "the API key contains characters that cannot be sent in an HTTP header"
                        .to_owned(),
                }
            })?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    let conversation = HeaderValue::from_str(conversation_id).map_err(|_| LlmError::Transport {
        url: clean(&endpoint.base_url, &endpoint.redactor()),
        detail: "the conversation id contains characters that cannot be sent in an HTTP header"
            .to_owned(),
    })?;
    headers.insert("x-conversation-id", conversation);
    Ok(headers)
}

/// One attempt: the request, its status, and the body read to its end. A failure is
/// retryable only before any piece of the answer was passed to `on_event`: a retryable
/// status, a connection that broke before the headers, or a stream cut before its first
/// content.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    http: &Built,
    url: &str,
    headers: &HeaderMap,
    body: &Bytes,
    streaming: bool,
    endpoint: &Endpoint,
    cancel: &CancellationToken,
    on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send),
) -> Result<Completion, Failure> {
    let key = &endpoint.redactor();
    let first_content_deadline = tokio::time::Instant::now() + endpoint.timeouts.first_content;
    let response = send_once(http, url, headers, body, endpoint, cancel).await?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        if let (407, Some(proxy)) = (status, &http.key.proxy) {
            // A plain-http request through a proxy gets the proxy's 407 as its response.
            return Err(Failure::Final(LlmError::ProxyAuth {
                proxy: proxy.url.shown(),
                named_by: proxy.source.clone(),
            }));
        }
        let error = status_error(response, endpoint, url, cancel)
            .await
            .map_err(Failure::Final)?;
        return Err(if is_retryable_status(status) {
            Failure::Retryable(error, retry_after)
        } else {
            Failure::Final(error)
        });
    }
    on_event(StreamEvent::Connected);
    let status = response.status().as_u16();
    let content_type = content_type(&response);
    let mut body = Body::new(response, endpoint)
        .until_first_content(first_content_deadline, endpoint.timeouts.first_content);
    match body_kind(&content_type, streaming) {
        BodyKind::Sse => read_stream(&mut body, key, cancel, on_event).await,
        // Nothing of a non-streamed answer reaches the caller before it is whole.
        BodyKind::Json => read_json(&mut body, key, cancel)
            .await
            .map_err(|error| match error {
                LlmError::CutOff { .. } => Failure::Retryable(error, None),
                other => Failure::Final(other),
            }),
        BodyKind::Html => Err(Failure::Final(LlmError::HtmlPage {
            status,
            url: clean(&endpoint.base_url, key),
        })),
        BodyKind::Other => Err(Failure::Final(LlmError::UnexpectedContentType {
            content_type: clean(&content_type, key),
            url: clean(&endpoint.base_url, key),
        })),
    }
}

/// One attempt up to the response headers, raced against the first-byte timeout and
/// `cancel`.
async fn send_once(
    built: &Built,
    url: &str,
    headers: &HeaderMap,
    body: &Bytes,
    endpoint: &Endpoint,
    cancel: &CancellationToken,
) -> Result<reqwest::Response, Failure> {
    let key = &endpoint.redactor();
    // A cold start to an https upstream: one request opens the connection, the others of
    // the burst wait for it (and share it when it speaks HTTP/2).
    let opening = if url.starts_with("https://") {
        built.first.enter(endpoint.timeouts.connect, cancel).await
    } else {
        None
    };
    if cancel.is_cancelled() {
        return Err(Failure::Final(LlmError::Cancelled));
    }
    let send = built
        .http
        .post(url)
        .headers(headers.clone())
        .body(body.clone())
        .send();
    let outcome = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(Failure::Final(LlmError::Cancelled)),
        outcome = tokio::time::timeout(endpoint.timeouts.first_byte, send) => outcome,
    };
    match outcome {
        Err(_) => Err(Failure::Final(LlmError::FirstByteTimeout {
            timeout: endpoint.timeouts.first_byte,
        })),
        Ok(Ok(response)) => {
            if let Some(opening) = opening {
                opening.opened();
            }
            Ok(response)
        }
        Ok(Err(error)) => {
            if let Some(diagnosed) = network_error(&error, built, endpoint) {
                return Err(diagnosed);
            }
            let url = clean(&endpoint.base_url, key);
            if error.is_builder() {
                return Err(Failure::Final(LlmError::Transport {
                    url,
                    detail: clean(&error_chain(&error), key),
                }));
            }
            if error.is_connect() {
                if error.is_timeout() {
                    return Err(Failure::Retryable(
                        LlmError::ConnectTimeout {
                            url,
                            secs: endpoint.timeouts.connect.as_secs(),
                        },
                        None,
                    ));
                }
                return Err(Failure::Retryable(
                    LlmError::Connect {
                        url,
                        detail: clean(&error_chain(&error), key),
                    },
                    None,
                ));
            }
            // The connection broke before any response byte (closed, reset).
            Err(Failure::Retryable(
                LlmError::Transport {
                    url,
                    detail: clean(&error_chain(&error), key),
                },
                None,
            ))
        }
    }
}

#[cfg(test)]
mod tests;

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

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::llm::accumulate::{self, Accumulator};
use crate::llm::error::{LlmError, clean};
use crate::llm::network::{self, BuildError, Built, ClientKey, Diagnosis, Network};
use crate::llm::secret::{ApiKey, Redactor};
use crate::llm::sse::{SseEvent, SseParser};
use crate::llm::types::{ChatChunk, ChatRequest, ChatResponse};
pub use crate::llm::types::{Completion, StreamEvent};

/// The default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// The longest `Retry-After` chatls waits for; a longer one ends the call at once.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// How much of an error body is read to find the upstream's message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The largest `GET /models` body read: the longest public lists (hundreds of models with
/// descriptions and prices) are well under 1 MB; a larger one is dropped, not parsed.
pub const MAX_MODELS_BYTES: usize = 4 * 1024 * 1024;

/// The largest single SSE event (one `data:` payload, or a line still without its end): a
/// streamed piece of an answer is a few hundred bytes; a gateway that repeats the whole
/// answer in its last event stays far below this.
pub const MAX_SSE_EVENT_BYTES: usize = 2 * 1024 * 1024;

/// How long to wait for the end of the body after `[DONE]`, so the connection can be reused.
const DRAIN_AFTER_DONE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Timeouts {
    /// To open the TCP (and TLS) connection.
    pub connect: Duration,
    /// From sending the request to the response headers.
    pub first_byte: Duration,
    /// From sending the request to the first piece of the answer. Until then `idle` does not
    /// apply (a model that thinks sends nothing); it should be the longest of the three.
    pub first_content: Duration,
    /// The longest gap between two pieces of the body once the answer has begun.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(90),
            first_content: Duration::from_secs(300),
            idle: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// Where and how to call the upstream.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Such as `https://gateway.theturbo.ai/v1`, with or without a trailing slash.
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub max_response_bytes: usize,
    /// Extra root certificates and the proxy.
    pub network: Network,
}

impl Endpoint {
    /// An endpoint with the default timeouts, retry policy and size cap.
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        Endpoint {
            base_url: base_url.into(),
            api_key,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            network: Network::default(),
        }
    }

    /// What removes this endpoint's credentials from outside text: the API key, and the
    /// user and password of the `proxy` setting and of every proxy variable (whichever
    /// proxy a request took, its error text passes through here).
    pub fn redactor(&self) -> Redactor {
        let mut redactor = Redactor::new(self.api_key.as_ref());
        if let network::ProxySetting::Url(url) = &self.network.proxy {
            redactor = redactor.with_url(url.expose());
        }
        for name in network::PROXY_VARIABLES {
            if let Some(url) = std::env::var(name)
                .ok()
                .and_then(|value| network::ProxyUrl::parse(&value).ok())
            {
                redactor = redactor.with_url(url.expose());
            }
        }
        redactor
    }

    /// `{base_url}/chat/completions`; a base URL that already names the endpoint is kept.
    pub fn chat_url(&self) -> String {
        let base = self.base_url.trim().trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            base.to_owned()
        } else {
            format!("{base}/chat/completions")
        }
    }
}

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

enum Failure {
    /// Nothing of the answer reached the caller: the next attempt may succeed, after the
    /// `Retry-After` the upstream asked for, if any.
    Retryable(LlmError, Option<Duration>),
    Final(LlmError),
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

/// A certificate or proxy failure, worded with the setting that fixes it; `None` for the
/// other transport errors.
fn network_error(error: &reqwest::Error, built: &Built, endpoint: &Endpoint) -> Option<Failure> {
    let proxy = built.key.proxy.as_ref();
    let chain = error_chain(error);
    let host = || {
        reqwest::Url::parse(&endpoint.base_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let redactor = endpoint.redactor();
    let scrubbed = |text: &str| clean(text, &redactor);
    Some(match network::diagnose(&chain, proxy.is_some()) {
        Diagnosis::Untrusted => Failure::Final(LlmError::UntrustedCertificate {
            host: host(),
            proxy: proxy.map(|proxy| proxy.url.shown()),
        }),
        Diagnosis::WrongName => Failure::Final(LlmError::WrongCertificateName { host: host() }),
        Diagnosis::ProxyAuth => {
            let proxy = proxy?;
            Failure::Final(LlmError::ProxyAuth {
                proxy: proxy.url.shown(),
                named_by: proxy.source.clone(),
            })
        }
        Diagnosis::ProxyRefused => {
            let proxy = proxy?;
            Failure::Final(LlmError::ProxyRefused {
                proxy: proxy.url.shown(),
                named_by: proxy.source.clone(),
                host: host(),
            })
        }
        Diagnosis::ProxyUnreachable => {
            let proxy = proxy?;
            let detail = chain
                .rsplit(": ")
                .next()
                .map(scrubbed)
                .filter(|last| !last.is_empty());
            Failure::Retryable(
                LlmError::ProxyUnreachable {
                    proxy: proxy.url.shown(),
                    named_by: proxy.source.clone(),
                    detail,
                },
                None,
            )
        }
        Diagnosis::Other if proxy.is_some() && error.is_connect() && error.is_timeout() => {
            let proxy = proxy?;
            Failure::Retryable(
                LlmError::ProxyUnreachable {
                    proxy: proxy.url.shown(),
                    named_by: proxy.source.clone(),
                    detail: Some(format!(
                        "no connection within {} s",
                        endpoint.timeouts.connect.as_secs()
                    )),
                },
                None,
            )
        }
        Diagnosis::Other => return None,
    })
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500 | 502 | 503 | 504)
}

/// Exponential backoff with jitter: a random delay between half and all of
/// `base * 2^retry`, capped at `max_delay`.
fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let exponential = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(retry.min(16)));
    let ceiling = exponential.min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    if millis < 2 {
        return ceiling;
    }
    Duration::from_millis(rand::random_range(millis / 2..=millis))
}

/// The `Retry-After` header, in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(1e9)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads (a bounded part of) an error response and turns it into the matching error.
async fn status_error(
    response: reqwest::Response,
    endpoint: &Endpoint,
    url: &str,
    cancel: &CancellationToken,
) -> Result<LlmError, LlmError> {
    let key = &endpoint.redactor();
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let content_type = content_type(&response);
    let mut body = Body::new(response, endpoint);
    let bytes = match body.read_prefix(MAX_ERROR_BODY_BYTES, cancel).await {
        Ok(bytes) => bytes,
        Err(LlmError::Cancelled) => return Err(LlmError::Cancelled),
        Err(_) => Vec::new(),
    };
    let message = upstream_message(&bytes, &content_type);
    tracing::debug!(status, message = ?message.as_deref().map(|text| clean(text, key)), "upstream error status");
    Ok(LlmError::from_status(
        status,
        message,
        retry_after,
        url,
        key,
    ))
}

/// The upstream's own words in an error body: `error.message` (or similar) of a JSON body,
/// the `<title>` of an HTML page, or short plain text.
fn upstream_message(body: &[u8], content_type: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return json_error_message(&value).or_else(|| Some(text.to_owned()));
    }
    if content_type.contains("html") || text.starts_with('<') {
        let lower = text.to_ascii_lowercase();
        let start = lower.find("<title>")? + "<title>".len();
        let end = start + lower.get(start..)?.find("</title>")?;
        return text
            .get(start..end)
            .map(|title| title.trim().to_owned())
            .filter(|title| !title.is_empty());
    }
    Some(text.to_owned())
}

/// The message of a JSON error object: `{"error": {"message": ...}}`, `{"error": "..."}`,
/// `{"message": ...}` or `{"detail": ...}`.
fn json_error_message(value: &Value) -> Option<String> {
    match value.get("error") {
        Some(Value::String(text)) => return Some(text.clone()),
        Some(error @ Value::Object(_)) => {
            return Some(match error.get("message") {
                Some(Value::String(text)) => text.clone(),
                _ => error.to_string(),
            });
        }
        _ => {}
    }
    ["message", "detail"]
        .iter()
        .find_map(|field| value.get(field).and_then(Value::as_str))
        .map(str::to_owned)
}

enum BodyKind {
    Sse,
    Json,
    Html,
    Other,
}

/// What a success body holds, by its content type; a missing type is taken to be what was
/// asked for.
fn body_kind(content_type: &str, streaming: bool) -> BodyKind {
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
struct Body {
    response: reqwest::Response,
    received: usize,
    limit: usize,
    idle: Duration,
    /// Until the answer begins: when it must have begun, and the timeout that was.
    first_content: Option<(tokio::time::Instant, Duration)>,
}

impl Body {
    fn new(response: reqwest::Response, endpoint: &Endpoint) -> Self {
        Body {
            response,
            received: 0,
            limit: endpoint.max_response_bytes,
            idle: endpoint.timeouts.idle,
            first_content: None,
        }
    }

    /// A cap of its own instead of the endpoint's.
    fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Waits for the first content until `deadline` (counted from sending the request)
    /// instead of the idle timeout.
    fn until_first_content(mut self, deadline: tokio::time::Instant, timeout: Duration) -> Self {
        self.first_content = Some((deadline, timeout));
        self
    }

    /// The answer has begun: from now on the idle timeout bounds every gap.
    fn content_started(&mut self) {
        self.first_content = None;
    }

    async fn next_chunk(&mut self, cancel: &CancellationToken) -> Result<Option<Bytes>, LlmError> {
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
    async fn read_prefix(
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
    async fn read_all(&mut self, cancel: &CancellationToken) -> Result<Vec<u8>, LlmError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk(cancel).await? {
            bytes.extend_from_slice(&chunk);
            self.content_started();
        }
        Ok(bytes)
    }
}

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
async fn read_stream(
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
async fn read_json(
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
fn excerpt(text: &str, max: usize, key: &Redactor) -> String {
    let text = key.redact(text);
    let text = text.as_str();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// An error and its causes, joined with ": " and without repeats ("error sending request:
/// client error (Connect): tcp connect error: Connection refused (os error 111)").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut depth = 0;
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    parts.join(": ")
}

/// The response's `Content-Type`, lowercased ("" when absent or not text).
fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests;

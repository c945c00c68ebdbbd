//! What a failed attempt says, in words a person can act on: an error status with the
//! upstream's own message, a certificate or proxy failure named with the setting that fixes
//! it. It never retries; whether to is the caller's choice from the `Failure` it returns.

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::body::{Body, content_type};
use super::endpoint::Endpoint;
use super::retry::{Failure, retry_after};
use crate::llm::error::{LlmError, clean, error_chain};
use crate::llm::network::{self, Built, Diagnosis};

/// How much of an error body is read to find the upstream's message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A certificate or proxy failure, worded with the setting that fixes it; `None` for the
/// other transport errors.
pub(super) fn network_error(
    error: &reqwest::Error,
    built: &Built,
    endpoint: &Endpoint,
) -> Option<Failure> {
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

/// Reads (a bounded part of) an error response and turns it into the matching error.
pub(super) async fn status_error(
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
pub(super) fn upstream_message(body: &[u8], content_type: &str) -> Option<String> {
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
pub(super) fn json_error_message(value: &Value) -> Option<String> {
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

//! What can go wrong talking to the upstream, each case worded for the person who has to fix
//! it. Every text that came from outside (an upstream message, a transport error, a URL) is
//! scrubbed of every credential chatls knows (see `secret::Redactor`) and truncated before it is stored in an error.

use std::time::Duration;

use crate::llm::secret::Redactor;

/// The longest upstream message kept in an error, in characters.
pub const MAX_DETAIL_CHARS: usize = 300;

/// A failed chat call. `Display` is a sentence a person can act on (no trailing period).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the request was cancelled")]
    Cancelled,

    #[error("the upstream rejected the API key (401): check CHATLS_API_KEY or the apiKey setting{}", said(.upstream))]
    Unauthorized { upstream: Option<String> },

    #[error("the upstream refused access (403): the API key may not be allowed to use this model or endpoint{}", said(.upstream))]
    Forbidden { upstream: Option<String> },

    #[error("unknown model or wrong baseUrl (404): check the model and baseUrl settings ({url}){}", said(.upstream))]
    NotFound {
        url: String,
        upstream: Option<String>,
    },

    #[error("the upstream is rate limiting requests (429){}: wait a moment and try again{}", after(.retry_after_secs), said(.upstream))]
    RateLimited {
        retry_after_secs: Option<u64>,
        upstream: Option<String>,
    },

    #[error("the upstream is having trouble ({status}): try again in a moment{}", said(.upstream))]
    Unavailable {
        status: u16,
        upstream: Option<String>,
    },

    #[error("the upstream rejected the request ({status}){}", said(.upstream))]
    Rejected {
        status: u16,
        upstream: Option<String>,
    },

    #[error(
        "the upstream answered {status} with an HTML page instead of an API response: the baseUrl {url} looks wrong (it usually ends in /v1)"
    )]
    HtmlPage { status: u16, url: String },

    #[error(
        "the upstream answered with content type {content_type:?} instead of an event stream or JSON: the baseUrl {url} looks wrong"
    )]
    UnexpectedContentType { content_type: String, url: String },

    #[error("could not connect to {url}: {detail}")]
    Connect { url: String, detail: String },

    #[error(
        "could not connect to {url} within {secs} s: check the baseUrl setting and the network"
    )]
    ConnectTimeout { url: String, secs: u64 },

    #[error("the upstream sent no response within {}: it may be overloaded, try again", seconds(.timeout))]
    FirstByteTimeout { timeout: Duration },

    #[error("the upstream accepted the request but sent no answer within {}: the model may need longer (CHATLS_FIRST_CONTENT_TIMEOUT_MS), or the upstream is stuck; try again", seconds(.timeout))]
    FirstContentTimeout { timeout: Duration },

    #[error("the upstream stopped sending for {} in the middle of the answer", seconds(.timeout))]
    IdleTimeout { timeout: Duration },

    #[error("the stream was cut off before the answer finished{}", colon(.detail))]
    CutOff { detail: Option<String> },

    #[error("the upstream sent a stream chatls could not read: {detail}")]
    MalformedStream { detail: String },

    #[error("the upstream sent a response chatls could not read: {detail}")]
    MalformedResponse { detail: String },

    #[error("the upstream reported an error in the middle of the answer: {message}")]
    StreamError { message: String },

    #[error("the upstream reported an error: {message}")]
    UpstreamError { message: String },

    #[error("the upstream's response is larger than {}, so it was dropped", bytes(*.limit))]
    TooLarge { limit: usize },

    #[error("the upstream sent one stream event larger than {}, so the answer was dropped", bytes(*.limit))]
    EventTooLarge { limit: usize },

    #[error("the request to {url} failed: {detail}")]
    Transport { url: String, detail: String },

    #[error(
        "the certificate of {host} is not trusted{}: if a company proxy or a private CA signs it, point the `caFile` setting (or CHATLS_CA_FILE) at that CA's PEM file",
        via(.proxy)
    )]
    UntrustedCertificate {
        host: String,
        /// The proxy the connection went through, shown without credentials.
        proxy: Option<String>,
    },

    #[error("the certificate of {host} is for another host name: check the baseUrl setting")]
    WrongCertificateName { host: String },

    #[error("could not read the certificates in {path} (named by {named_by}): {detail}")]
    CaFile {
        path: String,
        named_by: &'static str,
        detail: String,
    },

    #[error(
        "the proxy {proxy} (named by {named_by}) asks for credentials (407): put them in the proxy URL (http://user:password@host:port) in {named_by}, or set the `proxy` setting to \"none\" to connect directly"
    )]
    ProxyAuth { proxy: String, named_by: String },

    #[error(
        "could not reach the proxy {proxy} (named by {named_by}){}: check {named_by}, or set the `proxy` setting (\"none\" connects directly)",
        colon(.detail)
    )]
    ProxyUnreachable {
        proxy: String,
        named_by: String,
        detail: Option<String>,
    },

    #[error(
        "the proxy {proxy} (named by {named_by}) could not open a connection to {host}: check the baseUrl setting, or whether the proxy allows that host"
    )]
    ProxyRefused {
        proxy: String,
        named_by: String,
        host: String,
    },
}

impl LlmError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, LlmError::Cancelled)
    }

    /// The error for a non-success HTTP status, given the upstream's own message (already
    /// extracted from its body) and, for 429, the `Retry-After` it asked for.
    pub(crate) fn from_status(
        status: u16,
        upstream: Option<String>,
        retry_after: Option<Duration>,
        url: &str,
        key: &Redactor,
    ) -> LlmError {
        let upstream = upstream.map(|text| clean(&text, key));
        match status {
            401 => LlmError::Unauthorized { upstream },
            403 => LlmError::Forbidden { upstream },
            404 => LlmError::NotFound {
                url: clean(url, key),
                upstream,
            },
            429 => LlmError::RateLimited {
                retry_after_secs: retry_after.map(|delay| delay.as_secs()),
                upstream,
            },
            408 | 409 | 500..=599 => LlmError::Unavailable { status, upstream },
            _ => LlmError::Rejected { status, upstream },
        }
    }
}

/// Scrubs the key out of `text`, flattens it to one line and truncates it to
/// `MAX_DETAIL_CHARS` characters (an ellipsis marks a cut).
pub(crate) fn clean(text: &str, key: &Redactor) -> String {
    let scrubbed = key.redact(text);
    let one_line = scrubbed.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn said(upstream: &Option<String>) -> String {
    match upstream {
        Some(text) if !text.is_empty() => format!(" (upstream said: {text})"),
        _ => String::new(),
    }
}

fn via(proxy: &Option<String>) -> String {
    match proxy {
        Some(proxy) => format!(" (seen through the proxy {proxy})"),
        None => String::new(),
    }
}

fn colon(detail: &Option<String>) -> String {
    match detail {
        Some(text) if !text.is_empty() => format!(": {text}"),
        _ => String::new(),
    }
}

/// "8 MB" for whole mebibytes, else "1234 bytes".
fn bytes(count: usize) -> String {
    const MB: usize = 1024 * 1024;
    if count >= MB && count.is_multiple_of(MB) {
        format!("{} MB", count / MB)
    } else {
        format!("{count} bytes")
    }
}

/// "90 s", or "0.3 s" for a timeout under ten seconds that is not whole.
fn seconds(duration: &Duration) -> String {
    if duration.subsec_millis() == 0 || duration.as_secs() >= 10 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

fn after(retry_after_secs: &Option<u64>) -> String {
    match retry_after_secs {
        Some(secs) => format!(" and asked to wait {secs} s"),
        None => String::new(),
    }
}

/// An error and its causes, joined with ": " and without repeats ("error sending request:
/// client error (Connect): tcp connect error: Connection refused (os error 111)").
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::secret::ApiKey;

    #[test]
    fn status_errors_read_as_sentences() {
        let key = ApiKey::new("sk-canary-abcdef");
        let unauthorized = LlmError::from_status(
            401,
            Some("invalid key sk-canary-abcdef".to_owned()),
            None,
            "http://x/v1",
            &Redactor::new(Some(&key)),
        );
        assert_eq!(
            unauthorized.to_string(),
            "the upstream rejected the API key (401): check CHATLS_API_KEY or the apiKey setting (upstream said: invalid key <redacted>)"
        );
        let not_found = LlmError::from_status(404, None, None, "http://x/v1", &Redactor::default());
        assert!(
            not_found
                .to_string()
                .starts_with("unknown model or wrong baseUrl (404)")
        );
        let limited = LlmError::from_status(
            429,
            None,
            Some(Duration::from_secs(60)),
            "http://x",
            &Redactor::default(),
        );
        assert_eq!(
            limited.to_string(),
            "the upstream is rate limiting requests (429) and asked to wait 60 s: wait a moment and try again"
        );
        let bad_gateway = LlmError::from_status(502, None, None, "http://x", &Redactor::default());
        assert!(bad_gateway.to_string().contains("having trouble (502)"));
        let bad_request = LlmError::from_status(
            400,
            Some("bad".into()),
            None,
            "http://x",
            &Redactor::default(),
        );
        assert_eq!(
            bad_request.to_string(),
            "the upstream rejected the request (400) (upstream said: bad)"
        );
    }

    #[test]
    fn clean_truncates_long_text_on_a_char_boundary() {
        let long = "é".repeat(1000);
        let cleaned = clean(&long, &Redactor::default());
        assert_eq!(cleaned.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(cleaned.ends_with('…'));
        assert_eq!(clean("a\n  b", &Redactor::default()), "a b");
    }

    #[test]
    fn no_message_ends_with_a_period() {
        let errors = [
            LlmError::Cancelled,
            LlmError::CutOff { detail: None },
            LlmError::IdleTimeout {
                timeout: Duration::from_secs(60),
            },
            LlmError::TooLarge { limit: 10 },
        ];
        for error in errors {
            assert!(!error.to_string().ends_with('.'), "{error}");
        }
    }

    #[test]
    fn timeouts_and_sizes_read_naturally() {
        let idle = LlmError::IdleTimeout {
            timeout: Duration::from_millis(300),
        };
        assert_eq!(
            idle.to_string(),
            "the upstream stopped sending for 0.3 s in the middle of the answer"
        );
        let large = LlmError::TooLarge {
            limit: 8 * 1024 * 1024,
        };
        assert!(large.to_string().contains("larger than 8 MB,"), "{large}");
        let small = LlmError::TooLarge { limit: 1000 };
        assert!(
            small.to_string().contains("larger than 1000 bytes,"),
            "{small}"
        );
        let first = LlmError::FirstByteTimeout {
            timeout: Duration::from_secs(90),
        };
        assert!(first.to_string().contains("within 90 s:"), "{first}");
    }
}

//! Where and how to call the upstream: the base URL, the key, the four timeouts, the retry
//! policy and the size cap. Plain settings; it never opens a connection.

use std::time::Duration;

use crate::llm::network::{self, Network};
use crate::llm::secret::{ApiKey, Redactor};

/// The default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

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

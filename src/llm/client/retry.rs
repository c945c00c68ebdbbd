//! Whether a failed attempt may be tried again, and after how long: retryable statuses,
//! backoff with jitter, `Retry-After`. It only decides; it never sleeps or sends.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};

use super::endpoint::RetryPolicy;
use crate::llm::error::LlmError;

pub(super) enum Failure {
    /// Nothing of the answer reached the caller: the next attempt may succeed, after the
    /// `Retry-After` the upstream asked for, if any.
    Retryable(LlmError, Option<Duration>),
    Final(LlmError),
}

pub(super) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500 | 502 | 503 | 504)
}

/// Exponential backoff with jitter: a random delay between half and all of
/// `base * 2^retry`, capped at `max_delay`.
pub(super) fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
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
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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

use super::read::excerpt;
use super::retry::parse_retry_after;
use super::upstream_error::upstream_message;
use super::*;
use crate::llm::secret::{ApiKey, Redactor};

#[test]
fn an_excerpt_never_keeps_half_a_key() {
    let key = ApiKey::new("sk-straddle-0123456789");
    let text = format!("{}{}{}", "x".repeat(110), key.expose(), "y".repeat(80));
    let shown = excerpt(&text, 120, &Redactor::new(Some(&key)));
    assert!(!shown.contains("sk-straddle"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn chat_url_accepts_trailing_slash_and_full_path() {
    let mut endpoint = Endpoint::new("http://h/v1/", None);
    assert_eq!(endpoint.chat_url(), "http://h/v1/chat/completions");
    endpoint.base_url = "http://h/v1".into();
    assert_eq!(endpoint.chat_url(), "http://h/v1/chat/completions");
    endpoint.base_url = "http://h/v1/chat/completions".into();
    assert_eq!(endpoint.chat_url(), "http://h/v1/chat/completions");
}

#[test]
fn retry_after_in_seconds_and_as_a_date() {
    let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
    assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
}

#[test]
fn backoff_grows_and_is_capped() {
    let policy = RetryPolicy {
        max_retries: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
    };
    for retry in 0..10 {
        let delay = backoff(&policy, retry);
        let ceiling = (Duration::from_millis(100) * 2u32.pow(retry)).min(policy.max_delay);
        assert!(
            delay <= ceiling && delay >= ceiling / 2,
            "{retry}: {delay:?}"
        );
    }
    let huge = backoff(&policy, u32::MAX);
    assert!(huge >= Duration::from_millis(500) && huge <= Duration::from_millis(1000));
}

#[test]
fn upstream_messages_are_found_in_json_html_and_text() {
    assert_eq!(
        upstream_message(
            br#"{"error":{"message":"bad model","type":"x"}}"#,
            "application/json"
        ),
        Some("bad model".to_owned())
    );
    assert_eq!(
        upstream_message(br#"{"error":"nope"}"#, ""),
        Some("nope".to_owned())
    );
    assert_eq!(
        upstream_message(
            b"<html><head><TITLE> 502 Bad Gateway </TITLE></head></html>",
            "text/html"
        ),
        Some("502 Bad Gateway".to_owned())
    );
    assert_eq!(upstream_message(b"  ", "text/plain"), None);
    assert_eq!(
        upstream_message(b"plain words", "text/plain"),
        Some("plain words".to_owned())
    );
}

#[test]
fn error_chain_skips_repeats() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "outer")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let error = Outer(std::io::Error::other("inner"));
    assert_eq!(error_chain(&error), "outer: inner");
}

//! The API key as an opaque value that never prints itself, and `scrub` to remove it from
//! any text (an upstream error body, say) before that text reaches a person or a log.

use std::fmt;

/// The text printed in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// An API key. `Debug` and `Display` print `<redacted>`; only `expose` gives the text, and
/// only the client calls it, to build the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(s: impl Into<String>) -> Self {
        ApiKey(s.into())
    }

    /// The key itself. Use it for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// `text` with every occurrence of the key replaced by `<redacted>`. Keys shorter than four
/// characters are not searched for (they would match ordinary words, and no real key is that
/// short); an empty key changes nothing.
pub fn scrub(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(key) if key.0.len() >= 4 && text.contains(key.0.as_str()) => {
            text.replace(key.0.as_str(), REDACTED)
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_key() {
        let key = ApiKey::new("sk-canary-123456");
        assert_eq!(format!("{key:?}"), "<redacted>");
        assert_eq!(format!("{key}"), "<redacted>");
        assert_eq!(key.expose(), "sk-canary-123456");
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let key = ApiKey::new("sk-canary-123456");
        let text = "bad key sk-canary-123456 (Bearer sk-canary-123456)";
        assert_eq!(
            scrub(text, Some(&key)),
            "bad key <redacted> (Bearer <redacted>)"
        );
    }

    #[test]
    fn scrub_without_key_or_with_empty_key_is_identity() {
        assert_eq!(scrub("hello", None), "hello");
        assert_eq!(scrub("hello", Some(&ApiKey::new(""))), "hello");
    }
}

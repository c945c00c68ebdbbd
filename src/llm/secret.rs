//! The API key as an opaque value that never prints itself, and the [`Redactor`]: the one
//! place that removes every credential chatls knows from text that came from outside (an
//! error body, a transport error, an error object in a stream) before that text reaches a
//! message, a progress line, a log line, a file or an error. It removes the API key, the
//! user name and password of every proxy URL chatls could use (the `proxy` setting and the
//! proxy variables; raw, percent-decoded, and as the base64 of a `Basic` header), the value
//! of any `Authorization` or `Proxy-Authorization` header, and the user information of any
//! URL (`https://user:password@host`).

use std::fmt;
use std::sync::LazyLock;

use base64::Engine as _;
use regex::Regex;
use reqwest::Url;

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

/// The value of an `Authorization` or `Proxy-Authorization` header, as a header line, a
/// JSON member or `name=value`: an optional scheme word (`Basic`, `Bearer`) and the token.
static AUTHORIZATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)((?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?)(?:[a-z][a-z0-9_-]*[ \t]+)?[^\s"',;}\\]+"#,
    )
    .ok()
});

/// The user information of a URL: `scheme://user:password@`.
static URL_USERINFO: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@"'<>]+@"#).ok());

/// Removes the credentials chatls knows from outside text; see the module documentation.
/// Cheap to build (the patterns are compiled once per process).
#[derive(Clone, Default)]
pub struct Redactor {
    /// Known secret strings, longest first so that one containing another goes whole.
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for the API key (keys shorter than four characters are not searched for:
    /// they would match ordinary words, and no real key is that short).
    pub fn new(key: Option<&ApiKey>) -> Self {
        let mut redactor = Redactor::default();
        if let Some(key) = key {
            redactor.add(&key.0, 4);
        }
        redactor
    }

    /// Also removes the user name and password of `url` (a proxy URL), raw, percent-decoded,
    /// and as the base64 `user:password` a `Basic` header carries.
    pub fn with_url(mut self, url: &Url) -> Self {
        let user = url.username();
        let password = url.password().unwrap_or("");
        let decoded_user = percent_decode(user);
        let decoded_password = percent_decode(password);
        for secret in [user, &decoded_user, password, &decoded_password] {
            self.add(secret, 3);
        }
        if !user.is_empty() || !password.is_empty() {
            let engine = base64::engine::general_purpose::STANDARD;
            for pair in [
                format!("{decoded_user}:{decoded_password}"),
                format!("{user}:{password}"),
            ] {
                let encoded = engine.encode(pair.as_bytes());
                self.add(encoded.trim_end_matches('='), 3);
            }
        }
        self
    }

    fn add(&mut self, secret: &str, shortest: usize) {
        if secret.len() >= shortest && !self.secrets.iter().any(|known| known == secret) {
            self.secrets.push(secret.to_owned());
            self.secrets
                .sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        }
    }

    /// `text` with every known credential, header value and URL user information replaced
    /// by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        if let Some(pattern) = AUTHORIZATION.as_ref()
            && pattern.is_match(&out)
        {
            out = pattern
                .replace_all(&out, format!("${{1}}{REDACTED}"))
                .into_owned();
        }
        if let Some(pattern) = URL_USERINFO.as_ref()
            && pattern.is_match(&out)
        {
            out = pattern
                .replace_all(&out, format!("${{1}}{REDACTED}@"))
                .into_owned();
        }
        out
    }
}

/// `text` with its `%XX` escapes decoded (invalid UTF-8 replaced).
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                index += 3;
            }
            None => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    fn the_key_goes_everywhere_it_appears() {
        let key = ApiKey::new("sk-canary-123456");
        let text = "bad key sk-canary-123456 (token sk-canary-123456)";
        assert_eq!(
            Redactor::new(Some(&key)).redact(text),
            "bad key <redacted> (token <redacted>)"
        );
    }

    #[test]
    fn without_credentials_ordinary_text_is_kept() {
        for redactor in [Redactor::new(None), Redactor::new(Some(&ApiKey::new("")))] {
            assert_eq!(redactor.redact("hello"), "hello");
            assert_eq!(
                redactor.redact("see https://example.com/a@b and the authorization flow"),
                "see https://example.com/a@b and the authorization flow"
            );
        }
    }

    #[test]
    fn proxy_credentials_headers_and_userinfo_are_removed() {
        let proxy = Url::parse("http://pr%C3%B6xy-user:p%40ss-word@proxy.test:3128").unwrap();
        let redactor = Redactor::new(Some(&ApiKey::new("sk-canary-123456"))).with_url(&proxy);
        let basic = base64::engine::general_purpose::STANDARD.encode("pröxy-user:p@ss-word");
        let body = format!(
            "{{\"error\": \"denied for pröxy-user / p@ss-word (pr%C3%B6xy-user:p%40ss-word), \
             Proxy-Authorization: Basic {basic}, bare {basic}, \
             \\\"Authorization\\\": \\\"Bearer other-token-77\\\", \
             authorization=Negotiate YIIabc, upstream https://bob:hunter22@up.test/v1 \
             key sk-canary-123456\"}}"
        );
        let shown = redactor.redact(&body);
        for secret in [
            "pröxy-user",
            "p@ss-word",
            "pr%C3%B6xy",
            "p%40ss",
            basic.trim_end_matches('='),
            "other-token-77",
            "YIIabc",
            "bob",
            "hunter22",
            "sk-canary",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("Proxy-Authorization: <redacted>"), "{shown}");
        assert!(shown.contains("https://<redacted>@up.test/v1"), "{shown}");
    }
}

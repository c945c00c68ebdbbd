//! A guard in front of the JSON-RPC reader. tower-lsp-server stops reading, and so the whole
//! server ends, at the first frame it cannot decode: a body that is not JSON or not UTF-8, a
//! JSON value that is not a JSON-RPC 2.0 message, a header block without `Content-Length`, a
//! `Content-Type` without `charset=utf-8`. One bad message from a client would end the user's
//! session. This layer re-frames the input: valid messages pass through byte for byte; an
//! invalid one becomes a `chatls/invalidRequest` request (when it carries an id the client
//! waits on, which is then answered with an error) or a `chatls/invalidMessage` notification
//! (logged and reported to the client). Framing is pure ([`Deframer`], [`sanitize`]); the
//! pump only moves bytes.

use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower_lsp_server::jsonrpc::Response;

/// The request an invalid message with an id becomes; answered with an error.
pub const INVALID_REQUEST_METHOD: &str = "chatls/invalidRequest";
/// The notification an invalid message without a usable id becomes; logged.
pub const INVALID_MESSAGE_METHOD: &str = "chatls/invalidMessage";
/// `textDocument/codeAction` is handed on under this name: lsp-types' `CodeAction` has no
/// `tags` field, and every chatls code action carries the LSP 3.18 tag `LLMGenerated`, so the
/// server answers it as JSON of its own (same id, same params).
pub const CODE_ACTION_METHOD: &str = "chatls/codeAction";

/// A header block longer than this is garbage.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// A `Content-Length` larger than this is taken for garbage too.
const MAX_BODY_BYTES: usize = 1 << 30;
const MARKER: &[u8] = b"content-length";

/// What the deframer found next in the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete body, as sent.
    Body(Vec<u8>),
    /// Bytes that were not a valid header block; they were skipped up to the next
    /// `Content-Length`.
    Garbage(String),
}

/// Splits an LSP byte stream into bodies, resynchronising after garbage at the next
/// `Content-Length` header (matched in any case).
#[derive(Debug, Default)]
pub struct Deframer {
    buffer: Vec<u8>,
    /// The length of the body being read, once its header block is parsed.
    body_len: Option<usize>,
    /// After garbage: skip to the next `Content-Length`.
    resync: bool,
}

impl Deframer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next frame, if the bytes pushed so far complete one.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(len) = self.body_len {
                if self.buffer.len() < len {
                    return None;
                }
                // The body leaves the buffer without a copy; only what follows it moves.
                let rest = self.buffer.split_off(len);
                let body = std::mem::replace(&mut self.buffer, rest);
                self.body_len = None;
                return Some(Frame::Body(body));
            }
            if self.resync {
                match find_marker(&self.buffer) {
                    Some(at) => {
                        self.buffer.drain(..at);
                        self.resync = false;
                    }
                    None => {
                        // Keep a tail that may be the start of a split marker.
                        let keep = self.buffer.len().min(MARKER.len() - 1);
                        self.buffer.drain(..self.buffer.len() - keep);
                        return None;
                    }
                }
            }
            // Blank lines between messages are tolerated.
            let leading = self
                .buffer
                .iter()
                .take_while(|byte| matches!(byte, b'\r' | b'\n'))
                .count();
            self.buffer.drain(..leading);
            let Some((head_len, block_len)) = header_end(&self.buffer) else {
                if self.buffer.len() > MAX_HEADER_BYTES {
                    self.skip_garbage(1);
                    return Some(Frame::Garbage(format!(
                        "no end of the header block within {MAX_HEADER_BYTES} bytes"
                    )));
                }
                return None;
            };
            match content_length(&self.buffer[..head_len]) {
                Ok(len) => {
                    self.buffer.drain(..block_len);
                    self.body_len = Some(len);
                }
                Err(reason) => {
                    // Resume at the next Content-Length, even one inside this block.
                    self.skip_garbage(1);
                    return Some(Frame::Garbage(reason));
                }
            }
        }
    }

    fn skip_garbage(&mut self, at_least: usize) {
        self.buffer.drain(..at_least.min(self.buffer.len()));
        self.resync = true;
    }
}

/// Where the next `Content-Length` (any case) starts.
fn find_marker(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(MARKER.len())
        .position(|window| window.eq_ignore_ascii_case(MARKER))
}

/// The length of the header lines and of the whole block with its blank line.
fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let crlf = bytes.windows(4).position(|window| window == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|window| window == b"\n\n");
    match (crlf, lf) {
        (Some(crlf), Some(lf)) if lf < crlf => Some((lf, lf + 2)),
        (Some(crlf), _) => Some((crlf, crlf + 4)),
        (None, Some(lf)) => Some((lf, lf + 2)),
        (None, None) => None,
    }
}

/// The `Content-Length` of a header block; other headers are dropped (the body is always
/// forwarded as UTF-8, which is the only encoding LSP allows).
fn content_length(head: &[u8]) -> Result<usize, String> {
    let text = String::from_utf8_lossy(head);
    let mut length = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let Some((name, value)) = line.split_once(':') else {
            return Err("a header line without a colon".to_owned());
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let parsed = value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|len| *len <= MAX_BODY_BYTES)
                .ok_or_else(|| "an invalid Content-Length header".to_owned())?;
            length = Some(parsed);
        }
    }
    length.ok_or_else(|| "a header block without Content-Length".to_owned())
}

/// The frame to hand to the JSON-RPC reader for one body: the body itself when it is a valid
/// message, else a replacement that the server answers or logs.
pub fn sanitize(body: Vec<u8>) -> Vec<u8> {
    let (mut head, body) = sanitized(body);
    head.extend_from_slice(&body);
    head
}

/// [`sanitize`] as a header block and a body, so the pump can write a large body without
/// copying it into a new frame.
pub fn sanitized(body: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    match check(&body) {
        Ok(method) => {
            let body = reroute(body, method);
            (header(body.len()), body)
        }
        Err(reason) => {
            let replaced = replacement(&body, &reason).to_string().into_bytes();
            (header(replaced.len()), replaced)
        }
    }
}

fn header(len: usize) -> Vec<u8> {
    format!("Content-Length: {len}\r\n\r\n").into_bytes()
}

/// A valid body, with a `textDocument/codeAction` request renamed to [`CODE_ACTION_METHOD`].
/// Every other body passes byte for byte. The method's place comes from the shape scan in
/// [`check`], so no body is searched or parsed a second time; only a method name written
/// with JSON escapes (which no client sends) takes a parse to rewrite.
fn reroute(body: Vec<u8>, method: Method) -> Vec<u8> {
    match method {
        Method::CodeActionAt(at) => {
            let mut renamed = Vec::with_capacity(body.len() + CODE_ACTION_METHOD.len());
            renamed.extend_from_slice(&body[..at.start]);
            renamed.extend_from_slice(CODE_ACTION_METHOD.as_bytes());
            renamed.extend_from_slice(&body[at.end..]);
            renamed
        }
        Method::CodeActionEscaped => {
            let Ok(mut message) = serde_json::from_slice::<Value>(&body) else {
                return body;
            };
            match message.get_mut("method") {
                Some(method) => {
                    *method = Value::String(CODE_ACTION_METHOD.to_owned());
                    serde_json::to_vec(&message).unwrap_or(body)
                }
                None => body,
            }
        }
        Method::Other => body,
    }
}

/// What the shape scan learnt of a valid message's method.
#[derive(Debug, PartialEq, Eq)]
enum Method {
    /// A `textDocument/codeAction` request; its name sits at these bytes of the body.
    CodeActionAt(std::ops::Range<usize>),
    /// A `textDocument/codeAction` request whose name is written with escapes.
    CodeActionEscaped,
    /// Anything else: a notification, a response, another request.
    Other,
}

/// A replacement frame for garbage between messages.
pub fn garbage_frame(reason: &str) -> Vec<u8> {
    let message = json!({
        "jsonrpc": "2.0",
        "method": INVALID_MESSAGE_METHOD,
        "params": {"reason": reason},
    });
    frame(message.to_string().as_bytes())
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

/// Whether tower-lsp-server will decode this body (it takes a `Response` or a `Request`).
/// The request's shape is checked by a scan that builds nothing: a 50 MB `didOpen` is not
/// turned into a JSON tree here (tower-lsp-server parses it, once, after this).
fn check(body: &[u8]) -> Result<Method, String> {
    const CODE_ACTION: &str = "textDocument/codeAction";
    let text = std::str::from_utf8(body).map_err(|_| "the body is not valid UTF-8".to_owned())?;
    if text.is_empty() {
        // The reader skips an empty body.
        return Ok(Method::Other);
    }
    let request = match serde_json::from_str::<shape::Request>(text) {
        Ok(request) if request.is_request() && request.method == CODE_ACTION => {
            return Ok(match request.method {
                std::borrow::Cow::Borrowed(name) => {
                    // Borrowed from `text`, so its place in the body is a pointer difference.
                    let start = name.as_ptr() as usize - text.as_ptr() as usize;
                    Method::CodeActionAt(start..start + name.len())
                }
                std::borrow::Cow::Owned(_) => Method::CodeActionEscaped,
            });
        }
        Ok(_) => return Ok(Method::Other),
        Err(error) => error,
    };
    if serde_json::from_str::<Response>(text).is_ok() {
        return Ok(Method::Other);
    }
    if request.is_syntax() || request.is_eof() {
        return Err(format!("the body is not JSON ({request})"));
    }
    Err(format!("not a JSON-RPC 2.0 message ({request})"))
}

/// The shape tower-lsp-server's `Request` accepts, field for field, with the values scanned
/// (numbers range-checked, strings unescaped into a reused buffer) but never kept.
mod shape {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use tower_lsp_server::jsonrpc::Id;

    fn some<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(deserializer).map(Some)
    }

    #[derive(serde::Deserialize)]
    pub struct Request<'a> {
        #[serde(rename = "jsonrpc")]
        _jsonrpc: Version,
        #[serde(default, borrow)]
        pub method: Cow<'a, str>,
        #[serde(default, deserialize_with = "some", rename = "params")]
        _params: Option<Scanned>,
        #[serde(default, deserialize_with = "some")]
        id: Option<Id>,
    }

    impl Request<'_> {
        /// A request the client waits on (an id that is not null).
        pub fn is_request(&self) -> bool {
            self.id.as_ref().is_some_and(|id| !matches!(id, Id::Null))
        }
    }

    /// `"2.0"` and nothing else.
    pub struct Version;

    impl<'de> Deserialize<'de> for Version {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let text = Cow::<'de, str>::deserialize(deserializer)?;
            if text == "2.0" {
                Ok(Version)
            } else {
                Err(de::Error::custom(format!(
                    "expected JSON-RPC version \"2.0\", found {text:?}"
                )))
            }
        }
    }

    /// Any JSON value, read the way `serde_json::Value` reads it, then dropped.
    pub struct Scanned;

    impl<'de> Deserialize<'de> for Scanned {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ScanVisitor)
        }
    }

    struct ScanVisitor;

    impl<'de> Visitor<'de> for ScanVisitor {
        type Value = Scanned;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_str<E>(self, _: &str) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_unit<E>(self) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_none<E>(self) -> Result<Scanned, E> {
            Ok(Scanned)
        }
        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scanned, D::Error> {
            Scanned::deserialize(deserializer)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scanned, A::Error> {
            while seq.next_element::<Scanned>()?.is_some() {}
            Ok(Scanned)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scanned, A::Error> {
            while map.next_entry::<Scanned, Scanned>()?.is_some() {}
            Ok(Scanned)
        }
    }
}

/// `chatls/invalidRequest` with the message's id when it is a request the client waits on,
/// else `chatls/invalidMessage`.
fn replacement(body: &[u8], reason: &str) -> Value {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let id = parsed.as_ref().and_then(|value| {
        let object = value.as_object()?;
        if object.contains_key("result") || object.contains_key("error") {
            return None;
        }
        match object.get("id")? {
            id @ Value::String(_) => Some(id.clone()),
            id @ Value::Number(number) if number.is_i64() => Some(id.clone()),
            _ => None,
        }
    });
    match id {
        Some(id) => json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": INVALID_REQUEST_METHOD,
            "params": {"reason": reason},
        }),
        None => json!({
            "jsonrpc": "2.0",
            "method": INVALID_MESSAGE_METHOD,
            "params": {"reason": reason},
        }),
    }
}

/// The log target of the client's capabilities (`CHATLS_LOG=chatls::client=debug`).
pub const CLIENT_LOG_TARGET: &str = "chatls::client";

/// What the client said of itself in `initialize`: its capabilities as sent, before lsp-types
/// drops the fields it does not know (the real VS Code suite compares them with
/// e2e/capabilities/vscode.json), and the name and version of its `clientInfo`.
#[derive(Debug, PartialEq)]
pub struct ClientHello {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `params.capabilities`, compact JSON.
    pub capabilities: String,
}

/// What a body before the client's first request tells of the client.
#[derive(Debug, PartialEq)]
pub enum FirstRequest {
    /// Not a request yet (a notification, or not a message): keep looking.
    NotYet,
    /// The first request: `initialize` with what it said, or another method (`None`).
    Seen(Option<ClientHello>),
}

/// Reads only `method`, `id` and, of the params, `capabilities` (its text, as sent) and
/// `clientInfo`: the rest (`initializationOptions` may hold settings and an API key) is
/// skipped unread.
#[derive(serde::Deserialize)]
struct Hello<'a> {
    method: Option<String>,
    id: Option<Value>,
    #[serde(borrow)]
    params: Option<HelloParams<'a>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HelloParams<'a> {
    #[serde(borrow)]
    capabilities: Option<&'a RawValue>,
    client_info: Option<HelloClient>,
}

#[derive(serde::Deserialize)]
struct HelloClient {
    name: Option<String>,
    version: Option<String>,
}

/// The client's `initialize`, when `body` is the first request.
pub fn first_request(body: &[u8]) -> FirstRequest {
    let Ok(message) = serde_json::from_slice::<Hello>(body) else {
        return FirstRequest::NotYet;
    };
    let (Some(method), Some(_)) = (message.method, message.id) else {
        return FirstRequest::NotYet;
    };
    if method != "initialize" {
        return FirstRequest::Seen(None);
    }
    let params = message.params;
    let client = params
        .as_ref()
        .and_then(|params| params.client_info.as_ref());
    let capabilities = params
        .as_ref()
        .and_then(|params| params.capabilities)
        .map_or_else(|| "null".to_owned(), |raw| compact(raw.get()));
    FirstRequest::Seen(Some(ClientHello {
        name: client.and_then(|client| client.name.clone()),
        version: client.and_then(|client| client.version.clone()),
        capabilities,
    }))
}

/// Valid JSON without the whitespace between its tokens: one line, in the client's order.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for char in json.chars() {
        if in_string {
            out.push(char);
            match (escaped, char) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !char.is_ascii_whitespace() {
            in_string = char == '"';
            out.push(char);
        }
    }
    out
}

/// Logs the client's `initialize` once, at debug level, on one line (the capabilities last).
fn log_client(hello: &ClientHello) {
    tracing::debug!(
        target: CLIENT_LOG_TARGET,
        client = hello.name.as_deref().unwrap_or(""),
        version = hello.version.as_deref().unwrap_or(""),
        capabilities = %hello.capabilities,
        "client capabilities"
    );
}

/// Copies `input` to `output` frame by frame, sanitized, until `input` ends. At debug level
/// for [`CLIENT_LOG_TARGET`] it logs the client's capabilities from its `initialize` first.
pub async fn pump<I, O>(mut input: I, mut output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut deframer = Deframer::new();
    let mut piece = vec![0u8; 64 * 1024];
    let mut client_known = !tracing::enabled!(target: CLIENT_LOG_TARGET, tracing::Level::DEBUG);
    loop {
        let read = match input.read(&mut piece).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        deframer.push(&piece[..read]);
        while let Some(next) = deframer.next_frame() {
            let (head, body) = match next {
                Frame::Body(body) => {
                    if !client_known && let FirstRequest::Seen(hello) = first_request(&body) {
                        client_known = true;
                        if let Some(hello) = hello {
                            log_client(&hello);
                        }
                    }
                    sanitized(body)
                }
                Frame::Garbage(reason) => {
                    tracing::warn!(%reason, "skipped bytes that were not an LSP message");
                    (garbage_frame(&reason), Vec::new())
                }
            };
            if output.write_all(&head).await.is_err() || output.write_all(&body).await.is_err() {
                return;
            }
        }
        if output.flush().await.is_err() {
            return;
        }
    }
    let _ = output.shutdown().await;
}

#[cfg(test)]
mod tests;

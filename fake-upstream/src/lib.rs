//! A scripted OpenAI-compatible upstream over real HTTP/1.1 on 127.0.0.1, for tests.
//!
//! Written on a raw `TcpListener` so that faults are exact: each request takes the next
//! scripted [`Reply`] (or the default one), which can stream SSE step by step with delays,
//! reset the connection, stop mid-stream, stall, or answer with any status and body.
//! Connections are kept alive (several requests per connection); streamed replies use
//! chunked transfer encoding. While it writes, waits or stalls, the server watches the socket
//! and counts a stream as aborted as soon as the client goes away.
//!
//! Control endpoints (also used by the `fake-upstream` binary): `GET /__requests` (the
//! recorded requests as JSON), `POST /__push` (a reply to queue), `POST /__default` (the
//! reply used when the queue is empty), `GET /__stats` (`{"connections", "aborted_streams", "model_requests"}`),
//! `POST /__models` (the reply to `GET …/models`, which never takes a chat reply; 404 by default).
//!
//! Completion requests (a chat request whose last message ends with the cursor marker
//! `<|cursor|>`, the shape of chatls's completion prompt) are routed apart once a completion
//! reply is set: they take `POST /__push_completion` replies, else the `POST
//! /__default_completion` reply, and never an action's scripted reply. Until either is set
//! they share the one queue, as before.
//!
//! Replies in JSON: `{"type":"sse","status":200,"headers":[["x","y"]],"steps":[...]}` with
//! steps `{"data":{...}}`, `{"raw":"..."}`, `"done"`, `{"delay":50}`, `"reset"`, `"close"`,
//! `"stall"`; `{"type":"body","status":401,"headers":[],"body":"...","delay_ms":0}`;
//! `{"type":"hangup"}`; `{"type":"reset"}`; and the shorthands `{"type":"text","chunks":[...],
//! "delay_ms":0}`, `{"type":"tool_calls","calls":[["id","name","{}"]],"fragment_len":8}`,
//! `{"type":"json_text","text":"..."}`, `{"type":"json_tool_calls","calls":[...]}`,
//! `{"type":"status","code":429,"body":"...","headers":[["retry-after","1"]]}`.

pub mod proxy;
pub mod tls;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// The model name the fake reports.
pub const FAKE_MODEL: &str = "fake-model";

/// The longest request head the fake accepts.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// One step of a streamed reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `data: <json>\n\n`.
    Data(Value),
    /// These bytes as they are (one chunk of the chunked body).
    Raw(String),
    /// `data: [DONE]\n\n`.
    Done,
    /// Wait this many milliseconds.
    Delay(u64),
    /// Abort the TCP connection (SO_LINGER 0, then close: the client sees a reset).
    Reset,
    /// Close the connection cleanly (FIN) without finishing the chunked body.
    Close,
    /// Hold the connection open, sending nothing, until the client goes away.
    Stall,
}

/// What the fake answers to one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", from = "ReplySpec")]
pub enum Reply {
    /// A streamed (chunked) response; `Content-Type: text/event-stream` unless a header says
    /// otherwise. When the steps run out the body is finished properly.
    Sse {
        status: u16,
        headers: Vec<(String, String)>,
        steps: Vec<Step>,
    },
    /// A response with `Content-Length`, sent after `delay_ms`; `Content-Type:
    /// application/json` unless a header says otherwise.
    Body {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        delay_ms: u64,
    },
    /// Close the connection (FIN) without a response.
    Hangup,
    /// Reset the connection (RST) without a response.
    Reset,
}

/// Everything a reply can be written as in JSON: the [`Reply`] variants and shorthands for
/// the helper constructors.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ReplySpec {
    Sse {
        #[serde(default = "ok")]
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        steps: Vec<Step>,
    },
    Body {
        #[serde(default = "ok")]
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
        #[serde(default)]
        delay_ms: u64,
    },
    Hangup,
    Reset,
    Text {
        chunks: Vec<String>,
        #[serde(default)]
        delay_ms: u64,
    },
    ToolCalls {
        calls: Vec<(String, String, String)>,
        #[serde(default = "default_fragment_len")]
        fragment_len: usize,
    },
    JsonText {
        text: String,
    },
    JsonToolCalls {
        calls: Vec<(String, String, String)>,
    },
    Status {
        code: u16,
        #[serde(default)]
        body: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
}

fn ok() -> u16 {
    200
}

fn default_fragment_len() -> usize {
    16
}

impl From<ReplySpec> for Reply {
    fn from(spec: ReplySpec) -> Reply {
        match spec {
            ReplySpec::Sse {
                status,
                headers,
                steps,
            } => Reply::Sse {
                status,
                headers,
                steps,
            },
            ReplySpec::Body {
                status,
                headers,
                body,
                delay_ms,
            } => Reply::Body {
                status,
                headers,
                body,
                delay_ms,
            },
            ReplySpec::Hangup => Reply::Hangup,
            ReplySpec::Reset => Reply::Reset,
            ReplySpec::Text { chunks, delay_ms } => {
                let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
                Reply::text_with_delay(&chunks, delay_ms)
            }
            ReplySpec::ToolCalls {
                calls,
                fragment_len,
            } => Reply::tool_calls(&borrow_calls(&calls), fragment_len),
            ReplySpec::JsonText { text } => Reply::json_text(&text),
            ReplySpec::JsonToolCalls { calls } => Reply::json_tool_calls(&borrow_calls(&calls)),
            ReplySpec::Status {
                code,
                body,
                headers,
            } => headers
                .iter()
                .fold(Reply::status(code, &body), |reply, (name, value)| {
                    reply.with_header(name, value)
                }),
        }
    }
}

fn borrow_calls(calls: &[(String, String, String)]) -> Vec<(&str, &str, &str)> {
    calls
        .iter()
        .map(|(id, name, arguments)| (id.as_str(), name.as_str(), arguments.as_str()))
        .collect()
}

fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": FAKE_MODEL,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
    })
}

fn usage_chunk(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": FAKE_MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })
}

/// `text` cut into pieces of at most `len` characters (at least one piece).
fn split_chars(text: &str, len: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(len.max(1))
        .map(|piece| piece.iter().collect())
        .collect()
}

impl Reply {
    /// OpenAI-shaped SSE: a role chunk, one content chunk per item, a `stop` chunk, a usage
    /// chunk (`choices: []`), `[DONE]`.
    pub fn text(chunks: &[&str]) -> Reply {
        Reply::text_with_delay(chunks, 0)
    }

    /// Like [`Reply::text`] with a delay before each content chunk.
    pub fn text_with_delay(chunks: &[&str], delay_ms: u64) -> Reply {
        let mut steps = vec![Step::Data(chunk(
            json!({ "role": "assistant", "content": "" }),
            None,
        ))];
        for text in chunks {
            if delay_ms > 0 {
                steps.push(Step::Delay(delay_ms));
            }
            steps.push(Step::Data(chunk(json!({ "content": text }), None)));
        }
        steps.push(Step::Data(chunk(json!({}), Some("stop"))));
        steps.push(Step::Data(usage_chunk(10, chunks.len() as u64)));
        steps.push(Step::Done);
        Reply::sse(steps)
    }

    /// Streamed tool calls: for each call, a first fragment with `id`, `type` and `name`, then
    /// its arguments in pieces of `fragment_len` characters; finish reason `tool_calls`.
    pub fn tool_calls(calls: &[(&str, &str, &str)], fragment_len: usize) -> Reply {
        let mut steps = vec![Step::Data(chunk(
            json!({ "role": "assistant", "content": null }),
            None,
        ))];
        for (index, (id, name, arguments)) in calls.iter().enumerate() {
            steps.push(Step::Data(chunk(
                json!({ "tool_calls": [{
                    "index": index, "id": id, "type": "function",
                    "function": { "name": name, "arguments": "" },
                }] }),
                None,
            )));
            for piece in split_chars(arguments, fragment_len) {
                steps.push(Step::Data(chunk(
                    json!({ "tool_calls": [{ "index": index, "function": { "arguments": piece } }] }),
                    None,
                )));
            }
        }
        steps.push(Step::Data(chunk(json!({}), Some("tool_calls"))));
        steps.push(Step::Data(usage_chunk(10, calls.len() as u64)));
        steps.push(Step::Done);
        Reply::sse(steps)
    }

    /// A 200 SSE reply made of these steps.
    pub fn sse(steps: Vec<Step>) -> Reply {
        Reply::Sse {
            status: 200,
            headers: Vec::new(),
            steps,
        }
    }

    /// A non-streaming 200 `chat.completion` body.
    pub fn json_text(text: &str) -> Reply {
        Reply::json_completion(json!({ "role": "assistant", "content": text }), "stop")
    }

    /// A non-streaming 200 body whose message holds tool calls.
    pub fn json_tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
        let tool_calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, arguments)| {
                json!({ "id": id, "type": "function",
                        "function": { "name": name, "arguments": arguments } })
            })
            .collect();
        Reply::json_completion(
            json!({ "role": "assistant", "content": null, "tool_calls": tool_calls }),
            "tool_calls",
        )
    }

    fn json_completion(message: Value, finish_reason: &str) -> Reply {
        let body = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": FAKE_MODEL,
            "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
            "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 },
        });
        Reply::status(200, &body.to_string())
    }

    /// A response with this status and body, `Content-Type: application/json`.
    pub fn status(code: u16, body: &str) -> Reply {
        Reply::Body {
            status: code,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_owned(),
            delay_ms: 0,
        }
    }

    /// Sets a response header (replacing one of the same name).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Sse { headers, .. } | Reply::Body { headers, .. } = &mut self {
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Delays the response head of a `Body` reply (for first-byte timeouts).
    pub fn with_delay(mut self, delay: u64) -> Reply {
        if let Reply::Body { delay_ms, .. } = &mut self {
            *delay_ms = delay;
        }
        self
    }
}

/// A request the fake received (control requests excluded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names are lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
    /// Which connection it came on (1 for the first accepted).
    pub connection_id: u64,
    /// A completion request (see [`is_completion_request`]).
    #[serde(default)]
    pub completion: bool,
}

/// The end of chatls's completion prompt: the code before the cursor, then this marker.
pub const CURSOR_MARKER: &str = "<|cursor|>";

/// A chat body whose last message ends with [`CURSOR_MARKER`]: a completion request, which
/// the fake answers from its own queue so it never takes an action's scripted reply.
pub fn is_completion_request(body: &Value) -> bool {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| messages.last())
        .and_then(|message| message.get("content"))
        .and_then(Value::as_str)
        .is_some_and(|content| content.trim_end().ends_with(CURSOR_MARKER))
}

impl RecordedRequest {
    /// The first header with this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

struct State {
    queue: VecDeque<Reply>,
    default: Reply,
    /// Replies for completion requests only.
    completion_queue: VecDeque<Reply>,
    /// The reply to a completion request when its queue is empty; while neither this nor a
    /// queued completion reply was ever set, completion requests share `queue`.
    completion_default: Option<Reply>,
    /// The answer to `GET …/models` (kept apart from the chat queue).
    models: Reply,
    model_requests: usize,
    requests: Vec<RecordedRequest>,
    connections: usize,
    aborted: usize,
}

impl State {
    /// The reply for the next chat request: completion requests take their own replies once
    /// any was set, so they never consume an action's scripted answer.
    fn next_reply(&mut self, completion: bool) -> Reply {
        if completion && let Some(default) = &self.completion_default {
            return self
                .completion_queue
                .pop_front()
                .unwrap_or_else(|| default.clone());
        }
        self.queue
            .pop_front()
            .unwrap_or_else(|| self.default.clone())
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.lock());
        self.changed.notify_waiters();
    }
}

/// The running fake. Dropping it stops the server and closes its connections.
pub struct FakeUpstream {
    shared: Arc<Shared>,
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUpstream {
    /// Starts on a free port of 127.0.0.1; `replies` are used in order.
    pub async fn start(replies: Vec<Reply>) -> std::io::Result<FakeUpstream> {
        FakeUpstream::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), replies).await
    }

    /// Starts on the given address (port 0 picks a free one).
    pub async fn start_on(
        address: SocketAddr,
        replies: Vec<Reply>,
    ) -> std::io::Result<FakeUpstream> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: replies.into(),
                default: Reply::text(&["(no scripted reply)"]),
                completion_queue: VecDeque::new(),
                completion_default: None,
                models: Reply::status(404, "{\"error\":{\"message\":\"no model list\"}}"),
                model_requests: 0,
                requests: Vec::new(),
                connections: 0,
                aborted: 0,
            }),
            changed: Notify::new(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FakeUpstream {
            shared,
            address,
            task,
        })
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Queues a reply after the scripted ones.
    pub fn push(&self, reply: Reply) {
        self.shared.update(|state| state.queue.push_back(reply));
    }

    /// The reply used when the queue is empty.
    pub fn set_default(&self, reply: Reply) {
        self.shared.update(|state| state.default = reply);
    }

    /// Queues a reply for completion requests only; from now on they no longer take the
    /// action replies of [`FakeUpstream::push`].
    pub fn push_completion(&self, reply: Reply) {
        self.shared.update(|state| {
            state.completion_queue.push_back(reply);
            state
                .completion_default
                .get_or_insert_with(|| Reply::text(&[""]));
        });
    }

    /// The reply to a completion request when the completion queue is empty; from now on
    /// completion requests no longer take the action replies of [`FakeUpstream::push`].
    pub fn set_completion_default(&self, reply: Reply) {
        self.shared
            .update(|state| state.completion_default = Some(reply));
    }

    /// The reply to `GET …/models` (default: 404); chat replies are not used for it.
    pub fn set_models(&self, reply: Reply) {
        self.shared.update(|state| state.models = reply);
    }

    /// A `GET …/models` reply listing these ids, OpenAI style.
    pub fn models_reply(ids: &[&str]) -> Reply {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "object": "model"}))
            .collect();
        Reply::status(200, &json!({"object": "list", "data": data}).to_string())
            .with_header("content-type", "application/json")
    }

    /// How many `GET …/models` requests arrived.
    pub fn model_requests(&self) -> usize {
        self.shared.lock().model_requests
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Waits until `n` requests have arrived or `timeout` passes; returns those seen.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.wait_until(timeout, |state| state.requests.len() >= n)
            .await;
        self.requests()
    }

    pub fn connections_accepted(&self) -> usize {
        self.shared.lock().connections
    }

    /// Streams the client closed before the server finished writing them.
    pub fn aborted_streams(&self) -> usize {
        self.shared.lock().aborted
    }

    /// True as soon as a stream has been aborted by the client; false after `timeout`.
    pub async fn wait_for_abort(&self, timeout: Duration) -> bool {
        self.wait_for_aborts(1, timeout).await
    }

    /// True as soon as `n` streams have been aborted by the client; false after `timeout`.
    pub async fn wait_for_aborts(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| state.aborted >= n).await
    }

    async fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.shared.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done(&self.shared.lock());
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                let mut id = 0;
                shared.update(|state| {
                    state.connections += 1;
                    id = state.connections as u64;
                });
                connections.spawn(serve_connection(stream, id, shared.clone()));
            }
            // Out of file descriptors and the like: wait a little instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What happens to the connection after a reply.
enum After {
    KeepAlive,
    Close,
    Reset,
}

async fn serve_connection(mut stream: TcpStream, connection_id: u64, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    loop {
        let Ok(Some(request)) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let wants_close = request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let is_models = request.method == "GET"
            && request
                .path
                .split('?')
                .next()
                .unwrap_or("")
                .ends_with("/models");
        let after = if request.path.starts_with("/__") {
            control(&mut stream, &request, &shared).await
        } else if is_models {
            let reply = {
                let mut state = shared.lock();
                state.model_requests += 1;
                state.models.clone()
            };
            shared.changed.notify_waiters();
            let (mut reader, mut writer) = stream.split();
            tokio::select! {
                outcome = write_reply(&mut writer, reply) => outcome.unwrap_or(After::Close),
                () = wait_for_close(&mut reader, &mut buffer) => After::Close,
            }
        } else {
            let reply = {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&request.body).into_owned())
                });
                let completion = is_completion_request(&body);
                let mut state = shared.lock();
                let reply = state.next_reply(completion);
                state.requests.push(RecordedRequest {
                    method: request.method.clone(),
                    path: request.path.clone(),
                    headers: request.headers.clone(),
                    body,
                    connection_id,
                    completion,
                });
                reply
            };
            shared.changed.notify_waiters();
            let (mut reader, mut writer) = stream.split();
            tokio::select! {
                outcome = write_reply(&mut writer, reply) => match outcome {
                    Ok(after) => after,
                    Err(_) => {
                        shared.update(|state| state.aborted += 1);
                        After::Close
                    }
                },
                () = wait_for_close(&mut reader, &mut buffer) => {
                    shared.update(|state| state.aborted += 1);
                    After::Close
                }
            }
        };
        match after {
            After::KeepAlive if !wants_close => {}
            After::KeepAlive | After::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            After::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
        }
    }
}

/// Reads while a reply is being written: returns when the client closes or resets the
/// connection; bytes it sends meanwhile (a next request) are kept in `buffer`.
async fn wait_for_close<R: AsyncRead + Unpin>(reader: &mut R, buffer: &mut Vec<u8>) {
    let mut piece = [0u8; 4096];
    loop {
        match reader.read(&mut piece).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&piece[..n]),
        }
    }
}

/// The next request on the connection, or `None` when the client closed it.
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    let mut piece = [0u8; 8192];
    loop {
        let mut header_slots = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut header_slots);
        let status = parsed
            .parse(buffer)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
        if let httparse::Status::Complete(head_len) = status {
            let headers: Vec<(String, String)> = parsed
                .headers
                .iter()
                .map(|header| {
                    (
                        header.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(header.value).into_owned(),
                    )
                })
                .collect();
            let method = parsed.method.unwrap_or("GET").to_owned();
            let path = parsed.path.unwrap_or("/").to_owned();
            let body_len = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while buffer.len() < head_len + body_len {
                let n = stream.read(&mut piece).await?;
                if n == 0 {
                    return Ok(None);
                }
                buffer.extend_from_slice(&piece[..n]);
            }
            let body = buffer[head_len..head_len + body_len].to_vec();
            buffer.drain(..head_len + body_len);
            return Ok(Some(Request {
                method,
                path,
                headers,
                body,
            }));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let n = stream.read(&mut piece).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&piece[..n]);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn head(status: u16, headers: &[(String, String)], default_type: &str, framing: &str) -> String {
    let mut text = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        text.push_str(&format!("content-type: {default_type}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(framing);
    text.push_str("\r\n");
    text
}

async fn write_chunk<W: AsyncWrite + Unpin>(writer: &mut W, data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"\r\n");
    writer.write_all(&framed).await?;
    writer.flush().await
}

async fn write_reply<W: AsyncWrite + Unpin>(
    writer: &mut W,
    reply: Reply,
) -> std::io::Result<After> {
    match reply {
        Reply::Hangup => Ok(After::Close),
        Reply::Reset => Ok(After::Reset),
        Reply::Body {
            status,
            headers,
            body,
            delay_ms,
        } => {
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            let framing = format!("content-length: {}\r\n", body.len());
            let mut bytes = head(status, &headers, "application/json", &framing).into_bytes();
            bytes.extend_from_slice(body.as_bytes());
            writer.write_all(&bytes).await?;
            writer.flush().await?;
            Ok(After::KeepAlive)
        }
        Reply::Sse {
            status,
            headers,
            steps,
        } => {
            let framing = "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n";
            writer
                .write_all(head(status, &headers, "text/event-stream", framing).as_bytes())
                .await?;
            writer.flush().await?;
            for step in steps {
                match step {
                    Step::Data(value) => {
                        write_chunk(writer, format!("data: {value}\n\n").as_bytes()).await?
                    }
                    Step::Raw(text) => write_chunk(writer, text.as_bytes()).await?,
                    Step::Done => write_chunk(writer, b"data: [DONE]\n\n").await?,
                    Step::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    Step::Reset => return Ok(After::Reset),
                    Step::Close => {
                        writer.shutdown().await?;
                        return Ok(After::Close);
                    }
                    Step::Stall => std::future::pending::<()>().await,
                }
            }
            writer.write_all(b"0\r\n\r\n").await?;
            writer.flush().await?;
            Ok(After::KeepAlive)
        }
    }
}

/// Answers a control request (`/__requests`, `/__push`, `/__default`, `/__push_completion`,
/// `/__default_completion`, `/__models`, `/__stats`).
async fn control(stream: &mut TcpStream, request: &Request, shared: &Shared) -> After {
    let path = request.path.split('?').next().unwrap_or("");
    let (status, body) = match (request.method.as_str(), path) {
        ("GET", "/__requests") => (
            200,
            serde_json::to_string(&shared.lock().requests).unwrap_or_else(|_| "[]".to_owned()),
        ),
        ("GET", "/__stats") => {
            let state = shared.lock();
            (
                200,
                json!({ "connections": state.connections, "aborted_streams": state.aborted, "model_requests": state.model_requests })
                    .to_string(),
            )
        }
        ("POST", "/__models") => match serde_json::from_slice::<Reply>(&request.body) {
            Ok(reply) => {
                shared.update(|state| state.models = reply);
                (200, json!({ "ok": true }).to_string())
            }
            Err(error) => (400, json!({ "error": error.to_string() }).to_string()),
        },
        ("POST", "/__push" | "/__default" | "/__push_completion" | "/__default_completion") => {
            match serde_json::from_slice::<Reply>(&request.body) {
                Ok(reply) => {
                    shared.update(|state| match path {
                        "/__push" => state.queue.push_back(reply),
                        "/__default" => state.default = reply,
                        "/__push_completion" => {
                            state.completion_queue.push_back(reply);
                            state
                                .completion_default
                                .get_or_insert_with(|| Reply::text(&[""]));
                        }
                        _ => state.completion_default = Some(reply),
                    });
                    (200, json!({ "ok": true }).to_string())
                }
                Err(error) => (400, json!({ "error": error.to_string() }).to_string()),
            }
        }
        _ => (
            404,
            json!({ "error": "unknown control endpoint" }).to_string(),
        ),
    };
    match write_reply(stream, Reply::status(status, &body)).await {
        Ok(after) => after,
        Err(_) => After::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_through_json() {
        let replies = vec![
            Reply::text(&["a", "b"]),
            Reply::tool_calls(&[("c1", "read_file", "{\"path\":\"x\"}")], 3),
            Reply::status(429, "{}").with_header("retry-after", "1"),
            Reply::Hangup,
            Reply::Reset,
            Reply::sse(vec![
                Step::Raw("data: x\n\n".into()),
                Step::Delay(5),
                Step::Stall,
                Step::Close,
                Step::Reset,
                Step::Done,
            ]),
        ];
        for reply in replies {
            let text = serde_json::to_string(&reply).unwrap();
            let back: Reply = serde_json::from_str(&text).unwrap();
            assert_eq!(back, reply, "{text}");
        }
    }

    #[test]
    fn shorthands_expand_to_the_helpers() {
        let text: Reply = serde_json::from_str(r#"{"type":"text","chunks":["a","b"]}"#).unwrap();
        assert_eq!(text, Reply::text(&["a", "b"]));
        let status: Reply = serde_json::from_str(
            r#"{"type":"status","code":429,"body":"{}","headers":[["retry-after","1"]]}"#,
        )
        .unwrap();
        assert_eq!(
            status,
            Reply::status(429, "{}").with_header("retry-after", "1")
        );
        let steps: Reply =
            serde_json::from_str(r#"{"type":"sse","steps":[{"data":{"a":1}},"done",{"delay":3}]}"#)
                .unwrap();
        assert_eq!(
            steps,
            Reply::sse(vec![Step::Data(json!({"a":1})), Step::Done, Step::Delay(3)])
        );
    }

    #[test]
    fn tool_call_arguments_are_split_on_char_boundaries() {
        assert_eq!(split_chars("héllo", 2), vec!["hé", "ll", "o"]);
        assert_eq!(split_chars("", 2), vec![""]);
        assert_eq!(split_chars("ab", 0), vec!["a", "b"]);
    }
}

//! Test harness: a scripted LSP client that drives the real chatls server, either in-process
//! over duplex pipes or as the built binary over stdio. It answers the server's requests the
//! way an editor would (applying `workspace/applyEdit` to its own copy of each document, with
//! version checks), records every notification, and never leaves a message unread silently.

#![allow(dead_code)]

pub mod fixture;
pub mod marked;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Notify, oneshot};

pub const WAIT: Duration = Duration::from_secs(20);

/// How the fake editor answers `workspace/applyEdit`.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyPolicy {
    /// Apply it (refusing a stale version when `documentChanges` carries one).
    Apply,
    /// Answer `applied: false` with this reason.
    Refuse(String),
}

/// The client's own view of a document.
#[derive(Clone, Debug)]
pub struct ClientDoc {
    pub text: String,
    pub version: i32,
}

#[derive(Default)]
struct State {
    notifications: Vec<(String, Value)>,
    server_requests: Vec<(String, Value)>,
    pending: HashMap<i64, oneshot::Sender<Value>>,
    docs: HashMap<String, ClientDoc>,
    encoding: String,
    apply_policy: Option<ApplyPolicy>,
    show_document_ok: bool,
    configuration: Value,
    /// A `workspace/didChangeConfiguration` the client sends becomes what it answers to
    /// `workspace/configuration`, as an editor's settings are one store.
    configuration_follows_notifications: bool,
    closed: bool,
    /// Every message the server sent, in order (for scanning, e.g. for a leaked key).
    incoming: Vec<Value>,
    /// Send `didChange` for every applied edit, as real editors do.
    echo_edits: bool,
    /// `didChange` params waiting to be sent (before the `applyEdit` response).
    pending_echo: Vec<Value>,
    /// How `window/showMessageRequest` is answered: the first action whose title contains
    /// this text (none: the request is dismissed, `null`).
    message_choice: Option<String>,
    /// Neovim's way with `didChange`, when set (see [`Client::set_neovim_like`]).
    neovim: Option<NeovimSync>,
    /// Leave `window/showMessageRequest` unanswered until [`Client::answer_held`], as a
    /// person does while reading.
    hold_message_requests: bool,
    held: std::collections::VecDeque<Value>,
    /// Server requests never answered, as a broken client does.
    ignored_requests: Vec<String>,
}

/// How Neovim 0.11/0.12 sends `didChange` (`runtime/lua/vim/lsp/_changetracking.lua`): the
/// changes of a buffer are collected and sent together, at most once per debounce interval
/// (150 ms) counted from the previous send; before the first send of a buffer each change
/// pushes the send back by the whole interval. An applied `workspace/applyEdit` is a change
/// like any other (sent before the response only when the interval has already passed).
/// Versions are `b:changedtick`, which jumps. Any request the client makes first sends what
/// is pending.
struct NeovimSync {
    debounce: Duration,
    docs: HashMap<String, NeovimDoc>,
    /// Documents changed by the server request being answered.
    due: Vec<String>,
}

#[derive(Default)]
struct NeovimDoc {
    pending: Vec<Value>,
    last_flush: Option<tokio::time::Instant>,
    /// Bumped on every change, so a timer set before it knows it was superseded.
    generation: u64,
}

type Writer = Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

#[derive(Clone)]
pub struct Client {
    writer: Writer,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    next_id: Arc<Mutex<i64>>,
    pub child: Option<Arc<Mutex<tokio::process::Child>>>,
    pub stderr: Arc<Mutex<String>>,
    /// Turns true once the binary's stderr has been read to its end.
    stderr_closed: Option<tokio::sync::watch::Receiver<bool>>,
}

fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

async fn read_message<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Converts an LSP position to a byte offset in `text`, in the given encoding (a simple,
/// independent implementation: the oracle for the server's own conversion).
pub fn offset_of(text: &str, line: u64, character: u64, encoding: &str) -> usize {
    let mut offset = 0;
    let mut current = 0;
    let bytes = text.as_bytes();
    while current < line {
        match text[offset..].find('\n') {
            Some(found) => {
                offset += found + 1;
                current += 1;
            }
            None => return text.len(),
        }
    }
    let line_end = text[offset..]
        .find('\n')
        .map(|found| offset + found)
        .unwrap_or(text.len());
    let line_end = if line_end > offset && bytes.get(line_end - 1) == Some(&b'\r') {
        line_end - 1
    } else {
        line_end
    };
    let mut units = 0u64;
    for (index, c) in text[offset..line_end].char_indices() {
        if units >= character {
            return offset + index;
        }
        units += match encoding {
            "utf-8" => c.len_utf8() as u64,
            "utf-32" => 1,
            _ => c.len_utf16() as u64,
        };
    }
    line_end
}

/// `didChange` params for edits that were applied at once: sent last-first, each change's
/// positions stay valid for the text the previous ones left.
fn echo_change(uri: &str, version: i32, edits: &[Value]) -> Value {
    let mut sorted: Vec<&Value> = edits.iter().collect();
    let key = |edit: &Value| {
        (
            edit["range"]["start"]["line"].as_u64().unwrap_or(0),
            edit["range"]["start"]["character"].as_u64().unwrap_or(0),
        )
    };
    sorted.sort_by_key(|edit| std::cmp::Reverse(key(edit)));
    let changes: Vec<Value> = sorted
        .iter()
        .map(|edit| json!({"range": edit["range"], "text": edit["newText"]}))
        .collect();
    json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes})
}

/// The `didChange` params for what a Neovim-like document holds back, if anything.
fn neovim_flush(doc: &mut NeovimDoc, uri: &str, version: i32) -> Option<Value> {
    if doc.pending.is_empty() {
        return None;
    }
    doc.last_flush = Some(tokio::time::Instant::now());
    let changes = std::mem::take(&mut doc.pending);
    Some(json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}))
}

/// A file the client has no buffer for (closed, or new and so empty), loaded from disk at
/// version 0 before an unversioned edit reaches it, as Neovim loads it into a buffer.
fn load_closed(docs: &mut HashMap<String, ClientDoc>, uri: &str) {
    if !docs.contains_key(uri) {
        let text = std::fs::read_to_string(uri.trim_start_matches("file://")).unwrap_or_default();
        docs.insert(uri.to_owned(), ClientDoc { text, version: 0 });
    }
}

pub fn apply_text_edits(text: &str, edits: &[Value], encoding: &str) -> String {
    let mut resolved: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|edit| {
            let range = &edit["range"];
            let start = offset_of(
                text,
                range["start"]["line"].as_u64().unwrap(),
                range["start"]["character"].as_u64().unwrap(),
                encoding,
            );
            let end = offset_of(
                text,
                range["end"]["line"].as_u64().unwrap(),
                range["end"]["character"].as_u64().unwrap(),
                encoding,
            );
            (start, end, edit["newText"].as_str().unwrap().to_owned())
        })
        .collect();
    resolved.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
    let mut out = text.to_owned();
    for (start, end, new_text) in resolved {
        out.replace_range(start..end, &new_text);
    }
    out
}

impl Client {
    /// The real server in-process over duplex pipes.
    pub fn in_process(env: chatls::config::EnvSettings) -> Client {
        let (client_side, server_side) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_side);
        tokio::spawn(chatls::lsp::serve(server_read, server_write, env));
        let (client_read, client_write) = tokio::io::split(client_side);
        Client::start(client_read, Box::new(client_write), None)
    }

    /// The built binary over stdio, with the given environment.
    pub fn binary(env: &[(&str, String)]) -> Client {
        Client::binary_with_args(&[], env)
    }

    /// The built binary over stdio, with arguments (such as `--log-file`) and environment.
    pub fn binary_with_args(args: &[&str], env: &[(&str, String)]) -> Client {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"));
        command
            .args(args)
            .env_remove("CHATLS_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("CHATLS_BASE_URL")
            .env_remove("CHATLS_MODEL")
            .env_remove("CHATLS_CA_FILE");
        // Hermetic: a proxy of the machine running the tests must not decide where they go.
        for name in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(name);
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn chatls");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let captured = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&captured);
        let (closed, stderr_closed) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            let _ = stderr.read_to_end(&mut buffer).await;
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer));
            let _ = closed.send(true);
        });
        let mut client = Client::start(stdout, Box::new(stdin), Some(child));
        client.stderr = captured;
        client.stderr_closed = Some(stderr_closed);
        client
    }

    fn start<R: AsyncRead + Unpin + Send + 'static>(
        reader: R,
        writer: Box<dyn AsyncWrite + Send + Unpin>,
        child: Option<tokio::process::Child>,
    ) -> Client {
        let client = Client {
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            state: Arc::new(Mutex::new(State {
                encoding: "utf-16".into(),
                apply_policy: Some(ApplyPolicy::Apply),
                show_document_ok: true,
                ..State::default()
            })),
            changed: Arc::new(Notify::new()),
            next_id: Arc::new(Mutex::new(1)),
            child: child.map(|child| Arc::new(Mutex::new(child))),
            stderr: Arc::new(Mutex::new(String::new())),
            stderr_closed: None,
        };
        let reader_client = client.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            while let Some(message) = read_message(&mut reader).await {
                reader_client.dispatch(message).await;
            }
            reader_client.state.lock().unwrap().closed = true;
            reader_client.changed.notify_waiters();
        });
        client
    }

    async fn dispatch(&self, message: Value) {
        self.state.lock().unwrap().incoming.push(message.clone());
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = message.get("id").cloned();
        match (method, id) {
            (Some(method), Some(id)) => {
                let params = message.get("params").cloned().unwrap_or(Value::Null);
                {
                    let mut state = self.state.lock().unwrap();
                    if state.ignored_requests.contains(&method) {
                        state.server_requests.push((method, params));
                        drop(state);
                        self.changed.notify_waiters();
                        return;
                    }
                    if method == "window/showMessageRequest" && state.hold_message_requests {
                        state.server_requests.push((method, params));
                        state.held.push_back(id);
                        drop(state);
                        self.changed.notify_waiters();
                        return;
                    }
                }
                let result = self.answer_server_request(&method, &params);
                let (mut echo, due) = {
                    let mut state = self.state.lock().unwrap();
                    state.server_requests.push((method, params));
                    let due = state
                        .neovim
                        .as_mut()
                        .map(|neovim| std::mem::take(&mut neovim.due))
                        .unwrap_or_default();
                    (std::mem::take(&mut state.pending_echo), due)
                };
                for uri in due {
                    echo.extend(self.neovim_changed(&uri));
                }
                for change in echo {
                    self.send(&json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change}))
                        .await;
                }
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
                    .await;
            }
            (Some(method), None) => {
                let params = message.get("params").cloned().unwrap_or(Value::Null);
                self.state
                    .lock()
                    .unwrap()
                    .notifications
                    .push((method, params));
            }
            (None, Some(id)) => {
                if let Some(id) = id.as_i64() {
                    let sender = self.state.lock().unwrap().pending.remove(&id);
                    if let Some(sender) = sender {
                        let _ = sender.send(message);
                    }
                }
            }
            (None, None) => {}
        }
        self.changed.notify_waiters();
    }

    fn answer_server_request(&self, method: &str, params: &Value) -> Value {
        let mut state = self.state.lock().unwrap();
        match method {
            "workspace/applyEdit" => {
                let policy = state.apply_policy.clone().unwrap_or(ApplyPolicy::Apply);
                if let ApplyPolicy::Refuse(reason) = policy {
                    return json!({"applied": false, "failureReason": reason});
                }
                let encoding = state.encoding.clone();
                let edit = &params["edit"];
                if let Some(changes) = edit["documentChanges"].as_array() {
                    // All or nothing, like VS Code and Helix: a refused change keeps every
                    // document as it was.
                    let before = state.docs.clone();
                    let echoes = state.pending_echo.len();
                    let refuse = |state: &mut State, reason: String| {
                        state.docs = before.clone();
                        state.pending_echo.truncate(echoes);
                        json!({"applied": false, "failureReason": reason})
                    };
                    for change in changes {
                        if change["kind"] == "create" {
                            // A new file: created empty on disk, open in the editor.
                            let uri = change["uri"].as_str().unwrap_or_default().to_owned();
                            let path = PathBuf::from(uri.trim_start_matches("file://"));
                            if path.exists() || state.docs.contains_key(&uri) {
                                return refuse(&mut state, format!("{uri} exists"));
                            }
                            if let Some(parent) = path.parent() {
                                let _ = std::fs::create_dir_all(parent);
                            }
                            if std::fs::write(&path, "").is_err() {
                                return refuse(&mut state, format!("cannot create {uri}"));
                            }
                            state.docs.insert(
                                uri,
                                ClientDoc {
                                    text: String::new(),
                                    version: 0,
                                },
                            );
                            continue;
                        }
                        let uri = change["textDocument"]["uri"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        if !state.docs.contains_key(&uri)
                            && change["textDocument"]["version"].is_null()
                            && let Ok(text) =
                                std::fs::read_to_string(uri.trim_start_matches("file://"))
                        {
                            // A closed file: the editor opens it and edits the buffer.
                            state
                                .docs
                                .insert(uri.clone(), ClientDoc { text, version: 0 });
                        }
                        let Some(doc) = state.docs.get_mut(&uri) else {
                            return refuse(&mut state, "unknown document".to_owned());
                        };
                        if let Some(version) = change["textDocument"]["version"].as_i64()
                            && version != i64::from(doc.version)
                        {
                            let reason =
                                format!("version {version} is not current ({})", doc.version);
                            return refuse(&mut state, reason);
                        }
                        let edits = change["edits"].as_array().cloned().unwrap_or_default();
                        doc.text = apply_text_edits(&doc.text, &edits, &encoding);
                        doc.version += 1;
                        let version = doc.version;
                        if state.echo_edits {
                            let echo = echo_change(&uri, version, &edits);
                            state.pending_echo.push(echo);
                        }
                    }
                }
                if let Some(changes) = edit["changes"].as_object()
                    && state.neovim.is_some()
                {
                    for (uri, edits) in changes {
                        load_closed(&mut state.docs, uri);
                        let Some(doc) = state.docs.get_mut(uri) else {
                            return json!({"applied": false, "failureReason": "unknown document"});
                        };
                        let edits = edits.as_array().cloned().unwrap_or_default();
                        // Applied last-first, one buffer change each, as Neovim does.
                        let echo = echo_change(uri, 0, &edits);
                        let applied = apply_text_edits(&doc.text, &edits, &encoding);
                        doc.text = applied;
                        doc.version += 2 * edits.len().max(1) as i32;
                        if let Some(neovim) = state.neovim.as_mut() {
                            let pending = &mut neovim.docs.entry(uri.clone()).or_default().pending;
                            pending.extend(
                                echo["contentChanges"]
                                    .as_array()
                                    .cloned()
                                    .unwrap_or_default(),
                            );
                            neovim.due.push(uri.clone());
                        }
                    }
                    return json!({"applied": true});
                }
                if let Some(changes) = edit["changes"].as_object() {
                    for (uri, edits) in changes {
                        load_closed(&mut state.docs, uri);
                        let Some(doc) = state.docs.get_mut(uri) else {
                            return json!({"applied": false, "failureReason": "unknown document"});
                        };
                        doc.text =
                            apply_text_edits(&doc.text, edits.as_array().unwrap(), &encoding);
                        doc.version += 1;
                        let version = doc.version;
                        if state.echo_edits {
                            let echo = echo_change(uri, version, edits.as_array().unwrap());
                            state.pending_echo.push(echo);
                        }
                    }
                }
                json!({"applied": true})
            }
            "window/showDocument" => json!({"success": state.show_document_ok}),
            "window/showMessageRequest" => {
                let choice = state.message_choice.clone();
                params["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|action| {
                        choice.as_deref().is_some_and(|wanted| {
                            action["title"]
                                .as_str()
                                .is_some_and(|title| title.contains(wanted))
                        })
                    })
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            "workspace/configuration" => {
                let count = params["items"].as_array().map(Vec::len).unwrap_or(1);
                Value::Array(vec![state.configuration.clone(); count])
            }
            _ => Value::Null,
        }
    }

    /// Sends `didChange` the way Neovim does from now on (see [`NeovimSync`]): debounced by
    /// `debounce`, versions that jump. Use with capabilities without `documentChanges`.
    pub fn set_neovim_like(&self, debounce: Duration) {
        self.state.lock().unwrap().neovim = Some(NeovimSync {
            debounce,
            docs: HashMap::new(),
            due: Vec::new(),
        });
    }

    /// A document of a Neovim-like client changed: the `didChange` params to send at once,
    /// or `None` when the send is held back (a timer then sends it).
    fn neovim_changed(&self, uri: &str) -> Option<Value> {
        let mut state = self.state.lock().unwrap();
        let version = state
            .docs
            .get(uri)
            .map(|doc| doc.version)
            .unwrap_or_default();
        let neovim = state.neovim.as_mut()?;
        let debounce = neovim.debounce;
        let doc = neovim.docs.entry(uri.to_owned()).or_default();
        doc.generation += 1;
        let delay = match doc.last_flush {
            None => debounce,
            Some(at) => debounce.saturating_sub(at.elapsed()),
        };
        if delay.is_zero() {
            return neovim_flush(doc, uri, version);
        }
        let generation = doc.generation;
        drop(state);
        let client = self.clone();
        let uri = uri.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let params = {
                let mut state = client.state.lock().unwrap();
                let version = state
                    .docs
                    .get(&uri)
                    .map(|doc| doc.version)
                    .unwrap_or_default();
                let Some(doc) = state.neovim.as_mut().and_then(|n| n.docs.get_mut(&uri)) else {
                    return;
                };
                if doc.generation != generation {
                    return;
                }
                neovim_flush(doc, &uri, version)
            };
            if let Some(params) = params {
                client.notify("textDocument/didChange", params).await;
            }
        });
        None
    }

    /// Sends every held-back change now, as Neovim does before any request it makes.
    async fn neovim_flush_all(&self) {
        let flushed: Vec<Value> = {
            let mut state = self.state.lock().unwrap();
            let versions: HashMap<String, i32> = state
                .docs
                .iter()
                .map(|(uri, doc)| (uri.clone(), doc.version))
                .collect();
            let Some(neovim) = state.neovim.as_mut() else {
                return;
            };
            neovim
                .docs
                .iter_mut()
                .filter_map(|(uri, doc)| {
                    doc.generation += 1;
                    neovim_flush(doc, uri, versions.get(uri).copied().unwrap_or_default())
                })
                .collect()
        };
        for params in flushed {
            self.notify("textDocument/didChange", params).await;
        }
    }

    /// Typing in a Neovim-like client: the buffer changes at once, the server hears of it
    /// when Neovim would send it.
    pub async fn type_text(&self, uri: &str, range: Value, text: &str) {
        {
            let mut state = self.state.lock().unwrap();
            let encoding = state.encoding.clone();
            let doc = state
                .docs
                .get_mut(uri)
                .expect("document open in the client");
            doc.text = apply_text_edits(
                &doc.text,
                &[json!({"range": range, "newText": text})],
                &encoding,
            );
            doc.version += 3;
            let neovim = state.neovim.as_mut().expect("a Neovim-like client");
            neovim
                .docs
                .entry(uri.to_owned())
                .or_default()
                .pending
                .push(json!({"range": range, "text": text}));
        }
        if let Some(params) = self.neovim_changed(uri) {
            self.notify("textDocument/didChange", params).await;
        }
    }

    pub async fn send(&self, message: &Value) {
        let mut writer = self.writer.lock().await;
        let _ = writer.write_all(&frame(message)).await;
        let _ = writer.flush().await;
    }

    /// Sends raw bytes (for malformed-input tests).
    pub async fn send_raw(&self, bytes: &[u8]) {
        let mut writer = self.writer.lock().await;
        let _ = writer.write_all(bytes).await;
        let _ = writer.flush().await;
    }

    /// Sends a request and waits for its whole response message (`result` or `error`).
    pub async fn request(&self, method: &str, params: Value) -> Value {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            *next
        };
        self.neovim_flush_all().await;
        let (sender, receiver) = oneshot::channel();
        self.state.lock().unwrap().pending.insert(id, sender);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        match tokio::time::timeout(WAIT, receiver).await {
            Ok(Ok(response)) => response,
            _ => panic!("no response to {method} within {WAIT:?}"),
        }
    }

    /// Sends a request without waiting: its id (for `$/cancelRequest`) and its response.
    pub async fn start_request(
        &self,
        method: &str,
        params: Value,
    ) -> (i64, impl std::future::Future<Output = Value> + use<>) {
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            *next
        };
        let (sender, receiver) = oneshot::channel();
        self.state.lock().unwrap().pending.insert(id, sender);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let method = method.to_owned();
        (id, async move {
            match tokio::time::timeout(WAIT, receiver).await {
                Ok(Ok(response)) => response,
                _ => panic!("no response to {method} within {WAIT:?}"),
            }
        })
    }

    pub async fn notify(&self, method: &str, params: Value) {
        if method == "workspace/didChangeConfiguration" {
            let mut state = self.state.lock().unwrap();
            if state.configuration_follows_notifications {
                let settings = &params["settings"];
                state.configuration = settings.get("chatls").unwrap_or(settings).clone();
            }
        }
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    pub fn set_encoding(&self, encoding: &str) {
        self.state.lock().unwrap().encoding = encoding.to_owned();
    }

    pub fn set_apply_policy(&self, policy: ApplyPolicy) {
        self.state.lock().unwrap().apply_policy = Some(policy);
    }

    pub fn set_show_document_ok(&self, ok: bool) {
        self.state.lock().unwrap().show_document_ok = ok;
    }

    /// After applying a `workspace/applyEdit`, send the matching `didChange` (before the
    /// response), as VS Code and Neovim do, so the server's buffer follows.
    pub fn set_echo_edits(&self, echo: bool) {
        self.state.lock().unwrap().echo_edits = echo;
    }

    /// Hold `window/showMessageRequest`s unanswered until [`Client::answer_held`].
    pub fn set_hold_message_requests(&self, hold: bool) {
        self.state.lock().unwrap().hold_message_requests = hold;
    }

    /// Leave every server request of these methods unanswered from now on.
    pub fn set_ignored_requests(&self, methods: &[&str]) {
        self.state.lock().unwrap().ignored_requests =
            methods.iter().map(|method| (*method).to_owned()).collect();
    }

    /// Answers the oldest held `window/showMessageRequest` (`Value::Null`: dismissed).
    pub async fn answer_held(&self, result: Value) {
        let id = self.state.lock().unwrap().held.pop_front();
        let id = id.expect("a held showMessageRequest");
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
            .await;
    }

    /// Answers `window/showMessageRequest` with the first action whose title contains `text`.
    pub fn set_message_choice(&self, text: &str) {
        self.state.lock().unwrap().message_choice = Some(text.to_owned());
    }

    /// Edits the client's copy of a document and sends the change, the way a person types.
    pub async fn type_at_end(&self, uri: &str, text: &str) {
        let end = {
            let state = self.state.lock().unwrap();
            let doc = state.docs.get(uri).expect("document open in the client");
            let lines: Vec<&str> = doc.text.split('\n').collect();
            let last = lines.last().copied().unwrap_or_default();
            let character: usize = match state.encoding.as_str() {
                "utf-8" => last.len(),
                "utf-32" => last.chars().count(),
                _ => last.encode_utf16().count(),
            };
            (lines.len() - 1, character)
        };
        let range = range(end.0 as u32, end.1 as u32, end.0 as u32, end.1 as u32);
        self.change(uri, range, text).await;
    }

    /// Answer `workspace/configuration` with the settings of the last
    /// `workspace/didChangeConfiguration` this client sent.
    pub fn set_configuration_follows_notifications(&self, follow: bool) {
        self.state
            .lock()
            .unwrap()
            .configuration_follows_notifications = follow;
    }

    pub fn set_configuration(&self, value: Value) {
        self.state.lock().unwrap().configuration = value;
    }

    /// `initialize` + `initialized` with the given capabilities and options.
    pub async fn initialize(
        &self,
        capabilities: Value,
        options: Value,
        root: Option<&Path>,
    ) -> Value {
        let root_uri = root.map(file_uri);
        let response = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": root_uri,
                    "capabilities": capabilities,
                    "initializationOptions": options,
                    "workspaceFolders": root_uri.as_ref().map(|uri| json!([{"uri": uri, "name": "root"}])),
                }),
            )
            .await;
        if let Some(encoding) = response["result"]["capabilities"]["positionEncoding"].as_str() {
            self.set_encoding(encoding);
        }
        self.notify("initialized", json!({})).await;
        response
    }

    pub async fn open(&self, uri: &str, language: &str, text: &str) {
        self.state.lock().unwrap().docs.insert(
            uri.to_owned(),
            ClientDoc {
                text: text.to_owned(),
                version: 1,
            },
        );
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        )
        .await;
    }

    /// An incremental change from the editor: the client's copy is updated the same way.
    pub async fn change(&self, uri: &str, range: Value, text: &str) {
        let (version, encoding) = {
            let mut state = self.state.lock().unwrap();
            let encoding = state.encoding.clone();
            let doc = state
                .docs
                .get_mut(uri)
                .expect("document open in the client");
            doc.text = apply_text_edits(
                &doc.text,
                &[json!({"range": range, "newText": text})],
                &encoding,
            );
            doc.version += 1;
            (doc.version, encoding)
        };
        let _ = encoding;
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": range, "text": text}]}),
        )
        .await;
    }

    /// A whole-document change, as full-sync clients send it (allowed with incremental sync
    /// too): the client's copy becomes `text`.
    pub async fn change_full(&self, uri: &str, text: &str) {
        let version = {
            let mut state = self.state.lock().unwrap();
            let doc = state
                .docs
                .get_mut(uri)
                .expect("document open in the client");
            doc.text = text.to_owned();
            doc.version += 1;
            doc.version
        };
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await;
    }

    pub fn doc(&self, uri: &str) -> ClientDoc {
        self.state
            .lock()
            .unwrap()
            .docs
            .get(uri)
            .cloned()
            .expect("document open in the client")
    }

    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .notifications
            .iter()
            .filter(|(name, _)| name == method)
            .map(|(_, params)| params.clone())
            .collect()
    }

    pub fn server_requests(&self, method: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .server_requests
            .iter()
            .filter(|(name, _)| name == method)
            .map(|(_, params)| params.clone())
            .collect()
    }

    /// Every message the server sent so far, as one JSON text per line.
    pub fn transcript(&self) -> String {
        self.state
            .lock()
            .unwrap()
            .incoming
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Closes the server's input (end of stdin for the binary), as an editor that dies does.
    pub async fn close_input(&self) {
        let mut writer = self.writer.lock().await;
        let _ = writer.shutdown().await;
        *writer = Box::new(tokio::io::sink());
    }

    /// The process id of the binary, if this client runs one.
    pub fn pid(&self) -> Option<u32> {
        self.child
            .as_ref()
            .and_then(|child| child.lock().unwrap().id())
    }

    /// Waits (up to `limit`) for the binary to exit; its status and how long it took.
    pub async fn wait_exit(&self, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let child = self.child.clone()?;
        let started = tokio::time::Instant::now();
        tokio::time::timeout(limit, async {
            loop {
                if let Some(status) = child.lock().unwrap().try_wait().ok().flatten() {
                    return (status, started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .ok()
    }

    /// The binary's whole stderr, once it has closed it (it exited): no guessing how long
    /// the last lines take to arrive.
    pub async fn stderr_to_end(&self) -> String {
        if let Some(mut closed) = self.stderr_closed.clone() {
            tokio::time::timeout(WAIT, closed.wait_for(|closed| *closed))
                .await
                .expect("the server closes stderr when it exits")
                .expect("the stderr reader reports its end");
        }
        self.stderr.lock().unwrap().clone()
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap().closed
    }

    /// Waits until `check` holds, re-checking on every message; panics with `what` on timeout.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&Client) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            if check(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                if check(self) {
                    return;
                }
                panic!(
                    "timed out waiting for {what}; notifications: {:#?}",
                    self.state.lock().unwrap().notifications
                );
            }
        }
    }

    /// The `$/progress` values for one token, in order.
    pub fn progress(&self, token: &str) -> Vec<Value> {
        self.notifications("$/progress")
            .into_iter()
            .filter(|params| params["token"] == token)
            .map(|params| params["value"].clone())
            .collect()
    }

    /// The messages of a progress token's begin, reports and end, in order.
    pub fn progress_messages(&self, token: &str) -> Vec<String> {
        self.progress(token)
            .iter()
            .filter_map(|value| value["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits for the `end` of a progress token and returns its message.
    pub async fn wait_progress_end(&self, token: &str) -> String {
        self.wait_until(&format!("progress end of {token}"), |client| {
            client
                .progress(token)
                .iter()
                .any(|value| value["kind"] == "end")
        })
        .await;
        self.progress(token)
            .into_iter()
            .find(|value| value["kind"] == "end")
            .and_then(|value| value["message"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn shown_messages(&self) -> Vec<String> {
        self.notifications("window/showMessage")
            .into_iter()
            .filter_map(|params| params["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// Runs a `chatls.*` action command and returns the progress token it started.
    pub async fn run_action(&self, command: &str, argument: Value) -> String {
        let response = self
            .request(
                "workspace/executeCommand",
                json!({"command": command, "arguments": [argument]}),
            )
            .await;
        assert!(
            response.get("error").is_none(),
            "{command} failed to start: {response}"
        );
        response["result"]["token"]
            .as_str()
            .expect("token in the command's answer")
            .to_owned()
    }

    pub async fn shutdown_and_exit(&self) {
        let _ = self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
    }
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Client capabilities shaped like the editors': progress and showDocument supported,
/// `documentChanges` as given, position encodings offered as given.
pub fn capabilities(encodings: &[&str], document_changes: bool) -> Value {
    json!({
        "general": {"positionEncodings": encodings},
        "window": {"workDoneProgress": true, "showDocument": {"support": true}},
        "workspace": {"workspaceEdit": {"documentChanges": document_changes}, "configuration": false, "workspaceFolders": true},
        "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "refactor", "refactor.rewrite"]}}}},
    })
}

pub fn range(start_line: u32, start_character: u32, end_line: u32, end_character: u32) -> Value {
    json!({"start": {"line": start_line, "character": start_character}, "end": {"line": end_line, "character": end_character}})
}

/// An environment for the server under test: the fake upstream, a key, an explain dir.
pub fn env(base_url: &str, key: Option<&str>, explain_dir: &Path) -> chatls::config::EnvSettings {
    chatls::config::EnvSettings {
        base_url: Some(base_url.to_owned()),
        model: Some("test-model".to_owned()),
        api_key: key.map(chatls::llm::secret::ApiKey::new),
        explain_dir: Some(explain_dir.to_path_buf()),
        ..chatls::config::EnvSettings::default()
    }
}

/// A temporary workspace with files.
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path: PathBuf = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
    }
    dir
}

/// A streamed answer holding `code` in a fence between prose, in pieces of seven chars.
pub fn answer_with(code: &str) -> chatls_fake_upstream::Reply {
    let text = format!("Here you go:\n```rust\n{code}```\nDone.");
    let pieces: Vec<String> = text
        .chars()
        .collect::<Vec<_>>()
        .chunks(7)
        .map(|chunk| chunk.iter().collect())
        .collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    chatls_fake_upstream::Reply::text(&refs)
}

//! What the whole-process benchmarks share: the real `chatls` binary driven over stdio by a
//! minimal LSP client that stamps every message on arrival and answers the server's requests
//! like an editor that applies every edit, a TCP relay between chatls and the fake upstream
//! that stamps every chunk in each direction, LSP framing, and the statistics the tables print.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};

/// How long any one wait of a benchmark may take before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

// Statistics

pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[f64]) -> f64 {
    percentile(samples, 50.0)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// The 1-minute load average, to judge how quiet the machine was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

// Set-up

/// The runtime the whole-process benchmarks run on: two workers, like the machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// `CHATLS_BENCH_RUNS`, else `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("CHATLS_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(default)
}

/// The binary measured: `CHATLS_BENCH_BIN`, else the one cargo built for this benchmark.
pub fn chatls_bin() -> PathBuf {
    std::env::var_os("CHATLS_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_chatls")))
}

// The relay

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dir {
    /// chatls → upstream.
    Up,
    /// upstream → chatls (stamped just before the write to chatls).
    Down,
    /// chatls closed its side (EOF or error on read).
    Closed,
}

#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub at: Instant,
    pub connection: u64,
    pub dir: Dir,
}

pub struct Relay {
    pub address: String,
    pub log: Arc<Mutex<Vec<Stamp>>>,
    pub changed: Arc<Notify>,
    pub connections: Arc<AtomicU64>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let address = format!(
            "http://{}/v1",
            listener.local_addr().expect("relay address")
        );
        let log: Arc<Mutex<Vec<Stamp>>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let connections = Arc::new(AtomicU64::new(0));
        let (task_log, task_changed, task_connections) =
            (log.clone(), changed.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let connection = task_connections.fetch_add(1, Ordering::SeqCst) + 1;
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let (up_log, up_changed) = (task_log.clone(), task_changed.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = client_read.read(&mut buffer).await.unwrap_or(0);
                        let at = Instant::now();
                        let dir = if n == 0 { Dir::Closed } else { Dir::Up };
                        up_log.lock().unwrap().push(Stamp {
                            at,
                            connection,
                            dir,
                        });
                        up_changed.notify_waiters();
                        if n == 0 || server_write.write_all(&buffer[..n]).await.is_err() {
                            let _ = server_write.shutdown().await;
                            return;
                        }
                    }
                });
                let (down_log, down_changed) = (task_log.clone(), task_changed.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = server_read.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 {
                            let _ = client_write.shutdown().await;
                            return;
                        }
                        // Logged before the write, so the stamp is there before chatls can
                        // act on the bytes (the write to a local socket takes microseconds,
                        // which the figures then include).
                        let at = Instant::now();
                        down_log.lock().unwrap().push(Stamp {
                            at,
                            connection,
                            dir: Dir::Down,
                        });
                        down_changed.notify_waiters();
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            let _ = client_write.shutdown().await;
                            return;
                        }
                    }
                });
            }
        });
        Relay {
            address,
            log,
            changed,
            connections,
        }
    }

    pub fn stamps(&self) -> Vec<Stamp> {
        self.log.lock().unwrap().clone()
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Waits until a stamp after `since` matches.
    pub async fn wait_for(&self, since: Instant, check: impl Fn(&Stamp) -> bool) -> Option<Stamp> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(stamp) = self
                .stamps()
                .into_iter()
                .find(|stamp| stamp.at >= since && check(stamp))
            {
                return Some(stamp);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The last chunk handed to chatls before `instant`.
    pub fn last_down_before(&self, instant: Instant) -> Option<Instant> {
        self.stamps()
            .into_iter()
            .filter(|stamp| stamp.dir == Dir::Down && stamp.at <= instant)
            .map(|stamp| stamp.at)
            .max()
    }
}

// The client

#[derive(Clone, Debug)]
pub struct Event {
    pub at: Instant,
    pub method: String,
    pub params: Value,
}

#[derive(Default)]
pub struct ClientState {
    pub events: Vec<Event>,
    pub pending: HashMap<i64, oneshot::Sender<(Instant, Value)>>,
}

pub struct Lsp {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub spawned: Instant,
    pub out: mpsc::UnboundedSender<Vec<u8>>,
    pub state: Arc<Mutex<ClientState>>,
    pub changed: Arc<Notify>,
    pub next_id: AtomicU64,
}

pub fn frame(message: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).expect("json");
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

pub async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> Option<Value> {
    let mut length = None;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some(value) = trimmed.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

impl Lsp {
    pub fn spawn(bin: &Path, base_url: &str, explain_dir: &Path) -> Lsp {
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(bin)
            .env_remove("CHATLS_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("CHATLS_LOG")
            .env("CHATLS_BASE_URL", base_url)
            .env("CHATLS_MODEL", "bench-model")
            .env("CHATLS_EXPLAIN_DIR", explain_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn chatls");
        let pid = child.id().expect("pid");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (out, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(bytes) = outgoing.recv().await {
                if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                    return;
                }
            }
        });
        let state: Arc<Mutex<ClientState>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let (reader_state, reader_changed, reader_out) =
            (state.clone(), changed.clone(), out.clone());
        tokio::spawn(async move {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            while let Some(message) = read_frame(&mut reader).await {
                let at = Instant::now();
                let method = message
                    .get("method")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                match (method, message.get("id").cloned()) {
                    // A request or a notification from the server: a request is answered
                    // like an editor that applies edits; both are recorded.
                    (Some(method), id) => {
                        if let Some(id) = id {
                            let result = match method.as_str() {
                                "workspace/applyEdit" => json!({"applied": true}),
                                "window/showDocument" => json!({"success": true}),
                                "workspace/configuration" => json!([null]),
                                _ => Value::Null,
                            };
                            let _ = reader_out.send(frame(
                                &json!({"jsonrpc": "2.0", "id": id, "result": result}),
                            ));
                        }
                        let params = message.get("params").cloned().unwrap_or(Value::Null);
                        reader_state
                            .lock()
                            .unwrap()
                            .events
                            .push(Event { at, method, params });
                    }
                    (None, Some(id)) => {
                        let sender = id
                            .as_i64()
                            .and_then(|id| reader_state.lock().unwrap().pending.remove(&id));
                        if let Some(sender) = sender {
                            let _ = sender.send((at, message));
                        }
                    }
                    (None, None) => {}
                }
                reader_changed.notify_waiters();
            }
        });
        Lsp {
            child,
            pid,
            spawned,
            out,
            state,
            changed,
            next_id: AtomicU64::new(1),
        }
    }

    pub fn send(&self, message: &Value) {
        let _ = self.out.send(frame(message));
    }

    pub fn notify(&self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request; returns when it was sent, when the answer arrived, and the answer.
    pub async fn request(&self, method: &str, params: Value) -> (Instant, Instant, Value) {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) as i64;
        let (sender, receiver) = oneshot::channel();
        self.state.lock().unwrap().pending.insert(id, sender);
        let bytes = frame(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let sent = Instant::now();
        let _ = self.out.send(bytes);
        match tokio::time::timeout(WAIT, receiver).await {
            Ok(Ok((at, value))) => (sent, at, value),
            _ => panic!("no answer to {method} within {WAIT:?}"),
        }
    }

    /// `initialize` as a client with versioned edits, progress and showDocument.
    pub async fn initialize(&self, root: &Path) -> (Instant, Instant) {
        self.initialize_with(
            root,
            json!({
                "general": {"positionEncodings": ["utf-8", "utf-16"]},
                "window": {"workDoneProgress": true, "showDocument": {"support": true}},
                "workspace": {"workspaceEdit": {"documentChanges": true}, "configuration": false},
            }),
        )
        .await
    }

    /// `initialize` with these client capabilities; when it was sent and answered.
    pub async fn initialize_with(&self, root: &Path, capabilities: Value) -> (Instant, Instant) {
        let uri = format!("file://{}", root.display());
        let (sent, answered, response) = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": uri,
                    "workspaceFolders": [{"uri": uri, "name": "root"}],
                    "capabilities": capabilities,
                    "initializationOptions": {"tools": {"enabled": true}},
                }),
            )
            .await;
        assert!(
            response.get("result").is_some(),
            "initialize failed: {response}"
        );
        self.notify("initialized", json!({}));
        (sent, answered)
    }

    pub fn open(&self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": text}}),
        );
    }

    pub fn events_len(&self) -> usize {
        self.state.lock().unwrap().events.len()
    }

    pub fn events_from(&self, index: usize) -> Vec<Event> {
        self.state.lock().unwrap().events[index..].to_vec()
    }

    /// Waits until the events from `index` on satisfy `check`.
    pub async fn wait(&self, what: &str, index: usize, check: impl Fn(&[Event]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if check(&self.state.lock().unwrap().events[index..]) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }

    pub async fn wait_end(&self, index: usize, token: &str) {
        self.wait(&format!("end of {token}"), index, |events| {
            events.iter().any(|event| is_end(event, token))
        })
        .await;
    }

    pub async fn stop(mut self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.request("shutdown", Value::Null),
        )
        .await;
        self.notify("exit", Value::Null);
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

pub fn is_end(event: &Event, token: &str) -> bool {
    event.method == "$/progress"
        && event.params["token"] == token
        && event.params["value"]["kind"] == "end"
}

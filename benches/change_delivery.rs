//! Changes across files, end to end: from the model's last byte to the `workspace/applyEdit`
//! of a 20-file change (the built-in `change` row: the fake model calls `edit_file` on 20
//! files, then answers with closing words), beside a same-run baseline of one
//! single-selection refactor (the `refactor` row). The real `chatls` binary over stdio, the
//! fake upstream (real HTTP + SSE) behind a relay that timestamps every chunk it hands to
//! chatls; the "last byte" is the relay's stamp of the last chunk before the applyEdit, the
//! applyEdit instant is when this client read it. The client declares VS Code's workspace-edit
//! capabilities with change annotations, so the applyEdit itself is the change's review; it
//! answers `applied: true`. `cargo bench --bench change_delivery`; `CHATLS_BENCH_RUNS` runs
//! per row (100); `CHATLS_BENCH_BIN` another binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};

const WAIT: Duration = Duration::from_secs(30);
const FILES: usize = 20;

fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A TCP relay between chatls and the fake that stamps every chunk handed to chatls, just
/// before writing it.
struct Relay {
    address: String,
    down: Arc<Mutex<Vec<Instant>>>,
}

impl Relay {
    async fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let address = format!(
            "http://{}/v1",
            listener.local_addr().expect("relay address")
        );
        let down: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let task_down = down.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    let _ = server_write.shutdown().await;
                });
                let down = task_down.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = server_read.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 {
                            let _ = client_write.shutdown().await;
                            return;
                        }
                        down.lock().unwrap().push(Instant::now());
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Relay { address, down }
    }

    /// The last chunk handed to chatls before `instant`.
    fn last_down_before(&self, instant: Instant) -> Option<Instant> {
        self.down
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|at| *at <= instant)
            .max()
    }
}

#[derive(Clone, Debug)]
struct Event {
    at: Instant,
    method: String,
    params: Value,
}

#[derive(Default)]
struct ClientState {
    events: Vec<Event>,
    pending: HashMap<i64, oneshot::Sender<Value>>,
}

/// A minimal LSP client over the child's stdio that stamps every message on arrival and
/// answers the server's requests like an editor that applies every edit.
struct Lsp {
    child: tokio::process::Child,
    out: mpsc::UnboundedSender<Vec<u8>>,
    state: Arc<Mutex<ClientState>>,
    changed: Arc<Notify>,
    next_id: AtomicU64,
}

fn frame(message: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).expect("json");
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

async fn read_frame<R: tokio::io::AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Value> {
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
    fn spawn(bin: &Path, base_url: &str, explain_dir: &Path) -> Lsp {
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
                let params = message.get("params").cloned().unwrap_or(Value::Null);
                match (method, message.get("id").cloned()) {
                    (Some(method), Some(id)) => {
                        let result = match method.as_str() {
                            "workspace/applyEdit" => json!({"applied": true}),
                            "window/showDocument" => json!({"success": true}),
                            "workspace/configuration" => json!([null]),
                            _ => Value::Null,
                        };
                        let _ = reader_out.send(frame(
                            &json!({"jsonrpc": "2.0", "id": id, "result": result}),
                        ));
                        reader_state
                            .lock()
                            .unwrap()
                            .events
                            .push(Event { at, method, params });
                    }
                    (Some(method), None) => {
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
                            let _ = sender.send(message);
                        }
                    }
                    (None, None) => {}
                }
                reader_changed.notify_waiters();
            }
        });
        Lsp {
            child,
            out,
            state,
            changed,
            next_id: AtomicU64::new(1),
        }
    }

    fn notify(&self, method: &str, params: Value) {
        let _ = self.out.send(frame(
            &json!({"jsonrpc": "2.0", "method": method, "params": params}),
        ));
    }

    async fn request(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) as i64;
        let (sender, receiver) = oneshot::channel();
        self.state.lock().unwrap().pending.insert(id, sender);
        let _ = self.out.send(frame(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        ));
        match tokio::time::timeout(WAIT, receiver).await {
            Ok(Ok(value)) => value,
            _ => panic!("no answer to {method} within {WAIT:?}"),
        }
    }

    /// VS Code's workspace-edit capabilities: documentChanges, resource operations,
    /// textOnlyTransactional and change annotations.
    async fn initialize(&self, root: &Path) {
        let uri = format!("file://{}", root.display());
        let response = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": uri,
                    "workspaceFolders": [{"uri": uri, "name": "root"}],
                    "capabilities": {
                        "general": {"positionEncodings": ["utf-16"]},
                        "window": {"workDoneProgress": true, "showDocument": {"support": true}},
                        "workspace": {
                            "workspaceEdit": {
                                "documentChanges": true,
                                "resourceOperations": ["create", "rename", "delete"],
                                "failureHandling": "textOnlyTransactional",
                                "changeAnnotationSupport": {"groupsOnLabel": true},
                            },
                            "configuration": false,
                        },
                    },
                    "initializationOptions": {"tools": {"enabled": true}},
                }),
            )
            .await;
        assert!(
            response.get("result").is_some(),
            "initialize failed: {response}"
        );
        self.notify("initialized", json!({}));
    }

    fn events_len(&self) -> usize {
        self.state.lock().unwrap().events.len()
    }

    /// Waits for the end of the progress `token` (after events[index..]); returns the
    /// applyEdit that came before it, if any.
    async fn wait_end(&self, index: usize, token: &str) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.state.lock().unwrap();
                let events = &state.events[index..];
                if events.iter().any(|event| {
                    event.method == "$/progress"
                        && event.params["token"] == token
                        && event.params["value"]["kind"] == "end"
                }) {
                    return events
                        .iter()
                        .find(|event| event.method == "workspace/applyEdit")
                        .cloned();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for the end of {token}");
            }
        }
    }

    /// Runs a command; returns its progress token.
    async fn run(&self, command: &str, argument: Value) -> String {
        let response = self
            .request(
                "workspace/executeCommand",
                json!({"command": command, "arguments": [argument]}),
            )
            .await;
        response["result"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{command} did not start: {response}"))
            .to_owned()
    }

    async fn stop(mut self) {
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

const SOURCE: &str = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn main() {\n    println!(\"{}\", add(1, 2));\n}\n";

/// File `i` of the workspace: about 60 lines, with one `old_name` call to rename.
fn module_text(i: usize) -> String {
    let mut text =
        format!("//! Module {i}.\n\npub fn caller_{i}() -> u32 {{\n    crate::old_name()\n}}\n");
    for line in 0..55 {
        text.push_str(&format!("pub const VALUE_{i}_{line}: u32 = {line};\n"));
    }
    text
}

fn change_calls() -> Reply {
    let arguments: Vec<(String, String)> = (0..FILES)
        .map(|i| {
            (
                format!("c{i}"),
                json!({"path": format!("src/m{i}.rs"), "old_text": "crate::old_name()", "new_text": "crate::new_name()"})
                    .to_string(),
            )
        })
        .collect();
    let calls: Vec<(&str, &str, &str)> = arguments
        .iter()
        .map(|(id, args)| (id.as_str(), "edit_file", args.as_str()))
        .collect();
    Reply::tool_calls(&calls, 64)
}

fn refactor_answer() -> Reply {
    Reply::text(&[
        "```rust\n",
        "fn add(a: i64, b: i64) -> i64 {\n",
        "```\nWidened the integers.",
    ])
}

/// Returns (change samples, refactor samples) in ms, interleaved run by run.
async fn measure(bin: &Path, runs: usize) -> (Vec<f64>, Vec<f64>) {
    let root_dir = tempfile::tempdir().expect("tempdir");
    let root = root_dir.path().canonicalize().expect("canonical tempdir");
    let explain_dir = tempfile::tempdir().expect("tempdir");
    for i in 0..FILES {
        let path = root.join(format!("src/m{i}.rs"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, module_text(i)).expect("write");
    }
    let fake = FakeUpstream::start(Vec::new()).await.expect("fake");
    let relay = Relay::start(fake.port()).await;
    let lsp = Lsp::spawn(bin, &relay.address, explain_dir.path());
    lsp.initialize(&root).await;
    let open_uri = format!("file://{}/open.rs", root.display());
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": open_uri, "languageId": "rust", "version": 1, "text": SOURCE}}),
    );
    let (mut change, mut refactor) = (Vec::new(), Vec::new());
    // One warm-up round, not counted.
    for run in 0..runs + 1 {
        // The change: 20 edit_file calls, then closing words. The client does not write the
        // files, so every run finds them as they were.
        fake.push(change_calls());
        fake.push(Reply::text(&["Renamed old_name to new_name in 20 files."]));
        let index = lsp.events_len();
        let token = lsp
            .run(
                "chatls.run",
                json!({"uri": open_uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                       "action": "change", "instruction": "rename old_name to new_name"}),
            )
            .await;
        let edit = lsp
            .wait_end(index, &token)
            .await
            .expect("the change sent no applyEdit");
        let files = edit.params["edit"]["documentChanges"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(files, FILES, "the change edited {files} files: {edit:?}");
        let annotations = edit.params["edit"]["changeAnnotations"]
            .as_object()
            .map_or(0, serde_json::Map::len);
        assert!(annotations > 0, "the change was not annotated for review");
        let last = relay.last_down_before(edit.at).expect("no upstream bytes");
        if run > 0 {
            change.push(ms(edit.at - last));
        }

        // The baseline: one single-selection refactor.
        fake.push(refactor_answer());
        let index = lsp.events_len();
        let token = lsp
            .run(
                "chatls.refactor",
                json!({"uri": open_uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}),
            )
            .await;
        let edit = lsp
            .wait_end(index, &token)
            .await
            .expect("the refactor sent no applyEdit");
        let last = relay.last_down_before(edit.at).expect("no upstream bytes");
        if run > 0 {
            refactor.push(ms(edit.at - last));
        }
    }
    lsp.stop().await;
    (change, refactor)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let runs: usize = std::env::var("CHATLS_BENCH_RUNS")
            .ok()
            .and_then(|runs| runs.parse().ok())
            .unwrap_or(100)
            .max(1);
        let bin = std::env::var_os("CHATLS_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_chatls")));
        let load_before = load_average();
        let started = Instant::now();
        let (change, refactor) = measure(&bin, runs).await;
        let (c50, c99) = (percentile(&change, 50.0), percentile(&change, 99.0));
        let (r50, r99) = (percentile(&refactor, 50.0), percentile(&refactor, 99.0));
        println!("chatls, model's last byte → workspace/applyEdit read by the client: {}", bin.display());
        println!("| row (n = {runs} each, interleaved) | p50 | p99 |");
        println!("| --- | --- | --- |");
        println!("| change: 20 files edited by edit_file, one reviewed (annotated) applyEdit | {c50:.2} ms | {c99:.2} ms |");
        println!("| refactor: one selection (baseline) | {r50:.2} ms | {r99:.2} ms |");
        println!("| ratio change ÷ refactor | {:.2}× | {:.2}× |", c50 / r50, c99 / r99);
        println!(
            "total {:.1} s; load average (1 min) {load_before} → {}",
            started.elapsed().as_secs_f64(),
            load_average()
        );
    });
}

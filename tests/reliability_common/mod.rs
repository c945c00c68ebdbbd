//! Shared by the reliability suites: a server (in-process or the binary) on a fresh
//! workspace against its own fake upstream, the upstream fault table, and the canary-key
//! scan. Included with `#[path]` by the `reliability_*` tests, so it is no test of its own.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chatls::config::UpstreamTuning;
use chatls_fake_upstream::{FakeUpstream, RecordedRequest, Reply, Step};
use serde_json::{Value, json};

use crate::support::fixture::{Fixture, Session};
use crate::support::{Client, range};

/// The canary API key every reliability suite runs with; it must surface only in the
/// `Authorization` header of upstream requests.
pub const KEY: &str = "sk-canary-rel-5c1e0d9a7b";
pub const CODE: &str = "fn total(xs: &[i32]) -> i32 {\n    let mut sum = 0;\n    for x in xs {\n        sum += x;\n    }\n    sum\n}\n";
/// The loop's lines ("    for x in xs {" .. "    }\n").
pub fn loop_range() -> Value {
    range(2, 0, 5, 0)
}
/// The answer the success action streams, and the document it must produce.
pub const GOOD_CODE: &str = "sum = xs.iter().sum();\n";
pub fn refactored() -> String {
    CODE.replace(
        "    for x in xs {\n        sum += x;\n    }\n",
        "    sum = xs.iter().sum();\n",
    )
}

pub use crate::support::answer_with;

/// How the server under test runs.
#[derive(Clone, Debug)]
pub enum Transport {
    InProcess,
    /// The built binary, with `CHATLS_LOG` at this filter and `--log-file` into this file.
    Binary {
        log: String,
        log_file: PathBuf,
    },
}

/// One server on a fresh workspace with `src/lib.rs` = [`CODE`] open.
pub struct Server {
    pub fake: Option<FakeUpstream>,
    pub address: SocketAddr,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub explain_dir: tempfile::TempDir,
    pub uri: String,
}

impl Server {
    pub fn fake(&self) -> &FakeUpstream {
        self.fake.as_ref().expect("the fake upstream is running")
    }
}

pub fn base_url(address: SocketAddr) -> String {
    format!("http://{address}/v1")
}

/// The environment variables that carry `tuning` to the binary.
fn tuning_env(tuning: UpstreamTuning) -> Vec<(&'static str, String)> {
    let mut vars = Vec::new();
    if let Some(ms) = tuning.first_byte_timeout_ms {
        vars.push(("CHATLS_FIRST_BYTE_TIMEOUT_MS", ms.to_string()));
    }
    if let Some(ms) = tuning.first_content_timeout_ms {
        vars.push(("CHATLS_FIRST_CONTENT_TIMEOUT_MS", ms.to_string()));
    }
    if let Some(ms) = tuning.idle_timeout_ms {
        vars.push(("CHATLS_IDLE_TIMEOUT_MS", ms.to_string()));
    }
    if let Some(ms) = tuning.retry_base_ms {
        vars.push(("CHATLS_RETRY_BASE_MS", ms.to_string()));
    }
    vars
}

/// Starts a fake with `replies`, a server on a new workspace, initializes and opens the file.
pub async fn start(transport: &Transport, replies: Vec<Reply>, tuning: UpstreamTuning) -> Server {
    let fixture = Fixture::new()
        .key(Some(KEY))
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .replies(replies);
    let fixture = match transport {
        Transport::InProcess => fixture.env(move |settings| {
            settings.tuning = tuning;
            settings.test_hooks = true;
        }),
        Transport::Binary { log, log_file } => {
            let mut vars = vec![
                ("CHATLS_LOG", log.clone()),
                ("CHATLS_TEST_HOOKS", "1".to_owned()),
            ];
            vars.extend(tuning_env(tuning));
            let log_file = log_file.display().to_string();
            fixture.binary(&["--log-file", &log_file], &vars)
        }
    };
    let Session {
        fake,
        client,
        dir,
        explain_dir,
        uri,
        ..
    } = fixture.start().await;
    Server {
        address: ([127, 0, 0, 1], fake.port()).into(),
        fake: Some(fake),
        client,
        dir,
        explain_dir,
        uri,
    }
}

/// Runs a refactor of the loop and waits for its progress to end; the end message.
pub async fn refactor(server: &Server) -> (String, String) {
    let token = server
        .client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    let end = server.client.wait_progress_end(&token).await;
    (token, end)
}

// ---- the upstream fault table ----

/// One row: what the upstream does to a refactor, what the user must be told, and how many
/// requests the fake may see (more than one only where a retry is allowed).
pub struct FaultRow {
    pub name: &'static str,
    /// The fake's replies to the faulty action, in order. Exactly `requests` of them, so an
    /// unexpected retry takes the next action's good answer and is caught.
    pub replies: Vec<Reply>,
    /// Connection refused: the fake is stopped during the faulty action.
    pub refused: bool,
    pub tuning: UpstreamTuning,
    /// Requests the fake must have seen for the faulty action.
    pub requests: usize,
    /// Words the progress end message (and the shown error) must contain.
    pub words: &'static [&'static str],
    /// The fake must see the client close the connection mid-reply (timeouts, caps).
    pub abort_seen: bool,
}

/// Backoff short enough for tests; every row uses it.
const RETRY_BASE_MS: u64 = 5;
/// The retries the client allows after the first attempt.
pub const RETRIES: usize = 3;

fn tuning() -> UpstreamTuning {
    UpstreamTuning {
        retry_base_ms: Some(RETRY_BASE_MS),
        ..UpstreamTuning::default()
    }
}

fn times(reply: Reply, n: usize) -> Vec<Reply> {
    vec![reply; n]
}

fn chunk(delta: Value) -> Step {
    Step::Data(
        json!({"id": "c", "object": "chat.completion.chunk", "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}]}),
    )
}

fn sse(steps: Vec<Step>) -> Reply {
    Reply::sse(steps)
}

fn html(status: u16, title: &str) -> Reply {
    Reply::Body {
        status,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: format!(
            "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>nginx</p><!-- {KEY} --></body></html>"
        ),
        delay_ms: 0,
    }
}

fn error_body(message: &str) -> String {
    json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string()
}

/// Every upstream fault the server must survive. Upstream bodies echo the canary key the way
/// some gateways do ("Incorrect API key provided: sk-…"), so scrubbing is tested on each.
pub fn fault_rows() -> Vec<FaultRow> {
    let attempts = RETRIES + 1;
    let retried = |reply: Reply| times(reply, attempts);
    let started = chunk(json!({"role": "assistant", "content": "```rust\nlet partial"}));
    // 8.4 MB of answer in 4 KB pieces: past the 8 MB cap, in many small chunks.
    let big_piece = "x".repeat(4096);
    let mut huge = vec![chunk(json!({"role": "assistant", "content": ""}))];
    huge.extend((0..2100).map(|_| chunk(json!({"content": big_piece}))));
    // Hold the connection after the last byte: loopback buffers can take the whole 8.4 MB
    // before the client reaches its cap, and a finished reply would not count as aborted.
    // The client must hang up at the cap; the fake sees that.
    huge.push(Step::Stall);
    let row = |name, replies, requests, words| FaultRow {
        name,
        replies,
        refused: false,
        tuning: tuning(),
        requests,
        words,
        abort_seen: false,
    };
    vec![
        row(
            "401 unauthorized",
            vec![Reply::status(
                401,
                &error_body(&format!("Incorrect API key provided: {KEY}")),
            )],
            1,
            &["401", "API key", "<redacted>"],
        ),
        row(
            "403 forbidden",
            vec![Reply::status(
                403,
                &error_body(&format!("key {KEY} may not use test-model")),
            )],
            1,
            &["403", "refused access"],
        ),
        row(
            "404 unknown model",
            vec![Reply::status(
                404,
                &error_body("The model `test-model` does not exist"),
            )],
            1,
            &["404", "unknown model", "does not exist"],
        ),
        row(
            "408 request timeout (retried)",
            retried(Reply::status(408, &error_body("request timed out"))),
            attempts,
            &["408", "try again"],
        ),
        row(
            "429 without Retry-After (retried with backoff)",
            retried(Reply::status(429, &error_body("slow down"))),
            attempts,
            &["429", "rate limiting"],
        ),
        row(
            "429 with Retry-After: 1 (retried after 1 s each)",
            retried(Reply::status(429, &error_body("slow down")).with_header("retry-after", "1")),
            attempts,
            &["429", "asked to wait 1 s"],
        ),
        row(
            "429 with Retry-After: 3600 (past the cap: not retried)",
            vec![Reply::status(429, &error_body("quota")).with_header("retry-after", "3600")],
            1,
            &["429", "asked to wait 3600 s"],
        ),
        row(
            "500 internal error (retried)",
            retried(Reply::status(500, &error_body(&format!("boom near {KEY}")))),
            attempts,
            &["500", "having trouble"],
        ),
        row(
            "502 with an HTML body (retried)",
            retried(html(502, "502 Bad Gateway")),
            attempts,
            &["502", "Bad Gateway"],
        ),
        row(
            "503 unavailable (retried)",
            retried(Reply::Body {
                status: 503,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: "Service Unavailable".into(),
                delay_ms: 0,
            }),
            attempts,
            &["503", "Service Unavailable"],
        ),
        FaultRow {
            refused: true,
            ..row(
                "connection refused (retried)",
                Vec::new(),
                0,
                &["could not connect", "refused"],
            )
        },
        row(
            "connection reset before the response (retried)",
            retried(Reply::Reset),
            attempts,
            &["failed"],
        ),
        row(
            "connection closed before the response (retried)",
            retried(Reply::Hangup),
            attempts,
            &["failed"],
        ),
        row(
            "connection reset in the middle of the stream",
            vec![sse(vec![started.clone(), Step::Delay(20), Step::Reset])],
            1,
            &["cut off"],
        ),
        row(
            "connection closed in the middle of the stream",
            vec![sse(vec![started.clone(), Step::Delay(20), Step::Close])],
            1,
            &["cut off"],
        ),
        row(
            "malformed SSE data line",
            vec![sse(vec![
                started.clone(),
                Step::Raw("data: {\"choices\": [{\"delta\": oops\n\n".into()),
                Step::Done,
            ])],
            1,
            &["could not read", "oops"],
        ),
        row(
            "JSON error object inside the stream",
            vec![sse(vec![
                started.clone(),
                Step::Data(
                    json!({"error": {"message": format!("overloaded (key {KEY})"), "type": "server_error"}}),
                ),
            ])],
            1,
            &["error in the middle", "overloaded"],
        ),
        row(
            "SSE error event inside the stream",
            vec![sse(vec![
                started.clone(),
                Step::Raw(format!(
                    "event: error\ndata: {}\n\n",
                    error_body("the gateway gave up")
                )),
            ])],
            1,
            &["error in the middle", "gave up"],
        ),
        row(
            "stream ends without [DONE] or a finish reason",
            vec![sse(vec![started.clone()])],
            1,
            &["cut off", "[DONE]"],
        ),
        row(
            "empty event stream (nothing reached the user: retried)",
            retried(sse(Vec::new())),
            attempts,
            &["closed the stream without sending anything"],
        ),
        row(
            "reset after the headers, before any content (retried)",
            retried(sse(vec![
                chunk(json!({"role": "assistant", "content": ""})),
                Step::Delay(20),
                Step::Reset,
            ])),
            attempts,
            &["cut off"],
        ),
        FaultRow {
            tuning: UpstreamTuning {
                first_content_timeout_ms: Some(400),
                idle_timeout_ms: Some(100),
                ..tuning()
            },
            abort_seen: true,
            ..row(
                "headers at once, then silence past the first-content bound (not retried)",
                vec![sse(vec![
                    chunk(json!({"role": "assistant", "content": ""})),
                    Step::Raw(": keep-alive\n\n".into()),
                    Step::Stall,
                ])],
                1,
                &["sent no answer within 0.4 s"],
            )
        },
        row(
            "an answer with no text at all",
            vec![Reply::text(&[""])],
            1,
            &["empty answer"],
        ),
        FaultRow {
            tuning: UpstreamTuning {
                idle_timeout_ms: Some(400),
                ..tuning()
            },
            abort_seen: true,
            ..row(
                "stream stalls mid-answer (idle timeout)",
                vec![sse(vec![started.clone(), Step::Stall])],
                1,
                &["stopped sending for 0.4 s"],
            )
        },
        FaultRow {
            tuning: UpstreamTuning {
                first_byte_timeout_ms: Some(400),
                ..tuning()
            },
            abort_seen: true,
            ..row(
                "no response head (first-byte timeout, not retried)",
                vec![Reply::json_text("too late").with_delay(10_000)],
                1,
                &["no response within 0.4 s"],
            )
        },
        FaultRow {
            abort_seen: true,
            ..row(
                "a response far larger than any answer (8.4 MB, capped at 8 MB)",
                vec![sse(huge)],
                1,
                &["larger than 8 MB"],
            )
        },
        row(
            "wrong Content-Type (text/plain) on a 200",
            vec![Reply::Sse {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                steps: vec![started.clone(), Step::Done],
            }],
            1,
            &["content type", "text/plain", "baseUrl"],
        ),
        row(
            "an HTML page with 200 (wrong baseUrl)",
            vec![html(200, "Welcome")],
            1,
            &["HTML page", "baseUrl"],
        ),
        row(
            "a 200 JSON body that is not a completion",
            vec![Reply::status(200, "{\"object\": \"list\", \"data\": []}")],
            1,
            &["could not read"],
        ),
    ]
}

/// What one row produced, for the suite's summary.
pub struct RowReport {
    pub name: &'static str,
    pub end: String,
    pub requests: usize,
}

/// Markers of text meant for programmers, not people (Debug output, escapes).
const DEBUG_MARKERS: &[&str] = &["Some(", "None", "Error {", "\\n", "kind:", "Ok(", "Err("];

/// Runs one row on a new server: the faulty refactor, then a good one on the same server.
pub async fn run_fault_row(transport: &Transport, row: &FaultRow) -> RowReport {
    let name = row.name;
    let mut replies = row.replies.clone();
    replies.push(answer_with(GOOD_CODE));
    let mut server = start(transport, replies, row.tuning).await;
    if row.refused {
        // Stop the fake: its port now refuses connections.
        server.fake = None;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (token, end) = refactor(&server).await;
    // The client's own count: the end of the progress says how many retries were made
    // (reports are throttled and coalesced, so single attempts may not all be shown).
    let reports = server.client.progress_messages(&token);
    let retried = row.requests > 1 || row.refused;
    let last_retry = format!("after {RETRIES} retries");
    let too_many = format!("(attempt {})", RETRIES + 1);
    if retried {
        assert!(
            reports.iter().any(|report| report.contains(&last_retry)),
            "{name}: no {last_retry} in {reports:?}"
        );
    } else {
        assert!(
            !reports.iter().any(|report| report.contains("retrying")),
            "{name}: retried: {reports:?}"
        );
    }
    assert!(
        !reports.iter().any(|report| report.contains(&too_many)),
        "{name}: {reports:?}"
    );
    if row.refused {
        let fake = FakeUpstream::start_on(server.address, vec![answer_with(GOOD_CODE)])
            .await
            .expect("the fake restarts on the same port");
        server.fake = Some(fake);
    }
    let requests = server.fake().requests().len();

    assert!(
        end.starts_with("chatls: Refactor with AI failed: "),
        "{name}: progress end {end:?}"
    );
    for word in row.words {
        assert!(end.contains(word), "{name}: {word:?} missing in {end:?}");
    }
    for marker in DEBUG_MARKERS {
        assert!(!end.contains(marker), "{name}: {marker:?} in {end:?}");
    }
    assert!(end.chars().count() < 600, "{name}: too long: {end:?}");
    assert!(!end.contains(KEY), "{name}: the key leaked: {end}");
    server
        .client
        .wait_until("the error shown", |client| {
            !client.shown_messages().is_empty()
        })
        .await;
    let shown = server.client.shown_messages();
    assert_eq!(shown, vec![end.clone()], "{name}: the error is shown once");
    assert_eq!(
        requests,
        row.requests,
        "{name}: requests at the fake (retries allowed: {})",
        row.requests > 1
    );
    if row.abort_seen {
        assert!(
            server.fake().wait_for_abort(Duration::from_secs(5)).await,
            "{name}: the fake saw no disconnect"
        );
    }
    assert_eq!(
        server.client.doc(&server.uri).text,
        CODE,
        "{name}: document changed"
    );
    assert!(
        server
            .client
            .server_requests("workspace/applyEdit")
            .is_empty(),
        "{name}: an edit was sent"
    );

    // The same server, next action: works.
    let (_, next) = refactor(&server).await;
    assert!(
        next.starts_with("applied "),
        "{name}: the next action failed: {next}"
    );
    assert_eq!(server.client.doc(&server.uri).text, refactored(), "{name}");
    assert_eq!(server.fake().requests().len(), row.requests + 1, "{name}");
    scan_server(&server, name);
    if let Transport::Binary { log_file, .. } = transport {
        server.client.shutdown_and_exit().await;
        server.client.wait_exit(Duration::from_secs(5)).await;
        scan_process_output(&server, log_file, name).await;
    }
    RowReport {
        name,
        end,
        requests,
    }
}

// ---- the canary scan ----

/// Panics if `text` holds the key.
pub fn assert_no_key(what: &str, text: &str) {
    if let Some(at) = text.find(KEY) {
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(80)
            .map_or(0, |(index, _)| index);
        panic!(
            "the API key leaked into {what}: …{}…",
            &text[from..(at + KEY.len()).min(text.len())]
        );
    }
}

/// Every request the fake saw carries the key in `Authorization` and nowhere else.
pub fn assert_requests_clean(what: &str, requests: &[RecordedRequest]) {
    for request in requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str()),
            "{what}: the Authorization header"
        );
        for (name, value) in &request.headers {
            if name != "authorization" {
                assert_no_key(&format!("{what}: request header {name}"), value);
            }
        }
        assert_no_key(&format!("{what}: request path"), &request.path);
        assert_no_key(&format!("{what}: request body"), &request.body.to_string());
    }
}

/// Every file under `dir`, read as text.
pub fn files_text(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found
}

/// What the server sent the editor, wrote as explanations, and sent upstream: no key.
pub fn scan_server(server: &Server, what: &str) {
    assert_no_key(
        &format!("{what}: messages to the editor"),
        &server.client.transcript(),
    );
    for (path, text) in files_text(server.explain_dir.path()) {
        assert_no_key(&format!("{what}: {}", path.display()), &text);
    }
    if let Some(fake) = &server.fake {
        assert_requests_clean(what, &fake.requests());
    }
}

/// After the binary exited: its stderr and its log file hold no key, and the log is not empty
/// (so the scan looked at something).
pub async fn scan_process_output(server: &Server, log_file: &Path, what: &str) {
    // The whole of it: the reader has seen the pipe close.
    let stderr = server.client.stderr_to_end().await;
    assert!(!stderr.is_empty(), "{what}: stderr was captured");
    assert_no_key(&format!("{what}: stderr"), &stderr);
    let log = std::fs::read_to_string(log_file).unwrap_or_default();
    assert!(!log.is_empty(), "{what}: the log file was written");
    assert_no_key(&format!("{what}: log file"), &log);
}

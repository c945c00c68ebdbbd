//! Bad LSP input against the real server, in-process and as the binary: unknown URIs,
//! ranges past the end or reversed, wrong argument shapes for every command, unknown
//! commands and methods, malformed JSON-RPC, invalid settings, a 50 MB document, requests
//! before `initialize` and after `shutdown`. Each attack must get a proper JSON-RPC answer
//! (or the user-visible message it calls for), never a panic, and the server must keep
//! serving: a probe after every attack, and at the end an action whose request shows the
//! server's buffer still equals the editor's. Also: a panic inside a handler (the
//! `chatls.debug.panic` test hook) is answered with an error and the server lives on.

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use chatls::config::UpstreamTuning;
use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use common::{CODE, KEY, Server, Transport, loop_range, start};
use support::{Client, capabilities, env, range};

/// What one attack sends.
enum Input {
    Request(&'static str, Value),
    Notify(&'static str, Value),
    Raw(Vec<u8>),
}

/// What a correct server does about it.
enum Expect {
    /// A JSON-RPC error with this code.
    Error(i64),
    /// A result (not an error).
    Result,
    /// A result or an error, as long as it is a proper answer (behaviour that differs by
    /// design between versions, such as `chatls.cancel` without arguments).
    Answer,
    /// A `window/showMessage` containing this.
    Shown(&'static str),
    /// A `window/logMessage` containing this.
    Logged(&'static str),
    /// A response to a request sent as raw bytes: an error with this code, or a result.
    RawAnswer(i64, Option<i64>),
    /// Nothing visible; the probe after it must still work.
    Nothing,
}

struct Attack {
    name: String,
    input: Input,
    expect: Expect,
}

fn attack(name: impl Into<String>, input: Input, expect: Expect) -> Attack {
    Attack {
        name: name.into(),
        input,
        expect,
    }
}

const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_REQUEST: i64 = -32600;

fn frame(body: &str) -> Vec<u8> {
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn command(name: &str, arguments: Value) -> Input {
    Input::Request(
        "workspace/executeCommand",
        json!({"command": name, "arguments": arguments}),
    )
}

fn attacks(uri: &str) -> Vec<Attack> {
    let unknown = "file:///nowhere/unknown.rs";
    let reversed = range(4, 0, 1, 0);
    let past_end = range(100, 0, 200, 7);
    let negative =
        json!({"start": {"line": -1, "character": 0}, "end": {"line": 2, "character": 0}});
    let overflow = json!({"start": {"line": 0, "character": 0}, "end": {"line": 4_294_967_296u64, "character": 0}});
    let mut all = vec![
        // Document sync.
        attack(
            "didChange on an unknown URI",
            Input::Notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": unknown, "version": 2}, "contentChanges": [{"range": range(0, 0, 0, 0), "text": "x"}]}),
            ),
            Expect::Logged("not applied"),
        ),
        attack(
            "didChange with a reversed range",
            Input::Notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": 1}, "contentChanges": [{"range": reversed, "text": "x"}]}),
            ),
            Expect::Logged("starts after it ends"),
        ),
        attack(
            "didChange without contentChanges",
            Input::Notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": 1}}),
            ),
            Expect::Nothing,
        ),
        attack(
            "didChange with a text that is a number",
            Input::Notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": 1}, "contentChanges": [{"range": range(0, 0, 0, 0), "text": 42}]}),
            ),
            Expect::Nothing,
        ),
        attack(
            "didClose of an unknown URI",
            Input::Notify(
                "textDocument/didClose",
                json!({"textDocument": {"uri": unknown}}),
            ),
            Expect::Nothing,
        ),
        attack(
            "didOpen without text",
            Input::Notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": unknown, "languageId": "rust", "version": 1}}),
            ),
            Expect::Nothing,
        ),
        // Code actions.
        attack(
            "codeAction on an unknown URI",
            Input::Request(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": unknown}, "range": loop_range(), "context": {"diagnostics": []}}),
            ),
            Expect::Result,
        ),
        attack(
            "codeAction with a reversed range",
            Input::Request(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": uri}, "range": reversed, "context": {"diagnostics": []}}),
            ),
            Expect::Result,
        ),
        attack(
            "codeAction with a range past the end",
            Input::Request(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": uri}, "range": past_end, "context": {"diagnostics": []}}),
            ),
            Expect::Result,
        ),
        attack(
            "codeAction without params",
            Input::Request("textDocument/codeAction", Value::Null),
            Expect::Error(INVALID_PARAMS),
        ),
        attack(
            "codeAction with a diagnostic of the wrong shape",
            Input::Request(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": uri}, "range": loop_range(), "context": {"diagnostics": [{"message": 5}]}}),
            ),
            Expect::Error(INVALID_PARAMS),
        ),
        // Unknown commands and methods.
        attack(
            "unknown command",
            command("chatls.nope", json!([])),
            Expect::Error(INVALID_PARAMS),
        ),
        attack(
            "empty command name",
            command("", json!([])),
            Expect::Error(INVALID_PARAMS),
        ),
        attack(
            "command name in the wrong case",
            command("CHATLS.EXPLAIN", json!([{"uri": uri}])),
            Expect::Error(INVALID_PARAMS),
        ),
        attack(
            "executeCommand without a command",
            Input::Request("workspace/executeCommand", json!({"arguments": []})),
            Expect::Error(INVALID_PARAMS),
        ),
        attack(
            "executeCommand with arguments that are not a list",
            Input::Request(
                "workspace/executeCommand",
                json!({"command": "chatls.explain", "arguments": {"uri": uri}}),
            ),
            Expect::Error(INVALID_PARAMS),
        ),
        attack(
            "unknown request method",
            Input::Request("chatls/doSomething", json!({})),
            Expect::Error(METHOD_NOT_FOUND),
        ),
        attack(
            "unknown notification",
            Input::Notify("chatls/somethingHappened", json!({"x": 1})),
            Expect::Nothing,
        ),
        attack(
            "$/cancelRequest for an unknown id",
            Input::Notify("$/cancelRequest", json!({"id": 987654})),
            Expect::Nothing,
        ),
        attack(
            "progress cancel for an unknown token",
            Input::Notify("window/workDoneProgress/cancel", json!({"token": "nope/1"})),
            Expect::Nothing,
        ),
        attack(
            "progress cancel with a number token",
            Input::Notify("window/workDoneProgress/cancel", json!({"token": 7})),
            Expect::Nothing,
        ),
        attack(
            "progress cancel without a token",
            Input::Notify("window/workDoneProgress/cancel", json!({})),
            Expect::Nothing,
        ),
        attack(
            "a second initialize",
            Input::Request(
                "initialize",
                json!({"processId": null, "rootUri": null, "capabilities": {}}),
            ),
            Expect::Error(INVALID_REQUEST),
        ),
        // Settings.
        attack(
            "settings that are a number",
            Input::Notify("workspace/didChangeConfiguration", json!({"settings": 42})),
            Expect::Shown("must be an object"),
        ),
        attack(
            "settings with a chatls section that is a string",
            Input::Notify(
                "workspace/didChangeConfiguration",
                json!({"settings": {"chatls": "fast please"}}),
            ),
            Expect::Shown("invalid settings"),
        ),
        attack(
            "temperature as a word",
            Input::Notify(
                "workspace/didChangeConfiguration",
                json!({"settings": {"chatls": {"temperature": "hot"}}}),
            ),
            Expect::Shown("`temperature`"),
        ),
        attack(
            "baseUrl that is not http",
            Input::Notify(
                "workspace/didChangeConfiguration",
                json!({"settings": {"chatls": {"baseUrl": "ftp://example.com"}}}),
            ),
            Expect::Shown("`baseUrl`"),
        ),
        attack(
            "negative maxTokens and a bad deny glob at once",
            Input::Notify(
                "workspace/didChangeConfiguration",
                json!({"settings": {"chatls": {"maxTokens": -5, "tools": {"deny": ["a{"]}}}}),
            ),
            Expect::Shown("`tools.deny`"),
        ),
        attack(
            "apiKey of the wrong type holding the key",
            Input::Notify(
                "workspace/didChangeConfiguration",
                json!({"settings": {"chatls": {"apiKey": [KEY]}}}),
            ),
            Expect::Shown("`apiKey`"),
        ),
        attack(
            "didChangeConfiguration without settings",
            Input::Notify("workspace/didChangeConfiguration", json!({})),
            Expect::Nothing,
        ),
        attack(
            "workspace folders that are not files",
            Input::Notify(
                "workspace/didChangeWorkspaceFolders",
                json!({"event": {"added": [{"uri": "https://example.com/x", "name": "web"}], "removed": [{"uri": "untitled:1", "name": "u"}]}}),
            ),
            Expect::Nothing,
        ),
        // Malformed JSON-RPC and framing.
        attack(
            "a body that is not JSON",
            Input::Raw(frame("{this is not json")),
            Expect::Logged("the body is not JSON"),
        ),
        attack(
            "a JSON array (batch) body",
            Input::Raw(frame("[1, 2, 3]")),
            Expect::Logged("not a JSON-RPC 2.0 message"),
        ),
        attack(
            "a request with jsonrpc 1.0 asking for shutdown",
            Input::Raw(frame(
                r#"{"jsonrpc":"1.0","id":424242,"method":"shutdown"}"#,
            )),
            Expect::RawAnswer(424242, Some(INVALID_REQUEST)),
        ),
        attack(
            "a message with only an id",
            Input::Raw(frame(r#"{"jsonrpc":"2.0","id":434343}"#)),
            Expect::Nothing,
        ),
        attack(
            "a request whose id is an object",
            Input::Raw(frame(
                r#"{"jsonrpc":"2.0","id":{"a":1},"method":"textDocument/codeAction","params":{}}"#,
            )),
            Expect::Logged("not a JSON-RPC 2.0 message"),
        ),
        attack(
            "an unsolicited response to the server",
            Input::Raw(frame(
                r#"{"jsonrpc":"2.0","id":999999,"result":{"applied":true}}"#,
            )),
            Expect::Nothing,
        ),
        attack(
            "invalid UTF-8 inside a JSON string",
            Input::Raw({
                let mut body = br#"{"jsonrpc":"2.0","method":"chatls/x","params":{"s":""#.to_vec();
                body.extend_from_slice(&[0xff, 0xfe]);
                body.extend_from_slice(br#""}}"#);
                let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                framed.extend_from_slice(&body);
                framed
            }),
            Expect::Logged("not valid UTF-8"),
        ),
        attack(
            "a Content-Length that is not a number",
            Input::Raw(b"Content-Length: lots\r\n\r\n{}".to_vec()),
            Expect::Logged("invalid Content-Length"),
        ),
        attack(
            "a header block without Content-Length",
            Input::Raw(
                b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}".to_vec(),
            ),
            Expect::Logged("without Content-Length"),
        ),
        attack(
            "bytes between messages",
            Input::Raw({
                let mut bytes = b"hello there\r\n".to_vec();
                bytes.extend_from_slice(&frame(
                    r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#,
                ));
                bytes
            }),
            Expect::Logged("without a colon"),
        ),
        attack(
            "lower-case content-length and a Content-Type without charset",
            Input::Raw({
                let body = json!({"jsonrpc": "2.0", "id": 454545, "method": "textDocument/codeAction",
                    "params": {"textDocument": {"uri": uri}, "range": loop_range(), "context": {"diagnostics": []}}})
                .to_string();
                format!(
                    "content-length: {}\r\ncontent-type: application/vscode-jsonrpc\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            }),
            Expect::RawAnswer(454545, None),
        ),
    ];
    // Every command with every wrong argument shape.
    let shapes = [
        ("no arguments field", None),
        ("an empty list", Some(json!([]))),
        ("a number", Some(json!([42]))),
        ("a bare string", Some(json!(["file:///x.rs"]))),
        ("null", Some(json!([null]))),
        ("an empty object", Some(json!([{}]))),
        ("a numeric uri", Some(json!([{"uri": 42}]))),
        (
            "an unknown uri",
            Some(json!([{"uri": unknown, "range": loop_range()}])),
        ),
        (
            "a range that is a string",
            Some(json!([{"uri": uri, "range": "all"}])),
        ),
        (
            "a negative line",
            Some(json!([{"uri": uri, "range": negative}])),
        ),
        (
            "a line past u32",
            Some(json!([{"uri": uri, "range": overflow}])),
        ),
        (
            "a reversed range",
            Some(json!([{"uri": uri, "range": reversed}])),
        ),
        (
            "an instruction that is a number",
            Some(json!([{"uri": uri, "range": loop_range(), "instruction": 42}])),
        ),
        (
            "diagnostics that are a string",
            Some(json!([{"uri": uri, "range": loop_range(), "diagnostics": "many"}])),
        ),
    ];
    for name in ["chatls.explain", "chatls.refactor", "chatls.fix"] {
        for (shape, arguments) in &shapes {
            let params = match arguments {
                Some(arguments) => json!({"command": name, "arguments": arguments}),
                None => json!({"command": name}),
            };
            all.push(attack(
                format!("{name} with {shape}"),
                Input::Request("workspace/executeCommand", params),
                Expect::Error(INVALID_PARAMS),
            ));
        }
    }
    for name in ["chatls.cancel", "chatls.resetConversation"] {
        for (shape, arguments) in &shapes {
            let params = match arguments {
                Some(arguments) => json!({"command": name, "arguments": arguments}),
                None => json!({"command": name}),
            };
            // Only a uri matters to these; without arguments they may act on every document.
            let expect = match *shape {
                "no arguments field" | "an empty list" => Expect::Answer,
                "a number" | "a bare string" | "null" | "an empty object" | "a numeric uri" => {
                    Expect::Error(INVALID_PARAMS)
                }
                _ => Expect::Result,
            };
            all.push(attack(
                format!("{name} with {shape}"),
                Input::Request("workspace/executeCommand", params),
                expect,
            ));
        }
    }
    all
}

/// The probe after every attack: the server answers and still knows the document.
async fn probe(client: &Client, uri: &str, after: &str) {
    let response = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": loop_range(), "context": {"diagnostics": []}}),
        )
        .await;
    assert_eq!(
        response["result"].as_array().map(Vec::len),
        Some(chatls::action::table::builtin_rows().len()),
        "after {after}: the server stopped serving: {response}"
    );
}

/// The response the server sent to the request with this id, if any.
fn raw_answer(client: &Client, id: i64) -> Option<Value> {
    client
        .transcript()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["id"] == id && message.get("method").is_none())
}

/// Runs every attack on `server`; returns how many were made.
async fn run_attacks(server: &Server, what: &str) -> usize {
    let client = &server.client;
    let list = attacks(&server.uri);
    let total = list.len();
    for attack in list {
        let name = format!("{what}: {}", attack.name);
        eprintln!("attack {name}");
        let shown_before = client.shown_messages().len();
        let logged_before = client.notifications("window/logMessage").len();
        let response = match attack.input {
            Input::Request(method, params) => Some(client.request(method, params).await),
            Input::Notify(method, params) => {
                client.notify(method, params).await;
                None
            }
            Input::Raw(bytes) => {
                client.send_raw(&bytes).await;
                None
            }
        };
        let error_code = |response: &Option<Value>| {
            response
                .as_ref()
                .and_then(|response| response.get("error"))
                .map(|error| {
                    assert!(
                        error["message"]
                            .as_str()
                            .is_some_and(|text| !text.is_empty()),
                        "{name}: an error needs a message: {error}"
                    );
                    error["code"].as_i64().expect("an integer error code")
                })
        };
        match attack.expect {
            Expect::Error(code) => {
                assert_eq!(error_code(&response), Some(code), "{name}: {response:?}")
            }
            Expect::Result => {
                assert_eq!(error_code(&response), None, "{name}: {response:?}");
                assert!(response.as_ref().unwrap().get("result").is_some(), "{name}");
            }
            Expect::Answer => {
                let response = response.as_ref().unwrap();
                assert!(
                    response.get("result").is_some()
                        || error_code(&Some(response.clone())).is_some(),
                    "{name}: {response}"
                );
            }
            Expect::Shown(text) => {
                client
                    .wait_until(&name, |client| client.shown_messages().len() > shown_before)
                    .await;
                let shown = client.shown_messages()[shown_before].clone();
                assert!(shown.contains(text), "{name}: {shown}");
            }
            Expect::Logged(text) => {
                client
                    .wait_until(&name, |client| {
                        client.notifications("window/logMessage").len() > logged_before
                    })
                    .await;
                let logged = client.notifications("window/logMessage")[logged_before].clone();
                assert!(
                    logged["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(text),
                    "{name}: {logged}"
                );
            }
            Expect::RawAnswer(id, code) => {
                client
                    .wait_until(&name, |client| raw_answer(client, id).is_some())
                    .await;
                let answer = raw_answer(client, id).unwrap();
                match code {
                    Some(code) => assert_eq!(answer["error"]["code"], code, "{name}: {answer}"),
                    None => assert!(answer.get("result").is_some(), "{name}: {answer}"),
                }
            }
            Expect::Nothing => {}
        }
        probe(client, &server.uri, &name).await;
    }
    total
}

/// After the attacks: an explain of the whole document shows the server's buffer is the
/// editor's, and the settings in force are still the valid ones.
async fn still_consistent(server: &Server, what: &str) {
    let client = &server.client;
    let token = client
        .run_action("chatls.explain", json!({"uri": server.uri}))
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation"), "{what}: {end}");
    let request = server.fake().requests().last().cloned().unwrap();
    assert_eq!(request.body["model"], "test-model", "{what}: settings kept");
    assert!(request.body.get("temperature").is_none(), "{what}");
    let user = request.body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = client.doc(&server.uri).text;
    assert_eq!(text, CODE, "{what}: no attack may change the document");
    assert!(
        user.contains(&format!("Selected code:\n```rust\n{CODE}\n```")),
        "{what}: the server's buffer changed: {user}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_answered_and_the_in_process_server_keeps_serving() {
    let server = start(&Transport::InProcess, vec![], UpstreamTuning::default()).await;
    server.fake().set_default(Reply::text(&["It adds."]));
    let attacks = run_attacks(&server, "in-process").await;
    still_consistent(&server, "in-process").await;
    common::scan_server(&server, "attacks");
    println!(
        "bad LSP input: {attacks} attacks on the in-process server, each answered, the server serving after every one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_answered_and_the_binary_keeps_serving_without_a_panic() {
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("chatls.log");
    let transport = Transport::Binary {
        log: "debug".into(),
        log_file: log_file.clone(),
    };
    let server = start(&transport, vec![], UpstreamTuning::default()).await;
    server.fake().set_default(Reply::text(&["It adds."]));
    let attacks = run_attacks(&server, "binary").await;
    still_consistent(&server, "binary").await;
    server.client.shutdown_and_exit().await;
    let (status, _) = server
        .client
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("the binary exits");
    assert!(status.success(), "{status}");
    let stderr = server.client.stderr_to_end().await;
    assert!(
        !stderr.contains("panicked"),
        "a handler panicked:\n{stderr}"
    );
    common::assert_no_key("stderr", &stderr);
    common::assert_no_key("log file", &std::fs::read_to_string(&log_file).unwrap());
    common::scan_server(&server, "attacks (binary)");
    println!(
        "bad LSP input: {attacks} attacks on the binary, each answered, no panic in its stderr"
    );
}

#[tokio::test]
async fn requests_before_initialize_and_after_shutdown_get_errors() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain_dir.path()));
    let mut attacks = 0;
    for (method, params) in [
        (
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///a.rs"}, "range": loop_range(), "context": {"diagnostics": []}}),
        ),
        (
            "workspace/executeCommand",
            json!({"command": "chatls.explain", "arguments": [{"uri": "file:///a.rs"}]}),
        ),
        ("shutdown", Value::Null),
    ] {
        let response = client.request(method, params).await;
        assert_eq!(
            response["error"]["code"], -32002,
            "{method} before initialize: {response}"
        );
        attacks += 1;
    }
    // A notification before initialize is dropped, not applied.
    client.open("file:///early.rs", "rust", "early").await;
    attacks += 1;
    let init = client
        .initialize(capabilities(&["utf-16"], true), Value::Null, None)
        .await;
    assert!(init["result"]["capabilities"].is_object(), "{init}");
    let response = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///early.rs"}, "range": range(0, 0, 0, 1), "context": {"diagnostics": []}}),
        )
        .await;
    assert_eq!(
        response["result"],
        Value::Null,
        "the early didOpen was dropped"
    );

    let shutdown = client.request("shutdown", Value::Null).await;
    assert_eq!(shutdown["result"], Value::Null, "{shutdown}");
    for (method, params) in [
        (
            "workspace/executeCommand",
            json!({"command": "chatls.explain", "arguments": [{"uri": "file:///a.rs"}]}),
        ),
        (
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///a.rs"}, "range": loop_range(), "context": {"diagnostics": []}}),
        ),
        ("shutdown", Value::Null),
    ] {
        let response = client.request(method, params).await;
        assert_eq!(
            response["error"]["code"], INVALID_REQUEST,
            "{method} after shutdown: {response}"
        );
        attacks += 1;
    }
    assert!(fake.requests().is_empty());
    println!("lifecycle order: {attacks} out-of-order messages answered with errors or dropped");
}

/// A 50 MB document: opened, edited at both ends, offered actions, and used for an action on
/// a small range whose request carries only bounded context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifty_megabyte_document_is_served() {
    let server = start(&Transport::InProcess, vec![], UpstreamTuning::default()).await;
    server.fake().set_default(Reply::text(&["A long file."]));
    let client = &server.client;
    let line = "let value = compute(1, 2, 3); // some padding text here\n";
    let lines = 50 * 1024 * 1024 / line.len() + 1;
    let big: String = line.repeat(lines);
    assert!(big.len() >= 50 * 1024 * 1024);
    let uri = support::file_uri(&server.dir.path().join("big.rs"));
    client.open(&uri, "rust", &big).await;
    let last = lines as u32;
    client
        .change(&uri, range(last, 0, last, 0), "// the end\n")
        .await;
    client.change(&uri, range(0, 0, 0, 3), "const").await;
    let middle = last / 2;
    client
        .change(&uri, range(middle, 4, middle, 9), "middle")
        .await;
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range(last, 0, last, 4), "context": {"diagnostics": []}}),
        )
        .await;
    assert_eq!(
        actions["result"].as_array().map(Vec::len),
        Some(chatls::action::table::builtin_rows().len())
    );
    let token = client
        .run_action(
            "chatls.explain",
            json!({"uri": uri, "range": range(middle - 1, 0, middle + 2, 0)}),
        )
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation"), "{end}");
    let request = server.fake().requests().last().cloned().unwrap();
    let user = request.body["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("let middle = compute"),
        "the edit in the middle is in the buffer"
    );
    assert!(
        user.len() < 100_000,
        "only bounded context goes upstream ({} bytes)",
        user.len()
    );
    println!(
        "50 MB document: {} bytes, {} lines, 3 edits, an action with a {} byte request",
        big.len(),
        lines,
        request.body.to_string().len()
    );
}

/// `chatls.debug.panic` (test hook): a panic in a request handler is answered with an
/// internal error, one in a background action is shown and ends its progress; the server
/// serves on. Without the hook the command does not exist.
async fn panics_are_caught(server: &Server, what: &str) {
    let client = &server.client;
    let response = client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.debug.panic", "arguments": []}),
        )
        .await;
    assert_eq!(response["error"]["code"], -32603, "{what}: {response}");
    let message = response["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("internal error") && message.contains("keeps running"),
        "{what}: {message}"
    );
    probe(client, &server.uri, "a request handler panic").await;

    let started = client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.debug.panic", "arguments": [{"in": "action"}]}),
        )
        .await;
    let token = started["result"]["token"].as_str().unwrap().to_owned();
    let end = client.wait_progress_end(&token).await;
    assert!(end.contains("internal error"), "{what}: {end}");
    client
        .wait_until("the panic shown", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("internal error"))
        })
        .await;
    probe(client, &server.uri, "an action panic").await;
    still_consistent(server, what).await;
}

#[tokio::test]
async fn a_panicking_handler_is_answered_and_the_in_process_server_lives_on() {
    let server = start(&Transport::InProcess, vec![], UpstreamTuning::default()).await;
    server.fake().set_default(Reply::text(&["Still here."]));
    panics_are_caught(&server, "in-process").await;

    // Without the hook there is no such command, and it is never advertised.
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain_dir.path()));
    let init = client
        .initialize(capabilities(&["utf-16"], true), Value::Null, None)
        .await;
    assert!(!init.to_string().contains("debug"), "{init}");
    let response = client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.debug.panic", "arguments": []}),
        )
        .await;
    assert_eq!(response["error"]["code"], INVALID_PARAMS, "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown command")
    );
}

#[tokio::test]
async fn a_panicking_handler_is_answered_and_the_binary_lives_on() {
    let logs = tempfile::tempdir().unwrap();
    let log_file: PathBuf = logs.path().join("chatls.log");
    let transport = Transport::Binary {
        log: "info".into(),
        log_file: log_file.clone(),
    };
    let server = start(&transport, vec![], UpstreamTuning::default()).await;
    server.fake().set_default(Reply::text(&["Still here."]));
    panics_are_caught(&server, "binary").await;
    server.client.shutdown_and_exit().await;
    let (status, _) = server
        .client
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("the binary exits");
    assert!(status.success(), "{status}");
    // The process has exited: every line it wrote is in the file.
    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        log.contains("handler panicked"),
        "the panic is logged: {log}"
    );
    assert!(log.contains("an action panicked"), "{log}");
}

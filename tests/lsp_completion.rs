//! Completion while typing, through the real server against the fake upstream over real
//! HTTP: ghost text in a VS Code profile, completion items in a Helix profile, supersede and
//! cancel closing upstream connections, typing through without the upstream, what the
//! request carries, and what is never sent.

mod support;

use std::time::Duration;

use chatls_fake_upstream::{FakeUpstream, RecordedRequest, Reply, Step};
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::{Client, apply_text_edits, file_uri, workspace};

const KEY: &str = "sk-test-canary-c0mp";
/// An emoji (two UTF-16 units, four bytes) and a CJK character (one unit, three bytes)
/// before the cursor.
const EMOJI_CODE: &str = "fn main() {\n    let s = \"😀中\"; let v = \n}\n";
const ACCENT_CODE: &str = "fn main() {\n    let café = fo\n    call()\n}\n";

/// VS Code with the chatls extension (its capabilities advertise inline completions).
fn vscode() -> Fixture {
    Fixture::new().client(Editor::VsCode)
}

fn helix() -> Fixture {
    Fixture::new().client(Editor::Helix)
}

/// `editor` on a workspace of `files` (none open yet).
async fn setup(
    files: &[(&str, &str)],
    editor: Fixture,
    options: Value,
    key: Option<&str>,
) -> Session {
    let mut fixture = editor.settings(options).key(key);
    for (path, text) in files {
        fixture = fixture.file(path, text);
    }
    fixture.start().await
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

fn inline_params(uri: &str, line: u32, character: u32) -> Value {
    let mut params = at(uri, line, character);
    params["context"] = json!({"triggerKind": 2});
    params
}

/// The position of the end of `needle` in `text`, in the given encoding.
fn position_after(text: &str, needle: &str, encoding: &str) -> (u32, u32) {
    let end = text.find(needle).expect("needle in text") + needle.len();
    let line_start = text[..end].rfind('\n').map_or(0, |index| index + 1);
    let line = text[..end].matches('\n').count() as u32;
    let column = &text[line_start..end];
    let character = match encoding {
        "utf-8" => column.len(),
        "utf-32" => column.chars().count(),
        _ => column.encode_utf16().count(),
    };
    (line, character as u32)
}

/// Every body the fake saw is a chat request of the OpenAI shape: the completion model,
/// streaming, a system and a user message, no tools.
fn check_shape(request: &RecordedRequest, model: &str, max_tokens: u64) {
    let body = &request.body;
    assert_eq!(request.path, "/v1/chat/completions");
    let parsed: chatls::llm::types::ChatRequest =
        serde_json::from_value(body.clone()).expect("an OpenAI chat request");
    assert_eq!(parsed.model, model);
    assert_eq!(parsed.max_tokens, Some(max_tokens as u32));
    assert!(parsed.stream);
    assert!(parsed.tools.is_none());
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"]);
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .ends_with("<|cursor|>")
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn vscode_profile_gets_ghost_text_in_utf16_and_typing_through_needs_no_upstream() {
    let s = setup(
        &[("src/main.rs", EMOJI_CODE)],
        vscode(),
        json!({"completion": {"debounceMs": 0}}),
        Some(KEY),
    )
    .await;
    let uri = s.uri_of("src/main.rs");
    s.client.open(&uri, "rust", EMOJI_CODE).await;
    // Fenced, chatty, and more than one statement: only the statement is inserted, and the
    // stream is left as soon as it is complete.
    s.fake.push(Reply::sse(vec![
        Step::Data(json!({"choices": [{"index": 0, "delta": {"content": "```rust\ncompute("}}]})),
        Step::Data(json!({"choices": [{"index": 0, "delta": {"content": "\"😀\", 1);\n"}}]})),
        Step::Delay(300),
        Step::Data(json!({"choices": [{"index": 0, "delta": {"content": "more();\n```\nThis computes."}}]})),
        Step::Stall,
    ]));
    let (line, character) = position_after(EMOJI_CODE, "let v = ", "utf-16");
    assert_eq!(
        character,
        position_after(EMOJI_CODE, "let v = ", "utf-32").1 + 1,
        "the emoji counts two UTF-16 units"
    );
    let response = s
        .client
        .request(
            "textDocument/inlineCompletion",
            inline_params(&uri, line, character),
        )
        .await;
    let items = response["result"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{response}");
    let item = &items[0];
    assert_eq!(item["insertText"], "compute(\"😀\", 1);");
    let edit = json!({"range": item["range"], "newText": item["insertText"]});
    let applied = apply_text_edits(EMOJI_CODE, &[edit], "utf-16");
    assert_eq!(
        applied,
        "fn main() {\n    let s = \"😀中\"; let v = compute(\"😀\", 1);\n}\n"
    );
    // Reading stopped at the end of the statement: the stalled stream was closed.
    assert!(s.fake.wait_for_abort(Duration::from_secs(10)).await);

    let requests = s.fake.requests();
    assert_eq!(requests.len(), 1);
    check_shape(&requests[0], "claude-haiku-4-5-20251001", 256);

    // The user types the suggestion's first characters: the rest comes without the upstream.
    s.client
        .change(
            &uri,
            json!({"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}),
            "comp",
        )
        .await;
    let response = s
        .client
        .request(
            "textDocument/inlineCompletion",
            inline_params(&uri, line, character + 4),
        )
        .await;
    let item = &response["result"][0];
    assert_eq!(item["insertText"], "ute(\"😀\", 1);", "{response}");
    assert_eq!(item["range"]["start"]["character"], character + 4);
    let edit = json!({"range": item["range"], "newText": item["insertText"]});
    let applied = apply_text_edits(&s.client.doc(&uri).text, &[edit], "utf-16");
    assert!(
        applied.contains("let v = compute(\"😀\", 1);\n}"),
        "{applied}"
    );
    assert_eq!(
        s.fake.requests().len(),
        1,
        "typing through asked the upstream"
    );
}

#[tokio::test]
async fn helix_profile_gets_completion_items_in_utf8_without_suffix_overlap() {
    let s = setup(
        &[("src/main.rs", ACCENT_CODE)],
        helix(),
        json!({"completion": {"debounceMs": 0}}),
        Some(KEY),
    )
    .await;
    let uri = s.uri_of("src/main.rs");
    s.client.open(&uri, "rust", ACCENT_CODE).await;
    s.fake.push(Reply::text(&["o(1", ");\n", "extra();\n"]));
    let (line, character) = position_after(ACCENT_CODE, "let café = fo", "utf-8");
    assert_eq!(character, 18, "é is two UTF-8 bytes");
    let response = s
        .client
        .request("textDocument/completion", at(&uri, line, character))
        .await;
    let list = &response["result"];
    assert_eq!(list["isIncomplete"], false, "{response}");
    let item = &list["items"][0];
    assert_eq!(item["label"], "foo(1);");
    assert_eq!(item["filterText"], "foo(1);");
    assert_eq!(item["detail"], "chatls");
    assert!(
        item["documentation"]["value"]
            .as_str()
            .unwrap()
            .contains("foo(1);")
    );
    let applied = apply_text_edits(ACCENT_CODE, &[item["textEdit"].clone()], "utf-8");
    assert_eq!(
        applied,
        "fn main() {\n    let café = foo(1);\n    call()\n}\n"
    );

    // Suffix overlap: inside `call()` the answer's closing paren is not inserted twice.
    s.fake.push(Reply::text(&["x, y)"]));
    let (line, character) = position_after(ACCENT_CODE, "call(", "utf-8");
    let response = s
        .client
        .request("textDocument/completion", at(&uri, line, character))
        .await;
    let item = &response["result"]["items"][0];
    let applied = apply_text_edits(ACCENT_CODE, &[item["textEdit"].clone()], "utf-8");
    assert!(applied.contains("    call(x, y)\n}"), "{applied}");

    // An empty answer gives no item.
    s.fake.push(Reply::text(&["  \n"]));
    let response = s
        .client
        .request("textDocument/completion", at(&uri, 0, 3))
        .await;
    assert_eq!(response["result"]["items"], json!([]), "{response}");
}

#[tokio::test]
async fn capabilities_follow_the_client_and_the_popup_setting() {
    let cases = [
        (vscode(), json!({}), false),
        (helix(), json!({}), true),
        (vscode(), json!({"completion": {"popup": "always"}}), true),
        (helix(), json!({"completion.popup": "never"}), false),
    ];
    for (editor, options, popup) in cases {
        let s = editor
            .settings(options.clone())
            .key(Some(KEY))
            .no_root()
            .start()
            .await;
        let response = &s.initialized;
        let capabilities = &response["result"]["capabilities"];
        assert_eq!(capabilities["inlineCompletionProvider"], true);
        assert_eq!(
            capabilities.get("completionProvider").is_some(),
            popup,
            "{options}: {capabilities}"
        );
    }
}

#[tokio::test]
async fn five_quick_requests_reach_the_upstream_at_most_twice_and_close_superseded_streams() {
    let s = setup(
        &[("src/main.rs", ACCENT_CODE)],
        helix(),
        json!({"completion": {"debounceMs": 50}}),
        Some(KEY),
    )
    .await;
    let uri = s.uri_of("src/main.rs");
    s.client.open(&uri, "rust", ACCENT_CODE).await;
    s.fake.push(Reply::sse(vec![Step::Stall]));
    s.fake.set_default(Reply::text(&["o(2);\n"]));
    let (line, character) = position_after(ACCENT_CODE, "let café = fo", "utf-8");
    let (_, first) = s
        .client
        .start_request("textDocument/completion", at(&uri, line, character))
        .await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    let mut later = Vec::new();
    for _ in 0..4 {
        let (_, response) = s
            .client
            .start_request("textDocument/completion", at(&uri, line, character))
            .await;
        later.push(response);
    }
    let first = first.await;
    assert_eq!(first["result"]["items"], json!([]), "superseded: {first}");
    assert!(
        s.fake.wait_for_abort(Duration::from_secs(10)).await,
        "the superseded request's connection stayed open"
    );
    let mut answers = Vec::new();
    for response in later {
        answers.push(response.await);
    }
    let last = answers.pop().unwrap();
    assert_eq!(last["result"]["items"][0]["label"], "foo(2);", "{last}");
    for superseded in answers {
        assert_eq!(superseded["result"]["items"], json!([]), "{superseded}");
    }
    assert!(
        s.fake.requests().len() <= 2,
        "{} upstream requests",
        s.fake.requests().len()
    );
}

#[tokio::test]
async fn cancel_request_closes_the_upstream_connection() {
    let s = setup(
        &[("src/main.rs", EMOJI_CODE)],
        vscode(),
        json!({"completion": {"debounceMs": 0}}),
        Some(KEY),
    )
    .await;
    let uri = s.uri_of("src/main.rs");
    s.client.open(&uri, "rust", EMOJI_CODE).await;
    s.fake.push(Reply::sse(vec![Step::Stall]));
    let (id, response) = s
        .client
        .start_request("textDocument/inlineCompletion", inline_params(&uri, 1, 25))
        .await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    s.client.notify("$/cancelRequest", json!({"id": id})).await;
    let response = response.await;
    assert_eq!(response["error"]["code"], -32800, "{response}");
    assert!(s.fake.wait_for_abort(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn model_tokens_and_conversation_ids_are_the_completions_own() {
    let s = setup(
        &[("a.rs", EMOJI_CODE), ("b.rs", EMOJI_CODE)],
        vscode(),
        json!({"completion": {"debounceMs": 0, "model": "fast-model", "maxTokens": 32}}),
        Some(KEY),
    )
    .await;
    let (a, b) = (s.uri_of("a.rs"), s.uri_of("b.rs"));
    s.client.open(&a, "rust", EMOJI_CODE).await;
    s.client.open(&b, "rust", EMOJI_CODE).await;
    s.fake.set_default(Reply::text(&["x();\n"]));
    for (uri, line, character) in [(&a, 1, 25), (&a, 0, 0), (&b, 1, 25)] {
        let response = s
            .client
            .request(
                "textDocument/inlineCompletion",
                inline_params(uri, line, character),
            )
            .await;
        assert!(response.get("error").is_none(), "{response}");
    }
    s.fake.set_default(Reply::text(&["An explanation."]));
    let token = s
        .client
        .run_action(
            "chatls.explain",
            json!({"uri": a, "range": support::range(1, 0, 1, 10)}),
        )
        .await;
    s.client.wait_progress_end(&token).await;

    let requests = s.fake.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests[..3] {
        check_shape(request, "fast-model", 32);
    }
    let id = |request: &RecordedRequest| request.header("x-conversation-id").unwrap().to_owned();
    assert_eq!(id(&requests[0]), id(&requests[1]), "stable per document");
    assert_ne!(id(&requests[0]), id(&requests[2]), "another document's id");
    assert_ne!(id(&requests[0]), id(&requests[3]), "the actions' id");
    assert_eq!(requests[3].body["model"], "test-model");
}

#[tokio::test]
async fn disabled_secret_denied_and_outside_files_send_nothing() {
    let s = setup(
        &[
            ("src/main.rs", EMOJI_CODE),
            (".env", "API_TOKEN=\n"),
            ("private/notes.rs", EMOJI_CODE),
        ],
        vscode(),
        json!({"completion": {"debounceMs": 0}, "tools": {"deny": ["private/**"]}}),
        Some(KEY),
    )
    .await;
    let outside_dir = workspace(&[("elsewhere.rs", EMOJI_CODE)]);
    let outside = file_uri(&outside_dir.path().join("elsewhere.rs"));
    s.fake.set_default(Reply::text(&["LEAKED();\n"]));
    for (uri, text) in [
        (s.uri_of(".env"), "API_TOKEN=\n"),
        (s.uri_of("private/notes.rs"), EMOJI_CODE),
        (outside, EMOJI_CODE),
    ] {
        s.client.open(&uri, "rust", text).await;
        let response = s
            .client
            .request("textDocument/inlineCompletion", inline_params(&uri, 0, 10))
            .await;
        assert_eq!(response["result"], json!([]), "{uri}: {response}");
    }
    // Disabled: nothing is sent even for an allowed file.
    let main = s.uri_of("src/main.rs");
    s.client.open(&main, "rust", EMOJI_CODE).await;
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"completion": {"enabled": false, "debounceMs": 0}}}}),
        )
        .await;
    let response = s
        .client
        .request("textDocument/inlineCompletion", inline_params(&main, 1, 25))
        .await;
    assert_eq!(response["result"], json!([]), "{response}");
    assert_eq!(s.fake.requests().len(), 0, "something was sent upstream");
    // Enabled again, the same file is completed (the checks above were not vacuous).
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"completion": {"enabled": true, "debounceMs": 0}}}}),
        )
        .await;
    let response = s
        .client
        .request("textDocument/inlineCompletion", inline_params(&main, 1, 25))
        .await;
    assert_eq!(
        response["result"][0]["insertText"], "LEAKED();",
        "{response}"
    );
}

#[tokio::test]
async fn a_failing_upstream_shows_one_message_until_the_settings_change() {
    let s = setup(
        &[("src/main.rs", EMOJI_CODE)],
        helix(),
        json!({"completion": {"debounceMs": 0}}),
        Some(KEY),
    )
    .await;
    let uri = s.uri_of("src/main.rs");
    s.client.open(&uri, "rust", EMOJI_CODE).await;
    s.fake.set_default(Reply::status(
        401,
        r#"{"error":{"message":"invalid api key"}}"#,
    ));
    for n in 0..10 {
        let response = s
            .client
            .request("textDocument/completion", at(&uri, 1, n))
            .await;
        assert_eq!(response["result"]["items"], json!([]), "{response}");
    }
    assert_eq!(s.fake.requests().len(), 10);
    let messages = |client: &Client| {
        client
            .shown_messages()
            .into_iter()
            .filter(|message| message.contains("completion"))
            .collect::<Vec<_>>()
    };
    s.client
        .wait_until("the failure message", |client| !messages(client).is_empty())
        .await;
    let shown = messages(&s.client);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].contains("401") || shown[0].to_lowercase().contains("key"),
        "{shown:?}"
    );
    assert!(!s.client.transcript().contains(KEY), "the key leaked");

    // New settings deserve a new message; a success reopens the gate too.
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"completion": {"debounceMs": 0, "model": "other"}}}),
        )
        .await;
    s.client
        .request("textDocument/completion", at(&uri, 1, 11))
        .await;
    s.client
        .wait_until("a second message", |client| messages(client).len() == 2)
        .await;
}

/// An SSE answer whose last chunk carries the token usage, as OpenAI sends it with
/// `stream_options.include_usage`.
fn completion_with_usage(text: &str, prompt: u64, completion: u64) -> Reply {
    Reply::sse(vec![
        Step::Data(json!({"id": "c", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]})),
        Step::Data(
            json!({"id": "c", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}}),
        ),
        Step::Done,
    ])
}

#[tokio::test]
async fn completions_are_counted_in_the_usage_and_share_the_actions_connection() {
    let s = setup(
        &[("a.rs", EMOJI_CODE)],
        vscode(),
        json!({"completion": {"debounceMs": 0, "model": "fast-model"}}),
        Some(KEY),
    )
    .await;
    let a = s.uri_of("a.rs");
    s.client.open(&a, "rust", EMOJI_CODE).await;
    // An action first, then two completions through the same pool: one read to its end
    // (the upstream's usage arrives), one stopped once its line is complete (no usage
    // arrives: counted from its characters and marked estimated).
    s.fake.set_default(Reply::text(&["An explanation."]));
    let token = s
        .client
        .run_action(
            "chatls.explain",
            json!({"uri": a, "range": support::range(1, 0, 1, 10)}),
        )
        .await;
    s.client.wait_progress_end(&token).await;
    s.fake.push_completion(completion_with_usage("x()", 900, 3));
    s.fake.push_completion(Reply::text(&["y();\n", "z();\n"]));
    for (line, character) in [(1, 25), (0, 0)] {
        let response = s
            .client
            .request(
                "textDocument/inlineCompletion",
                inline_params(&a, line, character),
            )
            .await;
        assert!(response.get("error").is_none(), "{response}");
    }

    let report = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.usage", "arguments": []}),
        )
        .await;
    let report = &report["result"];
    let completions = &report["byModel"]["fast-model"]["completions"];
    assert_eq!(completions["requests"], 2, "{report}");
    assert_eq!(completions["estimatedRequests"], 1, "{report}");
    let prompt = completions["promptTokens"].as_u64().unwrap();
    assert!(
        prompt > 900,
        "measured 900 plus an estimate of the second prompt: {report}"
    );
    assert!(
        completions["completionTokens"].as_u64().unwrap() >= 4,
        "{report}"
    );
    assert_eq!(report["byKind"]["actions"]["requests"], 1, "{report}");
    // The completions and the action went through one pool: one keep-alive connection.
    assert_eq!(s.fake.requests().len(), 3);
    assert_eq!(
        s.fake.connections_accepted(),
        1,
        "one connection pool for both"
    );
}

/// Inserts the first item of a completion answer (a `textDocument/completion` list or an
/// inline completion array) into `text`.
fn apply_item(text: &str, response: &Value, encoding: &str) -> String {
    let edit = match response["result"].get("items") {
        Some(items) => items[0]["textEdit"].clone(),
        None => {
            let item = &response["result"][0];
            json!({"range": item["range"], "newText": item["insertText"]})
        }
    };
    assert!(edit.is_object(), "no item for {text:?}: {response}");
    apply_text_edits(text, &[edit], encoding)
}

/// A completion right after an opening bracket typed before the cursor (`total = add(`):
/// the answer that closes it is offered, for `(`, `[` and `{`, with a `(` in a string
/// before it and a Rust lifetime, in a CRLF file with an emoji (UTF-16) and in UTF-8.
#[tokio::test]
async fn a_suggestion_may_close_a_bracket_typed_before_the_cursor() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // (file, text, typed before the cursor, answer, the line afterwards)
        (
            "a.py",
            "def main():\n    total = add(\n    print(total)\n",
            "total = add(",
            "1, 2)\n    print(total)\n",
            "    total = add(1, 2)\n",
        ),
        (
            "b.py",
            "xs = [\n",
            "xs = [",
            "1, 2, 3]\nys = []\n",
            "xs = [1, 2, 3]\n",
        ),
        (
            "c.rs",
            "fn main() {\n    let s = \"(\"; let config = Config {\n}\n",
            "Config {",
            " name: s };\n    run(config);\n",
            "    let s = \"(\"; let config = Config { name: s };\n",
        ),
        (
            "d.rs",
            "// 😀\r\nfn longest<'a>(\r\n",
            "longest<'a>(",
            "x: &'a str, y: &'a str) -> &'a str {\r\n    x\r\n}\r\n\r\nfn other() {}\r\n",
            "fn longest<'a>(x: &'a str, y: &'a str) -> &'a str {\r\n    x\r\n}\r\n",
        ),
    ];
    for (caps, encoding) in [(helix(), "utf-8"), (vscode(), "utf-16")] {
        let files: Vec<(&str, &str)> = cases.iter().map(|case| (case.0, case.1)).collect();
        let s = setup(
            &files,
            caps,
            json!({"completion": {"debounceMs": 0}}),
            Some(KEY),
        )
        .await;
        for (file, text, typed, answer, expected) in cases {
            let uri = s.uri_of(file);
            let language = if file.ends_with(".py") {
                "python"
            } else {
                "rust"
            };
            s.client.open(&uri, language, text).await;
            s.fake.push(Reply::text(&[answer]));
            let (line, character) = position_after(text, typed, encoding);
            let response = if encoding == "utf-8" {
                s.client
                    .request("textDocument/completion", at(&uri, line, character))
                    .await
            } else {
                s.client
                    .request(
                        "textDocument/inlineCompletion",
                        inline_params(&uri, line, character),
                    )
                    .await
            };
            let applied = apply_item(text, &response, encoding);
            assert!(
                applied.contains(expected),
                "{file} ({encoding}): {applied:?}"
            );
            assert_eq!(
                applied.matches(expected).count(),
                1,
                "{file} ({encoding}): {applied:?}"
            );
        }
    }
}

/// What repeats the code after the cursor is dropped only when it really repeats it:
/// brackets inside strings do not count, and the spaces left are kept.
#[tokio::test]
async fn the_overlap_with_the_code_after_the_cursor_ignores_strings_and_keeps_spaces() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // (file, text, typed before the cursor, answer, the line afterwards)
        (
            "a.py",
            "print()\n",
            "print(",
            "s.rstrip(\")\")",
            "print(s.rstrip(\")\"))\n",
        ),
        (
            "b.py",
            "print()\n",
            "print(",
            "s.count(\"(\"))",
            "print(s.count(\"(\"))\n",
        ),
        (
            "c.py",
            "total = add(1, 2)\n",
            "add(",
            "x, 1, 2)",
            "total = add(x, 1, 2)\n",
        ),
        (
            "d.rs",
            "// 😀\r\nfn main() { let c = f(); }\r\n",
            "f(",
            "')')",
            "fn main() { let c = f(')'); }\r\n",
        ),
        ("e.py", "d = {}\n", "d = {", "\"}\": 1}", "d = {\"}\": 1}\n"),
    ];
    for (caps, encoding) in [(helix(), "utf-8"), (vscode(), "utf-16")] {
        let files: Vec<(&str, &str)> = cases.iter().map(|case| (case.0, case.1)).collect();
        let s = setup(
            &files,
            caps,
            json!({"completion": {"debounceMs": 0}}),
            Some(KEY),
        )
        .await;
        for (file, text, typed, answer, expected) in cases {
            let uri = s.uri_of(file);
            let language = if file.ends_with(".py") {
                "python"
            } else {
                "rust"
            };
            s.client.open(&uri, language, text).await;
            s.fake.push(Reply::text(&[answer]));
            let (line, character) = position_after(text, typed, encoding);
            let response = if encoding == "utf-8" {
                s.client
                    .request("textDocument/completion", at(&uri, line, character))
                    .await
            } else {
                s.client
                    .request(
                        "textDocument/inlineCompletion",
                        inline_params(&uri, line, character),
                    )
                    .await
            };
            let applied = apply_item(text, &response, encoding);
            assert!(
                applied.ends_with(expected),
                "{file} ({encoding}): {applied:?}"
            );
        }
    }
}

/// A settings change that changes what a completion would be (the completion model, the
/// token cap, the upstream) is not answered from the suggestion the old settings made,
/// though typing through under unchanged settings still is. `chatls.selectModel` picks the
/// actions' model, not the completion's, so the suggestion stays valid across it.
#[tokio::test]
async fn a_settings_change_asks_afresh_instead_of_reusing_the_old_suggestion() {
    let s = setup(
        &[("src/main.rs", EMOJI_CODE)],
        vscode(),
        json!({"completion": {"debounceMs": 0, "model": "fast-a"}}),
        Some(KEY),
    )
    .await;
    let uri = s.uri_of("src/main.rs");
    s.client.open(&uri, "rust", EMOJI_CODE).await;
    let (line, character) = position_after(EMOJI_CODE, "let v = ", "utf-16");
    let ask = |character: u32| {
        s.client.request(
            "textDocument/inlineCompletion",
            inline_params(&uri, line, character),
        )
    };
    let configure = |options: Value| {
        s.client.notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": options}}),
        )
    };
    s.fake.push(Reply::text(&["first(1);\n"]));
    let response = ask(character).await;
    assert_eq!(
        response["result"][0]["insertText"], "first(1);",
        "{response}"
    );

    // Another completion model: asked again, of the new model.
    configure(json!({"completion": {"debounceMs": 0, "model": "fast-b"}})).await;
    s.fake.push(Reply::text(&["second(2);\n"]));
    let response = ask(character).await;
    assert_eq!(
        response["result"][0]["insertText"], "second(2);",
        "{response}"
    );
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].body["model"], "fast-b");

    // Typing through the new suggestion needs no upstream, and the actions' model choice
    // does not touch completion.
    s.client
        .change(
            &uri,
            json!({"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}),
            "sec",
        )
        .await;
    s.client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.selectModel", "arguments": [{"model": "big-model"}]}),
        )
        .await;
    let response = ask(character + 3).await;
    assert_eq!(response["result"][0]["insertText"], "ond(2);", "{response}");
    assert_eq!(s.fake.requests().len(), 2);

    // A new token cap, then a new upstream: asked again each time.
    configure(json!({"completion": {"debounceMs": 0, "model": "fast-b", "maxTokens": 40}})).await;
    s.fake.push(Reply::text(&["ond(3);\n"]));
    let response = ask(character + 3).await;
    assert_eq!(response["result"][0]["insertText"], "ond(3);", "{response}");
    assert_eq!(s.fake.requests().len(), 3);
    assert_eq!(s.fake.requests()[2].body["max_tokens"], 40);

    let other = FakeUpstream::start(vec![Reply::text(&["ond(4);\n"])])
        .await
        .expect("a second fake upstream");
    configure(json!({
        "baseUrl": other.base_url(),
        "completion": {"debounceMs": 0, "model": "fast-b", "maxTokens": 40},
    }))
    .await;
    let response = ask(character + 3).await;
    assert_eq!(response["result"][0]["insertText"], "ond(4);", "{response}");
    assert_eq!(other.requests().len(), 1);
    assert_eq!(s.fake.requests().len(), 3);
}

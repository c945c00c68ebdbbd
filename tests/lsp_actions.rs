//! The real server, in-process over pipes and as the built binary over stdio, against the
//! scripted fake upstream over real HTTP: what an editor user sees for each action.

mod support;

use std::time::Duration;

use chatls_fake_upstream::{FakeUpstream, Reply, Step};
use serde_json::{Value, json};

use support::fixture::{Fixture, Session};
use support::{ApplyPolicy, Client, answer_with, capabilities, env, file_uri, range};

const KEY: &str = "sk-test-canary-7f3a";
const CODE: &str = "fn total(xs: &[i32]) -> i32 {\n    let mut sum = 0;\n    for x in xs {\n        sum += x;\n    }\n    sum\n}\n";

/// `src/lib.rs` = [`CODE`] open in a client with these capabilities and settings.
async fn setup(replies: Vec<Reply>, caps: Value, options: Value) -> Session {
    Fixture::new()
        .key(Some(KEY))
        .capabilities(caps)
        .settings(options)
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .replies(replies)
        .start()
        .await
}

const LOOP_LINES: (u32, u32) = (2, 5); // "    for x in xs {" .. "    }\n"

fn loop_range() -> Value {
    range(LOOP_LINES.0, 0, LOOP_LINES.1, 0)
}

/// `executeCommandProvider` lists exactly the command enum's advertised commands, and every
/// one of them is a command the server answers: none is told "unknown command", whatever
/// arguments it lacks. The hidden test-hook command is neither advertised nor answered.
#[tokio::test]
async fn the_advertised_commands_are_the_command_enum_and_each_is_answered() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain_dir.path()));
    let response = client
        .initialize(capabilities(&["utf-16"], true), Value::Null, None)
        .await;
    let listed: Vec<String> =
        response["result"]["capabilities"]["executeCommandProvider"]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    let from_enum: Vec<String> = chatls::lsp::command::Command::all()
        .filter(|command| command.is_advertised())
        .map(|command| command.name().to_owned())
        .collect();
    assert_eq!(listed, from_enum);
    for command in &listed {
        let answer = client
            .request(
                "workspace/executeCommand",
                json!({"command": command, "arguments": []}),
            )
            .await;
        let error = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(!error.contains("unknown command"), "{command}: {answer}");
    }
    let hidden = client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.debug.panic", "arguments": []}),
        )
        .await;
    assert!(
        hidden["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("unknown command")),
        "{hidden}"
    );
}

#[tokio::test]
async fn initialize_advertises_commands_kinds_and_the_negotiated_encoding() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let explain_dir = tempfile::tempdir().unwrap();
    for (offered, expected) in [
        (json!(["utf-16"]), "utf-16"),
        (json!(["utf-8", "utf-32", "utf-16"]), "utf-8"),
        (json!(["utf-32", "utf-16"]), "utf-32"),
        (Value::Null, "utf-16"),
    ] {
        let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain_dir.path()));
        let caps = json!({"general": {"positionEncodings": offered}});
        let response = client.initialize(caps, Value::Null, None).await;
        let capabilities = &response["result"]["capabilities"];
        assert_eq!(capabilities["positionEncoding"], expected, "{offered}");
        assert_eq!(capabilities["textDocumentSync"]["change"], 2);
        let commands: Vec<&str> = capabilities["executeCommandProvider"]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            commands,
            [
                "chatls.run",
                "chatls.explain",
                "chatls.refactor",
                "chatls.fix",
                "chatls.ask",
                "chatls.followUp",
                "chatls.selectModel",
                "chatls.resetConversation",
                "chatls.cancel",
                "chatls.usage",
                "chatls.listModels",
                "chatls.listActions"
            ]
        );
        let kinds = &capabilities["codeActionProvider"]["codeActionKinds"];
        assert_eq!(
            kinds,
            &json!([
                "chatls.explain",
                "refactor.rewrite",
                "quickfix",
                "chatls.answer",
                "chatls.followUp"
            ])
        );
        assert_ne!(capabilities["codeActionProvider"]["resolveProvider"], true);
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn code_actions_are_offered_for_a_range_and_fix_carries_diagnostics() {
    let s = setup(vec![], capabilities(&["utf-16"], true), Value::Null).await;
    let diagnostic = json!({"range": range(3, 8, 3, 11), "severity": 1, "message": "mismatched types", "source": "rustc"});
    let response = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": s.uri}, "range": loop_range(), "context": {"diagnostics": [diagnostic]}}),
        )
        .await;
    let actions = response["result"].as_array().unwrap();
    let titles: Vec<&str> = actions
        .iter()
        .map(|action| action["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Explain with AI",
            "Refactor with AI",
            "Fix with AI",
            "Document with AI",
            "Change with AI"
        ]
    );
    assert_eq!(actions[1]["kind"], "refactor.rewrite");
    assert_eq!(actions[2]["kind"], "quickfix");
    assert_eq!(actions[2]["diagnostics"][0]["message"], "mismatched types");
    assert!(actions.iter().all(|action| action["tags"] == json!([1])));
    assert_eq!(actions[1]["command"]["command"], "chatls.run");
    assert_eq!(actions[1]["command"]["arguments"][0]["action"], "refactor");
    assert_eq!(actions[1]["command"]["arguments"][0]["uri"], s.uri);
    assert_eq!(actions[1]["command"]["arguments"][0]["range"], loop_range());

    let only_fixes = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": s.uri}, "range": loop_range(), "context": {"diagnostics": [], "only": ["quickfix"]}}),
        )
        .await;
    assert_eq!(
        only_fixes["result"],
        json!([]),
        "without diagnostics Fix is no quick fix"
    );

    // Without diagnostics, Fix is a rewrite listed after Refactor, so Ctrl+. in VS Code
    // (which preselects the first quick fix) never runs Fix when Refactor was meant.
    let plain = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": s.uri}, "range": loop_range(), "context": {"diagnostics": []}}),
        )
        .await;
    let plain = plain["result"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = plain
        .iter()
        .map(|action| {
            (
                action["title"].as_str().unwrap(),
                action["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Explain with AI", "chatls.explain"),
            ("Refactor with AI", "refactor.rewrite"),
            ("Fix with AI", "refactor.rewrite"),
            ("Document with AI", "refactor.rewrite"),
            ("Change with AI", "refactor.rewrite")
        ]
    );
    assert!(
        plain.iter().all(
            |action| action.get("diagnostics").is_none() && action.get("isPreferred").is_none()
        )
    );
    let with_diagnostic = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": s.uri}, "range": loop_range(), "context": {"diagnostics": [diagnostic], "only": ["quickfix"]}}),
        )
        .await;
    let titles: Vec<&str> = with_diagnostic["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Fix with AI"]);

    let unknown = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///nowhere.rs"}, "range": loop_range(), "context": {"diagnostics": []}}),
        )
        .await;
    assert_eq!(unknown["result"], Value::Null);
    assert!(
        s.fake.requests().is_empty(),
        "code actions never call the model"
    );
}

#[tokio::test]
async fn refactor_applies_a_minimal_versioned_edit_and_sends_the_exact_request() {
    let new_loop = "    sum = xs.iter().sum();\n";
    let s = setup(
        vec![answer_with("sum = xs.iter().sum();\n")],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    let token = s
        .client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": loop_range(), "instruction": "use iterators"}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    // The end also says what the action cost (the fake reports 10 prompt tokens).
    assert!(
        end.starts_with("applied 1 edit (10 prompt + ") && end.ends_with(" completion tokens)"),
        "{end}: {:?}",
        s.client.shown_messages()
    );
    let expected = CODE.replace("    for x in xs {\n        sum += x;\n    }\n", new_loop);
    assert_eq!(s.client.doc(&s.uri).text, expected);

    let edits = s.client.server_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1);
    let change = &edits[0]["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 1);
    assert_eq!(change["textDocument"]["uri"], s.uri);
    assert_eq!(edits[0]["label"], "chatls: Refactor with AI");

    let requests = s.fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let conversation = request.header("x-conversation-id").unwrap();
    assert_eq!(conversation.len(), 32);
    let body = &request.body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tool_choice"], "auto");
    let tool_names: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tool_names,
        [
            "read_file",
            "list_files",
            "search_workspace",
            "get_diagnostics"
        ]
    );
    assert!(body.get("temperature").is_none() && body.get("reasoning_effort").is_none());
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(
        messages[0]["content"],
        chatls::action::prompt::SYSTEM_PROMPT
    );
    let user = messages[1]["content"].as_str().unwrap();
    assert!(
        user.starts_with("Refactor the selected code. Keep its behaviour identical unless the instruction says otherwise.\nInstruction: use iterators\n"),
        "{user}"
    );
    assert!(
        user.contains("File: src/lib.rs (rust), lines 3-5 of 8 selected."),
        "{user}"
    );
    assert!(
        user.contains(
            "Selected code:\n```rust\n    for x in xs {\n        sum += x;\n    }\n\n```"
        ),
        "{user}"
    );
}

#[tokio::test]
async fn progress_goes_begin_report_end_with_a_server_created_token() {
    let reply = Reply::text_with_delay(&["Explaining ", "the ", "loop ", "slowly."], 150);
    let s = setup(vec![reply], capabilities(&["utf-16"], true), Value::Null).await;
    let token = s.start_action("chatls.explain", loop_range()).await;
    s.client.wait_progress_end(&token).await;
    let created = s.client.server_requests("window/workDoneProgress/create");
    assert_eq!(created[0]["token"], token);
    let kinds: Vec<String> = s
        .client
        .progress(&token)
        .iter()
        .map(|value| value["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("begin"));
    assert_eq!(kinds.last().map(String::as_str), Some("end"));
    assert!(kinds.iter().any(|kind| kind == "report"), "{kinds:?}");
    let progress = s.client.progress(&token);
    assert_eq!(progress[0]["cancellable"], true);
    assert_eq!(progress[0]["title"], "chatls: Explain with AI (test-model)");
    assert!(progress.iter().any(|value| {
        value["message"]
            .as_str()
            .is_some_and(|message| message.contains("writing:"))
    }));
}

#[tokio::test]
async fn explain_writes_markdown_and_opens_it_with_show_document() {
    let s = setup(
        vec![Reply::text(&["The loop **adds** ", "every element."])],
        capabilities(&["utf-8", "utf-16"], true),
        Value::Null,
    )
    .await;
    let token = s.start_action("chatls.explain", loop_range()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation opened"), "{end}");
    let shown = s.client.server_requests("window/showDocument");
    let uri = shown[0]["uri"].as_str().unwrap();
    let path = uri.strip_prefix("file://").unwrap();
    assert!(path.starts_with(s.explain_dir.path().to_str().unwrap()));
    let text = std::fs::read_to_string(path).unwrap();
    // The link back to the selection is relative to the transcript (VS Code's preview
    // refuses `file:` links) and resolves, from the transcript, to the code at its line.
    let target = text
        .split("[src/lib.rs:3-5](")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap();
    assert!(!target.starts_with("file:"), "{target}");
    let resolved = url::Url::from_file_path(path)
        .unwrap()
        .join(target)
        .unwrap();
    let code = url::Url::parse(&s.uri).unwrap();
    assert_eq!(
        std::fs::canonicalize(resolved.to_file_path().unwrap()).unwrap(),
        std::fs::canonicalize(code.to_file_path().unwrap()).unwrap()
    );
    assert_eq!(resolved.fragment(), Some("L3"));
    let link = format!("[src/lib.rs:3-5]({target})");
    assert_eq!(
        text,
        format!(
            "# chatls — src/lib.rs\n\n{}\n\n## You\n\n{link}\n\nExplain with AI\n\n## chatls (test-model)\n\nThe loop **adds** every element.\n\n## You\n\n",
            chatls::chat::transcript::HINT
        )
    );
    assert_eq!(s.client.doc(&s.uri).text, CODE, "explain never edits");
}

#[tokio::test]
async fn explain_falls_back_to_show_message_without_show_document() {
    let s = setup(
        vec![Reply::text(&["Sums the slice."])],
        json!({"window": {"workDoneProgress": false}}),
        Value::Null,
    )
    .await;
    s.start_action("chatls.explain", loop_range()).await;
    s.client
        .wait_until("explanation message", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.starts_with("Sums the slice."))
        })
        .await;
    assert!(s.client.notifications("$/progress").is_empty());
}

#[tokio::test]
async fn fix_sends_the_diagnostics_of_the_range_and_uses_changes_without_document_changes() {
    let s = setup(
        vec![answer_with("for x in xs {\n    sum += *x;\n}\n")],
        capabilities(&["utf-32"], false),
        Value::Null,
    )
    .await;
    let diagnostic = json!({"range": range(3, 8, 3, 16), "severity": 1, "message": "cannot add-assign `&i32` to `i32`", "source": "rustc"});
    let outside = json!({"range": range(0, 0, 0, 2), "severity": 2, "message": "unused function", "source": "rustc"});
    // The selection ends at column 0 of line 5: that line is not part of it.
    let next_line = json!({"range": range(5, 4, 5, 7), "severity": 2, "message": "value returned here", "source": "rustc"});
    let token = s
        .client
        .run_action(
            "chatls.fix",
            json!({"uri": s.uri, "range": loop_range(), "diagnostics": [diagnostic, outside, next_line]}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 1 edit ("), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        CODE.replace("sum += x;", "sum += *x;")
    );
    let edit = &s.client.server_requests("workspace/applyEdit")[0]["edit"];
    assert!(edit.get("documentChanges").is_none() && edit["changes"][&s.uri].is_array());
    let user = s.fake.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        user.contains("- line 4, column 9: error: cannot add-assign `&i32` to `i32` [rustc]"),
        "{user}"
    );
    assert!(!user.contains("unused function"));
    assert!(!user.contains("value returned here"), "{user}");
}

#[tokio::test]
async fn one_conversation_per_document_with_history() {
    let s = setup(
        vec![
            Reply::text(&["First answer."]),
            Reply::text(&["Second answer."]),
            Reply::text(&["Other doc."]),
        ],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    let first = s.start_action("chatls.explain", loop_range()).await;
    s.client.wait_progress_end(&first).await;
    let second = s.start_action("chatls.explain", range(0, 0, 1, 0)).await;
    s.client.wait_progress_end(&second).await;
    let other_uri = file_uri(&s.dir.path().join("src/other.rs"));
    s.client.open(&other_uri, "rust", "fn other() {}\n").await;
    let third = s
        .client
        .run_action(
            "chatls.explain",
            json!({"uri": other_uri, "range": range(0, 0, 0, 5)}),
        )
        .await;
    s.client.wait_progress_end(&third).await;

    let requests = s.fake.requests();
    assert_eq!(requests.len(), 3);
    let ids: Vec<&str> = requests
        .iter()
        .map(|request| request.header("x-conversation-id").unwrap())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    let first_messages = requests[0].body["messages"].as_array().unwrap();
    let second_messages = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(second_messages.len(), 4);
    // The earlier turn is replayed byte-identical: same system prompt, same user turn.
    assert_eq!(second_messages[0], first_messages[0]);
    assert_eq!(second_messages[1], first_messages[1]);
    assert_eq!(
        second_messages[2],
        json!({"role": "assistant", "content": "First answer."})
    );
    assert_eq!(requests[0].body["tools"], requests[1].body["tools"]);

    let reset = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.resetConversation", "arguments": [{"uri": s.uri}]}),
        )
        .await;
    assert_eq!(reset["result"]["reset"], true);
    let fourth = s.start_action("chatls.explain", loop_range()).await;
    s.client.wait_progress_end(&fourth).await;
    let requests = s.fake.requests();
    assert_ne!(requests[3].header("x-conversation-id").unwrap(), ids[0]);
    assert_eq!(requests[3].body["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_settings_are_rejected_with_the_key_named_and_the_old_ones_kept() {
    let s = setup(
        vec![Reply::text(&["ok"])],
        capabilities(&["utf-16"], true),
        json!({"chatls": {"temperature": 0.5}}),
    )
    .await;
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"temperature": 7, "model": "other"}}}),
        )
        .await;
    s.client
        .wait_until("settings error", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("`temperature`") && message.contains("from 0 to 2"))
        })
        .await;
    let token = s.start_action("chatls.explain", loop_range()).await;
    s.client.wait_progress_end(&token).await;
    let body = &s.fake.requests()[0].body;
    assert_eq!(body["temperature"], 0.5);
    assert_eq!(
        body["model"], "test-model",
        "the rejected object changed nothing"
    );

    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"temperature": 1.5, "tools": {"enabled": false}, "stream": false}}),
        )
        .await;
    s.fake.push(Reply::json_text("non-streamed"));
    // Let the notification land before the command (both are ordered on one connection).
    let token = s.start_action("chatls.explain", loop_range()).await;
    s.client.wait_progress_end(&token).await;
    let body = &s.fake.requests()[1].body;
    assert_eq!(body["temperature"], 1.5);
    assert_eq!(body["stream"], false);
    assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
}

#[tokio::test]
async fn a_missing_key_is_a_clear_error_and_nothing_is_sent() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let explain_dir = tempfile::tempdir().unwrap();
    // A non-loopback base URL needs a key; the fake is never contacted.
    let mut settings = env("https://gateway.invalid/v1", None, explain_dir.path());
    settings.base_url = Some("https://gateway.invalid/v1".into());
    let client = Client::in_process(settings);
    client
        .initialize(capabilities(&["utf-16"], true), Value::Null, None)
        .await;
    client.open("file:///tmp/a.rs", "rust", CODE).await;
    let response = client
        .request("workspace/executeCommand", json!({"command": "chatls.refactor", "arguments": [{"uri": "file:///tmp/a.rs", "range": loop_range()}]}))
        .await;
    let error = response["error"]["message"].as_str().unwrap();
    assert!(
        error.contains("no API key is set") && error.contains("CHATLS_API_KEY"),
        "{error}"
    );
    client
        .wait_until("missing key message", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("no API key"))
        })
        .await;
    assert!(fake.requests().is_empty());
    assert_eq!(client.doc("file:///tmp/a.rs").text, CODE);
}

#[tokio::test]
async fn bad_command_arguments_get_clear_errors_and_the_server_keeps_serving() {
    let s = setup(
        vec![Reply::text(&["still alive"])],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    let cases = [
        ("chatls.refactor", json!([])),
        ("chatls.refactor", json!([42])),
        ("chatls.refactor", json!([{"range": loop_range()}])),
        (
            "chatls.refactor",
            json!([{"uri": "file:///not/open.rs", "range": loop_range()}]),
        ),
        (
            "chatls.refactor",
            json!([{"uri": s.uri, "range": range(5, 0, 1, 0)}]),
        ),
        ("chatls.cancel", json!([{}])),
        ("chatls.nope", json!([])),
    ];
    for (command, arguments) in cases {
        let response = s
            .client
            .request(
                "workspace/executeCommand",
                json!({"command": command, "arguments": arguments}),
            )
            .await;
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "{command} {arguments} should fail: {response}"
        );
    }
    // A range past the end is clamped, not an error.
    let token = s
        .start_action("chatls.explain", range(100, 0, 200, 0))
        .await;
    s.client.wait_progress_end(&token).await;
    assert_eq!(s.fake.requests().len(), 1);
    assert_eq!(s.client.doc(&s.uri).text, CODE);
}

#[tokio::test]
async fn an_upstream_500_and_a_cut_stream_leave_the_document_identical() {
    let cut = Reply::Sse {
        status: 200,
        headers: vec![],
        steps: vec![
            Step::Data(
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "```rust\nlet broken"}}]}),
            ),
            Step::Delay(50),
            Step::Reset,
        ],
    };
    let errors = vec![Reply::status(500, "{\"error\":{\"message\":\"boom\"}}"); 4];
    let mut replies = errors;
    replies.push(cut);
    let s = setup(replies, capabilities(&["utf-16"], true), Value::Null).await;
    let token = s.start_action("chatls.refactor", loop_range()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("500"), "{end}");
    let token = s.start_action("chatls.refactor", loop_range()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(
        end.contains("cut off") || end.contains("broken") || end.contains("reset"),
        "{end}"
    );
    assert_eq!(s.client.doc(&s.uri).text, CODE);
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    let shown = s.client.shown_messages();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown.iter().all(|message| !message.contains(KEY)));
}

#[tokio::test]
async fn cancel_closes_the_upstream_connection_at_once() {
    for how in ["command", "command without arguments", "progress"] {
        let slow = Reply::Sse {
            status: 200,
            headers: vec![],
            steps: vec![
                Step::Data(json!({"choices": [{"index": 0, "delta": {"content": "thinking"}}]})),
                Step::Stall,
            ],
        };
        let s = setup(vec![slow], capabilities(&["utf-16"], true), Value::Null).await;
        let token = s.start_action("chatls.refactor", loop_range()).await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        if how == "command" {
            let response = s
                .client
                .request(
                    "workspace/executeCommand",
                    json!({"command": "chatls.cancel", "arguments": [{"uri": s.uri}]}),
                )
                .await;
            assert_eq!(response["result"]["cancelled"], 1);
        } else {
            s.client
                .notify("window/workDoneProgress/cancel", json!({"token": token}))
                .await;
        }
        assert!(
            s.fake.wait_for_abort(Duration::from_secs(5)).await,
            "{how}: the fake saw no disconnect"
        );
        let end = s.client.wait_progress_end(&token).await;
        assert!(end.contains("cancelled"), "{end}");
        assert_eq!(s.client.doc(&s.uri).text, CODE);
        assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    }
}

#[tokio::test]
async fn typing_above_the_selection_moves_the_edit_and_typing_inside_refuses_it() {
    // Above: the edit lands on the moved lines.
    let slow = |code: &str| {
        let text = format!("```rust\n{code}```");
        Reply::text_with_delay(&["", &text], 400)
    };
    let s = setup(
        vec![slow("sum = xs.iter().sum();\n")],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    let token = s.start_action("chatls.refactor", loop_range()).await;
    s.client
        .change(&s.uri, range(0, 0, 0, 0), "// 😀 header\n")
        .await;
    s.client.wait_progress_end(&token).await;
    let expected = format!(
        "// 😀 header\n{}",
        CODE.replace(
            "    for x in xs {\n        sum += x;\n    }\n",
            "    sum = xs.iter().sum();\n"
        )
    );
    assert_eq!(s.client.doc(&s.uri).text, expected);
    let edit = &s.client.server_requests("workspace/applyEdit")[0]["edit"]["documentChanges"][0];
    assert_eq!(edit["textDocument"]["version"], 2);

    // Inside: nothing is applied and the user is told.
    let s = setup(
        vec![slow("sum = 0;\n")],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    let token = s.start_action("chatls.refactor", loop_range()).await;
    s.client
        .change(&s.uri, range(3, 8, 3, 8), "/* typed */ ")
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("selected code changed"), "{end}");
    let typed = CODE.replace("        sum += x;", "        /* typed */ sum += x;");
    assert_eq!(s.client.doc(&s.uri).text, typed);
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert!(
        s.client
            .shown_messages()
            .iter()
            .any(|message| message.contains("selected code changed"))
    );
}

#[tokio::test]
async fn a_refused_edit_is_reported_not_ignored() {
    let s = setup(
        vec![answer_with("sum = 1;\n")],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    s.client
        .set_apply_policy(ApplyPolicy::Refuse("document is read-only".into()));
    let token = s.start_action("chatls.refactor", loop_range()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(
        end.contains("refused the edit") && end.contains("read-only"),
        "{end}"
    );
    assert!(
        s.client
            .shown_messages()
            .iter()
            .any(|message| message.contains("refused the edit"))
    );
    assert_eq!(s.client.doc(&s.uri).text, CODE);
}

/// The server's buffer after edits with CRLF, tabs and surrogate pairs, in every encoding,
/// read back through the request it sends upstream.
#[tokio::test]
async fn sync_with_crlf_and_surrogate_pairs_in_all_encodings() {
    for encoding in ["utf-8", "utf-16", "utf-32"] {
        let start = "a😀b\r\n\tcé𝄞d\r\nlast";
        let s = setup(
            vec![Reply::text(&["fine"])],
            capabilities(&[encoding], true),
            Value::Null,
        )
        .await;
        let uri = file_uri(&s.dir.path().join("src/crlf.rs"));
        s.client.open(&uri, "rust", start).await;
        // Insert after the emoji, replace the musical symbol, and type at the very end.
        let units_to_b = match encoding {
            "utf-8" => 5,
            "utf-16" => 3,
            _ => 2,
        };
        s.client
            .change(&uri, range(0, units_to_b, 0, units_to_b), "X")
            .await;
        let (from, to) = match encoding {
            "utf-8" => (4, 8),
            "utf-16" => (3, 5),
            _ => (3, 4),
        };
        s.client.change(&uri, range(1, from, 1, to), "Z").await;
        s.client.change(&uri, range(2, 4, 2, 4), "!\r\nnew").await;
        // Past the end of a line clamps to its end.
        s.client.change(&uri, range(0, 99, 0, 99), "#").await;
        let expected = s.client.doc(&uri).text;
        assert_eq!(
            expected, "a😀Xb#\r\n\tcéZd\r\nlast!\r\nnew",
            "{encoding}: the client model"
        );
        let token = s
            .client
            .run_action("chatls.explain", json!({"uri": uri}))
            .await;
        s.client.wait_progress_end(&token).await;
        let user = s.fake.requests()[0].body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            user.contains(&format!("Selected code:\n```rust\n{expected}\n```")),
            "{encoding}: {user}"
        );
    }
}

#[tokio::test]
async fn the_binary_serves_stdio_and_exits_on_shutdown_and_exit() {
    let s = Fixture::new()
        .key(Some(KEY))
        .binary(&[], &[("CHATLS_LOG", "debug".to_owned())])
        .bare(&["utf-8", "utf-16"], true)
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .reply(answer_with("sum = xs.iter().sum();\n"))
        .start()
        .await;
    let (client, uri) = (&s.client, &s.uri);
    let token = client
        .run_action(
            "chatls.refactor",
            json!({"uri": uri, "range": loop_range()}),
        )
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 1 edit ("), "{end}");
    assert!(client.doc(uri).text.contains("sum = xs.iter().sum();"));
    client.shutdown_and_exit().await;
    let (status, _) = client
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("chatls exits after shutdown + exit");
    assert!(status.success());
    let stderr = client.stderr_to_end().await;
    assert!(!stderr.contains(KEY), "the key leaked into the log");
    assert!(
        stderr.contains("DEBUG") || stderr.contains("INFO"),
        "debug logging reaches stderr"
    );
}

#[tokio::test]
async fn an_answer_cut_at_the_token_limit_is_never_applied() {
    let cut = Reply::Sse {
        status: 200,
        headers: vec![],
        steps: vec![
            Step::Data(
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "```rust\n    for x in xs.iter() {\n        sum +="}}]}),
            ),
            Step::Data(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})),
            Step::Done,
        ],
    };
    let s = setup(
        vec![cut],
        capabilities(&["utf-16"], true),
        json!({"maxTokens": 20}),
    )
    .await;
    let token = s.start_action("chatls.refactor", loop_range()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("token limit"), "{end}");
    assert_eq!(s.client.doc(&s.uri).text, CODE);
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(s.fake.requests()[0].body["max_tokens"], 20);
}

#[tokio::test]
async fn a_selection_starting_at_the_first_non_blank_column_keeps_the_block_indentation() {
    // The model re-indents the block from column 0, as models do.
    let s = setup(
        vec![answer_with("for x in xs.iter() {\n    sum += *x;\n}\n")],
        capabilities(&["utf-16"], true),
        Value::Null,
    )
    .await;
    let token = s.start_action("chatls.refactor", range(2, 4, 5, 0)).await;
    // Two small edits (`.iter()` and `*`); the indentation is untouched.
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 2 edits ("), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        CODE.replace(
            "    for x in xs {\n        sum += x;\n",
            "    for x in xs.iter() {\n        sum += *x;\n"
        )
    );
}

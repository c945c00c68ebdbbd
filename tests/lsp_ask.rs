//! The action table, ask, transcripts with follow-ups, and model choice: the real server
//! over pipes against the fake upstream over real HTTP, as VS Code, Neovim and Helix use it.

mod support;

use std::time::{Duration, Instant};

use chatls_fake_upstream::{FakeUpstream, Reply, Step};
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::marked::assert_text;
use support::{Client, answer_with, range};

const KEY: &str = "sk-test-canary-ask-51d2";
const CODE: &str = "fn total(xs: &[i32]) -> i32 {\n    let mut sum = 0;\n    for x in xs {\n        sum += x;\n    }\n    sum\n}\n";

/// The server as VS Code, or the given editor, presents itself, with `src/lib.rs` open.
async fn setup_as(editor: Fixture, options: Value) -> Session {
    editor
        .key(Some(KEY))
        .settings(options)
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .start()
        .await
}

async fn setup(options: Value) -> Session {
    let vscode = Fixture::new()
        .client_name("Visual Studio Code")
        .echo_edits(true);
    setup_as(vscode, options).await
}

async fn code_actions(client: &Client, uri: &str, range: Value) -> Vec<Value> {
    let response = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": []}}),
        )
        .await;
    response["result"].as_array().cloned().unwrap_or_default()
}

fn titles(actions: &[Value]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| action["title"].as_str().map(str::to_owned))
        .collect()
}

/// Runs a code action's command as an editor does and returns the progress token.
async fn run_code_action(client: &Client, action: &Value) -> String {
    let command = &action["command"];
    let response = client
        .request(
            "workspace/executeCommand",
            json!({"command": command["command"], "arguments": command["arguments"]}),
        )
        .await;
    assert!(response.get("error").is_none(), "{response}");
    response["result"]["token"].as_str().unwrap().to_owned()
}

fn user_turn(request: &chatls_fake_upstream::RecordedRequest) -> String {
    let messages = request.body["messages"].as_array().unwrap();
    messages.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn shown_documents(client: &Client) -> Vec<String> {
    client
        .server_requests("window/showDocument")
        .iter()
        .filter_map(|params| params["uri"].as_str().map(str::to_owned))
        .collect()
}

fn path_of(uri: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(uri.strip_prefix("file://").unwrap())
}

#[tokio::test]
async fn a_custom_row_is_a_tagged_code_action_and_its_prompt_is_filled() {
    let options = json!({"actions": [
        {"id": "write-tests", "title": "Write tests", "kind": "edit",
         "prompt": "Write tests in {language} for {path}.\nAsk: {instruction}\nKnown problems:\n{diagnostics}\nCode:\n{selection}",
         "model": "row-model"},
        {"id": "fix", "enabled": false},
        {"id": "explain", "title": "Explain simply", "prompt": "Explain like I am new to {language}:\n{selection}"},
    ]});
    let s = setup(options).await;
    let actions = code_actions(&s.client, &s.uri, range(2, 0, 5, 0)).await;
    assert_eq!(
        titles(&actions),
        [
            "Explain simply",
            "Refactor with AI",
            "Document with AI",
            "Change with AI",
            "Write tests"
        ]
    );
    for action in &actions {
        assert_eq!(action["tags"], json!([1]), "{action}");
        assert_eq!(action["command"]["command"], "chatls.run");
    }
    let custom = &actions[4];
    assert_eq!(custom["kind"], "refactor.rewrite");
    assert_eq!(custom["command"]["arguments"][0]["action"], "write-tests");

    s.fake.push(answer_with(
        "    for x in xs {\n        sum += *x;\n    }\n",
    ));
    let token = run_code_action(&s.client, custom).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(
        end.starts_with("applied 1 edit (10 prompt + 11 completion tokens)"),
        "{end}"
    );
    let progress = s.client.progress(&token);
    assert_eq!(progress[0]["title"], "chatls: Write tests (row-model)");
    let request = &s.fake.requests()[0];
    assert_eq!(request.body["model"], "row-model", "a row's model wins");
    // The row's task is the template filled, all of it and nothing else: the empty
    // instruction's line is left out, no placeholder is left, and the file's context follows.
    let turn = user_turn(request);
    let (task, context) = turn
        .split_once("\n\nFile: src/lib.rs (rust), lines 3-5 of 8 selected.")
        .unwrap_or_else(|| panic!("the turn has no file context: {turn}"));
    assert_text(
        task,
        "\
Write tests in rust for src/lib.rs.
Known problems:
(none reported; look for the bug yourself)
Code:
```rust
    for x in xs {
        sum += x;
    }

```",
        "the filled template",
    );
    for placeholder in [
        "{selection}",
        "{language}",
        "{path}",
        "{instruction}",
        "{diagnostics}",
    ] {
        assert!(
            !turn.contains(placeholder),
            "{placeholder} was left in: {turn}"
        );
    }
    assert!(context.contains("for x in xs {"), "{context}");

    // The replaced Explain uses its own prompt; the disabled Fix is gone, alias included.
    s.fake.push(Reply::text(&["Simple."]));
    let token = run_code_action(&s.client, &actions[0]).await;
    s.client.wait_progress_end(&token).await;
    assert!(
        user_turn(&s.fake.requests()[1]).starts_with("Explain like I am new to rust:\n```rust")
    );
    let refused = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.fix", "arguments": [{"uri": s.uri, "range": range(2, 0, 5, 0)}]}),
        )
        .await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("no enabled action \"fix\""), "{message}");
    let _ = &s.dir;
}

#[tokio::test]
async fn an_invalid_table_is_refused_naming_the_row_and_key_and_the_old_one_stays() {
    let s = setup(json!({"actions": [{"id": "add-types", "title": "Add types", "kind": "edit", "prompt": "Add type annotations to {selection}"}]})).await;
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"actions": [{"id": "bad", "title": "Bad", "kind": "edit", "prompt": "Use {code}"}]}}}),
        )
        .await;
    s.client
        .wait_until("the settings error", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("actions"))
        })
        .await;
    let message = s
        .client
        .shown_messages()
        .into_iter()
        .find(|message| message.contains("actions"))
        .unwrap();
    assert!(
        message.contains("row 1 (\"bad\"): `prompt` has an unknown placeholder {code}"),
        "{message}"
    );
    let actions = code_actions(&s.client, &s.uri, range(0, 0, 1, 0)).await;
    assert!(
        titles(&actions).contains(&"Add types".to_owned()),
        "the old table stays"
    );
    assert!(!titles(&actions).contains(&"Bad".to_owned()));
}

#[tokio::test]
async fn ask_writes_and_opens_a_transcript_then_a_follow_up_continues_the_conversation() {
    let s = setup(Value::Null).await;
    s.fake.push(Reply::text(&["It adds ", "every element."]));
    let token = s
        .client
        .run_action(
            "chatls.ask",
            json!({"uri": s.uri, "range": range(2, 0, 5, 0), "question": "Why a loop here?"}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation opened"), "{end}");
    let shown = shown_documents(&s.client);
    assert_eq!(shown.len(), 1);
    let transcript_uri = shown[0].clone();
    let path = path_of(&transcript_uri);
    assert!(path.starts_with(s.explain_dir.path()), "{}", path.display());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[src/lib.rs:3-5]("), "{text}");
    assert!(text.contains("Why a loop here?"), "{text}");
    assert!(text.contains("It adds every element."), "{text}");
    assert!(text.trim_end().ends_with("## You"), "{text}");
    let first = s.fake.requests()[0].clone();
    assert!(user_turn(&first).contains("Why a loop here?"));

    // The person opens the transcript and writes a follow-up under the last heading.
    s.client.open(&transcript_uri, "markdown", &text).await;
    s.client
        .type_at_end(&transcript_uri, "And for an empty slice?\n")
        .await;
    let actions = code_actions(&s.client, &transcript_uri, range(0, 0, 0, 0)).await;
    assert_eq!(
        titles(&actions),
        ["Send to AI", "Send to AI as a change (Change with AI)"]
    );
    assert_eq!(actions[0]["tags"], json!([1]));
    s.fake.push(Reply::text(&["It returns 0."]));
    let token = run_code_action(&s.client, &actions[0]).await;
    s.client.wait_progress_end(&token).await;

    let second = s.fake.requests()[1].clone();
    assert_eq!(
        second.header("x-conversation-id"),
        first.header("x-conversation-id"),
        "the same conversation"
    );
    let messages = second.body["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        4,
        "system, the first turn and answer, the follow-up"
    );
    assert_eq!(messages[1], first.body["messages"][1]);
    assert_eq!(messages[2]["content"], "It adds every element.");
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .starts_with("And for an empty slice?")
    );

    // The answer is in the buffer (one edit at its end) and the file on disk equals it.
    let buffer = s.client.doc(&transcript_uri).text;
    assert!(
        buffer.starts_with(&text),
        "nothing the person typed was lost"
    );
    assert!(buffer.contains("And for an empty slice?\n"), "{buffer}");
    assert!(buffer.contains("It adds every element."));
    assert!(buffer.contains("It returns 0."));
    assert!(buffer.trim_end().ends_with("## You"), "{buffer}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), buffer);

    // A reset starts a new transcript.
    s.client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.resetConversation", "arguments": [{"uri": s.uri}]}),
        )
        .await;
    s.fake.push(Reply::text(&["Fresh."]));
    let token = s.start_action("chatls.explain", range(0, 0, 1, 0)).await;
    s.client.wait_progress_end(&token).await;
    let shown = shown_documents(&s.client);
    assert_ne!(shown.last().unwrap(), &transcript_uri);
    assert_ne!(
        s.fake.requests()[2].header("x-conversation-id"),
        first.header("x-conversation-id")
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        buffer,
        "the old one is kept"
    );
}

#[tokio::test]
async fn send_to_ai_without_a_follow_up_says_where_to_write_it() {
    let s = setup(Value::Null).await;
    s.fake.push(Reply::text(&["Explained."]));
    let token = s.start_action("chatls.explain", range(0, 0, 1, 0)).await;
    s.client.wait_progress_end(&token).await;
    let transcript_uri = shown_documents(&s.client)[0].clone();
    let text = std::fs::read_to_string(path_of(&transcript_uri)).unwrap();
    assert!(
        text.contains("Explain with AI") && text.contains("Explained."),
        "{text}"
    );
    s.client.open(&transcript_uri, "markdown", &text).await;
    let response = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.followUp", "arguments": [{"uri": transcript_uri}]}),
        )
        .await;
    let message = response["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("under the last \"## You\" heading"),
        "{message}"
    );
    assert_eq!(s.fake.requests().len(), 1);
}

#[tokio::test]
async fn select_model_by_name_and_from_the_picker_with_the_upstream_list() {
    let s = setup(Value::Null).await;
    s.fake.set_models(FakeUpstream::models_reply(&[
        "local-coder-7b",
        "claude-opus-4-7",
    ]));
    s.client.set_message_choice("local-coder-7b");
    let response = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.selectModel", "arguments": []}),
        )
        .await;
    assert!(response.get("error").is_none(), "{response}");
    s.client
        .wait_until("the model switch", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("using the model local-coder-7b"))
        })
        .await;
    let asked = s.client.server_requests("window/showMessageRequest");
    let offered: Vec<&str> = asked[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|action| action["title"].as_str())
        .collect();
    for model in chatls::config::models::SEED_MODELS {
        assert!(offered.contains(&model), "{offered:?}");
    }
    assert!(offered.contains(&"local-coder-7b"));
    assert!(offered.contains(&"test-model (current)"), "{offered:?}");
    assert_eq!(
        offered
            .iter()
            .filter(|title| title.contains("claude-opus-4-7"))
            .count(),
        1
    );

    s.fake.push(Reply::text(&["ok"]));
    let token = s.start_action("chatls.explain", range(0, 0, 1, 0)).await;
    s.client.wait_progress_end(&token).await;
    assert_eq!(s.fake.requests()[0].body["model"], "local-coder-7b");
    assert_eq!(
        s.client.progress(&token)[0]["title"],
        "chatls: Explain with AI (local-coder-7b)"
    );

    // By name, at once; the list is cached (asked once).
    let response = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.selectModel", "arguments": [{"model": "claude-opus-4-6"}]}),
        )
        .await;
    assert_eq!(response["result"]["model"], "claude-opus-4-6");
    s.client.set_message_choice("no such entry");
    s.client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.selectModel", "arguments": []}),
        )
        .await;
    s.client
        .wait_until("a second picker", |client| {
            client.server_requests("window/showMessageRequest").len() == 2
        })
        .await;
    let second = &s.client.server_requests("window/showMessageRequest")[1];
    assert!(
        second["actions"]
            .to_string()
            .contains("claude-opus-4-6 (current)")
    );
    assert_eq!(s.fake.model_requests(), 1, "the list is cached");

    // The choice holds until the model setting changes.
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"model": "set-model"}}),
        )
        .await;
    s.fake.push(Reply::text(&["ok"]));
    let token = s.start_action("chatls.explain", range(0, 0, 1, 0)).await;
    s.client.wait_progress_end(&token).await;
    assert_eq!(s.fake.requests()[1].body["model"], "set-model");
}

#[tokio::test]
async fn a_hanging_or_failing_model_list_does_not_hold_the_picker() {
    for reply in [
        Reply::sse(vec![Step::Stall]),
        Reply::status(500, "{\"error\": \"down\"}"),
    ] {
        let s = setup(Value::Null).await;
        s.fake.set_models(reply);
        let started = Instant::now();
        s.client
            .request(
                "workspace/executeCommand",
                json!({"command": "chatls.selectModel", "arguments": []}),
            )
            .await;
        s.client
            .wait_until("the picker", |client| {
                !client
                    .server_requests("window/showMessageRequest")
                    .is_empty()
            })
            .await;
        // The list is waited for at most 2 s; a loose bound keeps this robust on a busy machine.
        assert!(started.elapsed() < Duration::from_secs(15));
        let asked = &s.client.server_requests("window/showMessageRequest")[0];
        assert_eq!(
            asked["actions"].as_array().unwrap().len(),
            8,
            "seven seed models and the current one"
        );
    }
}

#[tokio::test]
async fn an_unknown_model_404_names_it_and_how_to_pick_another() {
    let s = setup(json!({"model": "claude-nonexistent"})).await;
    s.fake.push(Reply::status(
        404,
        "{\"error\": {\"message\": \"model not found\"}}",
    ));
    let token = s.start_action("chatls.explain", range(0, 0, 1, 0)).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("\"claude-nonexistent\" (404)"), "{end}");
    assert!(end.contains("chatls.selectModel"), "{end}");
    assert!(!end.contains(KEY));
}

/// The whole flow with only what Helix and Neovim send: code actions' own commands, a
/// command without arguments for the model picker, follow-ups typed into the transcript.
#[tokio::test]
async fn helix_and_neovim_profiles_run_the_whole_flow_without_extra_arguments() {
    for editor in [Editor::Helix, Editor::Neovim] {
        let name = format!("{editor:?}");
        let s = setup_as(Fixture::new().client(editor), Value::Null).await;
        let actions = code_actions(&s.client, &s.uri, range(2, 0, 4, 9)).await;
        let explain = actions
            .iter()
            .find(|action| action["title"] == "Explain with AI")
            .unwrap();
        s.fake.push(Reply::text(&["A loop."]));
        let token = run_code_action(&s.client, explain).await;
        s.client.wait_progress_end(&token).await;
        let transcript_uri = shown_documents(&s.client)[0].clone();
        let text = std::fs::read_to_string(path_of(&transcript_uri)).unwrap();
        s.client.open(&transcript_uri, "markdown", &text).await;
        s.client.type_at_end(&transcript_uri, "Shorter?").await;
        let send = code_actions(&s.client, &transcript_uri, range(3, 0, 3, 0)).await;
        s.fake.push(Reply::text(&["Yes."]));
        let token = run_code_action(&s.client, &send[0]).await;
        s.client.wait_progress_end(&token).await;
        let buffer = s.client.doc(&transcript_uri).text;
        assert!(
            buffer.contains("Shorter?\n\n## chatls (test-model)\n\nYes.\n\n## You\n"),
            "{name}: {buffer}"
        );
        assert_eq!(
            std::fs::read_to_string(path_of(&transcript_uri)).unwrap(),
            buffer,
            "{name}"
        );
        let edit = &s.client.server_requests("workspace/applyEdit")[0]["edit"];
        assert_eq!(
            edit.get("documentChanges").is_some(),
            editor == Editor::Helix,
            "{name}: {edit}"
        );

        s.client.set_message_choice("claude-haiku-4-5");
        s.client
            .request(
                "workspace/executeCommand",
                json!({"command": "chatls.selectModel"}),
            )
            .await;
        s.client
            .wait_until("the model switch", |client| {
                client
                    .shown_messages()
                    .iter()
                    .any(|message| message.contains("using the model claude-haiku-4-5-20251001"))
            })
            .await;
    }
}

#[tokio::test]
async fn list_models_and_list_actions_answer_from_the_server_table() {
    let s = setup(json!({"actions": [
        {"id": "write-tests", "title": "Write tests", "kind": "answer", "prompt": "Tests for {selection}", "model": "m-tests"},
        {"id": "fix", "enabled": false}
    ]}))
    .await;
    s.fake
        .set_models(FakeUpstream::models_reply(&["local-coder-7b"]));
    let response = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.listModels", "arguments": []}),
        )
        .await;
    let result = &response["result"];
    assert_eq!(result["current"], "test-model", "{response}");
    let models: Vec<&str> = result["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(models.contains(&"local-coder-7b"), "{models:?}");
    assert!(models.contains(&"test-model"), "{models:?}");
    assert!(
        models.contains(&chatls::config::models::SEED_MODELS[0]),
        "{models:?}"
    );

    let response = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.listActions"}),
        )
        .await;
    let rows = response["result"]["actions"].as_array().unwrap().clone();
    let ids: Vec<&str> = rows.iter().filter_map(|row| row["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["explain", "refactor", "document", "change", "write-tests"]
    );
    let custom = &rows[4];
    assert_eq!(custom["title"], "Write tests");
    assert_eq!(custom["kind"], "answer");
    assert_eq!(custom["model"], "m-tests");
    assert_eq!(rows[1]["kind"], "edit");
    assert!(s.fake.requests().is_empty(), "listing asks no model");
}

//! Function calling through the real server: tool calls streamed in fragments, parallel calls,
//! several rounds, the round limit, the sandbox under attack, and images — each checked in the
//! requests the fake upstream received and in what the editor sees.

mod support;

use base64::Engine as _;
use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use support::fixture::{Fixture, Session};
use support::{Client, capabilities, env, file_uri, range, workspace};

const KEY: &str = "sk-tools-canary-91b2";
const MAIN: &str = "fn main() {\n    let config = load();\n    run(config);\n}\n";
const HELPER_ON_DISK: &str = "pub fn load() -> Config {\n    Config::default()\n}\n";
/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// `src/main.rs` open, a helper on disk, secrets beside them, a real and a fake image.
async fn setup(replies: Vec<Reply>, options: Value) -> Session {
    let s = Fixture::new()
        .key(Some(KEY))
        .settings(options)
        .file("src/main.rs", MAIN)
        .file("src/config.rs", HELPER_ON_DISK)
        .file(".env", "API_TOKEN=top-secret-env\n")
        .file(".git/config", "[remote] url = secret-git-remote\n")
        .file(
            "keys/server.pem",
            "-----BEGIN PRIVATE KEY----- secret-pem\n",
        )
        .file("fake.png", "just text, not an image")
        .open("src/main.rs")
        .replies(replies)
        .start()
        .await;
    std::fs::write(s.path("logo.png"), PNG).unwrap();
    s
}

fn messages(body: &Value) -> Vec<Value> {
    body["messages"].as_array().cloned().unwrap_or_default()
}

fn tool_messages(body: &Value) -> Vec<Value> {
    messages(body)
        .into_iter()
        .filter(|message| message["role"] == "tool")
        .collect()
}

#[tokio::test]
async fn a_fragmented_read_file_call_reads_the_unsaved_buffer_and_is_echoed_exactly() {
    let arguments = r#"{"path": "src/config.rs", "startLine": 1, "endLine": 3}"#;
    let s = setup(
        vec![
            Reply::tool_calls(&[("call_1", "read_file", arguments)], 4),
            Reply::text(&["It loads the config."]),
        ],
        Value::Null,
    )
    .await;
    // The editor holds an unsaved version of config.rs.
    let config_uri = file_uri(&s.dir.path().join("src/config.rs"));
    s.client
        .open(
            &config_uri,
            "rust",
            "pub fn load() -> Config {\n    Config::from_env() // unsaved\n}\n",
        )
        .await;
    let token = s.start_action("chatls.explain", range(1, 0, 2, 0)).await;
    s.client.wait_progress_end(&token).await;

    let requests = s.fake.requests();
    assert_eq!(requests.len(), 2);
    let second = &requests[1].body;
    let all = messages(second);
    assert_eq!(all.len(), 4, "{second:#}");
    assert_eq!(
        all[..2],
        messages(&requests[0].body)[..],
        "the first turn is replayed unchanged"
    );
    assert_eq!(
        all[2],
        json!({"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": arguments}}]})
    );
    assert_eq!(all[3]["role"], "tool");
    assert_eq!(all[3]["tool_call_id"], "call_1");
    let content = all[3]["content"].as_str().unwrap();
    assert!(
        content.contains("Config::from_env() // unsaved"),
        "{content}"
    );
    assert!(!content.contains("Config::default()"));
    assert!(content.contains("2|"), "line numbers: {content}");
    assert_eq!(
        requests[1].header("x-conversation-id"),
        requests[0].header("x-conversation-id")
    );
    assert_eq!(second["tools"], requests[0].body["tools"]);
    let reports = s.client.progress_messages(&token);
    assert!(
        reports
            .iter()
            .any(|message| message == "reading src/config.rs:1-3"),
        "{reports:?}"
    );
}

#[tokio::test]
async fn parallel_calls_and_a_second_round_answer_in_order() {
    let first = Reply::tool_calls(
        &[
            ("a", "list_files", r#"{"path": "src"}"#),
            ("b", "search_workspace", r#"{"pattern": "fn load"}"#),
        ],
        5,
    );
    let second = Reply::tool_calls(&[("c", "get_diagnostics", "{}")], 3);
    let s = setup(
        vec![first, second, Reply::text(&["Answer after two rounds."])],
        Value::Null,
    )
    .await;
    let token = s.start_action("chatls.explain", range(1, 0, 2, 0)).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation opened"), "{end}");
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 3);
    let round_one = tool_messages(&requests[1].body);
    assert_eq!(
        round_one
            .iter()
            .map(|message| message["tool_call_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let listing = round_one[0]["content"].as_str().unwrap();
    assert!(
        listing.contains("src/main.rs") && listing.contains("src/config.rs"),
        "{listing}"
    );
    let found = round_one[1]["content"].as_str().unwrap();
    assert!(
        found.contains("src/config.rs:1: pub fn load() -> Config {"),
        "{found}"
    );
    let round_two = tool_messages(&requests[2].body);
    assert_eq!(round_two.len(), 3);
    assert_eq!(round_two[2]["tool_call_id"], "c");
    assert_eq!(requests[2].body["tool_choice"], "auto");
}

#[tokio::test]
async fn the_round_limit_asks_for_an_answer_without_tools() {
    let call =
        |id: &str| Reply::tool_calls(&[(id, "read_file", r#"{"path": "src/config.rs"}"#)], 50);
    let s = setup(
        vec![call("r1"), call("r2"), Reply::text(&["Final."])],
        json!({"tools": {"maxRounds": 2}}),
    )
    .await;
    let token = s.start_action("chatls.explain", range(1, 0, 2, 0)).await;
    s.client.wait_progress_end(&token).await;
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].body["tool_choice"], "auto");
    assert_eq!(requests[1].body["tool_choice"], "auto");
    let last = &requests[2].body;
    assert_eq!(last["tool_choice"], "none");
    let final_turn = messages(last).pop().unwrap();
    assert_eq!(
        final_turn,
        json!({"role": "user", "content": chatls::action::engine::ROUNDS_EXHAUSTED})
    );
}

#[tokio::test]
async fn hostile_paths_are_refused_as_tool_results_and_nothing_leaks() {
    let outside_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        outside_dir.path().join("outside.txt"),
        "secret-outside-file",
    )
    .unwrap();
    let attacks = [
        (
            "t1",
            // A real `..` escape: the workspace and this directory are siblings in the temp dir.
            format!(
                r#"{{"path": "../{}/outside.txt"}}"#,
                outside_dir.path().file_name().unwrap().to_string_lossy()
            ),
        ),
        ("t2", r#"{"path": "/etc/passwd"}"#.to_owned()),
        (
            "t3",
            format!(
                r#"{{"path": "{}"}}"#,
                outside_dir.path().join("outside.txt").display()
            ),
        ),
        ("t4", r#"{"path": ".env"}"#.to_owned()),
        ("t5", r#"{"path": ".git/config"}"#.to_owned()),
        ("t6", r#"{"path": "keys/server.pem"}"#.to_owned()),
        ("t7", r#"{"path": "linked/outside.txt"}"#.to_owned()),
        ("t8", r#"{"path": "/proc/self/environ"}"#.to_owned()),
        ("t9", r#"{"path": "src/../../../../etc/passwd"}"#.to_owned()),
        ("t10", r#"{"path": 42}"#.to_owned()),
        ("t11", r#"{"path": "src/main.rs""#.to_owned()),
        ("t12", r#"{"pattern": "secret"}"#.to_owned()),
    ];
    let calls: Vec<(&str, &str, &str)> = attacks
        .iter()
        .map(|(id, arguments)| {
            (
                *id,
                if *id == "t12" {
                    "search_workspace"
                } else {
                    "read_file"
                },
                arguments.as_str(),
            )
        })
        .collect();
    let mut with_unknown = calls.clone();
    with_unknown.push(("t13", "delete_everything", "{}"));
    let s = setup(
        vec![
            Reply::tool_calls(&with_unknown, 7),
            Reply::text(&["I could not read those."]),
        ],
        Value::Null,
    )
    .await;
    std::os::unix::fs::symlink(outside_dir.path(), s.dir.path().join("linked")).unwrap();
    let token = s.start_action("chatls.explain", range(1, 0, 2, 0)).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(
        end.starts_with("explanation opened"),
        "the loop goes on after refusals: {end}"
    );
    let requests = s.fake.requests();
    let results = tool_messages(&requests[1].body);
    assert_eq!(results.len(), with_unknown.len());
    let everything = requests[1].body.to_string();
    for secret in [
        "secret-outside-file",
        "top-secret-env",
        "secret-git-remote",
        "secret-pem",
        "root:x:0",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked to the upstream"
        );
    }
    for result in &results[..11] {
        let text = result["content"].as_str().unwrap().to_lowercase();
        assert!(
            text.contains("refused")
                || text.contains("invalid")
                || text.contains("error")
                || text.contains("not"),
            "{}: {text}",
            result["tool_call_id"]
        );
    }
    assert!(
        results[12]["content"]
            .as_str()
            .unwrap()
            .contains("delete_everything")
    );
    assert_eq!(s.client.doc(&s.uri).text, MAIN);
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join(".env")).unwrap(),
        "API_TOKEN=top-secret-env\n"
    );
    assert_eq!(
        std::fs::read_to_string(outside_dir.path().join("outside.txt")).unwrap(),
        "secret-outside-file"
    );
}

fn image_parts(message: &Value) -> Vec<Vec<u8>> {
    message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|part| part["type"] == "image_url")
        .map(|part| {
            let url = part["image_url"]["url"].as_str().unwrap();
            let data = url
                .strip_prefix("data:image/png;base64,")
                .expect("png data URL");
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn images_in_the_selection_and_from_read_file_go_up_as_data_urls() {
    let doc = "# Notes\n\n![logo](../logo.png)\n![not really](../fake.png)\n";
    let s = setup(
        vec![
            Reply::tool_calls(&[("img", "read_file", r#"{"path": "logo.png"}"#)], 10),
            Reply::text(&["A one-pixel logo."]),
        ],
        Value::Null,
    )
    .await;
    let notes_uri = file_uri(&s.dir.path().join("docs/notes.md"));
    std::fs::create_dir_all(s.dir.path().join("docs")).unwrap();
    s.client.open(&notes_uri, "markdown", doc).await;
    let token = s
        .client
        .run_action(
            "chatls.explain",
            json!({"uri": notes_uri, "range": range(0, 0, 4, 0)}),
        )
        .await;
    s.client.wait_progress_end(&token).await;
    let requests = s.fake.requests();
    let first_user = &messages(&requests[0].body)[1];
    assert_eq!(first_user["content"][0]["type"], "text");
    assert_eq!(
        image_parts(first_user),
        vec![PNG.to_vec()],
        "only the real PNG is attached"
    );
    let reports = s.client.progress_messages(&token);
    assert!(
        reports.iter().any(|message| message.contains("fake.png")),
        "a skipped image is noted: {reports:?}"
    );
    // read_file of an image: the tool answers in text, the image follows as a user message.
    let second = messages(&requests[1].body);
    let tool_index = second
        .iter()
        .position(|message| message["role"] == "tool")
        .unwrap();
    assert!(
        second[tool_index]["content"]
            .as_str()
            .unwrap()
            .contains("image/png")
    );
    let follow_up = &second[tool_index + 1];
    assert_eq!(follow_up["role"], "user");
    assert_eq!(image_parts(follow_up), vec![PNG.to_vec()]);
}

#[tokio::test]
async fn the_non_streaming_path_runs_the_same_tool_loop() {
    let s = setup(
        vec![
            Reply::json_tool_calls(&[("n1", "read_file", r#"{"path": "src/config.rs"}"#)]),
            Reply::json_text("```rust\nlet config = load_config();\n```"),
        ],
        json!({"stream": false}),
    )
    .await;
    let token = s.start_action("chatls.refactor", range(1, 0, 2, 0)).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        MAIN.replace("let config = load();", "let config = load_config();")
    );
    let requests = s.fake.requests();
    assert_eq!(requests[0].body["stream"], false);
    assert_eq!(requests[0].header("accept"), Some("application/json"));
    let results = tool_messages(&requests[1].body);
    assert!(
        results[0]["content"]
            .as_str()
            .unwrap()
            .contains("Config::default()")
    );
}

#[tokio::test]
async fn unsaved_buffers_are_found_when_the_editor_opened_the_workspace_through_a_symlink() {
    let fake = FakeUpstream::start(vec![
        Reply::tool_calls(&[("s1", "read_file", r#"{"path": "src/config.rs"}"#)], 9),
        Reply::text(&["ok"]),
    ])
    .await
    .unwrap();
    let real = workspace(&[("src/main.rs", MAIN), ("src/config.rs", HELPER_ON_DISK)]);
    let links = tempfile::tempdir().unwrap();
    let linked_root = links.path().join("project");
    std::os::unix::fs::symlink(real.path(), &linked_root).unwrap();
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain_dir.path()));
    client
        .initialize(
            capabilities(&["utf-16"], true),
            Value::Null,
            Some(&linked_root),
        )
        .await;
    // The editor spells every URI through the symlink, like macOS's /tmp → /private/tmp.
    let main_uri = file_uri(&linked_root.join("src/main.rs"));
    let config_uri = file_uri(&linked_root.join("src/config.rs"));
    client.open(&main_uri, "rust", MAIN).await;
    client
        .open(
            &config_uri,
            "rust",
            "pub fn load() -> Config { unsaved_edit() }\n",
        )
        .await;
    let token = client
        .run_action(
            "chatls.explain",
            json!({"uri": main_uri, "range": range(1, 0, 2, 0)}),
        )
        .await;
    client.wait_progress_end(&token).await;
    let requests = fake.requests();
    let result = tool_messages(&requests[1].body)[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result.contains("unsaved_edit()"), "{result}");
    assert!(!result.contains("Config::default()"), "{result}");
}

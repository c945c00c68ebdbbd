//! Project rules (`AGENTS.md`, `CLAUDE.md`, `.github/copilot-instructions.md`), through the
//! real server in-process over pipes against the fake upstream over real HTTP: what the
//! system message of each request carries, byte for byte.

mod support;

use chatls::action::prompt::SYSTEM_PROMPT;
use chatls_fake_upstream::Reply;
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::range;

const CODE: &str = "fn main() {\n    println!(\"hi\");\n}\n";

/// VS Code on a workspace of `files`, every action answered with a line of prose.
async fn setup(files: &[(&str, &str)], settings: Value) -> Rules {
    let mut fixture = Fixture::new()
        .client(Editor::VsCode)
        .settings(settings)
        .default_reply(Reply::text(&["It prints hi."]));
    for (path, text) in files {
        fixture = fixture.file(path, text);
    }
    Rules {
        s: fixture.start().await,
        opened: Default::default(),
    }
}

struct Rules {
    s: Session,
    opened: std::sync::Mutex<Vec<String>>,
}

impl Rules {
    /// Explains a file of the workspace (opened first); the system message sent upstream.
    async fn system_message_for(&self, path: &str) -> String {
        let uri = self.s.uri_of(path);
        let first_time = {
            let mut opened = self.opened.lock().unwrap();
            let first_time = !opened.contains(&uri);
            opened.push(uri.clone());
            first_time
        };
        if first_time {
            let text = std::fs::read_to_string(self.s.path(path)).unwrap();
            self.s.client.open(&uri, "rust", &text).await;
        }
        let before = self.s.fake.requests().len();
        let token = self
            .s
            .client
            .run_action(
                "chatls.explain",
                json!({"uri": uri, "range": range(0, 0, 2, 0)}),
            )
            .await;
        let end = self.s.client.wait_progress_end(&token).await;
        let requests = self.s.fake.requests();
        assert!(requests.len() > before, "no request was sent: {end}");
        let body = &requests[before].body;
        assert_eq!(body["messages"][0]["role"], "system");
        body["messages"][0]["content"]
            .as_str()
            .expect("a system message")
            .to_owned()
    }
}

/// The root's three files and the nested AGENTS.md, in that order after the constant prompt;
/// the same bytes for two requests about the same file, and for a file elsewhere the same
/// bytes up to the nested file.
#[tokio::test]
async fn root_and_nested_rules_follow_the_constant_prompt_the_same_bytes_every_time() {
    let s = setup(
        &[
            ("AGENTS.md", "Root agents: run cargo test.\n"),
            ("CLAUDE.md", "Claude: keep answers short.\n"),
            (
                ".github/copilot-instructions.md",
                "Copilot: British spelling.\n",
            ),
            ("src/app/AGENTS.md", "App agents: no unwrap here.\n"),
            ("src/app/deep/main.rs", CODE),
            ("src/lib.rs", CODE),
        ],
        Value::Null,
    )
    .await;
    let first = s.system_message_for("src/app/deep/main.rs").await;
    assert!(first.starts_with(SYSTEM_PROMPT), "{first}");
    let order = [
        "Project rules from AGENTS.md:\nRoot agents: run cargo test.",
        "Project rules from CLAUDE.md:\nClaude: keep answers short.",
        "Project rules from .github/copilot-instructions.md:\nCopilot: British spelling.",
        "Project rules from src/app/AGENTS.md:\nApp agents: no unwrap here.",
    ];
    let mut at = SYSTEM_PROMPT.len();
    for part in order {
        let found = first[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing or out of order in {first}"));
        at += found + part.len();
    }
    let second = s.system_message_for("src/app/deep/main.rs").await;
    assert_eq!(first, second, "two requests about one file differ");

    // Another file: no nested rules, the same bytes up to them (the cached prefix holds).
    let elsewhere = s.system_message_for("src/lib.rs").await;
    assert!(!elsewhere.contains("App agents"), "{elsewhere}");
    assert!(first.starts_with(&elsewhere), "{elsewhere}\n---\n{first}");
}

/// A rules file that is a link out of the workspace, a FIFO and a binary file are not read
/// (and the request is not held up); a changed rules file is read again, and one swapped
/// for a link to a secret is not.
#[tokio::test]
async fn a_rules_file_linked_outside_a_fifo_or_binary_is_not_read_and_a_change_is() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("notes.md"),
        "OUTSIDE-CANARY: never send this.\n",
    )
    .unwrap();
    let s = setup(
        &[
            (
                ".github/copilot-instructions.md",
                "bin\0ary BINARY-CANARY\n",
            ),
            ("src/main.rs", CODE),
            ("src/AGENTS.md", "Nested: keep it.\n"),
        ],
        Value::Null,
    )
    .await;
    let root = s.s.dir.path();
    std::os::unix::fs::symlink(outside.path().join("notes.md"), root.join("AGENTS.md")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("CLAUDE.md"))
        .status()
        .unwrap();
    assert!(made.success());
    let system = s.system_message_for("src/main.rs").await;
    assert!(!system.contains("OUTSIDE-CANARY"), "{system}");
    assert!(!system.contains("BINARY-CANARY"), "{system}");
    assert!(!system.contains("from AGENTS.md"), "{system}");
    assert!(!system.contains("CLAUDE.md"), "{system}");
    assert!(
        system.ends_with("Project rules from src/AGENTS.md:\nNested: keep it."),
        "{system}"
    );

    // A rules file written meanwhile (outside the editor) reaches the next request.
    std::fs::write(root.join("src/AGENTS.md"), "Nested: changed.\n").unwrap();
    let system = s.system_message_for("src/main.rs").await;
    assert!(
        system.ends_with("Project rules from src/AGENTS.md:\nNested: changed."),
        "{system}"
    );

    // Swapped for a link to a secret inside the workspace: not read, though it was before.
    std::fs::write(root.join(".env"), "ENV-CANARY=1\n").unwrap();
    std::fs::remove_file(root.join("src/AGENTS.md")).unwrap();
    std::os::unix::fs::symlink(root.join(".env"), root.join("src/AGENTS.md")).unwrap();
    let system = s.system_message_for("src/main.rs").await;
    assert!(!system.contains("ENV-CANARY"), "{system}");
    assert!(!system.contains("Project rules"), "{system}");
}

/// `rules.enabled: false` sends the constant prompt alone; switched back on, the rules go.
#[tokio::test]
async fn rules_enabled_false_sends_none() {
    let s = setup(
        &[
            ("AGENTS.md", "Root agents: run cargo test.\n"),
            ("src/main.rs", CODE),
        ],
        json!({"rules": {"enabled": false}}),
    )
    .await;
    assert_eq!(s.system_message_for("src/main.rs").await, SYSTEM_PROMPT);
    // Switched on again: the same workspace sends them.
    s.s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"rules": {"enabled": true}}}}),
        )
        .await;
    let system = s.system_message_for("src/main.rs").await;
    assert!(
        system.ends_with("Project rules from AGENTS.md:\nRoot agents: run cargo test."),
        "{system}"
    );
}

/// More than 16 KB of rules: cut there, with a note that says so and names what was left out.
#[tokio::test]
async fn rules_past_16_kb_are_cut_with_a_note() {
    let line = "Every public function gets a doc comment and a test.\n";
    let big = line.repeat(20 * 1024 / line.len());
    let s = setup(
        &[
            ("AGENTS.md", &big),
            ("CLAUDE.md", "CLAUDE-CANARY\n"),
            ("src/main.rs", CODE),
        ],
        Value::Null,
    )
    .await;
    let system = s.system_message_for("src/main.rs").await;
    let rules = &system[SYSTEM_PROMPT.len()..];
    let (kept, note) = rules
        .split_once("\n\n[chatls cut the project rules here")
        .unwrap_or_else(|| panic!("no note: {}", &rules[rules.len() - 200..]));
    assert!(kept.len() <= 16 * 1024, "{} bytes of rules", kept.len());
    assert!(kept.len() > 15 * 1024, "{} bytes of rules", kept.len());
    assert!(kept.ends_with("a test."), "cut inside a line");
    assert!(note.contains("16 KB"), "{note}");
    assert!(note.contains("the end of AGENTS.md"), "{note}");
    assert!(note.contains("all of CLAUDE.md"), "{note}");
    assert!(!system.contains("CLAUDE-CANARY"));
}

/// Two workspace folders: each root's rules, in the folders' order, named by folder; a
/// request about a file of either carries the same bytes.
#[tokio::test]
async fn every_root_sends_its_rules_the_same_bytes_for_files_of_either() {
    let s = setup(
        &[("AGENTS.md", "First root: tabs.\n"), ("main.rs", CODE)],
        Value::Null,
    )
    .await;
    let second = tempfile::tempdir().unwrap();
    let other = second.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("CLAUDE.md"), "Second root: spaces.\n").unwrap();
    std::fs::write(other.join("lib.rs"), CODE).unwrap();
    s.s.client
        .notify(
            "workspace/didChangeWorkspaceFolders",
            json!({"event": {"added": [{"uri": support::file_uri(&other), "name": "other"}], "removed": []}}),
        )
        .await;
    let first_name =
        s.s.dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
    let in_first = s.system_message_for("main.rs").await;
    assert!(
        in_first.ends_with(&format!(
            "Project rules from {first_name}/AGENTS.md:\nFirst root: tabs.\n\nProject rules from other/CLAUDE.md:\nSecond root: spaces."
        )),
        "{in_first}"
    );
    // A file of the second root: opened and explained the same way.
    let uri = support::file_uri(&other.join("lib.rs"));
    s.s.client.open(&uri, "rust", CODE).await;
    let token =
        s.s.client
            .run_action(
                "chatls.explain",
                json!({"uri": uri, "range": range(0, 0, 2, 0)}),
            )
            .await;
    s.s.client.wait_progress_end(&token).await;
    let requests = s.s.fake.requests();
    let in_second = requests.last().unwrap().body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(in_first, in_second);
}

/// Completion requests carry no rules: their system message is the completion prompt alone.
#[tokio::test]
async fn completion_requests_carry_no_rules() {
    let s = Fixture::new()
        .client(Editor::VsCode)
        .settings(json!({"completion": {"debounceMs": 0}}))
        .file("AGENTS.md", "COMPLETION-CANARY: run the tests.\n")
        .file("main.rs", CODE)
        .open("main.rs")
        .default_reply(Reply::text(&["x();\n"]))
        .start()
        .await;
    let response = s
        .client
        .request(
            "textDocument/inlineCompletion",
            json!({"textDocument": {"uri": s.uri}, "position": {"line": 1, "character": 4}, "context": {"triggerKind": 2}}),
        )
        .await;
    assert!(response.get("error").is_none(), "{response}");
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(
        body["messages"][0]["content"],
        chatls::completion::prompt::SYSTEM_PROMPT
    );
    assert!(!body.to_string().contains("COMPLETION-CANARY"));
}

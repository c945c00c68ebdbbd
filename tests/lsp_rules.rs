//! Project rules (`AGENTS.md`, `CLAUDE.md`, `.github/copilot-instructions.md`), through the
//! real server in-process over pipes against the fake upstream over real HTTP: what the
//! system message of each request carries, byte for byte.

mod support;

use chatls::prompt::SYSTEM_PROMPT;
use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use support::{Client, capabilities, env, file_uri, range, workspace};

const CODE: &str = "fn main() {\n    println!(\"hi\");\n}\n";

struct Setup {
    fake: FakeUpstream,
    client: Client,
    dir: tempfile::TempDir,
    _explain_dir: tempfile::TempDir,
    opened: std::sync::Mutex<Vec<String>>,
}

async fn setup(files: &[(&str, &str)], options: Value) -> Setup {
    let fake = FakeUpstream::start(Vec::new())
        .await
        .expect("fake upstream");
    fake.set_default(Reply::text(&["It prints hi."]));
    let dir = workspace(files);
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some("sk-test"), explain_dir.path()));
    client
        .initialize(capabilities(&["utf-16"], true), options, Some(dir.path()))
        .await;
    Setup {
        fake,
        client,
        dir,
        _explain_dir: explain_dir,
        opened: Default::default(),
    }
}

impl Setup {
    /// Explains a file of the workspace (opened first); the system message sent upstream.
    async fn system_message_for(&self, path: &str) -> String {
        let uri = file_uri(&self.dir.path().join(path));
        let text = std::fs::read_to_string(self.dir.path().join(path)).unwrap();
        let first_time = {
            let mut opened = self.opened.lock().unwrap();
            let first_time = !opened.contains(&uri);
            opened.push(uri.clone());
            first_time
        };
        if first_time {
            self.client.open(&uri, "rust", &text).await;
        }
        let before = self.fake.requests().len();
        let token = self
            .client
            .run_action(
                "chatls.explain",
                json!({"uri": uri, "range": range(0, 0, 2, 0)}),
            )
            .await;
        let end = self.client.wait_progress_end(&token).await;
        let requests = self.fake.requests();
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
    let root = s.dir.path();
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

/// `rules.enabled: false` sends the constant prompt alone.
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

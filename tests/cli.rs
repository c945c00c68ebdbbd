//! `chatls ask` as a person runs it: the built binary against the fake upstream, streaming the
//! answer to stdout, printing the change, and writing it only with `--apply`.

use std::process::Stdio;

use chatls_fake_upstream::{FakeUpstream, Reply};

const CODE: &str = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n";

async fn ask(fake: &FakeUpstream, args: &[&str], key: Option<&str>) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"));
    command
        .arg("ask")
        .args(args)
        .env_remove("CHATLS_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env("CHATLS_BASE_URL", fake.base_url())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(key) = key {
        command.env("CHATLS_API_KEY", key);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), command.output())
        .await
        .expect("chatls ask finishes")
        .expect("runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn explain_streams_the_answer_to_stdout() {
    let fake = FakeUpstream::start(vec![Reply::text(&[
        "It adds ",
        "the numbers ",
        "and divides.",
    ])])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.py");
    std::fs::write(&file, CODE).unwrap();
    let target = format!("{}:2-4", file.display());
    let (ok, stdout, stderr) = ask(&fake, &["explain", &target], Some("sk-cli-canary")).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "It adds the numbers and divides.");
    let user = fake.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        user.contains("File: stats.py (python), lines 2-4 of 6 selected."),
        "{user}"
    );
    assert!(!stderr.contains("sk-cli-canary"));
}

#[tokio::test]
async fn refactor_prints_a_diff_and_writes_only_with_apply() {
    let answer = "```python\ntotal = sum(xs)\n```";
    let fake = FakeUpstream::start(vec![Reply::text(&[answer]), Reply::text(&[answer])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.py");
    std::fs::write(&file, CODE).unwrap();
    let target = format!("{}:2-4", file.display());
    let (ok, _, stderr) = ask(
        &fake,
        &["refactor", &target, "--instruction", "use sum"],
        Some("k"),
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("+    total = sum(xs)"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        CODE,
        "not written without --apply"
    );
    let (ok, _, stderr) = ask(&fake, &["refactor", &target, "--apply"], Some("k")).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "def mean(xs):\n    total = sum(xs)\n    return total / len(xs)\n"
    );
    assert!(
        fake.requests()[0].body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Instruction: use sum")
    );
}

#[tokio::test]
async fn failures_exit_non_zero_with_a_clear_message_and_leave_the_file() {
    let fake = FakeUpstream::start(vec![Reply::status(
        401,
        r#"{"error":{"message":"invalid key sk-bad-canary"}}"#,
    )])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.py");
    std::fs::write(&file, CODE).unwrap();
    let target = format!("{}:2-4", file.display());
    let (ok, _, stderr) = ask(&fake, &["fix", &target, "--apply"], Some("sk-bad-canary")).await;
    assert!(!ok);
    assert!(
        stderr.contains("401") && stderr.contains("API key"),
        "{stderr}"
    );
    assert!(!stderr.contains("sk-bad-canary"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), CODE);

    let (ok, _, stderr) = ask(
        &fake,
        &["explain", &format!("{}:99-100", file.display())],
        Some("k"),
    )
    .await;
    assert!(!ok && stderr.contains("past the end"), "{stderr}");
    let (ok, _, stderr) = ask(&fake, &["explain", "/no/such/file.py"], Some("k")).await;
    assert!(!ok && stderr.contains("cannot open"), "{stderr}");
}

#[tokio::test]
async fn ask_takes_an_action_of_the_table_or_a_free_question() {
    let fake = FakeUpstream::start(vec![
        Reply::text(&["It is slow because it loops."]),
        Reply::text(&["def test_mean(): ..."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.py");
    std::fs::write(&file, CODE).unwrap();
    let target = format!("{}:2-4", file.display());
    let (ok, stdout, stderr) = ask(&fake, &["why is this slow?", &target], Some("k")).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "It is slow because it loops.");
    let user = fake.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        user.starts_with("Answer this question about the selected code: why is this slow?"),
        "{user}"
    );

    let settings = dir.path().join("chatls.json");
    std::fs::write(
        &settings,
        r#"{"actions": [{"id": "write-tests", "title": "Write tests", "kind": "answer", "prompt": "Write pytest tests for {path}:\n{selection}", "model": "tests-model"}]}"#,
    )
    .unwrap();
    let settings = settings.display().to_string();
    let (ok, stdout, stderr) = ask(
        &fake,
        &["--action", "write-tests", &target, "--settings", &settings],
        Some("k"),
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "def test_mean(): ...");
    let request = &fake.requests()[1];
    assert_eq!(request.body["model"], "tests-model");
    assert!(
        request.body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Write pytest tests for stats.py:\n```python\n    total = 0")
    );

    let (ok, _, stderr) = ask(&fake, &["--action", "nope", &target], Some("k")).await;
    assert!(
        !ok && stderr.contains("there is no action \"nope\""),
        "{stderr}"
    );
    let (ok, _, stderr) = ask(&fake, &["summarise", &target], Some("k")).await;
    assert!(!ok && stderr.contains("neither an action"), "{stderr}");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn models_lists_the_seed_and_the_upstream_models_with_the_current_marked() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    fake.set_models(FakeUpstream::models_reply(&["local-coder-7b"]));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"))
        .arg("models")
        .env("CHATLS_BASE_URL", fake.base_url())
        .env("CHATLS_MODEL", "claude-opus-4-7")
        .env_remove("CHATLS_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(lines.contains(&"claude-opus-4-7 (current)"), "{stdout}");
    assert_eq!(lines[7], "local-coder-7b");
}

/// Issue 19, item 12: model ids and answers with newlines, `## You`, ESC/OSC sequences or
/// U+202E: `chatls models` lists none of them and `chatls ask` prints no escape to the
/// terminal.
#[tokio::test]
async fn hostile_model_ids_and_answers_reach_the_terminal_clean() {
    let controls = |text: &str| {
        text.chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202E}')
    };
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    fake.set_models(FakeUpstream::models_reply(&[
        "local-coder-7b",
        "evil\n## You\n\nforged",
        "\u{1b}]52;c;cHduZWQ=\u{7}clipboard",
        "\u{1b}[2Jcleared",
        "rtl\u{202E}gpj.exe",
    ]));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"))
        .arg("models")
        .env("CHATLS_BASE_URL", fake.base_url())
        .env("CHATLS_MODEL", "claude-opus-4-7")
        .env_remove("CHATLS_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!controls(&stdout), "{stdout:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        8,
        "the seven seed models and the clean one: {stdout}"
    );
    assert_eq!(lines[7], "local-coder-7b");

    fake.push(Reply::text(&[
        "It adds.\u{1b}]0;pwned\u{7}",
        "\u{1b}[2J Then \u{202E}divides\n",
        "\tand returns.",
    ]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.py");
    std::fs::write(&file, CODE).unwrap();
    let target = format!("{}:2-4", file.display());
    let (ok, stdout, stderr) = ask(&fake, &["explain", &target], Some("sk-cli-canary")).await;
    assert!(ok, "{stderr}");
    assert!(
        !controls(&stdout) && !controls(&stderr),
        "{stdout:?} {stderr:?}"
    );
    assert_eq!(
        stdout.trim(),
        "It adds. Then <U+202E>divides\n\tand returns."
    );
}

/// Issue 19, item 10: the CLI reads through the same sandbox as the server. A link to
/// `.env`, `.env` itself (also as `sub/../.env`, `.ENV.`), a link out of the workspace and a
/// file `tools.deny` names are refused before anything is sent, saying why; the secret is
/// in nothing the upstream received.
#[tokio::test]
async fn secrets_named_or_linked_are_refused_before_sending() {
    const SECRET: &str = "API_TOKEN=canary-cli-secret-31\n";
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    fake.set_default(Reply::text(&["It reads a token."]));
    let base = tempfile::tempdir().unwrap();
    let ws = base.path().join("ws");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    std::fs::create_dir_all(ws.join("private")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(ws.join(".env"), SECRET).unwrap();
    std::fs::write(ws.join(".ENV."), SECRET).unwrap();
    std::fs::write(ws.join("private/notes.py"), SECRET).unwrap();
    std::fs::write(outside.join("secret.py"), SECRET).unwrap();
    std::os::unix::fs::symlink(ws.join(".env"), ws.join("notes.py")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.py"), ws.join("sub/linked.py")).unwrap();
    std::fs::write(ws.join("stats.py"), CODE).unwrap();
    let settings = base.path().join("chatls.json");
    std::fs::write(&settings, r#"{"tools": {"deny": ["private/**"]}}"#).unwrap();
    let settings = settings.display().to_string();

    let path = |relative: &str| ws.join(relative).display().to_string();
    for (target, why) in [
        (path("notes.py"), "may contain secrets"),
        (path(".env"), "may contain secrets"),
        (path("sub/../.env"), "may contain secrets"),
        (path(".ENV."), "may contain secrets"),
        (path("sub/linked.py"), "points outside the workspace"),
        (path("private/notes.py"), "deny pattern `private/**`"),
    ] {
        let (ok, stdout, stderr) = ask(
            &fake,
            &["explain", &target, "--settings", &settings],
            Some("k-cli"),
        )
        .await;
        assert!(!ok, "{target}: {stdout}");
        assert!(
            stderr.contains("was not sent") && stderr.contains(why),
            "{target}: {stderr}"
        );
    }
    assert!(
        fake.requests().is_empty(),
        "sent: {:?}",
        fake.requests()
            .iter()
            .map(|request| request.body.to_string())
            .collect::<Vec<_>>()
    );
    // Not vacuous: the file beside them is explained.
    let (ok, stdout, stderr) = ask(
        &fake,
        &["explain", &path("stats.py"), "--settings", &settings],
        Some("k-cli"),
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "It reads a token.");
    assert!(
        !fake.requests()[0]
            .body
            .to_string()
            .contains("canary-cli-secret")
    );
}

/// `chatls ask` sends the project rules of the file's workspace (the folder holding `.git`):
/// the root's AGENTS.md and the nearest one above the file, after the constant prompt.
#[tokio::test]
async fn ask_sends_the_project_rules_of_the_files_workspace() {
    let fake = FakeUpstream::start(vec![Reply::text(&["It averages."])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::create_dir_all(dir.path().join("lib/stats")).unwrap();
    std::fs::write(dir.path().join("AGENTS.md"), "Root rule: type hints.\n").unwrap();
    std::fs::write(dir.path().join("lib/AGENTS.md"), "Lib rule: no numpy.\n").unwrap();
    let file = dir.path().join("lib/stats/stats.py");
    std::fs::write(&file, CODE).unwrap();
    let target = format!("{}:2-4", file.display());
    let (ok, _, stderr) = ask(&fake, &["explain", &target], Some("k")).await;
    assert!(ok, "{stderr}");
    let system = fake.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.starts_with(chatls::action::prompt::SYSTEM_PROMPT),
        "{system}"
    );
    assert!(
        system.ends_with(
            "Project rules from AGENTS.md:\nRoot rule: type hints.\n\nProject rules from lib/AGENTS.md:\nLib rule: no numpy."
        ),
        "{system}"
    );
}

/// `chatls ask` in a directory, started now; the output is awaited by the caller.
fn ask_in(
    fake: &FakeUpstream,
    dir: &std::path::Path,
    args: &[&str],
) -> impl std::future::Future<Output = (bool, String, String)> + use<> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"));
    command
        .arg("ask")
        .args(args)
        .current_dir(dir)
        .env_remove("CHATLS_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env("CHATLS_BASE_URL", fake.base_url())
        .env("CHATLS_API_KEY", "k")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    async move {
        let output = tokio::time::timeout(std::time::Duration::from_secs(30), command.output())
            .await
            .expect("chatls ask finishes")
            .expect("runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

const LIB: &str = "pub fn old_name() -> u32 {\n    1\n}\n";
const MAIN: &str = "fn main() {\n    println!(\"{}\", lib::old_name());\n}\n";

/// The change wrote nothing: `src/lib.rs` as it was, `src/main.rs` as `main`, no `docs/`.
fn assert_nothing_written(dir: &std::path::Path, main: &str) {
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        LIB
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/main.rs")).unwrap(),
        main
    );
    assert!(!dir.join("docs").exists());
}

fn change_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), LIB).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), MAIN).unwrap();
    dir
}

fn rename_replies() -> Vec<Reply> {
    let lib = serde_json::json!({"path": "src/lib.rs", "old_text": "pub fn old_name()", "new_text": "pub fn new_name()"}).to_string();
    let main = serde_json::json!({"path": "src/main.rs", "old_text": "lib::old_name()", "new_text": "lib::new_name()"}).to_string();
    let note = serde_json::json!({"path": "docs/rename.md", "content": "old_name is new_name\n"})
        .to_string();
    vec![
        Reply::tool_calls(
            &[
                ("c1", "edit_file", lib.as_str()),
                ("c2", "edit_file", main.as_str()),
                ("c3", "create_file", note.as_str()),
            ],
            11,
        ),
        Reply::text(&["Renamed old_name everywhere."]),
    ]
}

#[tokio::test]
async fn a_change_prints_one_diff_of_every_file_and_writes_them_only_with_apply() {
    let fake = FakeUpstream::start(rename_replies()).await.unwrap();
    let dir = change_workspace();
    let target = format!("{}:1-3", dir.path().join("src/lib.rs").display());
    let (ok, stdout, stderr) = ask_in(
        &fake,
        dir.path(),
        &[
            "--action",
            "change",
            "--instruction",
            "rename old_name to new_name",
            &target,
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    for header in [
        "+++ b/src/lib.rs",
        "+++ b/src/main.rs",
        "--- /dev/null",
        "+++ b/docs/rename.md",
    ] {
        assert!(stdout.contains(header), "{header} missing: {stdout}");
    }
    assert!(
        stdout.contains("-pub fn old_name() -> u32 {\n+pub fn new_name() -> u32 {"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Renamed"),
        "stdout is the diff alone: {stdout}"
    );
    assert!(stderr.contains("Renamed old_name everywhere."), "{stderr}");
    assert_nothing_written(dir.path(), MAIN);

    // Without a file: the workspace is the current directory's; --apply writes every file.
    for reply in rename_replies() {
        fake.push(reply);
    }
    let (ok, _, stderr) = ask_in(
        &fake,
        dir.path(),
        &[
            "--action",
            "change",
            "--instruction",
            "rename old_name to new_name",
            "--apply",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
        LIB.replace("old_name", "new_name")
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("src/main.rs")).unwrap(),
        MAIN.replace("old_name", "new_name")
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("docs/rename.md")).unwrap(),
        "old_name is new_name\n"
    );
}

#[tokio::test]
async fn a_change_with_apply_writes_nothing_when_a_file_changed_meanwhile() {
    let mut replies = rename_replies();
    replies[1] = Reply::text_with_delay(&["Renamed", " everywhere."], 1_500);
    let fake = FakeUpstream::start(replies).await.unwrap();
    let dir = change_workspace();
    let running = ask_in(
        &fake,
        dir.path(),
        &["--action", "change", "--instruction", "rename", "--apply"],
    );
    let finished = tokio::spawn(running);
    fake.wait_for_requests(2, std::time::Duration::from_secs(20))
        .await;
    // Someone edits main.rs while the model is still writing its answer.
    let edited = MAIN.replace("fn main()", "fn main() /* edited */");
    std::fs::write(dir.path().join("src/main.rs"), &edited).unwrap();
    let (ok, _, stderr) = finished.await.unwrap();
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("src/main.rs changed on disk"), "{stderr}");
    assert_nothing_written(dir.path(), &edited);
}

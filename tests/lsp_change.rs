//! Changes across files ("Change with AI", a `workspace` row) through the real server
//! in-process over pipes, against the fake upstream scripting `edit_file` / `create_file`
//! calls: one reviewed workspace edit with the right versions, a `CreateFile` and an
//! annotation per file; the hostile calls answered as tool results with nothing written;
//! reads seeing the staged text; cancel; typing meanwhile; the Helix way (diff, Apply/Discard).

mod support;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use support::{Client, capabilities, env, file_uri, range, workspace};

const LIB: &str = "pub fn old_name() -> u32 {\n    1\n}\n";
const LIB_UNSAVED: &str = "pub fn old_name() -> u32 {\n    1 // unsaved\n}\n";
const MAIN: &str = "fn main() {\n    println!(\"{}\", lib::old_name());\n}\n";
const TEST: &str = "#[test]\nfn it() {\n    assert_eq!(lib::old_name(), 1);\n}\n";
const NOTE: &str = "# Renamed\n\n`old_name` is now `new_name`.\n";

struct Setup {
    fake: FakeUpstream,
    client: Client,
    dir: tempfile::TempDir,
    _explain_dir: tempfile::TempDir,
    /// src/lib.rs, open with unsaved text.
    lib: String,
}

/// VS Code: documentChanges, create/rename/delete, change annotations.
fn vscode_like() -> Value {
    let mut caps = capabilities(&["utf-16"], true);
    caps["workspace"]["workspaceEdit"]["resourceOperations"] =
        json!(["create", "rename", "delete"]);
    caps["workspace"]["workspaceEdit"]["failureHandling"] = json!("textOnlyTransactional");
    caps["workspace"]["workspaceEdit"]["changeAnnotationSupport"] = json!({"groupsOnLabel": true});
    caps
}

/// Helix: documentChanges, create/rename/delete, no annotations.
fn helix_like() -> Value {
    let mut caps = capabilities(&["utf-8", "utf-32", "utf-16"], true);
    caps["workspace"]["workspaceEdit"]["resourceOperations"] =
        json!(["create", "rename", "delete"]);
    caps["workspace"]["workspaceEdit"]["failureHandling"] = json!("abort");
    caps
}

async fn setup(replies: Vec<Reply>, caps: Value) -> Setup {
    let fake = FakeUpstream::start(replies).await.expect("fake upstream");
    let dir = workspace(&[
        ("src/lib.rs", LIB),
        ("src/main.rs", MAIN),
        ("tests/it.rs", TEST),
        (".env", "API_TOKEN=top-secret-env\n"),
        (".git/config", "[core]\n"),
    ]);
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some("sk-test"), explain_dir.path()));
    client.set_hold_message_requests(true);
    client.initialize(caps, Value::Null, Some(dir.path())).await;
    let lib = file_uri(&dir.path().join("src/lib.rs"));
    client.open(&lib, "rust", LIB_UNSAVED).await;
    Setup {
        fake,
        client,
        dir,
        _explain_dir: explain_dir,
        lib,
    }
}

fn edit(path: &str, old: &str, new: &str) -> String {
    json!({"path": path, "old_text": old, "new_text": new}).to_string()
}

/// The rename: three files edited, one created.
fn rename_calls() -> Reply {
    let calls = [
        edit("src/lib.rs", "pub fn old_name()", "pub fn new_name()"),
        edit("src/main.rs", "lib::old_name()", "lib::new_name()"),
        edit("tests/it.rs", "lib::old_name()", "lib::new_name()"),
        json!({"path": "docs/rename.md", "content": NOTE}).to_string(),
    ];
    Reply::tool_calls(
        &[
            ("c1", "edit_file", calls[0].as_str()),
            ("c2", "edit_file", calls[1].as_str()),
            ("c3", "edit_file", calls[2].as_str()),
            ("c4", "create_file", calls[3].as_str()),
        ],
        9,
    )
}

async fn change(s: &Setup) -> String {
    s.client
        .run_action(
            "chatls.run",
            json!({"uri": s.lib, "range": range(0, 0, 0, 0), "action": "change", "instruction": "rename old_name to new_name"}),
        )
        .await
}

fn disk(s: &Setup, path: &str) -> Option<String> {
    std::fs::read_to_string(s.dir.path().join(path)).ok()
}

fn uri(s: &Setup, path: &str) -> String {
    file_uri(&s.dir.path().join(path))
}

/// Nothing chatls sent reached the disk: the edited files are as they were, and no new file
/// exists unless the editor created it.
fn assert_disk_untouched(s: &Setup) {
    assert_eq!(disk(s, "src/lib.rs").as_deref(), Some(LIB));
    assert_eq!(disk(s, "src/main.rs").as_deref(), Some(MAIN));
    assert_eq!(disk(s, "tests/it.rs").as_deref(), Some(TEST));
}

fn tool_results(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|message| message["role"] == "tool")
        .map(|message| message["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn type_text(s: &Setup, uri: &str, at: Value, text: &str) {
    s.client.change(uri, at, text).await;
    // A request after the change: the server has applied the change when it answers.
    s.client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range(0, 0, 0, 0), "context": {"diagnostics": []}}),
        )
        .await;
}

async fn wait_question(client: &Client) -> Value {
    client
        .wait_until("the Apply/Discard question", |client| {
            !client
                .server_requests("window/showMessageRequest")
                .is_empty()
        })
        .await;
    client.server_requests("window/showMessageRequest")[0].clone()
}

/// The rename started in a Helix-like client (no change annotations), the Apply/Discard
/// question asked and held: the session, the action's progress token and the question.
async fn rename_waiting_for_review() -> (Setup, String, Value) {
    let s = setup(
        vec![rename_calls(), Reply::text(&["Renamed."])],
        helix_like(),
    )
    .await;
    let token = change(&s).await;
    let question = wait_question(&s.client).await;
    (s, token, question)
}

#[tokio::test]
async fn a_rename_across_three_files_and_a_new_one_is_one_annotated_edit() {
    let s = setup(
        vec![
            rename_calls(),
            Reply::text(&["Renamed old_name to new_name everywhere."]),
        ],
        vscode_like(),
    )
    .await;
    let token = change(&s).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 4 edits to 4 files"), "{end}");

    // The tools offered: the read tools, then edit_file and create_file.
    let requests = s.fake.requests();
    let names: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap())
        .collect();
    assert!(names.ends_with(&["edit_file", "create_file"]), "{names:?}");
    for result in tool_results(&requests[1].body) {
        assert!(result.starts_with("staged"), "{result}");
    }

    let edits = s.client.server_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1, "one workspace edit");
    assert_eq!(edits[0]["label"], "chatls: Change with AI");
    let changes = edits[0]["edit"]["documentChanges"].as_array().unwrap();
    let find = |path: &str| {
        changes
            .iter()
            .find(|change| change["textDocument"]["uri"] == uri(&s, path))
            .unwrap_or_else(|| panic!("no edit of {path}: {changes:#?}"))
    };
    assert_eq!(find("src/lib.rs")["textDocument"]["version"], 1);
    assert_eq!(find("src/main.rs")["textDocument"]["version"], Value::Null);
    assert_eq!(find("tests/it.rs")["textDocument"]["version"], Value::Null);
    let create = changes
        .iter()
        .position(|change| change["kind"] == "create")
        .expect("a CreateFile");
    assert_eq!(changes[create]["uri"], uri(&s, "docs/rename.md"));
    let new_edit = changes
        .iter()
        .position(|change| change["textDocument"]["uri"] == uri(&s, "docs/rename.md"))
        .unwrap();
    assert!(
        create < new_edit,
        "the file is created before its text is written"
    );

    // One annotation per file, each asking for confirmation, every id in the map.
    let annotations = edits[0]["edit"]["changeAnnotations"].as_object().unwrap();
    assert_eq!(annotations.len(), 4, "{annotations:#?}");
    for annotation in annotations.values() {
        assert_eq!(annotation["needsConfirmation"], true);
    }
    for change in changes {
        let ids: Vec<&str> = match change["kind"].as_str() {
            Some(_) => vec![change["annotationId"].as_str().unwrap()],
            None => change["edits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|edit| edit["annotationId"].as_str().unwrap())
                .collect(),
        };
        for id in ids {
            assert!(annotations.contains_key(id), "{id} is not in the map");
        }
    }

    // Each file as intended, the unsaved text kept; the disk untouched by chatls.
    assert_eq!(
        s.client.doc(&s.lib).text,
        LIB_UNSAVED.replace("old_name", "new_name")
    );
    assert_eq!(
        s.client.doc(&uri(&s, "src/main.rs")).text,
        MAIN.replace("old_name", "new_name")
    );
    assert_eq!(
        s.client.doc(&uri(&s, "tests/it.rs")).text,
        TEST.replace("old_name", "new_name")
    );
    assert_eq!(s.client.doc(&uri(&s, "docs/rename.md")).text, NOTE);
    assert_disk_untouched(&s);

    // Progress named each file as it was staged.
    let reports = s.client.progress_messages(&token);
    assert!(
        reports.iter().any(|report| report
            == "staging an edit of src/lib.rs; staging an edit of src/main.rs; staging an edit of tests/it.rs; staging a new file docs/rename.md"),
        "{reports:?}"
    );

    // The closing words and the files are in the transcript.
    let shown = s.client.server_requests("window/showDocument");
    let transcript = shown
        .iter()
        .filter_map(|params| params["uri"].as_str())
        .find(|uri| uri.ends_with(".md"))
        .expect("the transcript opened");
    let text = std::fs::read_to_string(transcript.trim_start_matches("file://")).unwrap();
    assert!(text.contains("rename old_name to new_name"), "{text}");
    assert!(
        text.contains("Renamed old_name to new_name everywhere."),
        "{text}"
    );
    assert!(text.contains("- `tests/it.rs`"), "{text}");
    assert!(text.contains("- `docs/rename.md` (new)"), "{text}");
}

#[tokio::test]
async fn hostile_calls_are_answered_as_tool_results_and_nothing_is_written() {
    std::fs::create_dir_all(std::env::temp_dir()).unwrap();
    let calls = [
        edit(".env", "API_TOKEN", "X"),
        edit("../outside.rs", "x", "y"),
        edit(".git/config", "core", "x"),
        json!({"path": "src/main.rs", "content": "fn main() {}\n"}).to_string(),
        edit("src/main.rs", "not in the file", "x"),
        edit("src/main.rs", "n", "N"),
    ];
    let s = setup(
        vec![
            Reply::tool_calls(
                &[
                    ("h1", "edit_file", calls[0].as_str()),
                    ("h2", "edit_file", calls[1].as_str()),
                    ("h3", "edit_file", calls[2].as_str()),
                    ("h4", "create_file", calls[3].as_str()),
                    ("h5", "edit_file", calls[4].as_str()),
                    ("h6", "edit_file", calls[5].as_str()),
                ],
                50,
            ),
            Reply::text(&["I could not make the change."]),
        ],
        vscode_like(),
    )
    .await;
    let token = change(&s).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("changed no file"), "{end}");
    let results = tool_results(&s.fake.requests()[1].body);
    assert_eq!(results.len(), 6);
    assert!(results[0].contains("may contain secrets"), "{}", results[0]);
    assert!(
        results[1].contains("outside the workspace"),
        "{}",
        results[1]
    );
    assert!(results[2].contains("may contain secrets"), "{}", results[2]);
    assert!(results[3].contains("already exists"), "{}", results[3]);
    assert!(results[4].starts_with("not found"), "{}", results[4]);
    assert!(results[5].starts_with("found "), "{}", results[5]);
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_disk_untouched(&s);
    assert_eq!(
        disk(&s, ".env").as_deref(),
        Some("API_TOKEN=top-secret-env\n")
    );
    assert_eq!(disk(&s, ".git/config").as_deref(), Some("[core]\n"));
}

#[tokio::test]
async fn a_read_after_an_edit_sees_the_staged_text() {
    let s = setup(
        vec![
            Reply::tool_calls(
                &[(
                    "e1",
                    "edit_file",
                    edit("src/main.rs", "lib::old_name()", "lib::new_name()").as_str(),
                )],
                20,
            ),
            Reply::tool_calls(
                &[
                    ("r1", "read_file", r#"{"path": "src/main.rs"}"#),
                    ("r2", "search_workspace", r#"{"pattern": "new_name"}"#),
                ],
                20,
            ),
            Reply::text(&["Done."]),
        ],
        vscode_like(),
    )
    .await;
    let token = change(&s).await;
    s.client.wait_progress_end(&token).await;
    let results = tool_results(&s.fake.requests()[2].body);
    assert!(results[1].contains("lib::new_name()"), "{}", results[1]);
    assert!(results[2].contains("src/main.rs:2"), "{}", results[2]);
    assert_eq!(disk(&s, "src/main.rs").as_deref(), Some(MAIN));
}

#[tokio::test]
async fn the_helix_way_shows_one_diff_and_discard_applies_nothing() {
    let (s, token, question) = rename_waiting_for_review().await;
    let message = question["message"].as_str().unwrap();
    assert!(message.contains("4 files"), "{message}");
    let shown = s.client.server_requests("window/showDocument");
    let diff_path = shown
        .iter()
        .filter_map(|params| params["uri"].as_str())
        .find(|uri| uri.ends_with(".diff"))
        .expect("the diff opened");
    let diff = std::fs::read_to_string(diff_path.trim_start_matches("file://")).unwrap();
    for header in [
        "+++ b/src/lib.rs",
        "+++ b/src/main.rs",
        "+++ b/tests/it.rs",
        "+++ b/docs/rename.md",
    ] {
        assert!(diff.contains(header), "{header} missing in {diff}");
    }
    assert!(diff.contains("--- /dev/null"), "{diff}");
    s.client.answer_held(json!({"title": "Discard"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("discarded"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_disk_untouched(&s);
    assert!(disk(&s, "docs/rename.md").is_none());
}

#[tokio::test]
async fn the_helix_way_apply_applies_every_file_without_annotations() {
    let (s, token, _) = rename_waiting_for_review().await;
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 4 edits to 4 files"), "{end}");
    let edits = s.client.server_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1);
    assert!(edits[0]["edit"].get("changeAnnotations").is_none());
    assert_eq!(
        s.client.doc(&s.lib).text,
        LIB_UNSAVED.replace("old_name", "new_name")
    );
    assert_eq!(
        s.client.doc(&uri(&s, "src/main.rs")).text,
        MAIN.replace("old_name", "new_name")
    );
    assert_eq!(s.client.doc(&uri(&s, "docs/rename.md")).text, NOTE);
}

#[tokio::test]
async fn typing_on_an_edited_line_meanwhile_applies_nothing_and_names_the_file() {
    let (s, token, _) = rename_waiting_for_review().await;
    // The person types at the end of the line the rename changes.
    type_text(&s, &s.lib, range(0, 26, 0, 26), " // mine").await;
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("`src/lib.rs`"), "{end}");
    assert!(end.contains("nothing was applied"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert!(
        s.client
            .doc(&s.lib)
            .text
            .contains("old_name() -> u32 { // mine")
    );
    assert_disk_untouched(&s);
}

#[tokio::test]
async fn typing_elsewhere_meanwhile_moves_the_edits_and_applies_them() {
    let (s, token, _) = rename_waiting_for_review().await;
    type_text(&s, &s.lib, range(0, 0, 0, 0), "// header\n").await;
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 4 edits"), "{end}");
    assert_eq!(
        s.client.doc(&s.lib).text,
        format!("// header\n{}", LIB_UNSAVED.replace("old_name", "new_name"))
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_link_swapped_in_for_a_staged_file_applies_nothing() {
    let s = setup(
        vec![rename_calls(), Reply::text(&["Renamed."])],
        helix_like(),
    )
    .await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("target.rs"), MAIN).unwrap();
    let token = change(&s).await;
    wait_question(&s.client).await;
    let main = s.dir.path().join("src/main.rs");
    std::fs::remove_file(&main).unwrap();
    std::os::unix::fs::symlink(outside.path().join("target.rs"), &main).unwrap();
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("`src/main.rs`"), "{end}");
    assert!(end.contains("nothing was applied"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("target.rs")).unwrap(),
        MAIN
    );
}

#[tokio::test]
async fn cancel_while_the_change_waits_for_review_applies_nothing() {
    let (s, token, _) = rename_waiting_for_review().await;
    s.client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.cancel", "arguments": [{"uri": s.lib}]}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("cancelled"), "{end}");
    s.client.answer_held(json!({"title": "Apply"})).await;
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_disk_untouched(&s);
}

#[tokio::test]
async fn cancel_while_the_model_works_applies_nothing() {
    let s = setup(
        vec![
            rename_calls(),
            Reply::text_with_delay(&["Renamed", " everything."], 3_000),
        ],
        vscode_like(),
    )
    .await;
    let token = change(&s).await;
    s.fake
        .wait_for_requests(2, std::time::Duration::from_secs(20))
        .await;
    s.client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.cancel", "arguments": [{"uri": s.lib}]}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("cancelled"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_disk_untouched(&s);
}

#[tokio::test]
async fn a_change_needs_an_instruction() {
    let s = setup(vec![], vscode_like()).await;
    let response = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.run", "arguments": [{"uri": s.lib, "range": range(0, 0, 0, 0), "action": "change"}]}),
        )
        .await;
    let error = response["error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("needs an instruction"), "{response}");
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn a_client_without_document_changes_gets_changes_with_the_new_file_as_text() {
    // Neovim 0.11: resourceOperations but no documentChanges, so no CreateFile can be sent;
    // the new file's text goes to its URI in `changes` (Neovim opens it as a new buffer).
    let mut caps = capabilities(&["utf-8", "utf-16", "utf-32"], false);
    caps["workspace"]["workspaceEdit"]["resourceOperations"] =
        json!(["create", "rename", "delete"]);
    let s = setup(vec![rename_calls(), Reply::text(&["Renamed."])], caps).await;
    let token = change(&s).await;
    wait_question(&s.client).await;
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 4 edits to 4 files"), "{end}");
    let edits = s.client.server_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1);
    assert!(edits[0]["edit"].get("documentChanges").is_none());
    let changes = edits[0]["edit"]["changes"].as_object().unwrap();
    assert_eq!(changes.len(), 4);
    // Without its last line break: Neovim's new buffer has an empty line that ends the file.
    let note = NOTE.strip_suffix('\n').unwrap();
    assert_eq!(changes[&uri(&s, "docs/rename.md")][0]["newText"], note);
    assert_eq!(s.client.doc(&uri(&s, "docs/rename.md")).text, note);
    assert_eq!(
        s.client.doc(&uri(&s, "tests/it.rs")).text,
        TEST.replace("old_name", "new_name")
    );
    assert!(
        disk(&s, "docs/rename.md").is_none(),
        "chatls writes no file itself"
    );
}

#[tokio::test]
async fn without_an_input_box_the_instruction_is_written_in_a_transcript_and_sent_as_a_change() {
    let s = setup(
        vec![
            Reply::text(&["It returns one."]),
            rename_calls(),
            Reply::text(&["Renamed."]),
        ],
        helix_like(),
    )
    .await;
    let token = s
        .client
        .run_action(
            "chatls.ask",
            json!({"uri": s.lib, "range": range(0, 0, 2, 1), "question": "What does it do?"}),
        )
        .await;
    s.client.wait_progress_end(&token).await;
    let transcript = s.client.server_requests("window/showDocument")[0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(transcript.trim_start_matches("file://")).unwrap();
    s.client.open(&transcript, "markdown", &text).await;
    s.client
        .type_at_end(&transcript, "Rename old_name to new_name everywhere.\n")
        .await;
    let actions = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": transcript}, "range": range(0, 0, 0, 0), "context": {"diagnostics": []}}),
        )
        .await["result"]
        .as_array()
        .unwrap()
        .clone();
    let send = actions
        .iter()
        .find(|action| action["title"] == "Send to AI as a change (Change with AI)")
        .expect("the change code action in the transcript");
    let command = &send["command"];
    let token = s
        .client
        .run_action(
            command["command"].as_str().unwrap(),
            command["arguments"][0].clone(),
        )
        .await;
    wait_question(&s.client).await;
    let request = &s.fake.requests()[1].body;
    let turn = request["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        turn.contains("Rename old_name to new_name everywhere."),
        "{turn}"
    );
    assert!(
        request["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tool| tool["function"]["name"] == "edit_file")
    );
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 4 edits to 4 files"), "{end}");
    assert_eq!(
        s.client.doc(&uri(&s, "src/main.rs")).text,
        MAIN.replace("old_name", "new_name")
    );
    let buffer = s.client.doc(&transcript).text;
    assert!(buffer.contains("Files in this change:"), "{buffer}");
}

#[tokio::test]
async fn a_neovim_like_client_gets_the_change_after_what_was_typed_has_arrived() {
    // Neovim holds `didChange` back (~150 ms) and is sent unversioned `changes`: the change is
    // placed only once the document has settled, so a line typed just before Apply moves it.
    let mut caps = capabilities(&["utf-8", "utf-16", "utf-32"], false);
    caps["workspace"]["workspaceEdit"]["resourceOperations"] =
        json!(["create", "rename", "delete"]);
    let s = setup(vec![rename_calls(), Reply::text(&["Renamed."])], caps).await;
    s.client
        .set_neovim_like(std::time::Duration::from_millis(150));
    let token = change(&s).await;
    wait_question(&s.client).await;
    s.client
        .type_text(&s.lib, range(0, 0, 0, 0), "// header\n")
        .await;
    s.client.answer_held(json!({"title": "Apply"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 4 edits"), "{end}");
    assert_eq!(
        s.client.doc(&s.lib).text,
        format!("// header\n{}", LIB_UNSAVED.replace("old_name", "new_name"))
    );
    assert_eq!(
        s.client.doc(&uri(&s, "src/main.rs")).text,
        MAIN.replace("old_name", "new_name")
    );
}

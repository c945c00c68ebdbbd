//! Review before apply (`edits.review: "confirm"`), through the real server in-process over
//! pipes against the fake upstream: a VS Code-like client gets an annotated edit its preview
//! confirms; a Helix-like client gets the diff opened and an Apply/Discard question.

mod support;

use chatls_fake_upstream::Reply;
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::{Client, answer_with, range};

const CODE: &str = "fn total(xs: &[i32]) -> i32 {\n    let mut sum = 0;\n    for x in xs {\n        sum += x;\n    }\n    sum\n}\n";
const LOOP: &str = "    for x in xs {\n        sum += x;\n    }\n";
const NEW_LOOP: &str = "    sum = xs.iter().sum();\n";

/// `src/lib.rs` open in `editor`, with review before apply and the Apply/Discard question
/// left for the test to answer.
async fn setup(replies: Vec<Reply>, editor: Editor) -> Session {
    Fixture::new()
        .client(editor)
        .settings(json!({"edits": {"review": "confirm"}}))
        .hold_message_requests()
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .replies(replies)
        .start()
        .await
}

fn loop_range() -> Value {
    range(2, 0, 5, 0)
}

async fn refactor(s: &Session) -> String {
    s.client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": loop_range(), "instruction": "use iterators"}),
        )
        .await
}

async fn wait_questions(client: &Client, count: usize) -> Vec<Value> {
    client
        .wait_until("the Apply/Discard question", |client| {
            client.server_requests("window/showMessageRequest").len() >= count
        })
        .await;
    client.server_requests("window/showMessageRequest")
}

/// Edits the document and waits for the server to have it (a request answered after the
/// `didChange` was handled), as a person's typing long before they click Apply.
async fn type_text(s: &Session, at: Value, text: &str) {
    s.client.change(&s.uri, at, text).await;
    let answer = s
        .client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": s.uri}, "range": range(0, 0, 0, 0), "context": {"diagnostics": []}}),
        )
        .await;
    assert!(answer.get("error").is_none(), "{answer}");
}

fn apply() -> Value {
    json!({"title": "Apply"})
}

#[tokio::test]
async fn a_vscode_like_client_gets_the_edit_annotated_with_needs_confirmation() {
    let s = setup(
        vec![answer_with("sum = xs.iter().sum();\n")],
        Editor::VsCode,
    )
    .await;
    let token = refactor(&s).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(
        end.starts_with("applied 1 edit"),
        "{end}: {:?}",
        s.client.shown_messages()
    );
    let requests = s.client.server_requests("workspace/applyEdit");
    assert_eq!(requests.len(), 1);
    let edit = &requests[0]["edit"];
    let annotations = edit["changeAnnotations"]
        .as_object()
        .expect("changeAnnotations");
    let edits = edit["documentChanges"][0]["edits"].as_array().unwrap();
    assert!(!edits.is_empty());
    for text_edit in edits {
        let id = text_edit["annotationId"].as_str().expect("annotationId");
        let annotation = annotations.get(id).expect("every id used is in the map");
        assert_eq!(annotation["needsConfirmation"], true);
        assert_eq!(annotation["label"], "Refactor with AI");
        let description = annotation["description"].as_str().unwrap();
        assert!(description.contains("use iterators"), "{description}");
        assert!(description.contains("test-model"), "{description}");
    }
    assert!(
        s.client
            .server_requests("window/showMessageRequest")
            .is_empty()
    );
    // The (fake) editor confirmed, so the buffer changed.
    assert_eq!(s.client.doc(&s.uri).text, CODE.replace(LOOP, NEW_LOOP));
}

#[tokio::test]
async fn a_helix_like_client_sees_the_diff_and_discard_leaves_the_document_byte_identical() {
    let s = setup(vec![answer_with("sum = xs.iter().sum();\n")], Editor::Helix).await;
    let token = refactor(&s).await;
    let questions = wait_questions(&s.client, 1).await;
    let titles: Vec<&str> = questions[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Apply", "Discard"]);
    let shown = s.client.server_requests("window/showDocument");
    assert_eq!(shown.len(), 1, "the diff is opened");
    let diff_uri = shown[0]["uri"].as_str().unwrap();
    assert!(diff_uri.starts_with("file://") && diff_uri.ends_with(".diff"));
    let diff = std::fs::read_to_string(diff_uri.trim_start_matches("file://")).unwrap();
    assert!(diff.contains("--- a/src/lib.rs"), "{diff}");
    assert!(diff.contains("-    for x in xs {\n"), "{diff}");
    assert!(diff.contains("+    sum = xs.iter().sum();\n"), "{diff}");

    s.client.answer_held(json!({"title": "Discard"})).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("discarded"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(s.client.doc(&s.uri).text, CODE);
}

#[tokio::test]
async fn a_dismissed_question_applies_nothing() {
    let s = setup(vec![answer_with("sum = xs.iter().sum();\n")], Editor::Helix).await;
    let token = refactor(&s).await;
    wait_questions(&s.client, 1).await;
    s.client.answer_held(Value::Null).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("dismissed"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(s.client.doc(&s.uri).text, CODE);
}

#[tokio::test]
async fn apply_applies_moved_through_what_was_typed_above_meanwhile() {
    let s = setup(vec![answer_with("sum = xs.iter().sum();\n")], Editor::Helix).await;
    let token = refactor(&s).await;
    wait_questions(&s.client, 1).await;
    type_text(&s, range(0, 0, 0, 0), "// 😀 header\n").await;
    s.client.answer_held(apply()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(
        end.starts_with("applied 1 edit"),
        "{end}: {:?}",
        s.client.shown_messages()
    );
    assert_eq!(
        s.client.doc(&s.uri).text,
        format!("// 😀 header\n{}", CODE.replace(LOOP, NEW_LOOP))
    );
}

#[tokio::test]
async fn apply_after_the_selection_changed_is_refused_with_a_message() {
    let s = setup(vec![answer_with("sum = xs.iter().sum();\n")], Editor::Helix).await;
    let token = refactor(&s).await;
    wait_questions(&s.client, 1).await;
    type_text(&s, range(3, 8, 3, 8), "/* typed */ ").await;
    s.client.answer_held(apply()).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("selected code changed"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(
        s.client.doc(&s.uri).text,
        CODE.replace("        sum += x;", "        /* typed */ sum += x;")
    );
    assert!(
        s.client
            .shown_messages()
            .iter()
            .any(|message| message.contains("selected code changed"))
    );
}

#[tokio::test]
async fn a_newer_action_on_the_same_range_replaces_the_pending_review() {
    let s = setup(
        vec![
            answer_with("sum = xs.iter().sum();\n"),
            answer_with("sum = xs.iter().copied().sum();\n"),
        ],
        Editor::Helix,
    )
    .await;
    let first = refactor(&s).await;
    wait_questions(&s.client, 1).await;
    let second = refactor(&s).await;
    wait_questions(&s.client, 2).await;
    let end = s.client.wait_progress_end(&first).await;
    assert!(end.contains("replaced"), "{end}");
    // Apply on the stale question does nothing; Apply on the newer one applies it.
    s.client.answer_held(apply()).await;
    s.client.answer_held(apply()).await;
    let end = s.client.wait_progress_end(&second).await;
    assert!(
        end.starts_with("applied 1 edit"),
        "{end}: {:?}",
        s.client.shown_messages()
    );
    assert_eq!(s.client.server_requests("workspace/applyEdit").len(), 1);
    assert_eq!(
        s.client.doc(&s.uri).text,
        CODE.replace(LOOP, "    sum = xs.iter().copied().sum();\n")
    );
}

#[tokio::test]
async fn cancelling_while_the_question_waits_applies_nothing_even_after_apply() {
    let s = setup(vec![answer_with("sum = xs.iter().sum();\n")], Editor::Helix).await;
    let token = refactor(&s).await;
    wait_questions(&s.client, 1).await;
    let cancelled = s
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.cancel", "arguments": [{"uri": s.uri}]}),
        )
        .await;
    assert_eq!(cancelled["result"]["cancelled"], 1, "{cancelled}");
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("cancelled"), "{end}");
    s.client.answer_held(apply()).await;
    // A round trip after the late Apply: had it been taken, the edit would be out by now.
    type_text(&s, range(0, 0, 0, 0), "").await;
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(s.client.doc(&s.uri).text, CODE);
}

/// One snapshot per action: a row with a model of its own asks that model, and the review
/// the editor shows names it too (the annotation once named the `model` setting instead).
#[tokio::test]
async fn the_review_names_the_model_the_row_asked_not_the_setting() {
    let s = Fixture::new()
        .client(Editor::VsCode)
        .settings(json!({
            "edits": {"review": "confirm"},
            "actions": [{"id": "tidy", "title": "Tidy with AI", "kind": "edit",
                         "prompt": "Tidy this:\n{selection}", "model": "tidy-model"}],
        }))
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .replies(vec![answer_with("sum = xs.iter().sum();\n")])
        .start()
        .await;
    let token = s
        .client
        .run_action(
            "chatls.run",
            json!({"uri": s.uri, "range": loop_range(), "action": "tidy"}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied 1 edit"), "{end}");
    let asked = s.fake.requests();
    assert_eq!(
        asked.last().map(|r| r.body["model"].clone()),
        Some(json!("tidy-model"))
    );
    let edit = &s.client.server_requests("workspace/applyEdit")[0]["edit"];
    let annotations = edit["changeAnnotations"]
        .as_object()
        .expect("changeAnnotations");
    assert!(!annotations.is_empty());
    for annotation in annotations.values() {
        let description = annotation["description"].as_str().unwrap_or_default();
        assert!(description.contains("tidy-model"), "{description}");
        assert!(!description.contains("test-model"), "{description}");
    }
}

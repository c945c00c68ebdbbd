//! Streamed edits (`edits.stream`), through the real server in-process over pipes against the
//! fake upstream streaming SSE with pauses: the replacement shows in the buffer while the
//! answer streams, the final edit matches the one without streaming, and on cancel, a cut
//! stream or an answer with no code the original comes back byte for byte. Typing inside the
//! streamed text stops streaming and keeps what was typed; typing above moves the edits.

mod support;

use std::time::Duration;

use chatls_fake_upstream::{Reply, Step};
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::range;

/// Tabs, CRLF and trailing spaces: what a restore must give back exactly.
const CODE: &str = "fn total(xs: &[i32]) -> i32 {\r\n\tlet mut sum = 0; \r\n\tfor x in xs {\r\n\t\tsum += x;  \r\n\t}\r\n\tsum\r\n}\r\n";

/// How long the fake pauses between the lines of a slow answer: long enough that "shown
/// before the next line was sent" means the edit came within about a second.
const PAUSE_MS: u64 = 2000;

/// `src/lib.rs` = [`CODE`] open in a client that reports applied edits back with
/// `didChange`, as VS Code and Helix do.
async fn setup(replies: Vec<Reply>, options: Value) -> Session {
    Fixture::new()
        .key(Some("sk-test"))
        .echo_edits(true)
        .settings(options)
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .replies(replies)
        .start()
        .await
}

fn streaming() -> Value {
    json!({"edits": {"stream": true}})
}

fn content(text: &str) -> Step {
    Step::Data(json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake-model",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
    }))
}

fn finish() -> Vec<Step> {
    vec![
        Step::Data(json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        })),
        Step::Done,
    ]
}

/// An answer whose pieces come `PAUSE_MS` apart, then `end`.
fn slow(pieces: &[&str], end: Vec<Step>) -> Reply {
    let mut steps = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        if index > 0 {
            steps.push(Step::Delay(PAUSE_MS));
        }
        steps.push(content(piece));
    }
    steps.extend(end);
    Reply::sse(steps)
}

/// The new loop, line by line as the model writes it (LF, spaces: the server makes it the
/// document's CRLF and tabs).
const NEW_LINES: [&str; 3] = [
    "Here you go:\n```rust\nlet mut sum = 0;\n",
    "let doubled = xs.iter().map(|x| x * 2);\n",
    "for x in doubled {\n    sum += x;\n}\n```\nDone.",
];

async fn refactor(s: &Session) -> String {
    s.client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": range(1, 0, 5, 0), "instruction": "double"}),
        )
        .await
}

fn text(s: &Session) -> String {
    s.client.doc(&s.uri).text
}

async fn wait_text(s: &Session, what: &str, check: impl Fn(&str) -> bool) {
    s.client
        .wait_until(what, |client| check(&client.doc(&s.uri).text))
        .await;
}

fn ended(s: &Session, token: &str) -> bool {
    s.client
        .progress(token)
        .iter()
        .any(|value| value["kind"] == "end")
}

/// Several edits while the answer streams, the first before the second line was even sent;
/// the end result is exactly the one without streaming.
#[tokio::test]
async fn the_replacement_shows_while_it_streams_and_ends_as_without_streaming() {
    let s = setup(vec![slow(&NEW_LINES, finish())], streaming()).await;
    let token = refactor(&s).await;
    wait_text(&s, "the first streamed line", |text| {
        text.contains("\tlet mut sum = 0;\r\n") && !text.contains("\tfor x in xs")
    })
    .await;
    assert!(
        !text(&s).contains("doubled"),
        "the first line was shown only with the second: {:?}",
        text(&s)
    );
    assert!(!ended(&s, &token));
    wait_text(&s, "the second streamed line", |text| {
        text.contains("doubled")
    })
    .await;
    assert!(!ended(&s, &token), "shown only at the end");
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("applied"), "{end}");
    let streamed = text(&s);
    let edits = s.client.server_requests("workspace/applyEdit").len();
    assert!(edits >= 3, "{edits} edits");

    // The same answer without streaming.
    let plain = setup(vec![Reply::text(&[&NEW_LINES.concat()])], Value::Null).await;
    let token = refactor(&plain).await;
    plain.client.wait_progress_end(&token).await;
    assert_eq!(streamed, text(&plain));
    assert!(streamed.contains("\tfor x in doubled {\r\n\t\tsum += x;\r\n\t}\r\n"));
}

/// Cancel mid-stream: the upstream connection is closed and the original comes back byte
/// for byte.
#[tokio::test]
async fn cancel_mid_stream_closes_the_upstream_and_restores_the_original() {
    let s = setup(vec![slow(&NEW_LINES[..2], vec![Step::Stall])], streaming()).await;
    let token = refactor(&s).await;
    wait_text(&s, "the streamed lines", |text| text.contains("doubled")).await;
    assert_ne!(text(&s), CODE);
    s.client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.cancel", "arguments": [{"uri": s.uri}]}),
        )
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("cancelled"), "{end}");
    assert!(end.contains("put back"), "{end}");
    assert_eq!(text(&s), CODE);
    assert!(
        s.fake.wait_for_abort(Duration::from_secs(10)).await,
        "the upstream stream was not closed"
    );
}

/// A stream cut halfway (the connection closes, again on every retry) and an answer that
/// turns out to hold no code for the selection: the original comes back byte for byte.
#[tokio::test]
async fn a_cut_stream_or_an_answer_without_code_restores_the_original() {
    let cut = slow(&NEW_LINES[..2], vec![Step::Close]);
    let s = setup(vec![cut; 6], streaming()).await;
    let token = refactor(&s).await;
    wait_text(&s, "the streamed lines", |text| text.contains("doubled")).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("put back"), "{end}");
    assert_eq!(text(&s), CODE);

    let example = slow(
        &[
            "No changes are needed. You can call it like this:\n```rust\nlet n = total(&[1, 2]);\n",
            "println!(\"{n}\");\n```\n",
        ],
        finish(),
    );
    let s = setup(vec![example], streaming()).await;
    let token = refactor(&s).await;
    wait_text(&s, "the streamed example", |text| {
        text.contains("total(&[1, 2])")
    })
    .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("needs no change"), "{end}");
    assert!(end.contains("put back"), "{end}");
    assert_eq!(text(&s), CODE);
}

/// Typing inside the streamed text stops streaming; what was typed stays, the answer is not
/// applied, and the message says so.
#[tokio::test]
async fn typing_inside_the_streamed_text_stops_streaming_and_keeps_it() {
    let s = setup(vec![slow(&NEW_LINES, finish())], streaming()).await;
    let token = refactor(&s).await;
    wait_text(&s, "the first streamed line", |text| {
        text.contains("\tlet mut sum = 0;\r\n")
    })
    .await;
    // Line 1 is the streamed line: type in its middle.
    s.client.change(&s.uri, range(1, 5, 1, 5), "MINE ").await;
    let typed = text(&s);
    assert!(typed.contains("\tlet MINE mut sum"), "{typed:?}");
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("you typed inside"), "{end}");
    assert_eq!(text(&s), typed, "the buffer changed after the typing");
    assert!(
        s.client
            .shown_messages()
            .join("\n")
            .contains("you typed inside")
    );
}

/// Typing above the selection while it streams: the edits move with it.
#[tokio::test]
async fn typing_above_moves_the_streamed_edits() {
    let s = setup(vec![slow(&NEW_LINES, finish())], streaming()).await;
    let token = refactor(&s).await;
    wait_text(&s, "the first streamed line", |text| {
        text.contains("\tlet mut sum = 0;\r\n") && !text.contains("\tfor x in xs")
    })
    .await;
    s.client
        .change(&s.uri, range(0, 0, 0, 0), "// totals\r\n")
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("applied"), "{end}");
    assert_eq!(
        text(&s),
        "// totals\r\nfn total(xs: &[i32]) -> i32 {\r\n\tlet mut sum = 0;\r\n\tlet doubled = xs.iter().map(|x| x * 2);\r\n\tfor x in doubled {\r\n\t\tsum += x;\r\n\t}\r\n\tsum\r\n}\r\n"
    );
}

/// A client without `documentChanges` (Neovim) gets the answer once, at the end.
#[tokio::test]
async fn without_versioned_edits_nothing_streams() {
    let s = Fixture::new()
        .client(Editor::Neovim)
        .key(Some("sk-test"))
        .settings(streaming())
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .reply(slow(&NEW_LINES, finish()))
        .start()
        .await;
    let (client, uri) = (&s.client, &s.uri);
    let token = client
        .run_action(
            "chatls.refactor",
            json!({"uri": uri, "range": range(1, 0, 5, 0), "instruction": "double"}),
        )
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.contains("applied"), "{end}");
    assert_eq!(client.server_requests("workspace/applyEdit").len(), 1);
    assert!(client.doc(uri).text.contains("doubled"));
}

/// `edits.stream` with `edits.review: "confirm"` is a settings error naming both.
#[tokio::test]
async fn stream_with_confirm_is_a_settings_error_naming_both() {
    let s = setup(
        Vec::new(),
        json!({"edits": {"stream": true, "review": "confirm"}}),
    )
    .await;
    s.client
        .wait_until("the settings error", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("edits.stream"))
        })
        .await;
    let messages = s.client.shown_messages().join("\n");
    assert!(messages.contains("edits.review"), "{messages}");
    assert!(messages.contains("confirm"), "{messages}");
}

/// A row of the table may stream on its own: `"stream": true` streams while `edits.stream` is
/// off, and `"stream": false` keeps a row whole while it is on.
#[tokio::test]
async fn a_row_streams_or_not_whatever_the_setting_says() {
    let s = setup(
        vec![slow(&NEW_LINES, finish())],
        json!({"edits": {"stream": false}, "actions": [{"id": "refactor", "stream": true}]}),
    )
    .await;
    let token = refactor(&s).await;
    wait_text(&s, "the first streamed line", |text| {
        text.contains("\tlet mut sum = 0;\r\n") && !text.contains("\tfor x in xs")
    })
    .await;
    assert!(!ended(&s, &token), "shown only at the end");
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("applied"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").len() >= 3);

    let s = setup(
        vec![slow(&NEW_LINES, finish())],
        json!({"edits": {"stream": true}, "actions": [{"id": "refactor", "stream": false}]}),
    )
    .await;
    let token = refactor(&s).await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("applied"), "{end}");
    assert_eq!(
        s.client.server_requests("workspace/applyEdit").len(),
        1,
        "the row said not to stream"
    );
    assert!(text(&s).contains("\tfor x in doubled {\r\n"));
}

/// A row with `"stream": true` beside review "confirm" — `edits.review` or the row's own
/// `review` — is a settings error naming both; the row's `review: "apply"` lifts it.
#[tokio::test]
async fn a_streamed_row_with_confirm_is_a_settings_error_naming_both() {
    for (settings, review) in [
        (
            json!({"edits": {"review": "confirm"}, "actions": [{"id": "refactor", "stream": true}]}),
            "edits.review",
        ),
        (
            json!({"actions": [{"id": "refactor", "stream": true, "review": "confirm"}]}),
            "`review`",
        ),
    ] {
        let s = setup(Vec::new(), settings).await;
        s.client
            .wait_until("the settings error", |client| {
                client
                    .shown_messages()
                    .iter()
                    .any(|message| message.contains("`stream`"))
            })
            .await;
        let messages = s.client.shown_messages().join("\n");
        assert!(messages.contains(review), "{messages}");
        assert!(messages.contains("refactor"), "{messages}");
    }

    // review "apply" on the row: it streams though edits.review is "confirm".
    let s = setup(
        vec![slow(&NEW_LINES, finish())],
        json!({"edits": {"review": "confirm"}, "actions": [{"id": "refactor", "stream": true, "review": "apply"}]}),
    )
    .await;
    let token = refactor(&s).await;
    wait_text(&s, "the first streamed line", |text| {
        text.contains("\tlet mut sum = 0;\r\n") && !text.contains("\tfor x in xs")
    })
    .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("applied"), "{end}");
    assert!(
        s.client
            .shown_messages()
            .iter()
            .all(|message| !message.contains("`stream`"))
    );
}

//! Cancellation through the real server: progress cancel, `chatls.cancel` and closing the
//! document, each while the request waits for its first byte, in the middle of the stream,
//! and in the middle of the tool loop. Each must close the upstream connection (the fake sees
//! the client go away), end the progress as cancelled, and leave the document untouched;
//! the same server then runs the next action. Prints the cancel → connection closed figures.

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use std::time::{Duration, Instant};

use chatls::config::UpstreamTuning;
use chatls_fake_upstream::{Reply, Step};
use serde_json::json;

use common::{CODE, GOOD_CODE, Transport, answer_with, loop_range, refactored, start};

#[derive(Clone, Copy, Debug)]
enum Phase {
    FirstByte,
    MidStream,
    MidToolLoop,
}

#[derive(Clone, Copy, Debug)]
enum How {
    ProgressCancel,
    CancelCommand,
    CloseDocument,
}

fn stalled_stream() -> Reply {
    Reply::sse(vec![
        Step::Data(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "```rust\nlet half"}}]}),
        ),
        Step::Stall,
    ])
}

fn replies(phase: Phase) -> Vec<Reply> {
    let fault = match phase {
        Phase::FirstByte => vec![Reply::json_text("far too late").with_delay(60_000)],
        Phase::MidStream => vec![stalled_stream()],
        Phase::MidToolLoop => vec![
            Reply::tool_calls(
                &[
                    ("call_1", "read_file", r#"{"path": "src/lib.rs"}"#),
                    ("call_2", "list_files", r#"{"path": "."}"#),
                ],
                5,
            ),
            stalled_stream(),
        ],
    };
    let mut all = fault;
    all.push(answer_with(GOOD_CODE));
    all
}

/// Runs one case; the time from sending the cancel to the fake seeing the connection closed.
async fn cancel_case(phase: Phase, how: How) -> Duration {
    let case = format!("{phase:?} / {how:?}");
    let server = start(
        &Transport::InProcess,
        replies(phase),
        UpstreamTuning::default(),
    )
    .await;
    let client = &server.client;
    let fake = server.fake();
    let token = client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    let requests = match phase {
        Phase::FirstByte | Phase::MidStream => 1,
        Phase::MidToolLoop => 2,
    };
    fake.wait_for_requests(requests, Duration::from_secs(10))
        .await;
    if !matches!(phase, Phase::FirstByte) {
        client
            .wait_until("the answer streaming", |client| {
                client.progress(&token).iter().any(|value| {
                    value["message"]
                        .as_str()
                        .is_some_and(|message| message.contains("let half"))
                })
            })
            .await;
    }
    assert_eq!(fake.aborted_streams(), 0, "{case}: nothing aborted yet");

    let sent = Instant::now();
    match how {
        How::ProgressCancel => {
            client
                .notify("window/workDoneProgress/cancel", json!({"token": token}))
                .await
        }
        How::CancelCommand => {
            let response = client
                .request(
                    "workspace/executeCommand",
                    json!({"command": "chatls.cancel", "arguments": [{"uri": server.uri}]}),
                )
                .await;
            assert_eq!(response["result"]["cancelled"], 1, "{case}: {response}");
        }
        How::CloseDocument => {
            client
                .notify(
                    "textDocument/didClose",
                    json!({"textDocument": {"uri": server.uri}}),
                )
                .await
        }
    }
    assert!(
        fake.wait_for_abort(Duration::from_secs(5)).await,
        "{case}: the fake saw no disconnect"
    );
    let closed_after = sent.elapsed();

    let end = client.wait_progress_end(&token).await;
    assert_eq!(end, "cancelled; nothing was changed", "{case}");
    assert_eq!(client.doc(&server.uri).text, CODE, "{case}: document");
    assert!(
        client.server_requests("workspace/applyEdit").is_empty(),
        "{case}: an edit was sent"
    );
    assert!(
        client.shown_messages().is_empty(),
        "{case}: a cancel is no error: {:?}",
        client.shown_messages()
    );
    assert_eq!(
        fake.requests().len(),
        requests,
        "{case}: no retry after a cancel"
    );

    // The same server runs the next action (on the reopened document after a close).
    if matches!(how, How::CloseDocument) {
        client.open(&server.uri, "rust", CODE).await;
    }
    let next = client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    let end = client.wait_progress_end(&next).await;
    assert!(end.starts_with("applied "), "{case}: next action: {end}");
    assert_eq!(client.doc(&server.uri).text, refactored(), "{case}");
    common::scan_server(&server, &case);
    closed_after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_in_every_phase_closes_the_upstream_connection_and_changes_nothing() {
    let mut figures = Vec::new();
    for phase in [Phase::FirstByte, Phase::MidStream, Phase::MidToolLoop] {
        for how in [How::ProgressCancel, How::CancelCommand, How::CloseDocument] {
            let closed_after = cancel_case(phase, how).await;
            println!(
                "cancel {:<12} by {:<15} → upstream connection closed after {:.1} ms",
                format!("{phase:?}"),
                format!("{how:?}"),
                closed_after.as_secs_f64() * 1000.0
            );
            figures.push(closed_after);
        }
    }
    figures.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "cancel → connection closed over {} cancels: median {:.1} ms, max {:.1} ms (in-process, debug build)",
        figures.len(),
        ms(figures[figures.len() / 2]),
        ms(figures[figures.len() - 1])
    );
}

/// Cancelling one document's action leaves another document's action streaming to its end.
#[tokio::test]
async fn cancel_is_per_document() {
    let slow_good = {
        let text = format!("```rust\n{GOOD_CODE}```");
        Reply::text_with_delay(&["", &text], 300)
    };
    let server = start(
        &Transport::InProcess,
        vec![stalled_stream(), slow_good],
        UpstreamTuning::default(),
    )
    .await;
    let client = &server.client;
    let other = support::file_uri(&server.dir.path().join("src/other.rs"));
    client.open(&other, "rust", CODE).await;
    let first = client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    server
        .fake()
        .wait_for_requests(1, Duration::from_secs(10))
        .await;
    let second = client
        .run_action(
            "chatls.refactor",
            json!({"uri": other, "range": loop_range()}),
        )
        .await;
    server
        .fake()
        .wait_for_requests(2, Duration::from_secs(10))
        .await;
    let response = client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.cancel", "arguments": [{"uri": server.uri}]}),
        )
        .await;
    assert_eq!(response["result"]["cancelled"], 1);
    assert_eq!(
        client.wait_progress_end(&first).await,
        "cancelled; nothing was changed"
    );
    let end = client.wait_progress_end(&second).await;
    assert!(end.starts_with("applied "), "{end}");
    assert_eq!(client.doc(&server.uri).text, CODE);
    assert_eq!(client.doc(&other).text, refactored());
}

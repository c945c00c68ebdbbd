//! A model that thinks quietly, through the built binary over stdio against the fake
//! upstream: the gateway sends its headers (and an empty role chunk and a keep-alive comment)
//! at once, then nothing for longer than the idle timeout, then the answer. The first piece
//! of the answer has its own, longer bound, so the refactor applies instead of failing; and a
//! stream cut before its first content is retried without the user seeing the failed try.

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use chatls::config::UpstreamTuning;
use chatls_fake_upstream::{Reply, Step};
use serde_json::json;

use common::{CODE, GOOD_CODE, Transport, refactor, refactored, start};

fn role_chunk() -> Step {
    Step::Data(json!({
        "id": "c", "object": "chat.completion.chunk", "model": "fake-model",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}],
    }))
}

/// The answer's steps after `silence_ms` of thinking: the fenced code in two pieces.
fn thinking_answer(silence_ms: u64) -> Reply {
    let text = format!("Here you go:\n```rust\n{GOOD_CODE}```\nDone.");
    let (first, second) = text.split_at(text.len() / 2);
    Reply::sse(vec![
        role_chunk(),
        Step::Raw(": keep-alive\n\n".into()),
        Step::Delay(silence_ms),
        Step::Data(
            json!({"id": "c", "object": "chat.completion.chunk", "model": "fake-model",
            "choices": [{"index": 0, "delta": {"content": first}, "finish_reason": null}]}),
        ),
        Step::Delay(50),
        Step::Data(
            json!({"id": "c", "object": "chat.completion.chunk", "model": "fake-model",
            "choices": [{"index": 0, "delta": {"content": second}, "finish_reason": "stop"}]}),
        ),
        Step::Done,
    ])
}

fn binary(name: &str) -> (Transport, tempfile::TempDir) {
    let logs = tempfile::tempdir().unwrap();
    let transport = Transport::Binary {
        log: "chatls=debug".into(),
        log_file: logs.path().join(format!("{name}.log")),
    };
    (transport, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_sends_headers_then_thinks_past_the_idle_timeout_is_not_cut_off() {
    let (transport, _logs) = binary("quiet");
    // Idle 300 ms; the model is silent for 1.2 s after the headers; first content keeps
    // its default (minutes).
    let tuning = UpstreamTuning {
        idle_timeout_ms: Some(300),
        retry_base_ms: Some(5),
        ..UpstreamTuning::default()
    };
    let server = start(&transport, vec![thinking_answer(1_200)], tuning).await;
    let (_, end) = refactor(&server).await;
    assert!(end.starts_with("applied "), "{end}");
    assert_eq!(server.client.doc(&server.uri).text, refactored());
    assert_eq!(
        server.fake().requests().len(),
        1,
        "answered on the first try"
    );
    server.client.shutdown_and_exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_before_its_first_content_is_retried_and_the_edit_applies() {
    let (transport, _logs) = binary("cut");
    let tuning = UpstreamTuning {
        retry_base_ms: Some(5),
        ..UpstreamTuning::default()
    };
    let cut = Reply::sse(vec![role_chunk(), Step::Delay(30), Step::Reset]);
    let server = start(&transport, vec![cut, thinking_answer(100)], tuning).await;
    let (token, end) = refactor(&server).await;
    assert!(end.starts_with("applied "), "{end}");
    assert_eq!(server.client.doc(&server.uri).text, refactored());
    assert_eq!(server.fake().requests().len(), 2, "one retry");
    assert!(server.client.shown_messages().is_empty());
    let reports = server.client.progress_messages(&token);
    assert!(
        reports.iter().any(|report| report.contains("retrying")),
        "{reports:?}"
    );
    assert_ne!(server.client.doc(&server.uri).text, CODE);
    server.client.shutdown_and_exit().await;
}

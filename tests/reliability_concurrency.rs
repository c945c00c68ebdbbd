//! Concurrency through the real server: 64 refactors at once on 64 documents, their answers
//! streamed interleaved, while the editor types into most of those documents. Every edit must
//! land in its own document (moved past typing above or below the selection, refused when the
//! selection itself was typed into), every document keeps its own conversation id and history,
//! and the server's buffers still equal the editor's afterwards.

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chatls::config::UpstreamTuning;
use chatls_fake_upstream::Reply;
use futures::future::join_all;
use serde_json::{Value, json};

use common::{CODE, Transport, loop_range, start};
use support::{file_uri, range};

const DOCUMENTS: usize = 64;
const TYPING_ROUNDS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Typing {
    /// New lines above the selection: the edit must move down.
    Above,
    /// Text inside the selection: the edit must be refused.
    Inside,
    /// New lines after the selection: the edit lands where it was.
    Below,
    None,
}

fn typing(index: usize) -> Typing {
    match index % 4 {
        0 => Typing::Above,
        1 => Typing::Inside,
        2 => Typing::Below,
        _ => Typing::None,
    }
}

fn name(index: usize) -> String {
    format!("total_{index:02}")
}

fn code(index: usize) -> String {
    CODE.replace("fn total(", &format!("fn {}(", name(index)))
}

/// The code of the answer given to the `reply`-th request.
fn answer_code(reply: usize) -> String {
    format!("sum = xs.iter().sum::<i32>() + {reply};\n")
}

/// A slow, chunked answer: the streams of all 64 actions interleave, and typing happens
/// well before any of them ends.
fn answer(reply: usize) -> Reply {
    let code = answer_code(reply);
    let (first, second) = code.split_at(10);
    Reply::text_with_delay(
        &[
            "Here:\n",
            "```rust\n",
            first,
            second,
            "```\nThat sums with an iterator.",
        ],
        500,
    )
}

/// What the document must hold at the end, given the answer it got.
fn expected(index: usize, reply: usize) -> String {
    let mut text = code(index);
    let replaced = |text: &str| {
        text.replace(
            "    for x in xs {\n        sum += x;\n    }\n",
            &format!("    {}", answer_code(reply)),
        )
    };
    match typing(index) {
        Typing::Above => {
            let prefix: String = (0..TYPING_ROUNDS)
                .map(|round| format!("// typed {round}\n"))
                .collect();
            text = format!("{prefix}{}", replaced(&text));
        }
        Typing::Inside => {
            text = text.replace(
                "        sum += x;",
                &format!("        {}sum += x;", "/* typed */ ".repeat(TYPING_ROUNDS)),
            );
        }
        Typing::Below => {
            let suffix: String = (0..TYPING_ROUNDS)
                .map(|round| format!("// below {round}\n"))
                .collect();
            text = format!("{}{suffix}", replaced(&text));
        }
        Typing::None => text = replaced(&text),
    }
    text
}

/// Which document a request was about, by the function name in its file excerpt.
fn document_of(body: &Value) -> usize {
    let text = body["messages"].to_string();
    (0..DOCUMENTS)
        .find(|index| text.contains(&format!("fn {}(", name(*index))))
        .expect("a request names its document")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_actions_on_sixty_four_documents_while_typing() {
    let replies: Vec<Reply> = (0..DOCUMENTS).map(answer).collect();
    let server = start(&Transport::InProcess, replies, UpstreamTuning::default()).await;
    let client = &server.client;
    let fake = server.fake();
    fake.set_default(Reply::text(&["A second look."]));
    client.set_echo_edits(true);
    let uris: Vec<String> = (0..DOCUMENTS)
        .map(|index| file_uri(&server.dir.path().join(format!("src/doc_{index:02}.rs"))))
        .collect();
    for (index, uri) in uris.iter().enumerate() {
        client.open(uri, "rust", &code(index)).await;
    }

    // All 64 at once.
    let tokens: Vec<String> = join_all(uris.iter().map(|uri| {
        client.run_action(
            "chatls.refactor",
            json!({"uri": uri, "range": loop_range()}),
        )
    }))
    .await;
    assert_eq!(
        tokens.iter().collect::<HashSet<_>>().len(),
        DOCUMENTS,
        "one token per action"
    );
    let seen = fake
        .wait_for_requests(DOCUMENTS, Duration::from_secs(20))
        .await;
    assert_eq!(seen.len(), DOCUMENTS, "every action reached the upstream");

    // Type into three quarters of the documents while the answers stream.
    let mut edits_typed = 0;
    for round in 0..TYPING_ROUNDS {
        let ended = tokens
            .iter()
            .filter(|token| {
                client
                    .progress(token)
                    .iter()
                    .any(|value| value["kind"] == "end")
            })
            .count();
        assert_eq!(
            ended, 0,
            "precondition: typing round {round} must happen while every answer is still streaming"
        );
        for (index, uri) in uris.iter().enumerate() {
            let round = round as u32;
            match typing(index) {
                Typing::Above => {
                    client
                        .change(
                            uri,
                            range(round, 0, round, 0),
                            &format!("// typed {round}\n"),
                        )
                        .await
                }
                Typing::Inside => client.change(uri, range(3, 8, 3, 8), "/* typed */ ").await,
                Typing::Below => {
                    let line = 7 + round;
                    client
                        .change(uri, range(line, 0, line, 0), &format!("// below {round}\n"))
                        .await
                }
                Typing::None => continue,
            }
            edits_typed += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let ends: Vec<String> =
        join_all(tokens.iter().map(|token| client.wait_progress_end(token))).await;

    // Which answer went to which document: the fake hands out replies in arrival order.
    let requests = fake.requests();
    let mut reply_of = HashMap::new();
    for (reply, request) in requests.iter().take(DOCUMENTS).enumerate() {
        let previous = reply_of.insert(document_of(&request.body), reply);
        assert!(previous.is_none(), "two requests for one document");
    }
    let mut moved = 0;
    let mut refused = 0;
    let mut in_place = 0;
    for (index, uri) in uris.iter().enumerate() {
        let reply = reply_of[&index];
        let end = &ends[index];
        let text = client.doc(uri).text;
        assert_eq!(
            text,
            expected(index, reply),
            "document {index} ({:?}, answer {reply}): {end}",
            typing(index)
        );
        match typing(index) {
            Typing::Inside => {
                assert!(end.contains("selected code changed"), "{index}: {end}");
                refused += 1;
            }
            Typing::Above => {
                assert!(end.starts_with("applied "), "{index}: {end}");
                moved += 1;
            }
            _ => {
                assert!(end.starts_with("applied "), "{index}: {end}");
                in_place += 1;
            }
        }
    }

    // One conversation id per document.
    let first_ids: HashMap<usize, String> = requests
        .iter()
        .take(DOCUMENTS)
        .map(|request| {
            (
                document_of(&request.body),
                request.header("x-conversation-id").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        first_ids.values().collect::<HashSet<_>>().len(),
        DOCUMENTS,
        "distinct conversation ids"
    );

    // A second round on every document: same conversation, its own history, and the
    // server's buffer is exactly the editor's.
    let tokens: Vec<String> = join_all(
        uris.iter()
            .map(|uri| client.run_action("chatls.explain", json!({"uri": uri}))),
    )
    .await;
    join_all(tokens.iter().map(|token| client.wait_progress_end(token))).await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 2 * DOCUMENTS);
    for request in &requests[DOCUMENTS..] {
        let index = document_of(&request.body);
        assert_eq!(
            request.header("x-conversation-id"),
            Some(first_ids[&index].as_str()),
            "document {index} kept its conversation"
        );
        let messages = request.body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 4, "document {index}: its one earlier turn");
        let earlier_answer = messages[2]["content"].as_str().unwrap();
        assert!(
            earlier_answer.contains(&answer_code(reply_of[&index])),
            "document {index} got another document's history: {earlier_answer}"
        );
        let user = messages[3]["content"].as_str().unwrap();
        let buffer = client.doc(&uris[index]).text;
        assert!(
            user.contains(&format!("Selected code:\n```rust\n{buffer}\n```")),
            "document {index}: the server's buffer differs from the editor's: {user}"
        );
    }
    common::scan_server(&server, "concurrency");
    println!(
        "concurrency: {DOCUMENTS} actions on {DOCUMENTS} documents, {edits_typed} edits typed while streaming: {moved} edits moved past typing, {refused} refused, {in_place} in place; then {DOCUMENTS} follow-ups in the same conversations"
    );
}

//! A document's conversation history through the built binary over stdio against the fake
//! upstream: an image goes up with its own turn only (later requests carry a note in its
//! place), one turn larger than the whole history budget is cut instead of emptying the
//! history, and the replayed history stays byte-identical from one request to the next.

mod support;

use chatls_fake_upstream::{RecordedRequest, Reply};
use serde_json::{Value, json};

use support::fixture::Fixture;
use support::range;

const KEY: &str = "sk-history-test-77d2";

/// A valid PNG signature followed by filler: the sniffer checks magic bytes only.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, 30_000));
    bytes
}

/// Line 0 a title, line 1 an image link, then 2,000 lines of prose (about 200,000
/// characters: past the 120,000-character history budget on its own).
fn notes() -> String {
    let mut text = String::from("# Notes\n![diagram](diagram.png)\n");
    for line in 0..2_000 {
        text.push_str(&format!(
            "Paragraph line {line:04} of the long section, padded to about a hundred characters.........\n"
        ));
    }
    text
}

fn messages(request: &RecordedRequest) -> Vec<Value> {
    request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_one_huge_turn_do_not_cost_the_conversation_its_history() {
    let text = notes();
    let s = Fixture::new()
        .binary(&[], &[])
        .key(Some(KEY))
        .settings(json!({"tools": {"enabled": false}}))
        .file("notes.md", &text)
        .open("notes.md")
        .default_reply(Reply::text(&["Short ", "answer."]))
        .start()
        .await;
    std::fs::write(s.path("diagram.png"), png()).unwrap();
    let (client, uri, fake) = (&s.client, &s.uri, &s.fake);

    let explain = |selection: Value| {
        let client = client.clone();
        let uri = uri.clone();
        async move {
            let token = client
                .run_action("chatls.explain", json!({"uri": uri, "range": selection}))
                .await;
            client.wait_progress_end(&token).await
        }
    };

    // A: the title. B: the image link — its request carries the image.
    explain(range(0, 0, 1, 0)).await;
    explain(range(1, 0, 2, 0)).await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let b = messages(&requests[1]);
    assert!(
        b.last().unwrap()["content"]
            .to_string()
            .contains("data:image/png;base64,"),
        "the image goes up with its own turn"
    );

    // C: the whole long section, one turn bigger than the history budget.
    explain(range(2, 0, 2_002, 0)).await;
    // D: the title again. Its history must hold A, B (image as a note) and C (cut).
    explain(range(0, 0, 1, 0)).await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    let c = messages(&requests[2]);
    let d = messages(&requests[3]);
    let c_body = requests[2].body.to_string();
    assert!(
        !c_body.contains("data:image/png;base64,"),
        "an image is sent once, not with every later turn"
    );
    // system + A, B, C (user and assistant each) + the new turn.
    assert_eq!(
        d.len(),
        8,
        "{:?}",
        d.iter().map(text_of).collect::<Vec<_>>()
    );
    assert!(text_of(&d[3]).contains("![diagram](diagram.png)"));
    assert!(
        text_of(&d[3]).contains("was attached to this turn; it is not sent again"),
        "{}",
        text_of(&d[3])
    );
    let cut = text_of(&d[5]);
    assert!(cut.starts_with("Explain the selected code."), "{cut:.200}");
    assert!(cut.contains("characters of this earlier turn are left out of the history"));
    assert!(
        cut.ends_with("Reply in markdown."),
        "the end of the turn is kept"
    );
    assert!(cut.len() <= 30_000, "{}", cut.len());
    assert_eq!(text_of(&d[6]), "Short answer.");
    assert!(
        text_of(&c[c.len() - 1]).len() > 120_000,
        "C itself went up whole"
    );
    assert!(!requests[3].body.to_string().contains("base64,"));

    // E: the replayed history is byte-identical to D's (the upstream's cache prefix holds).
    explain(range(0, 0, 1, 0)).await;
    let e = messages(&fake.requests()[4]);
    assert_eq!(e.len(), 10);
    assert_eq!(&e[..7], &d[..7]);
    client.shutdown_and_exit().await;
}

//! The fake's control endpoints and keep-alive, driven with hand-written HTTP/1.1 over one
//! TCP connection (the way the binary is used from other languages).

use std::time::Duration;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one request and reads one `Content-Length` response; returns (status, body).
async fn exchange(stream: &mut TcpStream, method: &str, path: &str, body: &str) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        let n = stream.read(&mut piece).await.unwrap();
        assert!(n > 0, "connection closed early");
        received.extend_from_slice(&piece[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let head = &text[..head_end];
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            if received.len() >= head_end + 4 + length {
                let status = head[9..12].parse().unwrap();
                return (status, text[head_end + 4..head_end + 4 + length].to_owned());
            }
        }
    }
}

#[tokio::test]
async fn control_endpoints_on_one_kept_alive_connection() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", fake.port()))
        .await
        .unwrap();
    let work = async {
        let (status, _) = exchange(
            &mut stream,
            "POST",
            "/__push",
            r#"{"type":"json_text","text":"scripted"}"#,
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = exchange(
            &mut stream,
            "POST",
            "/v1/chat/completions",
            r#"{"model":"m"}"#,
        )
        .await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "scripted");
        let (status, body) = exchange(&mut stream, "POST", "/__push", r#"{"type":"nope"}"#).await;
        assert_eq!(status, 400);
        assert!(body.contains("unknown variant"));
        let (_, body) = exchange(&mut stream, "GET", "/__requests", "").await;
        let requests: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(requests.as_array().unwrap().len(), 1);
        assert_eq!(requests[0]["path"], "/v1/chat/completions");
        assert_eq!(requests[0]["body"]["model"], "m");
        let (_, body) = exchange(&mut stream, "GET", "/__stats", "").await;
        let stats: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(stats["connections"], 1);
        assert_eq!(stats["aborted_streams"], 0);
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap();
    assert_eq!(fake.connections_accepted(), 1);
    assert_eq!(fake.requests().len(), 1);
    let waited = fake.wait_for_requests(2, Duration::from_millis(50)).await;
    assert_eq!(waited.len(), 1);
    fake.set_default(Reply::Hangup);
}

/// A chat body shaped like chatls's completion prompt (last message ends at the cursor marker)
/// or like an action's.
fn chat_body(last: &str) -> String {
    serde_json::json!({"model": "m", "messages": [
        {"role": "system", "content": "s"}, {"role": "user", "content": last}
    ]})
    .to_string()
}

async fn answer_text(stream: &mut TcpStream, body: &str) -> String {
    let (status, body) = exchange(stream, "POST", "/v1/chat/completions", body).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn completion_requests_never_take_an_action_reply_once_routed() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", fake.port()))
        .await
        .unwrap();
    let completion = chat_body("fn main() {\n    let v = <|cursor|>");
    let action = chat_body("Explain this code");
    let work = async {
        for (path, reply) in [
            ("/__push", r#"{"type":"json_text","text":"action answer"}"#),
            ("/__default_completion", r#"{"type":"json_text","text":""}"#),
            (
                "/__push_completion",
                r#"{"type":"json_text","text":"compute()"}"#,
            ),
        ] {
            assert_eq!(exchange(&mut stream, "POST", path, reply).await.0, 200);
        }
        // The completion comes first, yet the action still gets its own answer.
        assert_eq!(answer_text(&mut stream, &completion).await, "compute()");
        assert_eq!(answer_text(&mut stream, &completion).await, "");
        assert_eq!(answer_text(&mut stream, &action).await, "action answer");
        let (_, body) = exchange(&mut stream, "GET", "/__requests", "").await;
        let requests: Value = serde_json::from_str(&body).unwrap();
        let kinds: Vec<bool> = requests
            .as_array()
            .unwrap()
            .iter()
            .map(|request| request["completion"].as_bool().unwrap())
            .collect();
        assert_eq!(kinds, [true, true, false]);
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap();
}

#[tokio::test]
async fn completion_requests_share_the_queue_until_routed() {
    let fake = FakeUpstream::start(vec![Reply::json_text("first")])
        .await
        .unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", fake.port()))
        .await
        .unwrap();
    let completion = chat_body("let v = <|cursor|>");
    let work = async {
        assert_eq!(answer_text(&mut stream, &completion).await, "first");
        fake.push_completion(Reply::json_text("routed"));
        fake.push(Reply::json_text("action"));
        assert_eq!(answer_text(&mut stream, &completion).await, "routed");
        // The completion queue is empty: an empty streamed answer, not the action's.
        let (status, body) = exchange_chunked(&mut stream, &completion).await;
        assert_eq!(status, 200);
        assert!(!body.contains("action"), "{body}");
        assert_eq!(
            answer_text(&mut stream, &chat_body("Fix it")).await,
            "action"
        );
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap();
}

/// Sends a chat request answered with a chunked stream; returns (status, whole stream text).
async fn exchange_chunked(stream: &mut TcpStream, body: &str) -> (u16, String) {
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut piece = [0u8; 4096];
    while !received.ends_with(b"\r\n0\r\n\r\n") {
        let n = stream.read(&mut piece).await.unwrap();
        assert!(n > 0, "connection closed early");
        received.extend_from_slice(&piece[..n]);
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    (text[9..12].parse().unwrap(), text)
}

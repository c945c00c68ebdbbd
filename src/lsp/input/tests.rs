//! Unit tests of the input guard: frames, shapes, renames, refusals and the client's `initialize`.

use super::*;

fn frames(input: &[u8], piece: usize) -> Vec<Frame> {
    let mut deframer = Deframer::new();
    let mut found = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        deframer.push(chunk);
        while let Some(frame) = deframer.next_frame() {
            found.push(frame);
        }
    }
    found
}

#[test]
fn frames_split_anywhere_come_out_whole() {
    let one = br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
    let two = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"é\"}";
    let mut input = frame(one);
    input.extend_from_slice(
        format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n{two}",
            two.len()
        )
        .as_bytes(),
    );
    for piece in [1, 2, 3, 7, 64, 4096] {
        assert_eq!(
            frames(&input, piece),
            vec![
                Frame::Body(one.to_vec()),
                Frame::Body(two.as_bytes().to_vec())
            ],
            "pieces of {piece}"
        );
    }
}

#[test]
fn garbage_is_skipped_to_the_next_content_length() {
    let good = br#"{"jsonrpc":"2.0","method":"exit"}"#;
    let mut input = b"Content-Length: abc\r\n\r\n{\"x\":1}".to_vec();
    input.extend_from_slice(b"Content-Type: text/plain\r\n\r\nhello ");
    input.extend_from_slice(&frame(good));
    for piece in [1, 5, 4096] {
        // Everything up to the next Content-Length is one piece of garbage.
        let found = frames(&input, piece);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            matches!(found[0], Frame::Garbage(ref reason) if reason.contains("Content-Length"))
        );
        assert_eq!(found[1], Frame::Body(good.to_vec()));
    }
    let long = vec![b'x'; MAX_HEADER_BYTES + 10];
    let mut input = long.clone();
    input.extend_from_slice(&frame(good));
    let found = frames(&input, 1000);
    assert!(matches!(found[0], Frame::Garbage(_)));
    assert_eq!(found.last(), Some(&Frame::Body(good.to_vec())));
}

fn replaced(body: &[u8]) -> Value {
    let framed = sanitize(body.to_vec());
    let text = String::from_utf8(framed).unwrap();
    let (_, json) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(json).unwrap()
}

#[test]
fn valid_messages_pass_unchanged() {
    for body in [
        br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#.as_slice(),
        br#"{"jsonrpc":"2.0","method":"exit"}"#,
        br#"{"jsonrpc":"2.0","id":"a","result":null}"#,
        br#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}"#,
        b"",
    ] {
        assert_eq!(sanitize(body.to_vec()), frame(body));
    }
}

#[test]
fn invalid_messages_become_answerable_requests_or_notifications() {
    let request = replaced(br#"{"jsonrpc":"1.0","id":42,"method":"shutdown"}"#);
    assert_eq!(request["method"], INVALID_REQUEST_METHOD);
    assert_eq!(request["id"], 42);
    assert!(
        request["params"]["reason"]
            .as_str()
            .unwrap()
            .contains("JSON-RPC")
    );
    let string_id = replaced(br#"{"id":"x7","method":"a"}"#);
    assert_eq!(string_id["id"], "x7");
    // tower-lsp-server reads this as a response with a null result: passed on.
    let bare = br#"{"jsonrpc":"2.0","id":5}"#;
    assert_eq!(sanitize(bare.to_vec()), frame(bare));
    for body in [
        b"{not json".as_slice(),
        b"[1, 2, 3]",
        br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#,
        br#"{"jsonrpc":"2.0","id":5,"result":1,"error":7,"x":[}"#,
        b"\"\xff\xfe\"",
        b"{\"id\":1.5,\"method\":\"x\"}",
    ] {
        let message = replaced(body);
        assert_eq!(message["method"], INVALID_MESSAGE_METHOD, "{message}");
        assert!(message.get("id").is_none(), "{message}");
    }
    let not_json = replaced(b"{not json");
    assert!(
        not_json["params"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the body is not JSON")
    );
}

#[test]
fn only_code_action_requests_are_renamed_in_place() {
    let request =
        br#"{"jsonrpc":"2.0","id":7,"method":"textDocument/codeAction","params":{"a":"x"}}"#;
    let expected = br#"{"jsonrpc":"2.0","id":7,"method":"chatls/codeAction","params":{"a":"x"}}"#;
    assert_eq!(sanitize(request.to_vec()), frame(expected));
    // Written with an escaped slash: still renamed (through a parse).
    let escaped = br#"{"jsonrpc":"2.0","id":"q","method":"textDocument\/codeAction"}"#;
    assert_eq!(replaced(escaped)["method"], CODE_ACTION_METHOD);
    for untouched in [
        // A notification of that name, and a null id, are not requests to reroute.
        br#"{"jsonrpc":"2.0","method":"textDocument/codeAction","params":{}}"#.as_slice(),
        br#"{"jsonrpc":"2.0","id":null,"method":"textDocument/codeAction"}"#,
        // A document that merely mentions the method passes byte for byte.
        br#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"text":"\"method\":\"textDocument/codeAction\""}}}"#,
        br#"{"jsonrpc":"2.0","id":3,"result":{"method":"textDocument/codeAction"}}"#,
    ] {
        assert_eq!(sanitize(untouched.to_vec()), frame(untouched));
    }
}

#[tokio::test]
async fn the_pump_forwards_and_ends_with_its_input() {
    let good = br#"{"jsonrpc":"2.0","method":"exit"}"#;
    let mut input = frame(b"{bad");
    input.extend_from_slice(&frame(good));
    let (mut client, server_side) = tokio::io::duplex(1024);
    let (mut reader, writer) = tokio::io::duplex(1024);
    let task = tokio::spawn(pump(server_side, writer));
    client.write_all(&input).await.unwrap();
    drop(client);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    task.await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(INVALID_MESSAGE_METHOD), "{text}");
    assert!(text.ends_with(std::str::from_utf8(good).unwrap()), "{text}");
}

#[test]
fn the_first_request_tells_the_client_as_sent_and_no_settings() {
    // `rangesSupport` is LSP 3.18, which lsp-types drops; the log keeps what was sent.
    let body = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "processId":1,"clientInfo":{"name":"Visual Studio Code","version":"1.139.0"},
        "initializationOptions":{"apiKey":"sk-secret-in-options"},
        "capabilities":{"textDocument":{"rangeFormatting":{"rangesSupport":true}}}}}"#;
    let FirstRequest::Seen(Some(hello)) = first_request(body) else {
        panic!("initialize not recognised");
    };
    assert_eq!(hello.name.as_deref(), Some("Visual Studio Code"));
    assert_eq!(hello.version.as_deref(), Some("1.139.0"));
    assert_eq!(
        hello.capabilities,
        r#"{"textDocument":{"rangeFormatting":{"rangesSupport":true}}}"#
    );
    assert!(!format!("{hello:?}").contains("sk-secret"));
    // In the client's order, whitespace inside strings kept.
    let body = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "capabilities": {"z" : [1, 2], "a": "x \" y\n"}}}"#;
    let FirstRequest::Seen(Some(hello)) = first_request(body) else {
        panic!("initialize not recognised");
    };
    assert_eq!(hello.capabilities, r#"{"z":[1,2],"a":"x \" y\n"}"#);
    assert_eq!(hello.name, None);

    let notification = br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
    assert_eq!(first_request(notification), FirstRequest::NotYet);
    assert_eq!(first_request(b"{bad"), FirstRequest::NotYet);
    let other = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
    assert_eq!(first_request(other), FirstRequest::Seen(None));
}

//! `LlmClient` against the scripted fake upstream over real HTTP on 127.0.0.1: streaming,
//! tool calls, the non-streaming path, every fault the client must survive or report, retries,
//! cancellation, connection reuse and the API key never leaking into an error.

use std::time::Duration;

use chatls::llm::types::{ChatRequest, Message, StreamOptions, ToolDef};
use chatls::llm::{
    ApiKey, Completion, Endpoint, LlmClient, LlmError, RetryPolicy, StreamEvent, Timeouts,
};
use chatls_fake_upstream::{FakeUpstream, Reply, Step};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const TEST_TIMEOUT: Duration = Duration::from_secs(20);
const CANARY: &str = "sk-canary-7f3a9c1e5b2d";

fn endpoint(base_url: &str, key: Option<&str>) -> Endpoint {
    Endpoint {
        base_url: base_url.to_owned(),
        api_key: key.map(ApiKey::new),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(10),
            first_content: Duration::from_secs(10),
            idle: Duration::from_secs(10),
        },
        retry: RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        max_response_bytes: 1024 * 1024,
        network: Default::default(),
    }
}

fn request(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "claude-sonnet-4-6".to_owned(),
        messages: vec![Message::system("be brief"), Message::user("explain this")],
        temperature: Some(0.2),
        top_p: None,
        max_tokens: Some(100),
        reasoning_effort: None,
        stream,
        stream_options: stream.then_some(StreamOptions {
            include_usage: true,
        }),
        tools: Some(vec![ToolDef::function(
            "read_file",
            "Read a file",
            json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        )]),
        tool_choice: Some("auto".to_owned()),
    }
}

/// Events as short strings, for assertions.
#[derive(Default)]
struct Events(Vec<String>);

impl Events {
    fn record(&mut self, event: StreamEvent<'_>) {
        self.0.push(match event {
            StreamEvent::Connected => "connected".to_owned(),
            StreamEvent::Content(text) => format!("content:{text}"),
            StreamEvent::ToolCallStarted { index, name } => format!("tool:{index}:{name}"),
            StreamEvent::ToolCallArguments { index, total_len } => {
                format!("args:{index}:{total_len}")
            }
            StreamEvent::Retrying { attempt, delay, .. } => {
                format!("retry:{attempt}:{}ms", delay.as_millis())
            }
        });
    }

    fn count(&self, prefix: &str) -> usize {
        self.0
            .iter()
            .filter(|event| event.starts_with(prefix))
            .count()
    }
}

async fn call(
    client: &LlmClient,
    endpoint: &Endpoint,
    request: &ChatRequest,
) -> (Result<Completion, LlmError>, Events) {
    let cancel = CancellationToken::new();
    let mut events = Events::default();
    let mut on_event = |event: StreamEvent<'_>| events.record(event);
    let result = tokio::time::timeout(
        TEST_TIMEOUT,
        client.chat(endpoint, request, "conv-123", &cancel, &mut on_event),
    )
    .await
    .expect("the call finished in time");
    (result, events)
}

async fn once(reply: Reply, stream: bool) -> (Result<Completion, LlmError>, Events, FakeUpstream) {
    let fake = FakeUpstream::start(vec![reply]).await.unwrap();
    let (result, events) = call(
        &LlmClient::new(),
        &endpoint(&fake.base_url(), Some("sk-test")),
        &request(stream),
    )
    .await;
    (result, events, fake)
}

fn content_chunk(text: &str) -> Step {
    Step::Data(json!({"model": "m", "choices": [{"index": 0, "delta": {"content": text}}]}))
}

fn finish_chunk(reason: &str) -> Step {
    Step::Data(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}))
}

#[tokio::test]
async fn streamed_text_is_assembled_with_usage_and_model() {
    let (result, events, _fake) = once(Reply::text(&["Hel", "lo", " wörld"]), true).await;
    let completion = result.unwrap();
    assert_eq!(completion.content, "Hello wörld");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert_eq!(completion.model.as_deref(), Some("fake-model"));
    let usage = completion.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (10, 3, 13)
    );
    assert!(completion.tool_calls.is_empty());
    assert_eq!(
        events.0,
        ["connected", "content:Hel", "content:lo", "content: wörld"]
    );
}

#[tokio::test]
async fn sends_exact_headers_and_body() {
    let fake = FakeUpstream::start(vec![Reply::text(&["a"]), Reply::json_text("b")])
        .await
        .unwrap();
    let client = LlmClient::new();
    let with_key = endpoint(&format!("{}/", fake.base_url()), Some("sk-test"));
    let streamed = request(true);
    call(&client, &with_key, &streamed).await.0.unwrap();
    let without_key = endpoint(&fake.base_url(), None);
    let plain = request(false);
    call(&client, &without_key, &plain).await.0.unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("accept"), Some("text/event-stream"));
    assert_eq!(first.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(first.header("x-conversation-id"), Some("conv-123"));
    assert_eq!(first.body, serde_json::to_value(&streamed).unwrap());
    assert_eq!(first.body["stream_options"]["include_usage"], json!(true));

    let second = &requests[1];
    assert_eq!(second.path, "/v1/chat/completions");
    assert_eq!(second.header("accept"), Some("application/json"));
    assert_eq!(second.header("authorization"), None);
    assert_eq!(second.header("x-conversation-id"), Some("conv-123"));
    assert_eq!(second.body["stream"], json!(false));
    assert_eq!(second.body, serde_json::to_value(&plain).unwrap());
}

#[tokio::test]
async fn tool_calls_in_many_fragments_are_assembled() {
    let arguments_a = r#"{"path":"src/main.rs","start":1,"end":40}"#;
    let arguments_b = r#"{"pattern":"fn main","glob":"**/*.rs"}"#;
    let reply = Reply::tool_calls(
        &[
            ("call_a", "read_file", arguments_a),
            ("call_b", "search_workspace", arguments_b),
        ],
        3,
    );
    let (result, events, _fake) = once(reply, true).await;
    let completion = result.unwrap();
    assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(completion.tool_calls.len(), 2);
    assert_eq!(completion.tool_calls[0].id, "call_a");
    assert_eq!(completion.tool_calls[0].kind, "function");
    assert_eq!(completion.tool_calls[0].function.name, "read_file");
    assert_eq!(completion.tool_calls[0].function.arguments, arguments_a);
    assert_eq!(completion.tool_calls[1].id, "call_b");
    assert_eq!(completion.tool_calls[1].function.name, "search_workspace");
    assert_eq!(completion.tool_calls[1].function.arguments, arguments_b);
    assert!(events.0.contains(&"tool:0:read_file".to_owned()));
    assert!(events.0.contains(&"tool:1:search_workspace".to_owned()));
    assert!(events.0.contains(&format!("args:0:{}", arguments_a.len())));
    assert!(events.count("args:1:") >= 10);
}

#[tokio::test]
async fn interleaved_tool_calls_are_assembled_by_index() {
    let fragment = |index: u32, head: Option<(&str, &str)>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let Some((id, name)) = head {
            call["id"] = json!(id);
            call["type"] = json!("function");
            call["function"]["name"] = json!(name);
        }
        Step::Data(json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
    };
    let reply = Reply::sse(vec![
        fragment(1, Some(("id_1", "list_files")), ""),
        fragment(0, Some(("id_0", "read_file")), "{\"pa"),
        fragment(1, None, "{\"dir\":"),
        fragment(0, None, "th\":\"a\"}"),
        fragment(1, None, "\"src\"}"),
        finish_chunk("tool_calls"),
        Step::Done,
    ]);
    let (result, _, _fake) = once(reply, true).await;
    let calls = result.unwrap().tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].function.name.as_str()),
        ("id_0", "read_file")
    );
    assert_eq!(calls[0].function.arguments, r#"{"path":"a"}"#);
    assert_eq!(
        (calls[1].id.as_str(), calls[1].function.name.as_str()),
        ("id_1", "list_files")
    );
    assert_eq!(calls[1].function.arguments, r#"{"dir":"src"}"#);
}

#[tokio::test]
async fn awkwardly_split_sse_with_crlf_and_comments_is_parsed() {
    let text = ": keep-alive\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hé\"}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"llo\"},\"finish_reason\":\"stop\"}]}\r\n\r\ndata: [DONE]\r\n\r\n";
    let bytes = text.as_bytes();
    // Cut at byte offsets that fall inside "data:", inside JSON and between CR and LF.
    let cuts = [3, 14, 15, 20, 64, 100, 101, 102];
    let mut steps = Vec::new();
    let mut last = 0;
    for cut in cuts {
        steps.push(&bytes[last..cut]);
        last = cut;
    }
    steps.push(&bytes[last..]);
    // Steps carry text, so a cut inside a character moves to its end; each step is one
    // chunk on the wire.
    let mut raw = Vec::new();
    let mut pending = Vec::new();
    for piece in steps {
        pending.extend_from_slice(piece);
        if let Ok(text) = std::str::from_utf8(&pending) {
            raw.push(Step::Raw(text.to_owned()));
            pending.clear();
        }
    }
    assert!(pending.is_empty());
    let (result, _, _fake) = once(Reply::sse(raw), true).await;
    let completion = result.unwrap();
    assert_eq!(completion.content, "héllo");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn non_streaming_text_and_tool_calls() {
    let (result, events, _fake) = once(Reply::json_text("a whole answer"), false).await;
    let completion = result.unwrap();
    assert_eq!(completion.content, "a whole answer");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert_eq!(completion.usage.unwrap().total_tokens, 15);
    assert_eq!(events.0, ["connected"]);

    let (result, _, _fake) = once(
        Reply::json_tool_calls(&[("c1", "read_file", r#"{"path":"x"}"#)]),
        false,
    )
    .await;
    let completion = result.unwrap();
    assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(completion.tool_calls[0].id, "c1");
    assert_eq!(
        completion.tool_calls[0].function.arguments,
        r#"{"path":"x"}"#
    );
}

#[tokio::test]
async fn streamed_request_answered_with_json_is_parsed_as_a_full_response() {
    let (result, _, _fake) = once(Reply::json_text("not streamed"), true).await;
    assert_eq!(result.unwrap().content, "not streamed");
}

#[tokio::test]
async fn json_error_body_with_status_200_is_an_upstream_error() {
    let (result, _, _fake) = once(
        Reply::status(200, r#"{"error":{"message":"model is overloaded"}}"#),
        false,
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::UpstreamError { .. }), "{error:?}");
    assert!(error.to_string().contains("model is overloaded"));
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_the_upstream_message() {
    let cases: [(u16, &str); 5] = [
        (
            401,
            "the upstream rejected the API key (401): check CHATLS_API_KEY or the apiKey setting",
        ),
        (403, "the upstream refused access (403)"),
        (404, "unknown model or wrong baseUrl (404)"),
        (400, "the upstream rejected the request (400)"),
        (422, "the upstream rejected the request (422)"),
    ];
    for (status, start) in cases {
        let body = json!({"error": {"message": format!("upstream says {status}"), "type": "x"}});
        let fake = FakeUpstream::start(vec![Reply::status(status, &body.to_string())])
            .await
            .unwrap();
        let (result, events) = call(
            &LlmClient::new(),
            &endpoint(&fake.base_url(), Some("sk-test")),
            &request(true),
        )
        .await;
        let message = result.unwrap_err().to_string();
        assert!(message.starts_with(start), "{status}: {message}");
        assert!(
            message.contains(&format!("upstream says {status}")),
            "{message}"
        );
        assert!(!message.ends_with('.'));
        assert_eq!(fake.requests().len(), 1, "{status} must not be retried");
        assert_eq!(events.count("retry"), 0);
    }
}

#[tokio::test]
async fn rate_limit_is_retried_honouring_retry_after() {
    let fake = FakeUpstream::start(vec![
        Reply::status(429, r#"{"error":{"message":"slow down"}}"#).with_header("retry-after", "1"),
        Reply::text(&["ok"]),
    ])
    .await
    .unwrap();
    let (result, events) = call(
        &LlmClient::new(),
        &endpoint(&fake.base_url(), None),
        &request(true),
    )
    .await;
    assert_eq!(result.unwrap().content, "ok");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(events.0[0], "retry:1:1000ms");
}

#[tokio::test]
async fn retry_after_beyond_the_cap_gives_up_at_once() {
    let fake = FakeUpstream::start(vec![
        Reply::status(429, r#"{"error":{"message":"quota"}}"#).with_header("retry-after", "120"),
        Reply::text(&["never"]),
    ])
    .await
    .unwrap();
    let (result, events) = call(
        &LlmClient::new(),
        &endpoint(&fake.base_url(), None),
        &request(true),
    )
    .await;
    let error = result.unwrap_err();
    assert_eq!(
        error,
        LlmError::RateLimited {
            retry_after_secs: Some(120),
            upstream: Some("quota".to_owned())
        }
    );
    assert!(error.to_string().contains("(429)"));
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(events.count("retry"), 0);
}

#[tokio::test]
async fn timeouts_and_server_errors_are_retried_then_succeed() {
    let fake = FakeUpstream::start(vec![
        Reply::status(408, "{}"),
        Reply::status(500, r#"{"error":{"message":"boom"}}"#),
        Reply::status(503, ""),
        Reply::text(&["fine"]),
    ])
    .await
    .unwrap();
    let (result, events) = call(
        &LlmClient::new(),
        &endpoint(&fake.base_url(), None),
        &request(true),
    )
    .await;
    assert_eq!(result.unwrap().content, "fine");
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(events.count("retry:"), 3);
    assert_eq!(events.0.last().map(String::as_str), Some("content:fine"));
}

#[tokio::test]
async fn retries_run_out_with_the_last_error() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    fake.set_default(Reply::status(502, r#"{"error":{"message":"bad gateway"}}"#));
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.retry.max_retries = 2;
    let (result, events) = call(&LlmClient::new(), &endpoint, &request(true)).await;
    let error = result.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the upstream is having trouble (502): try again in a moment (upstream said: bad gateway)"
    );
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(events.count("retry:"), 2);
}

#[tokio::test]
async fn html_error_page_reports_its_title() {
    let page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";
    let reply = Reply::status(502, page).with_header("content-type", "text/html");
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    fake.set_default(reply);
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.retry.max_retries = 1;
    let (result, _) = call(&LlmClient::new(), &endpoint, &request(true)).await;
    let message = result.unwrap_err().to_string();
    assert!(message.contains("(502)"), "{message}");
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(!message.contains("nginx"));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn html_or_other_content_with_200_says_the_base_url_looks_wrong() {
    let html = Reply::status(200, "<html><body>Welcome</body></html>")
        .with_header("content-type", "text/html; charset=utf-8");
    let (result, _, fake) = once(html, true).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::HtmlPage { status: 200, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("HTML page"), "{message}");
    assert!(message.contains(&fake.base_url()), "{message}");

    let plain = Reply::status(200, "hello").with_header("content-type", "text/plain");
    let (result, _, _fake) = once(plain, false).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::UnexpectedContentType { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("text/plain"));
}

#[tokio::test]
async fn connection_refused_is_reported_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let mut endpoint = endpoint(&base_url, Some(CANARY));
    endpoint.retry.max_retries = 2;
    let (result, events) = call(&LlmClient::new(), &endpoint, &request(true)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::Connect { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("could not connect to {base_url}: ")),
        "{message}"
    );
    assert!(!message.contains(CANARY));
    assert_eq!(events.count("retry:"), 2);
}

#[tokio::test]
async fn reset_or_hangup_before_any_byte_is_retried() {
    let fake = FakeUpstream::start(vec![Reply::Reset, Reply::Hangup, Reply::text(&["after"])])
        .await
        .unwrap();
    let (result, events) = call(
        &LlmClient::new(),
        &endpoint(&fake.base_url(), None),
        &request(true),
    )
    .await;
    assert_eq!(result.unwrap().content, "after");
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(events.count("retry:"), 2);
}

#[tokio::test]
async fn reset_or_close_mid_stream_is_not_retried() {
    for fault in [Step::Reset, Step::Close] {
        let fake = FakeUpstream::start(vec![
            Reply::sse(vec![content_chunk("partial "), fault.clone()]),
            Reply::text(&["must not be fetched"]),
        ])
        .await
        .unwrap();
        let (result, events) = call(
            &LlmClient::new(),
            &endpoint(&fake.base_url(), None),
            &request(true),
        )
        .await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, LlmError::CutOff { .. }),
            "{fault:?}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("the stream was cut off before the answer finished")
        );
        assert_eq!(fake.requests().len(), 1, "{fault:?}");
        assert_eq!(events.0, ["connected", "content:partial "]);
    }
}

#[tokio::test]
async fn malformed_sse_json_is_an_error() {
    let reply = Reply::sse(vec![
        content_chunk("ok "),
        Step::Raw("data: {\"choices\": [oops\n\n".to_owned()),
        Step::Done,
    ]);
    let (result, _, _fake) = once(reply, true).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::MalformedStream { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("oops"), "{error}");
}

#[tokio::test]
async fn error_object_inside_the_stream_is_reported_with_its_message() {
    let long = "x".repeat(2000);
    let reply = Reply::sse(vec![
        content_chunk("start"),
        Step::Data(
            json!({"error": {"message": format!("Overloaded, try again later {long}"), "type": "overloaded_error"}}),
        ),
        Step::Done,
    ]);
    let (result, _, _fake) = once(reply, true).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::StreamError { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("Overloaded, try again later"), "{message}");
    assert!(
        message.len() < 600,
        "the upstream message is truncated: {}",
        message.len()
    );

    let typed = Reply::sse(vec![Step::Raw(
        "event: error\ndata: {\"message\":\"quota exhausted\"}\n\n".to_owned(),
    )]);
    let (result, _, _fake) = once(typed, true).await;
    assert!(result.unwrap_err().to_string().contains("quota exhausted"));
}

#[tokio::test]
async fn missing_done_is_fine_after_a_finish_reason_and_an_error_without_one() {
    let finished = Reply::sse(vec![content_chunk("complete"), finish_chunk("stop")]);
    let (result, _, _fake) = once(finished, true).await;
    let completion = result.unwrap();
    assert_eq!(completion.content, "complete");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));

    let broken = Reply::sse(vec![content_chunk("half")]);
    let (result, _, _fake) = once(broken, true).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::CutOff { .. }), "{error:?}");

    // Every attempt closed without a byte of the answer: retried, then the cut is reported.
    let fake = FakeUpstream::start(vec![Reply::sse(vec![]); 4])
        .await
        .unwrap();
    let (result, events) = call(
        &LlmClient::new(),
        &endpoint(&fake.base_url(), None),
        &request(true),
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::CutOff { .. }), "{error:?}");
    assert!(error.to_string().contains("without sending anything"));
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(events.count("retry:"), 3);
}

#[tokio::test]
async fn a_quiet_model_after_the_headers_gets_the_first_content_bound_not_the_idle_one() {
    // Headers and the role chunk at once, then 600 ms of thinking, past the 200 ms idle
    // timeout, then the answer with 100 ms gaps.
    let role = Step::Data(json!({
        "id": "c", "object": "chat.completion.chunk", "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}],
    }));
    let quiet = Reply::sse(vec![
        role.clone(),
        Step::Raw(": keep-alive\n\n".to_owned()),
        Step::Delay(600),
        content_chunk("thought "),
        Step::Delay(100),
        content_chunk("through"),
        finish_chunk("stop"),
        Step::Done,
    ]);
    let fake = FakeUpstream::start(vec![quiet]).await.unwrap();
    let mut quiet_endpoint = endpoint(&fake.base_url(), None);
    quiet_endpoint.timeouts.idle = Duration::from_millis(200);
    quiet_endpoint.timeouts.first_content = Duration::from_secs(10);
    let (result, events) = call(&LlmClient::new(), &quiet_endpoint, &request(true)).await;
    assert_eq!(result.unwrap().content, "thought through");
    assert_eq!(events.count("retry:"), 0);
    assert_eq!(fake.requests().len(), 1);

    // The same silence past the first-content bound: a timeout, not retried (the wait was
    // already spent), and the connection dropped.
    let fake = FakeUpstream::start(vec![
        Reply::sse(vec![role.clone(), Step::Stall]),
        Reply::text(&["must not be fetched"]),
    ])
    .await
    .unwrap();
    let mut quiet_endpoint = endpoint(&fake.base_url(), None);
    quiet_endpoint.timeouts.idle = Duration::from_millis(100);
    quiet_endpoint.timeouts.first_content = Duration::from_millis(400);
    let (result, _) = call(&LlmClient::new(), &quiet_endpoint, &request(true)).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::FirstContentTimeout { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("sent no answer within 0.4 s"),
        "{error}"
    );
    assert!(fake.wait_for_abort(Duration::from_secs(5)).await);
    assert_eq!(fake.requests().len(), 1);

    // Once the answer has begun, the idle timeout bounds every gap again.
    let fake = FakeUpstream::start(vec![Reply::sse(vec![
        content_chunk("begun"),
        Step::Delay(600),
        content_chunk(" too late"),
    ])])
    .await
    .unwrap();
    quiet_endpoint.base_url = fake.base_url();
    let (result, _) = call(&LlmClient::new(), &quiet_endpoint, &request(true)).await;
    assert!(matches!(result.unwrap_err(), LlmError::IdleTimeout { .. }));
}

#[tokio::test]
async fn a_stream_cut_before_its_first_content_is_retried_and_after_it_is_not() {
    let role = Step::Data(json!({
        "id": "c", "object": "chat.completion.chunk", "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}],
    }));
    for fault in [Step::Reset, Step::Close] {
        let fake = FakeUpstream::start(vec![
            Reply::sse(vec![role.clone(), Step::Delay(20), fault.clone()]),
            Reply::text(&["second ", "try"]),
        ])
        .await
        .unwrap();
        let (result, events) = call(
            &LlmClient::new(),
            &endpoint(&fake.base_url(), None),
            &request(true),
        )
        .await;
        assert_eq!(result.unwrap().content, "second try", "{fault:?}");
        assert_eq!(fake.requests().len(), 2, "{fault:?}");
        assert_eq!(events.count("retry:1"), 1, "{fault:?}");
        // Nothing of the first attempt reached the caller.
        assert_eq!(
            events
                .0
                .iter()
                .filter(|event| event.starts_with("content:"))
                .collect::<Vec<_>>(),
            ["content:second ", "content:try"]
        );
    }
}

#[tokio::test]
async fn idle_stall_times_out_and_drops_the_connection() {
    let fake = FakeUpstream::start(vec![Reply::sse(vec![
        content_chunk("thinking"),
        Step::Stall,
    ])])
    .await
    .unwrap();
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.timeouts.idle = Duration::from_millis(300);
    let (result, _) = call(&LlmClient::new(), &endpoint, &request(true)).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::IdleTimeout { .. }), "{error:?}");
    assert!(error.to_string().contains("stopped sending"));
    assert!(fake.wait_for_abort(Duration::from_secs(5)).await);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn slow_response_head_is_a_first_byte_timeout_not_retried() {
    let fake = FakeUpstream::start(vec![Reply::json_text("late").with_delay(5_000)])
        .await
        .unwrap();
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.timeouts.first_byte = Duration::from_millis(300);
    let (result, _) = call(&LlmClient::new(), &endpoint, &request(false)).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::FirstByteTimeout { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no response"));
    assert!(fake.wait_for_abort(Duration::from_secs(5)).await);
    assert_eq!(fake.requests().len(), 1);
}

/// One SSE line that never ends, sent in 1 KB pieces: dropped past the event cap, before
/// the body cap, and the connection closed.
#[tokio::test]
async fn an_endless_sse_line_is_dropped_at_the_event_cap() {
    let piece = "z".repeat(1024);
    let mut steps = vec![Step::Raw(
        "data: {\"choices\": [{\"delta\": {\"content\": \"".to_owned(),
    )];
    steps.extend((0..3 * 1024).map(|_| Step::Raw(piece.clone())));
    steps.push(Step::Stall);
    let fake = FakeUpstream::start(vec![Reply::sse(steps)]).await.unwrap();
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.max_response_bytes = chatls::llm::DEFAULT_MAX_RESPONSE_BYTES;
    let (result, _) = call(&LlmClient::new(), &endpoint, &request(true)).await;
    let error = result.unwrap_err();
    assert_eq!(
        error,
        LlmError::EventTooLarge {
            limit: chatls::llm::client::MAX_SSE_EVENT_BYTES
        }
    );
    assert!(error.to_string().contains("larger than 2 MB"), "{error}");
    assert!(fake.wait_for_abort(Duration::from_secs(5)).await);
}

/// `GET /models` past its own cap is an error the picker ignores, read no further.
#[tokio::test]
async fn a_model_list_past_its_cap_is_dropped() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    let padding = "p".repeat(chatls::llm::client::MAX_MODELS_BYTES);
    fake.set_models(
        Reply::status(
            200,
            &format!("{{\"data\": [{{\"id\": \"m\", \"note\": \"{padding}\"}}]}}"),
        )
        .with_header("content-type", "application/json"),
    );
    let result = LlmClient::new()
        .models(&endpoint(&fake.base_url(), None), Duration::from_secs(10))
        .await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains("larger than 4 MB"), "{error}");
    fake.set_models(FakeUpstream::models_reply(&["small-model"]));
    let listed = LlmClient::new()
        .models(&endpoint(&fake.base_url(), None), Duration::from_secs(10))
        .await;
    assert_eq!(listed.unwrap(), ["small-model"]);
}

#[tokio::test]
async fn oversized_response_is_capped_and_dropped() {
    let big = "y".repeat(4096);
    let mut steps: Vec<Step> = (0..10).map(|_| content_chunk(&big)).collect();
    steps.push(Step::Stall);
    let fake = FakeUpstream::start(vec![Reply::sse(steps)]).await.unwrap();
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.max_response_bytes = 16 * 1024;
    let (result, _) = call(&LlmClient::new(), &endpoint, &request(true)).await;
    let error = result.unwrap_err();
    assert_eq!(error, LlmError::TooLarge { limit: 16 * 1024 });
    assert!(fake.wait_for_abort(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn cancel_mid_stream_drops_the_connection_at_once() {
    let fake = FakeUpstream::start(vec![Reply::sse(vec![
        content_chunk("first"),
        Step::Delay(50),
        content_chunk("second"),
        Step::Stall,
    ])])
    .await
    .unwrap();
    let client = LlmClient::new();
    let endpoint = endpoint(&fake.base_url(), None);
    let request = request(true);
    let cancel = CancellationToken::new();
    let mut seen = Vec::new();
    let mut on_event = |event: StreamEvent<'_>| {
        if let StreamEvent::Content(text) = event {
            seen.push(text.to_owned());
            if text == "second" {
                cancel.cancel();
            }
        }
    };
    let result = tokio::time::timeout(
        TEST_TIMEOUT,
        client.chat(&endpoint, &request, "c", &cancel, &mut on_event),
    )
    .await
    .unwrap();
    let error = result.unwrap_err();
    assert!(error.is_cancelled());
    assert_eq!(error, LlmError::Cancelled);
    assert_eq!(seen, ["first", "second"]);
    assert!(fake.wait_for_abort(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn cancel_during_backoff_stops_retrying() {
    let fake = FakeUpstream::start(vec![]).await.unwrap();
    fake.set_default(Reply::status(503, "{}"));
    let mut endpoint = endpoint(&fake.base_url(), None);
    endpoint.retry.base_delay = Duration::from_secs(30);
    endpoint.retry.max_delay = Duration::from_secs(30);
    let cancel = CancellationToken::new();
    let mut on_event = |event: StreamEvent<'_>| {
        if let StreamEvent::Retrying { .. } = event {
            cancel.cancel();
        }
    };
    let result = tokio::time::timeout(
        TEST_TIMEOUT,
        LlmClient::new().chat(&endpoint, &request(true), "c", &cancel, &mut on_event),
    )
    .await
    .unwrap();
    assert_eq!(result.unwrap_err(), LlmError::Cancelled);
    assert_eq!(fake.requests().len(), 1);

    let already = CancellationToken::new();
    already.cancel();
    let mut ignore = |_: StreamEvent<'_>| {};
    let result = LlmClient::new()
        .chat(&endpoint, &request(true), "c", &already, &mut ignore)
        .await;
    assert_eq!(result.unwrap_err(), LlmError::Cancelled);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn sequential_calls_reuse_one_pooled_connection() {
    let fake = FakeUpstream::start(vec![
        Reply::text(&["one"]),
        Reply::text(&["two"]),
        Reply::json_text("three"),
    ])
    .await
    .unwrap();
    let client = LlmClient::new();
    let endpoint = endpoint(&fake.base_url(), Some("sk-test"));
    assert_eq!(
        call(&client, &endpoint, &request(true))
            .await
            .0
            .unwrap()
            .content,
        "one"
    );
    let clone = client.clone();
    assert_eq!(
        call(&clone, &endpoint, &request(true))
            .await
            .0
            .unwrap()
            .content,
        "two"
    );
    assert_eq!(
        call(&client, &endpoint, &request(false))
            .await
            .0
            .unwrap()
            .content,
        "three"
    );
    assert_eq!(fake.connections_accepted(), 1);
    let connections: Vec<u64> = fake
        .requests()
        .iter()
        .map(|request| request.connection_id)
        .collect();
    assert_eq!(connections, [1, 1, 1]);
    assert_eq!(fake.aborted_streams(), 0);
}

#[tokio::test]
async fn the_api_key_never_appears_in_an_error() {
    let echo = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {CANARY}. Authorization: Bearer {CANARY}"}}}}"#
    );
    let replies = vec![
        Reply::status(401, &echo),
        Reply::status(403, &echo),
        Reply::status(404, &echo),
        Reply::status(400, &echo),
        Reply::status(500, &echo),
        Reply::status(200, &echo),
        Reply::status(502, &format!("<html><title>{CANARY}</title></html>"))
            .with_header("content-type", "text/html"),
        Reply::status(200, &format!("not json {CANARY}")),
        Reply::sse(vec![Step::Data(serde_json::from_str(&echo).unwrap())]),
        Reply::sse(vec![Step::Raw(format!("data: {{{CANARY}\n\n"))]),
        Reply::sse(vec![Step::Raw(format!("event: error\ndata: {CANARY}\n\n"))]),
    ];
    let count = replies.len();
    let fake = FakeUpstream::start(replies).await.unwrap();
    let client = LlmClient::new();
    let mut endpoint = endpoint(&fake.base_url(), Some(CANARY));
    endpoint.retry.max_retries = 0;
    for case in 0..count {
        let (result, _) = call(&client, &endpoint, &request(true)).await;
        let error = result.unwrap_err();
        let display = error.to_string();
        let debug = format!("{error:?}");
        assert!(!display.contains(CANARY), "case {case}: {display}");
        assert!(!debug.contains(CANARY), "case {case}: {debug}");
        assert!(!display.contains("sk-canary"), "case {case}: {display}");
    }
    assert_eq!(fake.requests().len(), count);
    let (result, _) = call(&client, &endpoint, &request(true)).await;
    result.unwrap();
    assert_eq!(format!("{endpoint:?}").matches(CANARY).count(), 0);
}

#[test]
fn the_chat_future_is_send_so_the_engine_can_spawn_it() {
    fn assert_send<T: Send>(_: &T) {}
    let client = LlmClient::new();
    let endpoint = endpoint("http://127.0.0.1:9/v1", None);
    let request = request(true);
    let cancel = CancellationToken::new();
    let mut on_event = |_: StreamEvent<'_>| {};
    let future = client.chat(&endpoint, &request, "c", &cancel, &mut on_event);
    assert_send(&future);
}

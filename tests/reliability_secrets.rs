//! The canary key: the binary runs with `CHATLS_LOG=trace` and `--log-file`, through every
//! upstream fault row (whose bodies echo the key back, as some gateways do) and through a
//! session that sets the key in the settings, uses tools, explains, cancels and gets invalid
//! settings. The key must appear in no stderr, log file, progress or shown message, log
//! message, explanation file, or upstream request other than its `Authorization` header.
//! (The in-process reliability suites run with the same canary and scan what they see.)

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use chatls_fake_upstream::{Reply, Step};
use serde_json::json;

use common::{
    CODE, GOOD_CODE, KEY, Server, Transport, answer_with, assert_no_key, fault_rows, loop_range,
    run_fault_row, scan_process_output, scan_server,
};
use support::fixture::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_leaks_nowhere_through_every_fault_at_trace_level() {
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("chatls.log");
    let transport = Transport::Binary {
        log: "trace".into(),
        log_file: log_file.clone(),
    };
    let rows = fault_rows();
    for row in &rows {
        run_fault_row(&transport, row).await;
    }
    let log = std::fs::read_to_string(&log_file).unwrap();
    println!(
        "secrets: {} fault rows through the binary at trace level, {} bytes of log scanned, no key outside Authorization",
        rows.len(),
        log.len()
    );
}

/// Proxy credentials are secrets like the key: through a 407, a refused tunnel and an
/// unreachable proxy, at trace level, the user name and password appear in no stderr, log
/// file or message to the editor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_leak_nowhere() {
    use chatls_fake_upstream::proxy::ConnectProxy;
    const USER: &str = "proxyuser-canary-41";
    const PASSWORD: &str = "proxy-pw-canary-9f3";
    let demanding = ConnectProxy::start(Some(("someone-else", "other-pw")))
        .await
        .unwrap();
    let accepting = ConnectProxy::start(Some((USER, PASSWORD))).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("chatls.log");
    let with_credentials = |port: u16| format!("http://{USER}:{PASSWORD}@127.0.0.1:{port}");
    let s = Fixture::new()
        .key(Some(KEY))
        .binary(
            &["--log-file", &log_file.display().to_string()],
            &[
                // Port 9 on this machine: nothing listens, so a tunnel through the accepting
                // proxy is refused.
                ("CHATLS_BASE_URL", "https://upstream.test:9/v1".to_owned()),
                ("CHATLS_RETRY_BASE_MS", "5".to_owned()),
                ("CHATLS_LOG", "trace".to_owned()),
                ("HTTPS_PROXY", with_credentials(dead_port)),
            ],
        )
        .settings(json!({"proxy": with_credentials(demanding.port())}))
        .file("src/lib.rs", CODE)
        .open("src/lib.rs")
        .start()
        .await;
    let (client, uri) = (&s.client, &s.uri);
    let refactor = || async {
        let token = client
            .run_action(
                "chatls.refactor",
                json!({"uri": uri, "range": loop_range()}),
            )
            .await;
        client.wait_progress_end(&token).await
    };
    let end = refactor().await;
    assert!(end.contains("407"), "{end}");
    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"proxy": with_credentials(accepting.port())}}),
        )
        .await;
    let end = refactor().await;
    assert!(
        end.contains("could not open a connection to upstream.test"),
        "{end}"
    );
    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"proxy": ""}}),
        )
        .await;
    let end = refactor().await;
    assert!(end.contains("could not reach the proxy"), "{end}");
    assert!(end.contains("named by HTTPS_PROXY"), "{end}");
    client.shutdown_and_exit().await;
    client.wait_exit(Duration::from_secs(5)).await;
    let seen = format!(
        "{}\n{}\n{}",
        client.transcript(),
        client.stderr_to_end().await,
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    assert!(
        seen.len() > 1000,
        "the scan saw the logs: {} bytes",
        seen.len()
    );
    for secret in [USER, PASSWORD] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
    assert_no_key("the proxy session", &seen);
    assert_eq!(demanding.refused(), 1);
    assert_eq!(accepting.refused(), 1, "the tunnel to port 9 was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_the_settings_leaks_nowhere() {
    let stalled = Reply::sse(vec![
        Step::Data(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "partial"}}]}),
        ),
        Step::Stall,
    ]);
    let replies = vec![
        Reply::tool_calls(
            &[
                ("call_1", "read_file", r#"{"path": "src/lib.rs"}"#),
                ("call_2", "search_workspace", r#"{"pattern": "sum"}"#),
            ],
            6,
        ),
        answer_with(GOOD_CODE),
        Reply::text(&["It ", "adds ", "numbers."]),
        stalled,
        Reply::status(
            401,
            &json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}})
                .to_string(),
        ),
    ];
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("chatls.log");
    // The key comes in the initialization options, not the environment.
    let s = Fixture::new()
        .key(None)
        .binary(
            &["--log-file", &log_file.display().to_string()],
            &[("CHATLS_LOG", "trace".to_owned())],
        )
        .settings(json!({"chatls": {"apiKey": KEY}}))
        .file("src/lib.rs", CODE)
        .file("README.md", "# sum\n")
        .open("src/lib.rs")
        .replies(replies)
        .start()
        .await;
    let server = Server {
        address: ([127, 0, 0, 1], s.fake.port()).into(),
        fake: Some(s.fake),
        client: s.client,
        dir: s.dir,
        explain_dir: s.explain_dir,
        uri: s.uri,
    };
    let client = &server.client;

    // A tool loop and a refactor.
    let token = client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied "), "{end}");
    // An explanation file.
    let token = client
        .run_action("chatls.explain", json!({"uri": server.uri}))
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation opened"), "{end}");
    // Settings with the key and an error, and a key of the wrong type.
    for settings in [
        json!({"chatls": {"apiKey": KEY, "temperature": 9}}),
        json!({"chatls": {"apiKey": [KEY]}}),
        json!({"chatls": {"apiKey": {"value": KEY}}}),
    ] {
        let before = client.shown_messages().len();
        client
            .notify(
                "workspace/didChangeConfiguration",
                json!({ "settings": settings }),
            )
            .await;
        client
            .wait_until("the settings error", |client| {
                client.shown_messages().len() > before
            })
            .await;
    }
    // A cancel mid-stream.
    let token = client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    server
        .fake()
        .wait_for_requests(4, Duration::from_secs(10))
        .await;
    client
        .notify("window/workDoneProgress/cancel", json!({"token": token}))
        .await;
    assert_eq!(
        client.wait_progress_end(&token).await,
        "cancelled; nothing was changed"
    );
    // An upstream that echoes the key.
    let token = client
        .run_action(
            "chatls.fix",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.contains("401") && end.contains("<redacted>"), "{end}");

    let requests = server.fake().requests();
    assert_eq!(requests.len(), 5);
    scan_server(&server, "key from the settings");
    assert!(
        !common::files_text(server.explain_dir.path()).is_empty(),
        "an explanation file was written and scanned"
    );
    client.shutdown_and_exit().await;
    client
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("exits");
    scan_process_output(&server, &log_file, "key from the settings").await;
    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging was on"
    );
    let transcript = client.transcript();
    let messages = transcript.lines().count();
    assert_no_key("transcript", &transcript);
    println!(
        "secrets: key from the settings through tools, explain, 3 bad settings, a cancel and an echoing 401: {} requests, {} messages to the editor, {} bytes of log, no key outside Authorization",
        requests.len(),
        messages,
        log.len()
    );
}

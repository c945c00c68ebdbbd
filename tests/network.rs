//! The network people really have, driven through the real binary: a TLS upstream with a
//! certificate from a CA the test makes (untrusted → the message naming `caFile`, trusted
//! through the setting, a change at run time or `CHATLS_CA_FILE`), the same upstream over
//! HTTP/2 (a cold-start burst on one connection, cancel of one stream), a CONNECT proxy
//! (the setting beats the environment, `"none"` and loopback bypass it, 407 and an
//! unreachable proxy say so), and the token usage in the progress end, `chatls.usage` and
//! the CLI.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatls_fake_upstream::proxy::ConnectProxy;
use chatls_fake_upstream::tls::TlsFront;
use chatls_fake_upstream::{FakeUpstream, Reply, Step};
use serde_json::{Value, json};
use support::{Client, answer_with, capabilities, file_uri, range};

const CODE: &str = "fn total(xs: &[i32]) -> i32 {\n    let mut sum = 0;\n    for x in xs { sum += x; }\n    sum\n}\n";
const NEW_LINE: &str = "xs.iter().sum::<i32>()\n";
/// The made-up host name the proxy maps to 127.0.0.1.
const HOST: &str = "upstream.test";

/// A CA and a certificate it signed for `upstream.test`, 127.0.0.1 and 0.0.0.0, written to
/// a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    chain_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "chatls test company CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec![
            HOST.to_owned(),
            "127.0.0.1".to_owned(),
            "0.0.0.0".to_owned(),
        ])
        .unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("company-ca.pem"), ca.pem()).unwrap();
        Pki {
            dir,
            chain_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("company-ca.pem")
    }
}

struct Tls {
    fake: FakeUpstream,
    front: TlsFront,
    pki: Pki,
}

async fn tls_upstream(http2: bool, default: Reply) -> Tls {
    let fake = FakeUpstream::start(Vec::new()).await.unwrap();
    fake.set_default(default);
    let pki = Pki::new();
    let backend = format!("127.0.0.1:{}", fake.port()).parse().unwrap();
    let front = TlsFront::start(backend, &pki.chain_pem, &pki.key_pem, http2)
        .await
        .unwrap();
    Tls { fake, front, pki }
}

/// The binary with `env` (plus a workspace file for each of `documents`), initialized with
/// `options`.
struct Editor {
    client: Client,
    _workspace: tempfile::TempDir,
    uris: Vec<String>,
}

async fn editor(env: &[(&str, String)], options: Value, documents: usize) -> Editor {
    let workspace = support::workspace(&[]);
    let explain = workspace.path().join(".explain");
    let mut env: Vec<(&str, String)> = env.to_vec();
    env.push(("CHATLS_EXPLAIN_DIR", explain.display().to_string()));
    env.push(("CHATLS_MODEL", "test-model".to_owned()));
    env.push(("CHATLS_RETRY_BASE_MS", "5".to_owned()));
    let client = Client::binary(&env);
    client
        .initialize(
            capabilities(&["utf-16"], true),
            options,
            Some(workspace.path()),
        )
        .await;
    let mut uris = Vec::new();
    for index in 0..documents {
        let path = workspace.path().join(format!("total{index}.rs"));
        std::fs::write(&path, CODE).unwrap();
        let uri = file_uri(&path);
        client.open(&uri, "rust", CODE).await;
        uris.push(uri);
    }
    Editor {
        client,
        _workspace: workspace,
        uris,
    }
}

impl Editor {
    async fn refactor(&self, index: usize) -> String {
        let token = self
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": self.uris[index], "range": range(2, 0, 3, 0)}),
            )
            .await;
        self.client.wait_progress_end(&token).await
    }

    fn text(&self, index: usize) -> String {
        self.client.doc(&self.uris[index]).text
    }

    /// Everything the user and the logs saw.
    fn everything(&self) -> String {
        format!(
            "{}\n{}",
            self.client.transcript(),
            self.client.stderr.lock().unwrap()
        )
    }
}

fn refactored() -> String {
    CODE.replace(
        "    for x in xs { sum += x; }\n",
        &format!("    {NEW_LINE}"),
    )
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn an_untrusted_certificate_names_ca_file_and_the_setting_fixes_it_at_run_time() {
    let tls = tls_upstream(false, answer_with(NEW_LINE)).await;
    let editor = editor(
        &[("CHATLS_BASE_URL", tls.front.base_url("127.0.0.1"))],
        Value::Null,
        1,
    )
    .await;
    let end = editor.refactor(0).await;
    assert!(
        end.contains("127.0.0.1") && end.contains("not trusted") && end.contains("caFile"),
        "{end}"
    );
    assert_eq!(editor.text(0), CODE, "the document is untouched");
    assert!(tls.fake.requests().is_empty());

    // The setting, changed while the server runs, applies to the next action.
    editor
        .client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"caFile": path_text(&tls.pki.ca_file())}}}),
        )
        .await;
    let end = editor.refactor(0).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(editor.text(0), refactored());
}

#[tokio::test]
async fn ca_file_from_the_environment_and_a_missing_file_is_named() {
    let tls = tls_upstream(false, answer_with(NEW_LINE)).await;
    let editor = editor(
        &[
            ("CHATLS_BASE_URL", tls.front.base_url("127.0.0.1")),
            ("CHATLS_CA_FILE", path_text(&tls.pki.ca_file())),
        ],
        Value::Null,
        2,
    )
    .await;
    let end = editor.refactor(0).await;
    assert!(end.starts_with("applied"), "{end}");

    editor
        .client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"caFile": "/nonexistent/company.pem"}}),
        )
        .await;
    let end = editor.refactor(1).await;
    assert!(
        end.contains("/nonexistent/company.pem") && end.contains("`caFile` setting"),
        "{end}"
    );
}

/// A streamed answer slow enough that eight actions overlap.
fn slow_answer() -> Reply {
    let text = format!("Here:\n```rust\n{NEW_LINE}```\n");
    let pieces: Vec<String> = text.chars().map(String::from).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    Reply::text_with_delay(&refs, 40)
}

#[tokio::test]
async fn a_cold_burst_over_http2_shares_one_connection_and_cancel_resets_only_its_stream() {
    let tls = tls_upstream(true, slow_answer()).await;
    let editor = editor(
        &[
            ("CHATLS_BASE_URL", tls.front.base_url("127.0.0.1")),
            ("CHATLS_CA_FILE", path_text(&tls.pki.ca_file())),
        ],
        Value::Null,
        8,
    )
    .await;
    let mut tokens = Vec::new();
    for uri in &editor.uris {
        let token = editor
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": uri, "range": range(2, 0, 3, 0)}),
            )
            .await;
        tokens.push(token);
    }
    // Every request is on its way, then the first document's action is cancelled.
    tls.fake.wait_for_requests(8, Duration::from_secs(20)).await;
    editor
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.cancel", "arguments": [{"uri": editor.uris[0]}]}),
        )
        .await;
    let mut ends = Vec::new();
    for token in &tokens {
        ends.push(editor.client.wait_progress_end(token).await);
    }
    assert!(ends[0].contains("cancelled"), "{}", ends[0]);
    assert_eq!(editor.text(0), CODE);
    for (index, end) in ends.iter().enumerate().skip(1) {
        assert!(end.starts_with("applied"), "document {index}: {end}");
        assert_eq!(editor.text(index), refactored(), "document {index}");
    }
    assert_eq!(tls.front.requests(), 8);
    assert_eq!(
        tls.front.connections(),
        1,
        "eight concurrent actions from a cold start share one connection"
    );
    assert_eq!(tls.front.http2_connections(), 1);
    assert!(
        tls.fake.wait_for_abort(Duration::from_secs(10)).await,
        "the cancelled stream was reset at the upstream"
    );
    assert_eq!(tls.fake.aborted_streams(), 1, "only the cancelled stream");
}

#[tokio::test]
async fn the_proxy_setting_beats_the_environment() {
    let tls = tls_upstream(false, answer_with(NEW_LINE)).await;
    let chosen = ConnectProxy::start(None).await.unwrap();
    let environment = ConnectProxy::start(None).await.unwrap();
    let editor = editor(
        &[
            ("CHATLS_BASE_URL", tls.front.base_url(HOST)),
            ("CHATLS_API_KEY", "sk-proxy-test-key".to_owned()),
            ("CHATLS_CA_FILE", path_text(&tls.pki.ca_file())),
            ("HTTPS_PROXY", environment.url()),
        ],
        json!({"proxy": chosen.url()}),
        2,
    )
    .await;
    let end = editor.refactor(0).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(chosen.tunnels(), 1);
    assert_eq!(environment.connections(), 0);

    // Without the setting, the environment's proxy is used.
    editor
        .client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"chatls": {"proxy": ""}}}),
        )
        .await;
    let end = editor.refactor(1).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(environment.tunnels(), 1);
    assert_eq!(chosen.tunnels(), 1);
}

#[tokio::test]
async fn none_and_a_loopback_base_url_bypass_the_environments_proxy() {
    let tls = tls_upstream(false, answer_with(NEW_LINE)).await;
    let plain = FakeUpstream::start(Vec::new()).await.unwrap();
    plain.set_default(answer_with(NEW_LINE));
    let proxy = ConnectProxy::start(None).await.unwrap();
    // 0.0.0.0 reaches this machine but is not a loopback name: the proxy applies to it.
    let editor = editor(
        &[
            (
                "CHATLS_BASE_URL",
                format!("https://0.0.0.0:{}/v1", tls.front.port()),
            ),
            ("CHATLS_API_KEY", "sk-proxy-test-key".to_owned()),
            ("CHATLS_CA_FILE", path_text(&tls.pki.ca_file())),
            ("HTTPS_PROXY", proxy.url()),
            ("HTTP_PROXY", proxy.url()),
            ("ALL_PROXY", proxy.url()),
        ],
        Value::Null,
        3,
    )
    .await;
    let end = editor.refactor(0).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(proxy.tunnels(), 1, "the environment's proxy carried it");

    editor
        .client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"proxy": "none"}}),
        )
        .await;
    let end = editor.refactor(1).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(proxy.connections(), 1, "\"none\" connects directly");

    editor
        .client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"proxy": proxy.url(), "baseUrl": plain.base_url()}}),
        )
        .await;
    let end = editor.refactor(2).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(plain.requests().len(), 1);
    assert_eq!(
        proxy.connections(),
        1,
        "a loopback baseUrl never goes through a proxy"
    );
}

#[tokio::test]
async fn a_proxy_asking_for_credentials_and_an_unreachable_proxy_say_so() {
    let tls = tls_upstream(false, answer_with(NEW_LINE)).await;
    let proxy = ConnectProxy::start(Some(("alice", "right-pw-canary")))
        .await
        .unwrap();
    let wrong = format!("http://alice:wrong-pw-canary@127.0.0.1:{}", proxy.port());
    let editor = editor(
        &[
            ("CHATLS_BASE_URL", tls.front.base_url(HOST)),
            ("CHATLS_API_KEY", "sk-proxy-test-key".to_owned()),
            ("CHATLS_CA_FILE", path_text(&tls.pki.ca_file())),
        ],
        json!({"proxy": wrong}),
        2,
    )
    .await;
    let end = editor.refactor(0).await;
    assert!(
        end.contains("407")
            && end.contains("proxy http://127.0.0.1:")
            && end.contains("`proxy` setting"),
        "{end}"
    );
    assert_eq!(editor.text(0), CODE);
    assert_eq!(proxy.refused(), 1);

    // The right credentials get through.
    let right = format!("http://alice:right-pw-canary@127.0.0.1:{}", proxy.port());
    editor
        .client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"proxy": right}}),
        )
        .await;
    let end = editor.refactor(1).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(proxy.tunnels(), 1);

    // A proxy nobody listens on, named by the environment.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let unreachable = self::editor(
        &[
            ("CHATLS_BASE_URL", tls.front.base_url(HOST)),
            ("CHATLS_API_KEY", "sk-proxy-test-key".to_owned()),
            ("HTTPS_PROXY", dead.clone()),
        ],
        Value::Null,
        1,
    )
    .await;
    let end = unreachable.refactor(0).await;
    assert!(
        end.contains(&format!("could not reach the proxy {dead}"))
            && end.contains("named by HTTPS_PROXY"),
        "{end}"
    );

    for seen in [editor.everything(), unreachable.everything()] {
        for secret in ["right-pw-canary", "wrong-pw-canary", "sk-proxy-test-key"] {
            assert!(!seen.contains(secret), "{secret} leaked");
        }
    }
}

/// An answer whose usage chunk reports `prompt`, optionally `cached`, and `completion`.
fn answer_with_usage(prompt: u64, cached: Option<u64>, completion: u64) -> Reply {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": "c", "object": "chat.completion.chunk", "model": "fake-model",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if let Some(cached) = cached {
        usage["prompt_tokens_details"] = json!({"cached_tokens": cached});
    }
    Reply::sse(vec![
        Step::Data(chunk(json!({"role": "assistant", "content": ""}), None)),
        Step::Data(chunk(
            json!({"content": format!("```rust\n{NEW_LINE}```\n")}),
            None,
        )),
        Step::Data(chunk(json!({}), Some("stop"))),
        Step::Data(
            json!({"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": usage}),
        ),
        Step::Done,
    ])
}

#[tokio::test]
async fn usage_is_in_the_progress_end_and_in_chatls_usage() {
    let fake = FakeUpstream::start(vec![
        answer_with_usage(1200, Some(1000), 34),
        answer_with_usage(50, None, 5),
    ])
    .await
    .unwrap();
    let editor = editor(
        &[
            ("CHATLS_BASE_URL", fake.base_url()),
            ("CHATLS_LOG", "chatls=info".to_owned()),
        ],
        Value::Null,
        2,
    )
    .await;
    let end = editor.refactor(0).await;
    assert_eq!(
        end,
        "applied 1 edit (1,200 prompt (1,000 cached) + 34 completion tokens)"
    );
    let end = editor.refactor(1).await;
    assert_eq!(end, "applied 1 edit (50 prompt + 5 completion tokens)");

    let report = editor
        .client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.usage", "arguments": []}),
        )
        .await;
    let report = &report["result"];
    let actions = &report["byModel"]["test-model"]["actions"];
    assert_eq!(actions["requests"], 2, "{report}");
    assert_eq!(actions["promptTokens"], 1250);
    assert_eq!(actions["cachedTokens"], 1000);
    assert_eq!(actions["completionTokens"], 39);
    assert_eq!(report["byKind"]["completions"]["requests"], 0);
    assert_eq!(report["total"]["promptTokens"], 1250);
    // stderr is complete once the process is gone.
    editor.client.shutdown_and_exit().await;
    editor.client.wait_exit(Duration::from_secs(5)).await;
    assert!(
        editor
            .client
            .stderr
            .lock()
            .unwrap()
            .contains("cached_tokens=1000"),
        "each request's usage is logged at info"
    );
}

#[tokio::test]
async fn the_cli_summary_line_has_cached_tokens() {
    let fake = FakeUpstream::start(vec![answer_with_usage(300, Some(256), 12)])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("total.rs");
    std::fs::write(&file, CODE).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"))
        .args(["ask", "explain", &format!("{}:3-3", file.display())])
        .env_remove("CHATLS_API_KEY")
        .env("CHATLS_BASE_URL", fake.base_url())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "chatls: done (300 prompt (256 cached) + 12 completion tokens, 0 tool rounds)"
        ),
        "{stderr}"
    );
}

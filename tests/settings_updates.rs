//! Settings at start and at runtime, through the built binary over stdio against the fake
//! upstream: `initializationOptions` hold until the first runtime update, which then replaces
//! them whole (a key left out or `null` goes back to the environment or the default), in
//! every form a client sends — `{"chatls": {...}}`, bare, nested, dotted, `null` — and the
//! payloads that carry no chatls settings change nothing. Each row asserts what the upstream
//! receives: model, temperature, max tokens, tools and the `Authorization` header.

mod support;

use chatls_fake_upstream::{RecordedRequest, Reply};
use serde_json::{Value, json};

use support::fixture::{Fixture, Session};
use support::{capabilities, range};

const INIT_KEY: &str = "sk-init-key-41f0";
const ENV_KEY: &str = "sk-env-key-93ab";
const CODE: &str = "def add(a, b):\n    return a + b\n";

/// What the VS Code extension (and any editor) starts the server with: a model, sampling
/// settings, a key, tools off.
fn init_options() -> Value {
    json!({
        "model": "init-model",
        "temperature": 0.7,
        "maxTokens": 100,
        "apiKey": INIT_KEY,
        "tools": {"enabled": false},
    })
}

/// What one request carried.
#[derive(Debug, PartialEq)]
struct Sent {
    model: String,
    temperature: Option<f64>,
    max_tokens: Option<u64>,
    tools: bool,
    bearer: Option<String>,
}

impl Sent {
    fn of(request: &RecordedRequest) -> Sent {
        Sent {
            model: request.body["model"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            temperature: request.body.get("temperature").and_then(Value::as_f64),
            max_tokens: request.body.get("max_tokens").and_then(Value::as_u64),
            tools: request.body.get("tools").is_some(),
            bearer: request
                .header("authorization")
                .map(|value| value.trim_start_matches("Bearer ").to_owned()),
        }
    }
}

fn as_started() -> Sent {
    Sent {
        model: "init-model".into(),
        temperature: Some(0.7),
        max_tokens: Some(100),
        tools: false,
        bearer: Some(INIT_KEY.into()),
    }
}

/// Everything back to the environment (`CHATLS_MODEL`, `CHATLS_API_KEY`) and the defaults.
fn from_environment() -> Sent {
    Sent {
        model: "env-model".into(),
        temperature: None,
        max_tokens: None,
        tools: true,
        bearer: Some(ENV_KEY.into()),
    }
}

type Server = Session;

/// The binary with `CHATLS_MODEL=env-model` (and `CHATLS_API_KEY` when `env_key`), started
/// with `options` as `initializationOptions`; `pull` advertises `workspace/configuration`.
async fn start(options: Value, env_key: bool, pull: bool) -> Server {
    let mut caps = capabilities(&["utf-16"], true);
    caps["workspace"]["configuration"] = json!(pull);
    Fixture::new()
        .binary(&[], &[("CHATLS_MODEL", "env-model".to_owned())])
        .key(env_key.then_some(ENV_KEY))
        .capabilities(caps)
        .settings(options)
        .file("add.py", CODE)
        .open("add.py")
        .default_reply(Reply::text(&["An ", "answer."]))
        .start()
        .await
}

impl Server {
    async fn update(&self, settings: Value) {
        self.client
            .notify(
                "workspace/didChangeConfiguration",
                json!({ "settings": settings }),
            )
            .await;
    }

    /// Runs an explain and returns what its upstream request carried.
    async fn explain(&self) -> Sent {
        let before = self.fake.requests().len();
        let token = self.start_action("chatls.explain", range(0, 0, 1, 0)).await;
        let end = self.client.wait_progress_end(&token).await;
        let requests = self.fake.requests();
        assert_eq!(
            requests.len(),
            before + 1,
            "one request per explain ({end})"
        );
        Sent::of(&requests[before])
    }
}

struct Row {
    name: &'static str,
    /// `settings` of each `didChangeConfiguration`, in order.
    updates: Vec<Value>,
    expect: Sent,
}

fn rows() -> Vec<Row> {
    let row = |name, updates, expect| Row {
        name,
        updates,
        expect,
    };
    vec![
        row("no update: the start settings hold", vec![], as_started()),
        row(
            "an empty chatls section clears everything",
            vec![json!({"chatls": {}})],
            from_environment(),
        ),
        row(
            "a null chatls section clears everything",
            vec![json!({"chatls": null})],
            from_environment(),
        ),
        row(
            "explicit nulls clear each key",
            vec![json!({"chatls": {
                "model": null, "temperature": null, "maxTokens": null,
                "apiKey": null, "tools": {"enabled": null},
            }})],
            from_environment(),
        ),
        row(
            "an empty apiKey falls back to the environment's key",
            vec![
                json!({"chatls": {"model": "init-model", "temperature": 0.7, "maxTokens": 100, "apiKey": "", "tools.enabled": false}}),
            ],
            Sent {
                bearer: Some(ENV_KEY.into()),
                ..as_started()
            },
        ),
        row(
            "the extension's update with the key and the model left out",
            vec![
                json!({"chatls": {"temperature": 0.2, "stream": true, "tools": {"enabled": false, "maxRounds": 8}}}),
            ],
            Sent {
                model: "env-model".into(),
                temperature: Some(0.2),
                max_tokens: None,
                tools: false,
                bearer: Some(ENV_KEY.into()),
            },
        ),
        row(
            "a bare object is a whole update",
            vec![json!({"model": "bare-model"})],
            Sent {
                model: "bare-model".into(),
                ..from_environment()
            },
        ),
        row(
            "dotted keys are a whole update",
            vec![json!({"chatls": {"tools.enabled": false, "maxTokens": 7}})],
            Sent {
                max_tokens: Some(7),
                tools: false,
                ..from_environment()
            },
        ),
        row(
            "a later update replaces an earlier one, it does not merge",
            vec![
                json!({"chatls": {"temperature": 0.3, "apiKey": "sk-first-update"}}),
                json!({"chatls": {"model": "second"}}),
            ],
            Sent {
                model: "second".into(),
                ..from_environment()
            },
        ),
        row(
            "a bare empty object says nothing (Eglot sends it)",
            vec![json!({})],
            as_started(),
        ),
        row("null settings say nothing", vec![Value::Null], as_started()),
        row(
            "settings for other servers only say nothing",
            vec![json!({"pylsp": {"plugins": {"ruff": {"enabled": true}}}})],
            as_started(),
        ),
        row(
            "an invalid update keeps the start settings",
            vec![json!({"chatls": {"model": "bad-update", "temperature": 9}})],
            as_started(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_update_replaces_the_start_settings_whole_in_every_form() {
    for row in rows() {
        let server = start(init_options(), true, false).await;
        for update in &row.updates {
            server.update(update.clone()).await;
        }
        let sent = server.explain().await;
        assert_eq!(sent, row.expect, "{}", row.name);
        if row.name.starts_with("an invalid update") {
            let shown = server.client.shown_messages();
            assert!(
                shown
                    .iter()
                    .any(|message| message.contains("`temperature`")),
                "{}: {shown:?}",
                row.name
            );
        }
        server.client.shutdown_and_exit().await;
        println!("settings row ok: {}", row.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_the_key_without_one_in_the_environment_stops_sending_the_old_key() {
    let server = start(init_options(), false, false).await;
    assert_eq!(server.explain().await.bearer.as_deref(), Some(INIT_KEY));
    // "Set API Key" with nothing typed: the extension leaves `apiKey` out of its update.
    server
        .update(json!({"chatls": {"model": "init-model"}}))
        .await;
    let sent = server.explain().await;
    assert_eq!(sent.model, "init-model");
    assert_eq!(
        sent.bearer, None,
        "the old key must not be sent after it was cleared"
    );
    server.client.shutdown_and_exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_push_pulls_and_the_pulled_section_replaces_the_start_settings() {
    let server = start(init_options(), true, true).await;
    // The client answers `workspace/configuration` with no chatls settings at start (Neovim
    // with only `init_options`): the start settings stay.
    assert_eq!(server.explain().await, as_started());

    server
        .client
        .set_configuration(json!({"model": "pulled-model"}));
    server.update(json!({})).await;
    // The pull is a request to the client and its answer comes back later: poll, bounded.
    let mut sent = server.explain().await;
    for _ in 0..20 {
        if sent.model == "pulled-model" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        sent = server.explain().await;
    }
    assert_eq!(
        sent,
        Sent {
            model: "pulled-model".into(),
            ..from_environment()
        }
    );
    server.client.shutdown_and_exit().await;
}

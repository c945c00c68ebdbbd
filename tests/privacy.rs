//! What must stay private, attacked through the real server and the fake upstream (issue 19,
//! items 7–10): unsaved documents that name a secret's path, nested workspace folders that
//! would lift the deny rules, paths spelled through folders that do not exist, links to
//! secrets explained on purpose, and proxy credentials a proxy echoes in an error body.
//! Every check is on what the upstream received, or on everything the person and the log
//! file were shown.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::{Client, file_uri, range, workspace};

const KEY: &str = "sk-privacy-canary-77aa";
/// The text of every file that must not be sent.
const SECRET: &str = "TOKEN = \"canary-private-4242\"\n";
const CANARY: &str = "canary-private-4242";
const CODE: &str = "def main():\n    run()\n";

fn inline(uri: &str) -> Value {
    json!({
        "textDocument": {"uri": uri},
        "position": {"line": 1, "character": 4},
        "context": {"triggerKind": 2},
    })
}

/// VS Code with the chatls extension over these workspace folders (the first is also the
/// root URI).
async fn start(folders: &[&Path], options: Value) -> Session {
    let folders: Vec<PathBuf> = folders.iter().map(|folder| folder.to_path_buf()).collect();
    Fixture::new()
        .client(Editor::VsCode)
        .key(Some(KEY))
        .folders(&folders)
        .settings(options)
        .start()
        .await
}

/// Opens `uri` with `text` and asks for a completion; the suggestion's text, if any.
async fn complete(client: &Client, uri: &str, text: &str) -> Option<String> {
    client.open(uri, "python", text).await;
    let response = client
        .request("textDocument/inlineCompletion", inline(uri))
        .await;
    assert!(response.get("error").is_none(), "{uri}: {response}");
    response["result"][0]["insertText"]
        .as_str()
        .map(str::to_owned)
}

/// Runs Explain on an open document: `Ok(progress end)` when it started, `Err(error)` when
/// the server refused to start it.
async fn explain(client: &Client, uri: &str) -> Result<String, String> {
    let response = client
        .request(
            "workspace/executeCommand",
            json!({"command": "chatls.explain", "arguments": [{"uri": uri, "range": range(0, 0, 2, 0)}]}),
        )
        .await;
    if let Some(error) = response.get("error") {
        return Err(error["message"].as_str().unwrap_or_default().to_owned());
    }
    let token = response["result"]["token"].as_str().unwrap().to_owned();
    Ok(client.wait_progress_end(&token).await)
}

/// Every byte the upstream received, for the canary scan.
fn sent(fake: &FakeUpstream) -> String {
    fake.requests()
        .iter()
        .map(|request| request.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Item 7: an unsaved document that names the path it will be saved to is judged by that
/// path, like a file: `.env`, `.git/config`, a denied folder, outside the workspace, spelled
/// with percent escapes, `..`, trailing dots and other letter cases. An unsaved buffer with
/// only a name, or with a harmless path, is still completed.
#[tokio::test]
async fn unsaved_documents_that_name_a_secret_path_are_not_sent() {
    let dir = workspace(&[("src/app.py", CODE)]);
    let outside = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    let ws_text = ws.display().to_string();
    let s = start(
        &[&ws],
        json!({"completion": {"debounceMs": 0}, "tools": {"deny": ["private/**"]}}),
    )
    .await;
    let (client, fake) = (&s.client, &s.fake);
    fake.set_default(Reply::text(&["LEAKED()\n"]));

    let refused = [
        format!("untitled:{ws_text}/.env"),
        format!("untitled:{ws_text}/sub/.git/config"),
        format!("untitled:{ws_text}/%2Eenv"),
        format!("untitled:{ws_text}/src/%2e%2e/.ENV"),
        format!("untitled:{ws_text}/deploy/server.pem."),
        format!("untitled:{ws_text}/private/notes.py"),
        format!("untitled:{ws_text}/nothere/../../elsewhere/secret.py"),
        format!("untitled:{}/secret.py", outside.path().display()),
        "untitled:.env".to_owned(),
        "untitled:keys/id_rsa".to_owned(),
    ];
    for uri in &refused {
        assert_eq!(complete(client, uri, SECRET).await, None, "{uri}");
    }
    assert_eq!(fake.requests().len(), 0, "sent: {}", sent(fake));

    // Explain, chosen by the person, is refused too, saying why.
    let error = explain(client, &refused[0]).await.unwrap_err();
    assert!(error.contains("may contain secrets"), "{error}");
    let error = explain(client, &refused[5]).await.unwrap_err();
    assert!(error.contains("deny pattern `private/**`"), "{error}");
    assert_eq!(fake.requests().len(), 0, "sent: {}", sent(fake));
    assert!(
        client
            .shown_messages()
            .iter()
            .any(|message| message.contains("not started")
                && message.contains("may contain secrets")),
        "{:?}",
        client.shown_messages()
    );

    // Not vacuous: a nameless unsaved buffer and one with a harmless path are completed.
    for uri in [
        "untitled:Untitled-1".to_owned(),
        format!("untitled:{ws_text}/src/new.py"),
    ] {
        assert_eq!(
            complete(client, &uri, CODE).await.as_deref(),
            Some("LEAKED()"),
            "{uri}"
        );
    }
    assert!(!sent(fake).contains(CANARY), "{}", sent(fake));
}

/// Item 8: workspace folders nested in another (`ws/private`, `ws/credentials`) do not lift
/// the outer folder's rules: completion, Explain and the tools refuse what `[ws]` alone
/// refuses.
#[tokio::test]
async fn nested_workspace_folders_keep_the_outer_deny_rules() {
    let dir = workspace(&[
        ("src/main.py", CODE),
        ("private/notes.py", SECRET),
        ("credentials/gcp.py", SECRET),
    ]);
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    let s = start(
        &[&ws, &ws.join("private"), &ws.join("credentials")],
        json!({"completion": {"debounceMs": 0}, "tools": {"deny": ["private/**"]}}),
    )
    .await;
    let (client, fake) = (&s.client, &s.fake);
    fake.set_default(Reply::text(&["LEAKED()\n"]));
    for name in ["private/notes.py", "credentials/gcp.py"] {
        let uri = file_uri(&ws.join(name));
        assert_eq!(complete(client, &uri, SECRET).await, None, "{name}");
        let error = explain(client, &uri).await.unwrap_err();
        assert!(error.contains("refused"), "{error}");
    }
    assert_eq!(fake.requests().len(), 0, "sent: {}", sent(fake));

    // The model asks for them by every name the roots give them.
    let calls: Vec<(String, String)> = [
        "private/notes.py",
        "notes.py",
        "credentials/gcp.py",
        "gcp.py",
        ws.join("private/notes.py").to_str().unwrap(),
        ws.join("credentials/gcp.py").to_str().unwrap(),
    ]
    .iter()
    .enumerate()
    .map(|(index, path)| (format!("call_{index}"), json!({"path": path}).to_string()))
    .collect();
    let mut tool_calls: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|(id, arguments)| (id.as_str(), "read_file", arguments.as_str()))
        .collect();
    tool_calls.push(("call_list", "list_files", "{}"));
    tool_calls.push(("call_list_private", "list_files", r#"{"path": "private"}"#));
    tool_calls.push((
        "call_search",
        "search_workspace",
        r#"{"pattern": "canary"}"#,
    ));
    fake.push(Reply::tool_calls(&tool_calls, 8));
    fake.push(Reply::text(&["It runs."]));
    let main = file_uri(&ws.join("src/main.py"));
    client.open(&main, "python", CODE).await;
    let end = explain(client, &main).await.unwrap();
    assert!(!end.contains("failed"), "{end}");
    let results = tool_results(fake);
    assert_eq!(results.len(), tool_calls.len(), "{results:?}");
    for (id, result) in &results {
        assert!(!result.contains(CANARY), "{id}: {result}");
        if id.starts_with("call_list") || id == "call_search" {
            assert!(
                !result.contains("gcp.py") && !result.contains("notes.py"),
                "{id} showed a denied file: {result}"
            );
        } else {
            assert!(result.contains("refused"), "{id}: {result}");
        }
    }
    assert!(
        results
            .iter()
            .any(|(id, result)| id == "call_list" && result.contains("main.py")),
        "the listing worked: {results:?}"
    );
    assert!(!sent(fake).contains(CANARY));
}

/// The tool results the upstream received, first of each call id.
fn tool_results(fake: &FakeUpstream) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    fake.requests()
        .iter()
        .flat_map(|request| {
            request.body["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|message| message["role"] == "tool")
        .map(|message| {
            (
                message["tool_call_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                message["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(id, _)| seen.insert(id.clone()))
        .collect()
}

/// Item 10 (server side): a path spelled through a folder that does not exist is judged
/// where it really leads, and Explain refuses a secret, also through a link or a trailing
/// dot, as the tools do.
#[tokio::test]
async fn paths_are_judged_where_they_lead() {
    let base = tempfile::tempdir().unwrap();
    let base_path = std::fs::canonicalize(base.path()).unwrap();
    let ws = base_path.join("ws");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::create_dir_all(base_path.join("outside")).unwrap();
    std::fs::write(base_path.join("outside/secret.py"), SECRET).unwrap();
    std::fs::write(ws.join(".env"), SECRET).unwrap();
    std::fs::write(ws.join("src/main.py"), CODE).unwrap();
    std::os::unix::fs::symlink(ws.join(".env"), ws.join("notes.py")).unwrap();
    // A root reached through a link: judged by where it leads too.
    std::os::unix::fs::symlink(&ws, base_path.join("ws-link")).unwrap();
    let s = start(
        &[&base_path.join("ws-link")],
        json!({"completion": {"debounceMs": 0}}),
    )
    .await;
    let (client, fake) = (&s.client, &s.fake);
    fake.set_default(Reply::text(&["LEAKED()\n"]));

    let ws_text = ws.display().to_string();
    // Outside the workspace: completion does not send them (an action the person chooses
    // may: they explain library files they opened).
    for uri in [
        format!("file://{ws_text}/nothere/../../outside/secret.py"),
        format!("file://{ws_text}/nothere/..%2F..%2Foutside/secret.py"),
        format!("file://{ws_text}/nothere/%2e%2e/%2E%2E/outside/secret.py"),
        format!(
            "file://{}/ws-link/nothere/../../outside/secret.py",
            base_path.display()
        ),
    ] {
        assert_eq!(complete(client, &uri, SECRET).await, None, "{uri}");
    }
    // Secrets: neither completion nor Explain sends them.
    for uri in [
        format!("file://{}/ws-link/nothere/../.env", base_path.display()),
        format!(
            "file://{}/ws-link/nothere/%2e%2e/%2eenv",
            base_path.display()
        ),
        format!("file://{ws_text}/.ENV."),
        format!("file://{ws_text}/notes.py"),
        format!("file://{}/ws-link/notes.py", base_path.display()),
    ] {
        assert_eq!(complete(client, &uri, SECRET).await, None, "{uri}");
        let error = explain(client, &uri).await;
        assert!(
            error.as_ref().is_err_and(|error| error.contains("refused")),
            "{uri}: {error:?}"
        );
    }
    assert_eq!(fake.requests().len(), 0, "sent: {}", sent(fake));
    // Not vacuous: the file beside them is completed, through the linked root as well.
    let main = format!("file://{}/ws-link/src/main.py", base_path.display());
    assert_eq!(
        complete(client, &main, CODE).await.as_deref(),
        Some("LEAKED()")
    );
    assert!(!sent(fake).contains(CANARY));
}

/// Item 9: a proxy that answers 502 with a body holding its user name, its password and the
/// `Proxy-Authorization` header it received: none of the three reaches a message, a
/// progress line, stderr or the log file, whatever the log level; the key neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_in_an_error_body_are_redacted_everywhere() {
    use base64::Engine as _;
    const USER: &str = "proxyuser-canary-19";
    const PASSWORD: &str = "proxy-pw-canary-9b";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    // The fake stands in for a plain-HTTP forward proxy: it gets the absolute-form request
    // for upstream.test and answers it itself.
    let body = json!({"error": {"message": format!(
        "bad gateway for {USER} (password {PASSWORD}); Proxy-Authorization: Basic {basic}; authorization: Bearer {KEY}; via http://{USER}:{PASSWORD}@proxy.corp:3128"
    )}})
    .to_string();
    let logs = tempfile::tempdir().unwrap();
    let log_file = logs.path().join("chatls.log");
    let s = Fixture::new()
        .key(Some(KEY))
        .binary(
            &["--log-file", &log_file.display().to_string()],
            &[
                ("CHATLS_BASE_URL", "http://upstream.test/v1".to_owned()),
                ("CHATLS_RETRY_BASE_MS", "5".to_owned()),
                ("CHATLS_LOG", "trace".to_owned()),
            ],
        )
        .settings_with(
            |fake| json!({"proxy": format!("http://{USER}:{PASSWORD}@127.0.0.1:{}", fake.port())}),
        )
        .file("src/app.py", CODE)
        .open("src/app.py")
        .default_reply(Reply::status(502, &body))
        .start()
        .await;
    let (client, uri, fake) = (&s.client, &s.uri, &s.fake);
    let end = explain(client, uri).await.unwrap();
    assert!(end.contains("502"), "{end}");
    assert!(
        end.contains("<redacted>"),
        "the body was shown, redacted: {end}"
    );
    let requests = fake.requests();
    assert!(!requests.is_empty());
    assert_eq!(
        requests[0].header("proxy-authorization"),
        Some(format!("Basic {basic}").as_str()),
        "the request went through the proxy with its credentials"
    );
    client
        .wait_until("the failure is shown", |client| {
            !client.shown_messages().is_empty()
        })
        .await;
    client.shutdown_and_exit().await;
    client.wait_exit(Duration::from_secs(5)).await;
    let seen = format!(
        "{}\n{}\n{}",
        client.transcript(),
        client.stderr_to_end().await,
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    assert!(
        seen.contains("upstream error status"),
        "the scan saw the debug log"
    );
    for secret in [USER, PASSWORD, basic.trim_end_matches('='), KEY] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}

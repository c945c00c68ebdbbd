//! The command lines editors start the server with, run as the built binary: every LSP
//! client may append `--stdio` (vscode-languageclient always does for its stdio transport)
//! and some pass `--clientProcessId N` or `--clientProcessId=N`; the server must answer
//! `initialize` after any of them. Anything else is a usage error that names the argument,
//! never a silent exit.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use support::Client;

/// Starts the binary with `args`, runs `initialize`, and checks it is a live language server.
async fn serves_with(args: &[&str]) {
    let client = Client::binary_with_args(args, &[]);
    let response = tokio::time::timeout(
        Duration::from_secs(30),
        client.initialize(json!({}), json!({}), None),
    )
    .await
    .unwrap_or_else(|_| panic!("no initialize answer with {args:?}"));
    assert!(
        response["result"]["capabilities"]["executeCommandProvider"]["commands"]
            .as_array()
            .is_some_and(|commands| commands.iter().any(|command| command == "chatls.refactor")),
        "chatls {args:?} answered initialize with {response}"
    );
    let shutdown = client.request("shutdown", json!(null)).await;
    assert_eq!(shutdown["result"], json!(null), "{shutdown}");
}

#[tokio::test]
async fn stdio_as_vscode_languageclient_passes_it() {
    serves_with(&["--stdio"]).await;
}

#[tokio::test]
async fn serve_subcommand_with_stdio() {
    serves_with(&["serve", "--stdio"]).await;
}

#[tokio::test]
async fn client_process_id_as_separate_and_joined_value() {
    serves_with(&["--stdio", "--clientProcessId", "4242"]).await;
    serves_with(&["--clientProcessId=4242", "--stdio"]).await;
    serves_with(&["serve", "--clientProcessId=4242"]).await;
}

#[tokio::test]
async fn no_arguments_still_serves() {
    serves_with(&[]).await;
}

/// Runs the binary with `args` and stdin closed; exit code and stderr.
async fn rejected(args: &[&str]) -> (Option<i32>, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_chatls"))
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chatls exits")
    .expect("chatls runs");
    assert!(
        output.stdout.is_empty(),
        "stdout carries only JSON-RPC, got {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn unknown_arguments_get_a_usage_error_naming_them() {
    for (args, named) in [
        (&["--bogus"][..], "--bogus"),
        (&["--stdio", "--pipe=/tmp/x"][..], "--pipe"),
        (&["--socket=9000"][..], "--socket"),
        (&["serve", "--node-ipc"][..], "--node-ipc"),
    ] {
        let (code, stderr) = rejected(args).await;
        assert_eq!(code, Some(2), "chatls {args:?}: {stderr}");
        assert!(stderr.contains(named), "chatls {args:?}: {stderr}");
        assert!(stderr.contains("Usage:"), "chatls {args:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_process_id_that_is_not_a_number_is_named() {
    let (code, stderr) = rejected(&["--clientProcessId=abc"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--clientProcessId") && stderr.contains("abc"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_flags_do_not_combine_with_ask() {
    let (code, stderr) = rejected(&["--stdio", "ask", "explain", "x.py"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--stdio"), "{stderr}");
    // The global --log-file still goes in front of `ask`: it reaches the file check.
    let (code, stderr) =
        rejected(&["--log-file", "/dev/null", "ask", "explain", "/no/such.py"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot open /no/such.py"), "{stderr}");
}

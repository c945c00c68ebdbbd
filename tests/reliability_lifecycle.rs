//! The binary's lifecycle with an action streaming from a stalled upstream: `exit` after
//! `shutdown`, `exit` without it, and the end of stdin each end the process (5 s bound in the
//! assertion, the measured figure printed), the upstream connection is closed (the fake sees
//! the client go away), and no child process is left behind.

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use std::time::{Duration, Instant};

use chatls::config::UpstreamTuning;
use chatls_fake_upstream::{Reply, Step};
use serde_json::{Value, json};

use common::{Transport, loop_range, start};

#[derive(Clone, Copy, Debug)]
enum Ending {
    ShutdownThenExit,
    ExitWithoutShutdown,
    EndOfInput,
}

/// Pids of the live processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            std::fs::read_to_string(format!("/proc/{candidate}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid ...": comm may hold spaces, so cut after ')'.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat
                .rfind(')')
                .and_then(|at| stat[at + 1..].split_whitespace().next().map(str::to_owned));
            state.as_deref() != Some("Z")
        })
        .unwrap_or(false)
}

async fn end_case(ending: Ending) -> (Duration, i32) {
    let logs = tempfile::tempdir().unwrap();
    let transport = Transport::Binary {
        log: "info".into(),
        log_file: logs.path().join("chatls.log"),
    };
    let stalled = Reply::sse(vec![
        Step::Data(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "```rust\nlet half"}}]}),
        ),
        Step::Stall,
    ]);
    let server = start(&transport, vec![stalled], UpstreamTuning::default()).await;
    let client = &server.client;
    let pid = client.pid().expect("the binary runs");
    let token = client
        .run_action(
            "chatls.refactor",
            json!({"uri": server.uri, "range": loop_range()}),
        )
        .await;
    server
        .fake()
        .wait_for_requests(1, Duration::from_secs(10))
        .await;
    client
        .wait_until("the answer streaming", |client| {
            client.progress(&token).iter().any(|value| {
                value["message"]
                    .as_str()
                    .is_some_and(|message| message.contains("let half"))
            })
        })
        .await;
    let children = children_of(pid);
    assert_eq!(server.fake().aborted_streams(), 0);

    let started = Instant::now();
    match ending {
        Ending::ShutdownThenExit => {
            let response = client.request("shutdown", Value::Null).await;
            assert_eq!(response["result"], Value::Null, "{response}");
            client.notify("exit", Value::Null).await;
        }
        Ending::ExitWithoutShutdown => client.notify("exit", Value::Null).await,
        Ending::EndOfInput => client.close_input().await,
    }
    let (status, _) = client
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("{ending:?}: chatls still runs after 5 s"));
    let took = started.elapsed();
    assert!(
        status.code().is_some(),
        "{ending:?}: ended by a signal: {status}"
    );
    // The spec: exit code 0 after `shutdown`, 1 otherwise.
    let expected = if matches!(ending, Ending::ShutdownThenExit) {
        0
    } else {
        1
    };
    assert_eq!(status.code(), Some(expected), "{ending:?}: {status}");
    assert!(
        server.fake().wait_for_abort(Duration::from_secs(5)).await,
        "{ending:?}: the upstream connection was left open"
    );
    for child in children {
        assert!(
            !alive(child),
            "{ending:?}: child process {child} outlived chatls"
        );
    }
    assert!(!alive(pid), "{ending:?}: chatls is still alive");
    (took, status.code().unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_of_ending_stops_the_process_and_closes_the_upstream() {
    for ending in [
        Ending::ShutdownThenExit,
        Ending::ExitWithoutShutdown,
        Ending::EndOfInput,
    ] {
        let (took, code) = end_case(ending).await;
        println!(
            "lifecycle: {:<20} → process gone after {:.0} ms (exit code {code}), upstream connection closed, no child left",
            format!("{ending:?}"),
            took.as_secs_f64() * 1000.0
        );
    }
}

//! Completion while typing, measured: the real server (in-process over pipes, the tests'
//! client) against the fake upstream over real HTTP on loopback. Prints one table with the
//! targets and baselines measured in the same run. `cargo bench --bench completion`;
//! `CHATLS_BENCH_RUNS` sets the latency runs (default 200).

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chatls_fake_upstream::{FakeUpstream, Reply, Step};
use serde_json::{Value, json};

use common::{load_average, ms, percentile, runs};
use support::{Client, env, file_uri, workspace};

const KEY: &str = "sk-bench";

/// A 2,000-line Rust-like file.
fn big_file() -> String {
    (0..2000)
        .map(|n| format!("    let value_{n} = compute({n}, \"item {n}\");\n"))
        .collect::<String>()
}

fn inline_params(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}, "context": {"triggerKind": 2}})
}

struct Setup {
    fake: FakeUpstream,
    client: Client,
    _dir: tempfile::TempDir,
    _explain: tempfile::TempDir,
    uri: String,
}

async fn setup(text: &str, debounce_ms: u64) -> Setup {
    let fake = FakeUpstream::start(vec![]).await.expect("fake upstream");
    let dir = workspace(&[("src/main.rs", text)]);
    let explain = tempfile::tempdir().expect("tempdir");
    let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain.path()));
    client
        .initialize(
            json!({"general": {"positionEncodings": ["utf-16"]}, "textDocument": {"inlineCompletion": {}}}),
            json!({"completion": {"debounceMs": debounce_ms}}),
            Some(dir.path()),
        )
        .await;
    let uri = file_uri(&dir.path().join("src/main.rs"));
    client.open(&uri, "rust", text).await;
    Setup {
        fake,
        client,
        _dir: dir,
        _explain: explain,
        uri,
    }
}

struct Row {
    figure: String,
    value: String,
    target: String,
    baseline: String,
}

fn row(figure: &str, value: String, target: &str, baseline: String) -> Row {
    Row {
        figure: figure.to_owned(),
        value,
        target: target.to_owned(),
        baseline,
    }
}

/// Request → upstream request arrives, and upstream answered → response at the client.
async fn latency(rows: &mut Vec<Row>, runs: usize) {
    let text = big_file();
    let s = setup(&text, 0).await;
    s.fake.set_default(Reply::text(&["x();\n"]));
    let mut to_upstream = Vec::new();
    let mut to_client = Vec::new();
    let mut whole = Vec::new();
    for run in 0..runs {
        // A different place every time, so no answer comes from the typed-through cache.
        let line = (run % 1900) as u32 + 50;
        let before = s.fake.requests().len();
        let started = Instant::now();
        let (_, response) = s
            .client
            .start_request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, line, 4),
            )
            .await;
        s.fake
            .wait_for_requests(before + 1, Duration::from_secs(10))
            .await;
        let arrived = Instant::now();
        let response = response.await;
        let answered = Instant::now();
        assert_eq!(response["result"][0]["insertText"], "x();", "{response}");
        to_upstream.push(ms(arrived - started));
        to_client.push(ms(answered - arrived));
        whole.push(ms(answered - started));
    }
    // Same-run baselines: a request that does no work (completion disabled answers at once)
    // and a direct HTTP request to the fake from a pooled reqwest client.
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"completion": {"enabled": false}}}),
        )
        .await;
    let mut noop = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        s.client
            .request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, 10, 4),
            )
            .await;
        noop.push(ms(started.elapsed()));
    }
    let http = reqwest::Client::new();
    let mut direct = Vec::new();
    for _ in 0..runs {
        let before = s.fake.requests().len();
        let started = Instant::now();
        let send = http
            .post(format!("{}/chat/completions", s.fake.base_url()))
            .header("content-type", "application/json")
            .body(r#"{"model":"m","messages":[],"stream":true}"#)
            .send();
        let (response, _) = tokio::join!(
            send,
            s.fake
                .wait_for_requests(before + 1, Duration::from_secs(10))
        );
        direct.push(ms(started.elapsed()));
        if let Ok(response) = response {
            let _ = response.bytes().await;
        }
    }
    let noop_p50 = percentile(&noop, 50.0);
    let direct_p50 = percentile(&direct, 50.0);
    let p50 = percentile(&to_upstream, 50.0);
    rows.push(row(
        &format!("inlineCompletion → upstream request arrives, debounce 0 (p50 / p99 of {runs})"),
        format!("{p50:.3} / {:.3} ms", percentile(&to_upstream, 99.0)),
        "< 1 ms median",
        format!(
            "pooled reqwest POST → arrival {direct_p50:.3} ms (ratio {:.1}x); no-op request round trip {noop_p50:.3} ms",
            p50 / direct_p50
        ),
    ));
    let p50 = percentile(&to_client, 50.0);
    rows.push(row(
        &format!("upstream request arrives → response at the client, instant reply (p50 / p99 of {runs}; an upper bound of last byte → response)"),
        format!("{p50:.3} / {:.3} ms", percentile(&to_client, 99.0)),
        "< 1 ms median",
        format!("no-op request round trip {noop_p50:.3} ms (ratio {:.1}x)", p50 / noop_p50),
    ));
    rows.push(row(
        "whole completion, instant upstream (p50)",
        format!("{:.3} ms", percentile(&whole, 50.0)),
        "-",
        String::new(),
    ));
}

/// A request answered from the shown suggestion, against a no-op request.
async fn typed_through(rows: &mut Vec<Row>, runs: usize) {
    let text = "fn main() {\n    let v = \n}\n";
    let s = setup(text, 0).await;
    let long = "a".repeat(runs + 10);
    s.fake.set_default(Reply::text(&[&format!("{long};\n")]));
    s.client
        .request(
            "textDocument/inlineCompletion",
            inline_params(&s.uri, 1, 12),
        )
        .await;
    let mut samples = Vec::new();
    for typed in 1..=runs {
        let character = 12 + typed as u32;
        s.client
            .change(
                &s.uri,
                json!({"start": {"line": 1, "character": character - 1}, "end": {"line": 1, "character": character - 1}}),
                "a",
            )
            .await;
        let started = Instant::now();
        let response = s
            .client
            .request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, 1, character),
            )
            .await;
        samples.push(ms(started.elapsed()));
        assert!(
            response["result"][0]["insertText"].is_string(),
            "{response}"
        );
    }
    let upstream = s.fake.requests().len();
    s.client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"completion": {"enabled": false}}}),
        )
        .await;
    let mut noop = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        s.client
            .request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, 1, 12),
            )
            .await;
        noop.push(ms(started.elapsed()));
    }
    let p50 = percentile(&samples, 50.0);
    let noop_p50 = percentile(&noop, 50.0);
    rows.push(row(
        &format!("typed-through suggestion answered (p50 / p99 of {runs})"),
        format!(
            "{p50:.3} / {:.3} ms ({upstream} upstream request for all {runs})",
            percentile(&samples, 99.0)
        ),
        "< 0.3 ms median",
        format!(
            "no-op request round trip {noop_p50:.3} ms (ratio {:.2}x)",
            p50 / noop_p50
        ),
    ));
}

/// A newer request supersedes a streaming one: time until the fake sees its connection close.
async fn supersede(rows: &mut Vec<Row>, runs: usize) {
    let text = big_file();
    let s = setup(&text, 0).await;
    let mut samples = Vec::new();
    let mut answered = Vec::new();
    for run in 0..runs {
        s.fake.push(Reply::sse(vec![Step::Stall]));
        s.fake.push(Reply::text(&["y();\n"]));
        let line = (run % 1900) as u32 + 50;
        let before = s.fake.requests().len();
        let aborted = s.fake.aborted_streams();
        let (_, first) = s
            .client
            .start_request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, line, 4),
            )
            .await;
        s.fake
            .wait_for_requests(before + 1, Duration::from_secs(10))
            .await;
        let started = Instant::now();
        let (_, second) = s
            .client
            .start_request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, line, 5),
            )
            .await;
        let (closed, _) = tokio::join!(
            async {
                assert!(
                    s.fake
                        .wait_for_aborts(aborted + 1, Duration::from_secs(10))
                        .await
                );
                started.elapsed()
            },
            async {
                first.await;
                answered.push(ms(started.elapsed()));
            }
        );
        samples.push(ms(closed));
        second.await;
    }
    rows.push(row(
        &format!(
            "superseded request → its upstream connection closed at the fake (p50 / p99 of {runs})"
        ),
        format!(
            "{:.3} / {:.3} ms",
            percentile(&samples, 50.0),
            percentile(&samples, 99.0)
        ),
        "< 10 ms median",
        format!(
            "the superseded request answered (empty) after {:.3} ms p50",
            percentile(&answered, 50.0)
        ),
    ));
}

/// Typing 200 characters into a 2,000-line file as VS Code does (a request on every key,
/// keys 40 ms apart, a pause after each word), with the default debounce.
async fn typing(rows: &mut Vec<Row>) {
    let text = big_file();
    let s = setup(&text, 200).await;
    s.fake.set_default(Reply::text(&["unrelated();\n"]));
    let sentence = "let total = items.iter().map(|item| item.price * item.count).sum::<u64>(); ";
    let typed: String = sentence.chars().cycle().take(200).collect();
    let line = 1000u32;
    s.client
        .change(
            &s.uri,
            json!({"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}),
            "\n",
        )
        .await;
    let mut pending = Vec::new();
    for (index, c) in typed.chars().enumerate() {
        let character = index as u32;
        s.client
            .change(
                &s.uri,
                json!({"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}),
                &c.to_string(),
            )
            .await;
        let (_, response) = s
            .client
            .start_request(
                "textDocument/inlineCompletion",
                inline_params(&s.uri, line, character + 1),
            )
            .await;
        pending.push(response);
        let pause = if c == ' ' { 300 } else { 40 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    for response in pending {
        response.await;
    }
    let requests = s.fake.requests();
    let bodies: Vec<String> = requests
        .iter()
        .map(|request| request.body.to_string())
        .collect();
    let mut shares = Vec::new();
    for pair in bodies.windows(2) {
        let common = pair[0]
            .bytes()
            .zip(pair[1].bytes())
            .take_while(|(a, b)| a == b)
            .count();
        shares.push(100.0 * common as f64 / pair[1].len() as f64);
    }
    let sizes: Vec<f64> = requests
        .iter()
        .map(|request| {
            request.body["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .len() as f64
                + request.body["messages"][1]["content"]
                    .as_str()
                    .unwrap_or("")
                    .len() as f64
        })
        .collect();
    let bodies_len: Vec<f64> = bodies.iter().map(|body| body.len() as f64).collect();
    rows.push(row(
        "typing 200 chars in a 2,000-line file: byte-identical prefix of each body with the previous (median, min)",
        format!(
            "{:.1} % (min {:.1} %)",
            percentile(&shares, 50.0),
            percentile(&shares, 0.0)
        ),
        "≥ 80 %",
        String::new(),
    ));
    rows.push(row(
        "  prompt bytes per request (system + user text; whole body)",
        format!(
            "{:.0} B (body {:.0} B); file is {} B",
            percentile(&sizes, 50.0),
            percentile(&bodies_len, 50.0),
            text.len()
        ),
        "-",
        String::new(),
    ));
    rows.push(row(
        "  upstream requests per 100 keystrokes (a request per key, debounce 200 ms)",
        format!(
            "{:.1} ({} for 200 keys)",
            requests.len() as f64 / 2.0,
            requests.len()
        ),
        "-",
        format!("{} pauses in the typing", typed.matches(' ').count()),
    ));
}

fn main() {
    let runs = runs(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let load_before = load_average();
    let started = Instant::now();
    let mut rows = Vec::new();
    runtime.block_on(async {
        latency(&mut rows, runs).await;
        typed_through(&mut rows, runs).await;
        supersede(&mut rows, runs.min(100)).await;
        typing(&mut rows).await;
    });
    println!(
        "\ncompletion benchmark: load average {load_before} before, {} after, {:.1} s\n",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    println!("| figure | chatls | target | same-run baseline / ratio |");
    println!("| --- | --- | --- | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.figure, row.value, row.target, row.baseline
        );
    }
}

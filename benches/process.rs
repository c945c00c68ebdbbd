//! Whole-process benchmark: starts the release `chatls` over stdio with a minimal LSP client
//! of its own, against the fake upstream (in-process, answering instantly) behind a
//! timestamping TCP relay, and prints one table of figures with their targets and baselines
//! measured in the same run. `cargo bench --bench process` (release build); takes about two
//! minutes. `CHATLS_BENCH_TREE` picks the tree for the search row (default: the largest
//! crate source found in the cargo registry cache); `CHATLS_BENCH_RUNS` the latency runs;
//! `CHATLS_BENCH_ONLY=a,b` the sections; `CHATLS_BENCH_BIN` another binary to measure.
//!
//! Before/after: `CHATLS_BENCH_BASELINE_BIN=/path/to/older/chatls` runs every section against
//! both binaries in turn, `CHATLS_BENCH_ROUNDS` times (5; which binary goes first alternates),
//! pools each figure's samples per binary and prints p50 and min of both and their ratios.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatls_fake_upstream::{FakeUpstream, Reply, Step};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{
    Dir, Event, Lsp, Relay, Stamp, WAIT, chatls_bin, frame, is_end, load_average, median, ms,
    percentile, runs, runtime,
};

// ---------------------------------------------------------------------------------------------
// /proc

/// (VmRSS, VmHWM) in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let (rss, hwm, _) = memory_kib(pid);
    (rss, hwm)
}

/// (VmRSS, VmHWM, RssAnon) in KiB. Most of an idle VmRSS is the binary's code mapped from the
/// page cache (shared and reclaimable; how much depends on how the code falls on pages);
/// RssAnon is the memory the process allocated.
fn memory_kib(pid: u32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"), field("RssAnon:"))
}

/// CPU seconds a process's live threads have run, from the scheduler's nanosecond counts
/// (`/proc/<pid>/task/*/schedstat`); tokio's workers and its idle blocking threads live on,
/// so over a few seconds this is the process's CPU time, at a finer grain than ticks.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let mut nanos = 0u64;
    for task in tasks.flatten() {
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        nanos += schedstat
            .split_whitespace()
            .next()
            .and_then(|field| field.parse::<u64>().ok())
            .unwrap_or(0);
    }
    nanos as f64 / 1e9
}

// ---------------------------------------------------------------------------------------------
// A TCP relay between chatls and the fake that timestamps every chunk in both directions.

/// Request/response exchanges on the relay between two instants: for each request, the
/// instant its last byte arrived and the instant the last byte of its response was delivered.
fn exchanges(stamps: &[Stamp], from: Instant, to: Instant) -> Vec<(Instant, Instant)> {
    let mut by_connection: HashMap<u64, Vec<Stamp>> = HashMap::new();
    for stamp in stamps.iter().filter(|s| s.at >= from && s.at <= to) {
        by_connection
            .entry(stamp.connection)
            .or_default()
            .push(*stamp);
    }
    let mut out = Vec::new();
    for (_, list) in by_connection {
        let mut request_end: Option<Instant> = None;
        let mut response_end: Option<Instant> = None;
        for stamp in list {
            match stamp.dir {
                Dir::Up => {
                    if let (Some(request), Some(response)) = (request_end, response_end) {
                        out.push((request, response));
                        response_end = None;
                    }
                    request_end = Some(stamp.at);
                }
                Dir::Down => response_end = Some(stamp.at),
                Dir::Closed => {}
            }
        }
        if let (Some(request), Some(response)) = (request_end, response_end) {
            out.push((request, response));
        }
    }
    out.sort_by_key(|(request, _)| *request);
    out
}

// ---------------------------------------------------------------------------------------------
// A minimal LSP client over the child's stdio that timestamps every message on arrival.

/// What only this benchmark asks of the client.
impl Lsp {
    /// Starts an action; returns the instant the command was sent and its progress token.
    async fn action(&self, command: &str, uri: &str, line: u32) -> (Instant, String) {
        let (sent, _, response) = self
            .request(
                "workspace/executeCommand",
                json!({"command": command, "arguments": [{"uri": uri, "range": range(line)}]}),
            )
            .await;
        let token = response["result"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{command} did not start: {response}"))
            .to_owned();
        (sent, token)
    }

    fn rss(&self) -> (u64, u64) {
        rss_kib(self.pid)
    }
}

fn range(line: u32) -> Value {
    json!({"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}})
}

fn apply_edit_for<'a>(events: &'a [Event], uri: &str) -> Option<&'a Event> {
    events.iter().find(|event| {
        event.method == "workspace/applyEdit"
            && event.params["edit"]["documentChanges"][0]["textDocument"]["uri"] == uri
    })
}

// ---------------------------------------------------------------------------------------------
// Inputs

const SOURCE: &str = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn main() {\n    println!(\"{}\", add(1, 2));\n}\n";

/// A refactor answer of `tokens` streamed pieces whose code replaces one line.
fn answer_reply(tokens: usize) -> Reply {
    let mut pieces: Vec<String> = vec![
        "```rust\n".into(),
        "fn add(a: i64, b: i64) -> i64 {\n".into(),
    ];
    for i in 0..tokens.saturating_sub(4) {
        pieces.push(format!("w{i} "));
    }
    pieces.push("\n".into());
    pieces.push("```\nWidened the integers.".into());
    let borrowed: Vec<&str> = pieces.iter().map(String::as_str).collect();
    Reply::text(&borrowed)
}

/// About `bytes` of Rust-like text, mostly ASCII with some non-ASCII, distinct per `seed`.
fn document_text(seed: usize, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 100);
    let mut line = 0usize;
    while text.len() < bytes {
        if line.is_multiple_of(10) {
            text.push_str(&format!(
                "// doc {seed} line {line}: café — naïve ünïcödé → ✓\n"
            ));
        } else {
            text.push_str(&format!(
                "    let value_{line} = compute(\"item {seed}-{line}\", {line}) + offset;\n"
            ));
        }
        line += 1;
    }
    text
}

fn largest_registry_crate() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    let mut best: Option<(u64, PathBuf)> = None;
    for index in std::fs::read_dir(home.join("registry/src")).ok()?.flatten() {
        for krate in std::fs::read_dir(index.path()).ok()?.flatten() {
            let size = tree_size(&krate.path());
            if best.as_ref().is_none_or(|(biggest, _)| size > *biggest) {
                best = Some((size, krate.path()));
            }
        }
    }
    best.map(|(_, path)| path)
}

fn tree_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(entry.path()),
                Ok(kind) if kind.is_file() => {
                    total += entry.metadata().map(|m| m.len()).unwrap_or(0)
                }
                _ => {}
            }
        }
    }
    total
}

fn count_files(path: &Path) -> usize {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(entry.path()),
                Ok(kind) if kind.is_file() => total += 1,
                _ => {}
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------------------------
// The table

struct Row {
    figure: String,
    value: String,
    target: String,
    verdict: &'static str,
    baseline: String,
}

/// The raw samples behind one figure, kept for the before/after comparison.
struct Figure {
    name: String,
    unit: &'static str,
    /// Whether a larger value is worse (times, memory); `false` for figures that are not
    /// better or worse by size (a rate held under a ceiling, a control), shown without a
    /// verdict.
    judged: bool,
    samples: Vec<f64>,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
    figures: Vec<Figure>,
    /// Whether rows are printed as they come (off while comparing two binaries).
    quiet: bool,
}

impl Table {
    fn row(
        &mut self,
        figure: &str,
        value: String,
        target: &str,
        met: Option<bool>,
        baseline: String,
    ) {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        if !self.quiet {
            println!("  {figure}: {value}  [target {target}: {verdict}]  {baseline}");
        }
        self.rows.push(Row {
            figure: figure.to_owned(),
            value,
            target: target.to_owned(),
            verdict,
            baseline,
        });
    }

    /// Adds samples to a figure of the before/after comparison (rounds pool their samples).
    fn sample(&mut self, name: &str, unit: &'static str, judged: bool, samples: &[f64]) {
        match self.figures.iter_mut().find(|figure| figure.name == name) {
            Some(figure) => figure.samples.extend_from_slice(samples),
            None => self.figures.push(Figure {
                name: name.to_owned(),
                unit,
                judged,
                samples: samples.to_vec(),
            }),
        }
    }

    fn print(&self) {
        println!("\n| figure | chatls | target | verdict | same-run baseline / ratio |");
        println!("| --- | --- | --- | --- | --- |");
        for row in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} |",
                row.figure, row.value, row.target, row.verdict, row.baseline
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sections

/// `cat` echoing one frame back: spawn → the frame read back (the floor for any stdio
/// server: spawn + one pipe round trip).
async fn cat_echo(probe: &[u8]) -> f64 {
    let spawned = Instant::now();
    let mut cat = tokio::process::Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn cat");
    let mut stdin = cat.stdin.take().expect("stdin");
    let mut stdout = cat.stdout.take().expect("stdout");
    stdin.write_all(probe).await.expect("write");
    let mut back = vec![0u8; probe.len()];
    stdout.read_exact(&mut back).await.expect("read");
    let elapsed = ms(spawned.elapsed());
    drop(stdin);
    let _ = cat.wait().await;
    elapsed
}

/// Spawn → `initialize` answered, and idle RSS, over fresh processes; baseline: `cat` echoing
/// the same frame back, run in turn with each chatls. The `initialize` request alone is timed
/// on a process given 100 ms to start first (sent at spawn, the request also waits for the
/// process to start).
async fn startup(table: &mut Table, bin: &Path, base_url: &str, scratch: &Path) -> u64 {
    let runs = 15;
    let mut from_spawn = Vec::new();
    let mut round_trip = Vec::new();
    let mut settled_round_trip = Vec::new();
    let mut idle = Vec::new();
    let mut idle_anonymous = Vec::new();
    let mut after_action = Vec::new();
    let mut cat_times = Vec::new();
    let probe = frame(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}));
    let fake_for_warm = FakeUpstream::start(Vec::new()).await.expect("fake");
    fake_for_warm.set_default(answer_reply(8));
    for run in 0..runs {
        cat_times.push(cat_echo(&probe).await);
        let lsp = Lsp::spawn(bin, base_url, scratch);
        let (sent, answered) = lsp.initialize(scratch).await;
        from_spawn.push(ms(answered - lsp.spawned));
        round_trip.push(ms(answered - sent));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (rss, _, anonymous) = memory_kib(lsp.pid);
        idle.push(rss as f64);
        idle_anonymous.push(anonymous as f64);
        lsp.stop().await;
        let settled = Lsp::spawn(bin, base_url, scratch);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (sent, answered) = settled.initialize(scratch).await;
        settled_round_trip.push(ms(answered - sent));
        settled.stop().await;
        if run == 0 {
            // RSS once the HTTP client exists and one action ran.
            let warm = Lsp::spawn(bin, &fake_for_warm.base_url(), scratch);
            warm.initialize(scratch).await;
            let uri = format!("file://{}/warm.rs", scratch.display());
            warm.open(&uri, SOURCE);
            let index = warm.events_len();
            let (_, token) = warm.action("chatls.refactor", &uri, 0).await;
            warm.wait_end(index, &token).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            after_action.push(warm.rss().0 as f64);
            warm.stop().await;
        }
    }
    let spawn_p50 = median(&from_spawn);
    let cat_p50 = median(&cat_times);
    table.sample("initialize answered, from spawn", "ms", true, &from_spawn);
    table.sample(
        "cat echo of the same frame (control)",
        "ms",
        false,
        &cat_times,
    );
    table.sample(
        "initialize from spawn ÷ cat (p50s of each round)",
        "x",
        true,
        &[spawn_p50 / cat_p50],
    );
    table.sample(
        "initialize request → response, process started 100 ms before",
        "ms",
        true,
        &settled_round_trip,
    );
    let to_mib = |kib: &Vec<f64>| kib.iter().map(|kib| kib / 1024.0).collect::<Vec<_>>();
    table.sample("idle RSS after initialize", "MiB", true, &to_mib(&idle));
    table.sample(
        "idle anonymous memory (RssAnon) after initialize",
        "MiB",
        true,
        &to_mib(&idle_anonymous),
    );
    table.sample("RSS after one action", "MiB", true, &to_mib(&after_action));
    table.row(
        "initialize answered, from spawn (p50 of 15)",
        format!("{spawn_p50:.2} ms (min {:.2})", min(&from_spawn)),
        "< 5 ms",
        Some(spawn_p50 < 5.0),
        format!(
            "cat echo of the same frame {cat_p50:.2} ms (min {:.2}); ratio {:.1}x",
            min(&cat_times),
            spawn_p50 / cat_p50
        ),
    );
    table.row(
        "initialize request → response, sent at spawn (p50 of 15)",
        format!("{:.3} ms", median(&round_trip)),
        "-",
        None,
        String::new(),
    );
    table.row(
        "initialize request → response, sent 100 ms after spawn (p50 of 15)",
        format!(
            "{:.3} ms (min {:.3})",
            median(&settled_round_trip),
            min(&settled_round_trip)
        ),
        "-",
        None,
        String::new(),
    );
    let idle_kib = median(&idle);
    table.row(
        "idle RSS after initialize (p50 of 15)",
        format!("{:.1} MiB", idle_kib / 1024.0),
        "≤ 10 MiB",
        Some(idle_kib <= 10.0 * 1024.0),
        format!(
            "reference server ~9 MiB; of it allocated (RssAnon) {:.1} MiB, the rest mapped code",
            median(&idle_anonymous) / 1024.0
        ),
    );
    table.row(
        "RSS after one action (HTTP client built)",
        format!("{:.1} MiB", median(&after_action) / 1024.0),
        "-",
        None,
        String::new(),
    );
    idle_kib as u64
}

/// Sequential actions: command → upstream request, upstream last byte → applyEdit, and the
/// number of upstream connections. Baselines: a no-op executeCommand round trip (the LSP pipe
/// floor), and one HTTP request by a fresh vs a pooled reqwest client.
async fn latency(table: &mut Table, bin: &Path, scratch: &Path, runs: usize) {
    let fake = FakeUpstream::start(Vec::new()).await.expect("fake");
    fake.set_default(answer_reply(16));
    let relay = Relay::start(fake.port()).await;
    let lsp = Lsp::spawn(bin, &relay.address, scratch);
    lsp.initialize(scratch).await;
    let uri = format!("file://{}/latency.rs", scratch.display());
    lsp.open(&uri, SOURCE);

    let warmup = 10;
    let mut to_request = Vec::new();
    let mut to_apply = Vec::new();
    let mut whole = Vec::new();
    let connections_before = fake.connections_accepted();
    let phase_start = Instant::now();
    for run in 0..warmup + runs {
        let index = lsp.events_len();
        let (sent, token) = lsp.action("chatls.refactor", &uri, 0).await;
        lsp.wait_end(index, &token).await;
        let events = lsp.events_from(index);
        let applied = apply_edit_for(&events, &uri).expect("applyEdit").at;
        let stamps = relay.stamps();
        let Some((request, response)) = exchanges(&stamps, sent, applied).into_iter().last() else {
            panic!("no upstream exchange seen for run {run}");
        };
        if run >= warmup {
            to_request.push(ms(request - sent));
            to_apply.push(ms(applied - response));
            whole.push(ms(applied - sent));
        }
    }
    let elapsed = phase_start.elapsed();
    let connections = fake.connections_accepted() - connections_before;

    // Baseline: the LSP round trip of a command that does nothing.
    let mut noop = Vec::new();
    for _ in 0..runs {
        let (sent, answered, _) = lsp
            .request(
                "workspace/executeCommand",
                json!({"command": "chatls.cancel", "arguments": [{"uri": "file:///nothing"}]}),
            )
            .await;
        noop.push(ms(answered - sent));
    }
    lsp.stop().await;

    // Baseline: one chat request to the same fake by a fresh reqwest client each time
    // (connection set-up included) and by one pooled client (keep-alive).
    let body =
        serde_json::to_vec(&json!({"model": "m", "stream": true, "messages": []})).expect("json");
    let url = format!("{}/chat/completions", fake.base_url());
    let mut fresh = Vec::new();
    let mut pooled = Vec::new();
    let shared = reqwest::Client::new();
    for _ in 0..50 {
        let started = Instant::now();
        let client = reqwest::Client::new();
        let response = client
            .post(&url)
            .body(body.clone())
            .send()
            .await
            .expect("post");
        let _ = response.bytes().await;
        fresh.push(ms(started.elapsed()));
        let started = Instant::now();
        let response = shared
            .post(&url)
            .body(body.clone())
            .send()
            .await
            .expect("post");
        let _ = response.bytes().await;
        pooled.push(ms(started.elapsed()));
    }

    table.sample(
        "executeCommand → upstream request arrives",
        "ms",
        true,
        &to_request,
    );
    table.sample(
        "upstream last byte → workspace/applyEdit arrives",
        "ms",
        true,
        &to_apply,
    );
    table.sample("whole action, command → applyEdit", "ms", true, &whole);
    table.sample("no-op executeCommand round trip", "ms", true, &noop);
    table.sample(
        "upstream connections for the sequential actions",
        "",
        true,
        &[connections as f64],
    );
    let (req50, req99) = (median(&to_request), percentile(&to_request, 99.0));
    let (app50, app99) = (median(&to_apply), percentile(&to_apply, 99.0));
    let noop50 = median(&noop);
    table.row(
        &format!("executeCommand → upstream request arrives (p50 / p99 of {runs})"),
        format!("{req50:.3} / {req99:.3} ms"),
        "< 1 ms median",
        Some(req50 < 1.0),
        format!(
            "no-op executeCommand round trip {noop50:.3} ms (ratio {:.1}x); fresh reqwest client request {:.3} ms vs pooled {:.3} ms",
            req50 / noop50,
            median(&fresh),
            median(&pooled)
        ),
    );
    table.row(
        &format!("upstream last byte → workspace/applyEdit arrives (p50 / p99 of {runs})"),
        format!("{app50:.3} / {app99:.3} ms"),
        "< 1 ms median",
        Some(app50 < 1.0),
        format!(
            "no-op executeCommand round trip {noop50:.3} ms (ratio {:.1}x)",
            app50 / noop50
        ),
    );
    table.row(
        "whole action, command → applyEdit, instant upstream (p50)",
        format!("{:.3} ms", median(&whole)),
        "reference adds ~15 ms",
        None,
        format!(
            "{} actions in {:.2} s",
            warmup + runs,
            elapsed.as_secs_f64()
        ),
    );
    table.row(
        &format!(
            "upstream connections for {} sequential actions",
            warmup + runs
        ),
        connections.to_string(),
        "1 (pooled keep-alive)",
        Some(connections == 1),
        format!("relay saw {}", relay.connections()),
    );
}

/// A streamed chunk of answer text, shaped like OpenAI's.
fn content_chunk(text: &str, finish: Option<&str>) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})
}

/// One action with a fast token stream (~2.5 s, several thousand tokens a second):
/// `$/progress` reports per second.
async fn progress_rate(table: &mut Table, bin: &Path, scratch: &Path) {
    let tokens = 10_000;
    let mut steps = vec![Step::Data(content_chunk(
        "```rust\nfn add(a: i64, b: i64) -> i64 {",
        None,
    ))];
    for i in 0..tokens {
        steps.push(Step::Data(content_chunk(&format!(" t{i}"), None)));
        if i % 8 == 7 {
            steps.push(Step::Delay(1));
        }
    }
    steps.push(Step::Data(content_chunk("\n```", Some("stop"))));
    steps.push(Step::Done);
    let fake = FakeUpstream::start(vec![Reply::sse(steps)])
        .await
        .expect("fake");
    let lsp = Lsp::spawn(bin, &fake.base_url(), scratch);
    lsp.initialize(scratch).await;
    let uri = format!("file://{}/progress.rs", scratch.display());
    lsp.open(&uri, SOURCE);
    let index = lsp.events_len();
    let (_, token) = lsp.action("chatls.refactor", &uri, 0).await;
    lsp.wait_end(index, &token).await;
    let events: Vec<Event> = lsp
        .events_from(index)
        .into_iter()
        .filter(|event| event.method == "$/progress" && event.params["token"] == token.as_str())
        .collect();
    lsp.stop().await;
    let begin = events
        .iter()
        .find(|e| e.params["value"]["kind"] == "begin")
        .expect("begin")
        .at;
    let end = events
        .iter()
        .find(|e| e.params["value"]["kind"] == "end")
        .expect("end")
        .at;
    let reports: Vec<Instant> = events
        .iter()
        .filter(|e| e.params["value"]["kind"] == "report")
        .map(|e| e.at)
        .collect();
    let seconds = (end - begin).as_secs_f64();
    // Reports per second while streaming: gaps between the first and last report (n
    // reports span n - 1 gaps), and the busiest one-second window below.
    let rate = match (reports.first(), reports.last()) {
        (Some(first), Some(last)) if reports.len() > 1 => {
            (reports.len() - 1) as f64 / (*last - *first).as_secs_f64()
        }
        _ => reports.len() as f64 / seconds,
    };
    let shortest_gap = reports
        .windows(2)
        .map(|pair| ms(pair[1] - pair[0]))
        .fold(f64::INFINITY, f64::min);
    // The busiest one-second window.
    let busiest = reports
        .iter()
        .map(|start| {
            reports
                .iter()
                .filter(|at| **at >= *start && **at < *start + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    table.sample("progress reports per second (≤ 10)", "/s", false, &[rate]);
    table.row(
        "progress reports per second, fast stream",
        format!("{rate:.2}/s ({} reports in {seconds:.2} s; busiest 1-s window {busiest}; shortest gap {shortest_gap:.1} ms)", reports.len()),
        "≤ 10/s",
        Some(rate <= 10.0 && busiest <= 10),
        format!("token rate {:.0}/s", tokens as f64 / seconds),
    );
}

/// 64 actions at once: wall time and chatls CPU time per streamed token. Baseline: one
/// action of the same size alone.
async fn concurrency(table: &mut Table, bin: &Path, scratch: &Path) {
    let actions = 64;
    let tokens = 256;
    let fake = FakeUpstream::start(Vec::new()).await.expect("fake");
    fake.set_default(answer_reply(tokens));
    let lsp = Lsp::spawn(bin, &fake.base_url(), scratch);
    lsp.initialize(scratch).await;
    let uris: Vec<String> = (0..actions)
        .map(|i| format!("file://{}/concurrent{i}.rs", scratch.display()))
        .collect();
    for uri in &uris {
        lsp.open(uri, SOURCE);
    }
    // Warm-up and the single-action baseline.
    let mut single = Vec::new();
    let mut single_cpu = Vec::new();
    for _ in 0..5 {
        let cpu = cpu_seconds(lsp.pid);
        let index = lsp.events_len();
        let (sent, token) = lsp.action("chatls.refactor", &uris[0], 0).await;
        lsp.wait_end(index, &token).await;
        single.push(ms(sent.elapsed()));
        single_cpu.push(cpu_seconds(lsp.pid) - cpu);
    }
    let connections_before = fake.connections_accepted();
    let cpu_before = cpu_seconds(lsp.pid);
    let index = lsp.events_len();
    let started = Instant::now();
    let lsp = Arc::new(lsp);
    let mut tasks = Vec::new();
    for uri in &uris {
        let lsp = lsp.clone();
        let uri = uri.clone();
        tasks.push(tokio::spawn(async move {
            lsp.action("chatls.refactor", &uri, 0).await.1
        }));
    }
    let mut tokens_started = Vec::new();
    for task in tasks {
        tokens_started.push(task.await.expect("task"));
    }
    lsp.wait(&format!("{actions} ends"), index, |events| {
        tokens_started
            .iter()
            .all(|token| events.iter().any(|event| is_end(event, token)))
    })
    .await;
    let wall = started.elapsed();
    let cpu = cpu_seconds(lsp.pid) - cpu_before;
    let events = lsp.events_from(index);
    let applied = uris
        .iter()
        .filter(|uri| apply_edit_for(&events, uri).is_some())
        .count();
    let connections = fake.connections_accepted() - connections_before;
    if let Ok(lsp) = Arc::try_unwrap(lsp) {
        lsp.stop().await;
    }
    let streamed = (actions * tokens) as f64;
    table.sample(
        "64 concurrent actions × 256 tokens: wall time",
        "ms",
        true,
        &[ms(wall)],
    );
    table.sample(
        "CPU time per streamed token (64 concurrent)",
        "µs",
        true,
        &[cpu * 1e6 / streamed],
    );
    table.row(
        &format!("{actions} concurrent actions × {tokens} tokens: wall time"),
        format!(
            "{:.1} ms ({applied} edits applied, {connections} upstream connections)",
            ms(wall)
        ),
        "-",
        None,
        format!(
            "one action alone {:.2} ms; ratio {:.1}x for {actions}x the work",
            median(&single),
            ms(wall) / median(&single)
        ),
    );
    table.row(
        "CPU time per streamed token (64 concurrent)",
        format!(
            "{:.2} µs ({:.0} ms CPU for {streamed} tokens)",
            cpu * 1e6 / streamed,
            cpu * 1e3
        ),
        "-",
        None,
        format!(
            "one action alone: {:.2} µs/token",
            median(&single_cpu) * 1e6 / tokens as f64,
        ),
    );
}

/// 1,000 open documents of 100 KB: RSS against the text's size.
async fn memory(table: &mut Table, bin: &Path, base_url: &str, scratch: &Path) {
    let documents = 1000;
    let size = 100 * 1024;
    let lsp = Lsp::spawn(bin, base_url, scratch);
    lsp.initialize(scratch).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle, _) = lsp.rss();
    let mut text_bytes = 0usize;
    for i in 0..documents {
        let text = document_text(i, size);
        text_bytes += text.len();
        lsp.open(
            &format!("file://{}/mem/doc{i}.rs", scratch.display()),
            &text,
        );
    }
    // The last document is in the store once a code action on it answers.
    let last = format!("file://{}/mem/doc{}.rs", scratch.display(), documents - 1);
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, _, response) = lsp
            .request(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": last}, "range": range(0), "context": {"diagnostics": []}}),
            )
            .await;
        if response["result"]
            .as_array()
            .is_some_and(|actions| !actions.is_empty())
            || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss, hwm) = lsp.rss();
    lsp.stop().await;
    let text_kib = text_bytes as f64 / 1024.0;
    let held = (rss.saturating_sub(idle)) as f64;
    let ratio = held / text_kib;
    table.sample(
        "RSS held per byte of open text (1000 × 100 KiB)",
        "x",
        true,
        &[ratio],
    );
    table.sample(
        "peak RSS with 1000 open documents",
        "MiB",
        true,
        &[hwm as f64 / 1024.0],
    );
    table.row(
        &format!("RSS with {documents} open {}-KiB documents", size / 1024),
        format!(
            "{:.1} MiB = idle {:.1} MiB + {ratio:.3} × text (peak {:.1} MiB)",
            rss as f64 / 1024.0,
            idle as f64 / 1024.0,
            hwm as f64 / 1024.0
        ),
        "≤ 1.15 × text + idle",
        Some(ratio <= 1.15),
        format!("text {:.1} MiB; reference ~1.2 × text", text_kib / 1024.0),
    );
}

/// search_workspace through the whole server (a tool call round) against `rg` on the same
/// tree: from the upstream's last byte of the tool call to the next request's arrival.
async fn search(table: &mut Table, bin: &Path, scratch: &Path, tree: &Path) {
    let pattern = "chatls_bench_absent_identifier";
    let files = count_files(tree);
    let megabytes = tree_size(tree) as f64 / 1e6;
    let runs = 7;
    let rg_available = std::process::Command::new("rg")
        .arg("--version")
        .output()
        .is_ok();
    let rg_once = || -> Option<Duration> {
        let started = Instant::now();
        let output = std::process::Command::new("rg")
            .args([
                "--fixed-strings",
                "--smart-case",
                "--line-number",
                "--max-count",
                "1000",
                pattern,
            ])
            .arg(tree)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let elapsed = started.elapsed();
        let _ = output;
        Some(elapsed)
    };
    if rg_available {
        let _ = rg_once(); // warm the page cache
    }

    let fake = FakeUpstream::start(Vec::new()).await.expect("fake");
    let relay = Relay::start(fake.port()).await;
    let lsp = Lsp::spawn(bin, &relay.address, scratch);
    lsp.initialize(tree).await;
    let uri = format!("file://{}/chatls-bench-open.rs", tree.display());
    lsp.open(&uri, SOURCE);
    let arguments = json!({"pattern": pattern}).to_string();
    let mut chatls_times = Vec::new();
    let mut rg_times = Vec::new();
    let mut tool_answer = String::new();
    for run in 0..runs + 1 {
        fake.push(Reply::tool_calls(
            &[("call_1", "search_workspace", &arguments)],
            1000,
        ));
        fake.push(answer_reply(8));
        let index = lsp.events_len();
        let requests_before = fake.requests().len();
        let (sent, token) = lsp.action("chatls.refactor", &uri, 0).await;
        lsp.wait_end(index, &token).await;
        let events = lsp.events_from(index);
        let applied = apply_edit_for(&events, &uri)
            .map(|e| e.at)
            .unwrap_or_else(Instant::now);
        let pairs = exchanges(&relay.stamps(), sent, applied);
        if pairs.len() >= 2 && run > 0 {
            // From the tool-call reply's last byte to the arrival of the request with its result.
            chatls_times.push(ms(pairs[1].0 - pairs[0].1));
        }
        if run == 0 {
            let requests = fake.requests();
            if let Some(second) = requests.get(requests_before + 1) {
                tool_answer = second.body["messages"]
                    .as_array()
                    .and_then(|messages| messages.iter().find(|m| m["role"] == "tool"))
                    .and_then(|m| m["content"].as_str())
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        if run > 0
            && rg_available
            && let Some(elapsed) = rg_once()
        {
            rg_times.push(ms(elapsed));
        }
    }
    lsp.stop().await;
    table.sample(
        "search_workspace tool round, absent literal",
        "ms",
        true,
        &chatls_times,
    );
    table.sample("rg on the same tree (control)", "ms", false, &rg_times);
    let ours = median(&chatls_times);
    let description = format!(
        "search_workspace, absent literal, {} ({files} files, {megabytes:.0} MB), p50 of {runs}",
        tree.file_name().and_then(|n| n.to_str()).unwrap_or("tree")
    );
    if rg_available && !rg_times.is_empty() {
        let theirs = median(&rg_times);
        table.row(
            &description,
            format!(
                "{ours:.1} ms (tool said: {})",
                tool_answer.lines().next().unwrap_or("?")
            ),
            "≤ 1.5 × rg",
            Some(ours <= 1.5 * theirs),
            format!(
                "rg {theirs:.1} ms (whole process); ratio {:.2}x",
                ours / theirs
            ),
        );
    } else {
        table.row(
            &description,
            format!("{ours:.1} ms"),
            "≤ 1.5 × rg",
            None,
            "rg not available: row skipped".into(),
        );
    }
}

/// Cancel → the upstream sees the connection closed, measured at the relay.
async fn cancel(table: &mut Table, bin: &Path, scratch: &Path) {
    let runs = 20;
    let fake = FakeUpstream::start(Vec::new()).await.expect("fake");
    let stalled = Reply::sse(vec![
        Step::Data(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "```rust\nfn"}, "finish_reason": null}]}),
        ),
        Step::Stall,
    ]);
    fake.set_default(stalled);
    let relay = Relay::start(fake.port()).await;
    let lsp = Lsp::spawn(bin, &relay.address, scratch);
    lsp.initialize(scratch).await;
    let uri = format!("file://{}/cancel.rs", scratch.display());
    lsp.open(&uri, SOURCE);
    let mut by_command = Vec::new();
    let mut by_progress = Vec::new();
    for run in 0..runs {
        let index = lsp.events_len();
        let (sent, token) = lsp.action("chatls.refactor", &uri, 0).await;
        // Wait until the stream is flowing (the first bytes reached chatls).
        let flowing = relay
            .wait_for(sent, |stamp| stamp.dir == Dir::Down)
            .await
            .expect("stream");
        let connection = flowing.connection;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let cancelled_at = Instant::now();
        if run % 2 == 0 {
            lsp.notify("window/workDoneProgress/cancel", json!({"token": token}));
        } else {
            lsp.request(
                "workspace/executeCommand",
                json!({"command": "chatls.cancel", "arguments": [{"uri": uri}]}),
            )
            .await;
        }
        let closed = relay
            .wait_for(cancelled_at, |stamp| {
                stamp.dir == Dir::Closed && stamp.connection == connection
            })
            .await
            .expect("connection closed after cancel");
        let elapsed = ms(closed.at - cancelled_at);
        if run % 2 == 0 {
            by_progress.push(elapsed);
        } else {
            by_command.push(elapsed);
        }
        lsp.wait_end(index, &token).await;
    }
    let aborted = fake.aborted_streams();
    lsp.stop().await;
    let all: Vec<f64> = by_command.iter().chain(&by_progress).copied().collect();
    table.sample("cancel → upstream connection closed", "ms", true, &all);
    let p50 = median(&all);
    table.row(
        &format!("cancel → upstream connection closed (p50 / p99 of {runs})"),
        format!("{p50:.3} / {:.3} ms", percentile(&all, 99.0)),
        "< 50 ms",
        Some(p50 < 50.0),
        format!(
            "window/workDoneProgress/cancel {:.3} ms, chatls.cancel {:.3} ms; the fake counted {aborted} aborted streams",
            median(&by_progress),
            median(&by_command)
        ),
    );
}

const SECTIONS: [&str; 7] = [
    "startup",
    "latency",
    "progress",
    "concurrency",
    "memory",
    "search",
    "cancel",
];

/// Runs one section against one binary.
async fn run_section(
    section: &str,
    table: &mut Table,
    bin: &Path,
    scratch: &Path,
    tree: Option<&Path>,
    runs: usize,
) {
    // An address nothing listens on: no section but the latency ones talks upstream.
    let unused = "http://127.0.0.1:9/v1";
    match section {
        "startup" => {
            startup(table, bin, unused, scratch).await;
        }
        "latency" => latency(table, bin, scratch, runs).await,
        "progress" => progress_rate(table, bin, scratch).await,
        "concurrency" => concurrency(table, bin, scratch).await,
        "memory" => memory(table, bin, unused, scratch).await,
        "search" => match tree {
            Some(tree) => search(table, bin, scratch, tree).await,
            None => table.row(
                "search_workspace vs rg",
                "no tree found".into(),
                "≤ 1.5 × rg",
                None,
                "set CHATLS_BENCH_TREE".into(),
            ),
        },
        "cancel" => cancel(table, bin, scratch).await,
        _ => {}
    }
}

fn min(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Three significant figures or so.
fn shown(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The before/after table: each figure's pooled samples for both binaries, p50 and min, and
/// the ratios after ÷ before. A judged figure is "worse" when its p50 ratio is above 1.05.
fn print_comparison(before: &Table, after: &Table, rounds: usize) -> bool {
    println!(
        "\n| figure ({rounds} rounds, before/after interleaved; n = samples before / after) | before p50 (min) | after p50 (min) | after ÷ before, p50 / min | verdict (p50 ≤ 1.05) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let mut all_met = true;
    for figure in &after.figures {
        let Some(old) = before.figures.iter().find(|f| f.name == figure.name) else {
            continue;
        };
        if old.samples.is_empty() || figure.samples.is_empty() {
            continue;
        }
        let (old50, oldmin) = (median(&old.samples), min(&old.samples));
        let (new50, newmin) = (median(&figure.samples), min(&figure.samples));
        let (ratio50, ratiomin) = (new50 / old50, newmin / oldmin);
        let verdict = if !figure.judged {
            "-"
        } else if ratio50 <= 1.05 {
            "met"
        } else {
            all_met = false;
            "WORSE"
        };
        let unit = if figure.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", figure.unit)
        };
        println!(
            "| {} (n = {} / {}) | {} ({}){unit} | {} ({}){unit} | {ratio50:.3} / {ratiomin:.3} | {verdict} |",
            figure.name,
            old.samples.len(),
            figure.samples.len(),
            shown(old50),
            shown(oldmin),
            shown(new50),
            shown(newmin),
        );
    }
    all_met
}

fn main() {
    runtime().block_on(async {
        let runs = runs(300);
        let tree = std::env::var_os("CHATLS_BENCH_TREE")
            .map(PathBuf::from)
            .or_else(largest_registry_crate);
        let scratch_dir = tempfile::tempdir().expect("tempdir");
        let scratch = scratch_dir
            .path()
            .canonicalize()
            .expect("canonical tempdir");
        let started = Instant::now();
        let bin = chatls_bin();
        let baseline = std::env::var_os("CHATLS_BENCH_BASELINE_BIN").map(PathBuf::from);
        let only = std::env::var("CHATLS_BENCH_ONLY").unwrap_or_default();
        let sections: Vec<&str> = SECTIONS
            .into_iter()
            .filter(|section| only.is_empty() || only.split(',').any(|name| name == *section))
            .collect();
        let mut loads = vec![load_average()];
        match baseline {
            None => {
                println!("chatls whole-process benchmark: {}", bin.display());
                let mut table = Table::default();
                for section in &sections {
                    run_section(section, &mut table, &bin, &scratch, tree.as_deref(), runs).await;
                }
                table.print();
            }
            Some(baseline) => {
                let rounds: usize = std::env::var("CHATLS_BENCH_ROUNDS")
                    .ok()
                    .and_then(|rounds| rounds.parse().ok())
                    .unwrap_or(5)
                    .max(1);
                println!(
                    "chatls whole-process benchmark, before/after: {} (before) vs {} (after); \
                     {rounds} rounds, each section run against both binaries in turn",
                    baseline.display(),
                    bin.display()
                );
                let mut before = Table {
                    quiet: true,
                    ..Table::default()
                };
                let mut after = Table {
                    quiet: true,
                    ..Table::default()
                };
                for round in 0..rounds {
                    for section in &sections {
                        // Alternate which binary goes first, so neither always runs on the
                        // machine the other just warmed.
                        let order = if round % 2 == 0 {
                            [false, true]
                        } else {
                            [true, false]
                        };
                        for is_after in order {
                            let (table, path) = if is_after {
                                (&mut after, &bin)
                            } else {
                                (&mut before, &baseline)
                            };
                            run_section(section, table, path, &scratch, tree.as_deref(), runs)
                                .await;
                        }
                    }
                    loads.push(load_average());
                    println!(
                        "  round {} of {rounds} done at {:.1} s, load average {}",
                        round + 1,
                        started.elapsed().as_secs_f64(),
                        loads.last().map(String::as_str).unwrap_or("?")
                    );
                }
                // The usual table for the after binary, from its last round's rows.
                let per_round = after.rows.len() / rounds;
                let last = Table {
                    rows: after.rows.split_off(after.rows.len() - per_round),
                    ..Table::default()
                };
                println!("\nthe after binary alone, last round:");
                last.print();
                let all_met = print_comparison(&before, &after, rounds);
                println!(
                    "\nverdict: {}",
                    if all_met {
                        "no judged figure more than 5% worse at p50"
                    } else {
                        "some figure is more than 5% worse at p50 (see WORSE)"
                    }
                );
            }
        }
        loads.push(load_average());
        println!(
            "\ntotal {:.1} s; load average (1 min) {}",
            started.elapsed().as_secs_f64(),
            loads.join(" → ")
        );
    });
}

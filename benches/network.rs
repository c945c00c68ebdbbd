//! The network and start-up figures of issue 14, each beside a same-run baseline:
//!
//! - `burst`: eight concurrent chat calls from a cold start to an HTTP/2 upstream over TLS
//!   (the fake behind its TLS front, a CA made here): connections counted at the front and
//!   wall time, for chatls's client and for a plain reqwest client built as chatls built it
//!   before (the library races one connection per request).
//! - `initialize`: spawn → `initialize` answered, beside `cat` echoing the same frame.
//! - `didopen`: a 50 MB `didOpen` then `shutdown`: time to the answer and peak RSS (VmHWM).
//!
//! `initialize` and `didopen` also run a second binary when `CHATLS_BENCH_BASELINE_BIN`
//! names one (an older chatls), for before/after in the same run. `CHATLS_BENCH_ONLY=a,b`
//! picks sections.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chatls::action::engine::build_request;
use chatls::config::{EnvSettings, Settings};
use chatls::llm::network::{CaFile, Network};
use chatls::llm::types::Message;
use chatls::llm::{Endpoint, LlmClient};
use chatls_fake_upstream::tls::TlsFront;
use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

const BURST: usize = 8;
const BURST_RUNS: usize = 10;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

struct Pki {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "chatls bench CA");
    let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Pki {
        _dir: dir,
        ca_file,
        ca_pem: ca.pem(),
        chain_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

async fn burst() {
    let fake = FakeUpstream::start(Vec::new()).await.unwrap();
    fake.set_default(Reply::text(&["fine"]));
    let pki = pki();
    let backend = format!("127.0.0.1:{}", fake.port()).parse().unwrap();
    let front = TlsFront::start(backend, &pki.chain_pem, &pki.key_pem, true)
        .await
        .unwrap();
    let base_url = front.base_url("127.0.0.1");
    let settings = Settings::from_env(&EnvSettings::default());
    let request = build_request(
        &settings,
        &settings.model,
        vec![Message::user("hello")],
        false,
    );

    let mut chatls_walls = Vec::new();
    let mut chatls_connections = Vec::new();
    for _ in 0..BURST_RUNS {
        let client = LlmClient::new();
        let mut endpoint = Endpoint::new(base_url.clone(), None);
        endpoint.network = Network {
            ca_file: Some(CaFile {
                path: pki.ca_file.clone(),
                source: "bench",
            }),
            ..Network::default()
        };
        let before = front.connections();
        let started = Instant::now();
        let calls = (0..BURST).map(|index| {
            let (client, endpoint, request) = (client.clone(), endpoint.clone(), request.clone());
            async move {
                let cancel = CancellationToken::new();
                client
                    .chat(
                        &endpoint,
                        &request,
                        &format!("bench-{index}"),
                        &cancel,
                        &mut |_| {},
                    )
                    .await
                    .expect("chat")
            }
        });
        futures::future::join_all(calls).await;
        chatls_walls.push(started.elapsed().as_secs_f64() * 1000.0);
        chatls_connections.push((front.connections() - before) as f64);
    }

    let mut plain_walls = Vec::new();
    let mut plain_connections = Vec::new();
    let body = serde_json::to_vec(&request).unwrap();
    for _ in 0..BURST_RUNS {
        let certificates = reqwest::Certificate::from_pem_bundle(pki.ca_pem.as_bytes()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_merge(certificates)
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .unwrap();
        let before = front.connections();
        let started = Instant::now();
        let calls = (0..BURST).map(|_| {
            let (client, body, url) = (
                client.clone(),
                body.clone(),
                format!("{base_url}/chat/completions"),
            );
            async move {
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                response.bytes().await.expect("body");
            }
        });
        futures::future::join_all(calls).await;
        plain_walls.push(started.elapsed().as_secs_f64() * 1000.0);
        plain_connections.push((front.connections() - before) as f64);
    }
    println!(
        "| cold-start burst of {BURST} over HTTP/2 (median of {BURST_RUNS}) | chatls: {} connection(s), {:.2} ms | reqwest as chatls built it before: {} connections, {:.2} ms |",
        median(chatls_connections),
        median(chatls_walls),
        median(plain_connections),
        median(plain_walls),
    );
}

fn frame(value: &Value) -> Vec<u8> {
    let body = value.to_string();
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body.as_bytes());
    framed
}

async fn read_frame<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Reads frames until the response with `id`.
async fn until_response<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R, id: i64) {
    while let Some(message) = read_frame(reader).await {
        if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
            return;
        }
    }
    panic!("the server ended before answering {id}");
}

fn spawn(binary: &Path) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .env_remove("CHATLS_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn")
}

fn initialize_frame() -> Vec<u8> {
    frame(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
    )
}

async fn initialize(binaries: &[(&str, PathBuf)]) {
    const RUNS: usize = 15;
    let probe = initialize_frame();
    let mut cat = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut child = tokio::process::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cat");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&probe).await.unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut echoed = vec![0u8; probe.len()];
        stdout.read_exact(&mut echoed).await.unwrap();
        cat.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(stdin);
        let _ = child.wait().await;
    }
    let cat = median(cat);
    for (name, binary) in binaries {
        let mut answered = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut child = spawn(binary);
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(&probe).await.unwrap();
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            until_response(&mut stdout, 1).await;
            answered.push(started.elapsed().as_secs_f64() * 1000.0);
            drop(stdin);
            let _ = child.wait().await;
        }
        let median = median(answered);
        println!(
            "| initialize answered from spawn, {name} (median of {RUNS}) | {median:.2} ms | cat echo of the same frame {cat:.2} ms; ratio {:.1}x |",
            median / cat
        );
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn didopen(binaries: &[(&str, PathBuf)]) {
    const RUNS: usize = 3;
    let line = "let value = compute(input, 42); // a line of code with some words in it\n";
    let text: String = line.repeat(50 * 1024 * 1024 / line.len());
    let open = frame(
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": "file:///tmp/big.rs", "languageId": "rust", "version": 1, "text": text}}}),
    );
    let initialized = frame(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    let shutdown = frame(&json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}));
    let exit = frame(&json!({"jsonrpc": "2.0", "method": "exit"}));
    for (name, binary) in binaries {
        let mut times = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..RUNS {
            let mut child = spawn(binary);
            let pid = child.id().unwrap_or(0);
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            stdin.write_all(&initialize_frame()).await.unwrap();
            until_response(&mut stdout, 1).await;
            stdin.write_all(&initialized).await.unwrap();
            let started = Instant::now();
            stdin.write_all(&open).await.unwrap();
            stdin.write_all(&shutdown).await.unwrap();
            until_response(&mut stdout, 2).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            peaks.push(peak_rss_kib(pid).unwrap_or(0) as f64 / 1024.0);
            stdin.write_all(&exit).await.unwrap();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
        println!(
            "| 50 MB didOpen then shutdown answered, {name} (median of {RUNS}) | {:.1} ms | peak RSS {:.1} MiB |",
            median(times),
            median(peaks)
        );
    }
}

fn main() {
    let only = std::env::var("CHATLS_BENCH_ONLY").unwrap_or_default();
    let wanted = |section: &str| only.is_empty() || only.split(',').any(|name| name == section);
    let mut binaries = vec![("this build", PathBuf::from(env!("CARGO_BIN_EXE_chatls")))];
    if let Some(baseline) = std::env::var_os("CHATLS_BENCH_BASELINE_BIN") {
        binaries.push(("baseline", PathBuf::from(baseline)));
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        println!("| figure | chatls | same-run baseline |");
        println!("| --- | --- | --- |");
        if wanted("burst") {
            burst().await;
        }
        if wanted("initialize") {
            initialize(&binaries).await;
        }
        if wanted("didopen") {
            didopen(&binaries).await;
        }
    });
}

//! The tool sandbox under attack, through the real server with the fake upstream issuing the
//! tool calls: secret names in any case (and whatever `.ignore` re-includes), files and
//! directories swapped for links or FIFOs while the model reads, workspace folders that are
//! the whole file system or sit inside `.git`/`.ssh`/`.aws`, and output caps (huge globs,
//! names holding newlines). Every check is on what the upstream received.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use support::fixture::{Fixture, Session};
use support::{file_uri, range};

const KEY: &str = "sk-sandbox-canary-5d1e";
const MAIN: &str = "fn main() {\n    run();\n}\n";

/// The tool results of every request the fake received, by call id.
fn tool_results(fake: &FakeUpstream) -> Vec<(String, String)> {
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
        .collect()
}

/// Deduplicated by call id (later requests replay earlier rounds).
fn unique_results(fake: &FakeUpstream) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    tool_results(fake)
        .into_iter()
        .filter(|(id, _)| seen.insert(id.clone()))
        .collect()
}

type Server = Session;

/// A server over `root` (or with these workspace folders), one document open, the upstream
/// answering `replies`.
async fn start(
    replies: Vec<Reply>,
    root: Option<&Path>,
    folders: Option<Vec<PathBuf>>,
    options: Value,
    doc: &Path,
) -> Server {
    let mut fixture = Fixture::new()
        .key(Some(KEY))
        .settings(options)
        .replies(replies);
    match (root, folders) {
        (_, Some(folders)) => fixture = fixture.folders(&folders),
        (Some(root), None) => fixture = fixture.root_at(root),
        (None, None) => fixture = fixture.no_root(),
    }
    fixture.open(&doc.display().to_string()).start().await
}

async fn explain(server: &Server, doc: &Path) -> String {
    let token = server
        .client
        .run_action(
            "chatls.explain",
            json!({"uri": file_uri(doc), "range": range(0, 0, 2, 0)}),
        )
        .await;
    server.client.wait_progress_end(&token).await
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Item 7: every secret name of the attack report, in any case, stays unread, unlisted and
/// unsearched, whatever `.ignore` and `.gitignore` re-include; `tools.deny` ignores case.
#[tokio::test]
async fn secret_names_stay_hidden_in_any_case_whatever_ignore_files_say() {
    const SECRETS: &[&str] = &[
        ".envrc",
        ".git-credentials",
        "prod.env",
        "config/STAGING.ENV",
        "keys/id_ecdsa",
        "keys/id_dsa",
        ".docker/config.json",
        ".kube/config",
        ".pgpass",
        ".htpasswd",
        ".vault-token",
        "deploy/secrets.yaml",
        "deploy/Secrets.yml",
        "android/release.jks",
        "android/debug.keystore",
        "private/plan.txt",
        "Private/roadmap.txt",
    ];
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    for name in SECRETS {
        write(&ws, name, "token s3cr3t-canary-value\n");
    }
    write(&ws, "src/main.rs", MAIN);
    write(&ws, "src/notes.txt", "token shown\n");
    let negations: String = SECRETS
        .iter()
        .map(|name| format!("!{name}\n"))
        .chain(["!.*\n".to_owned(), "!.docker/\n".to_owned()])
        .collect();
    write(&ws, ".ignore", &negations);
    write(&ws, ".gitignore", &negations);

    let mut calls: Vec<(String, String, String)> = SECRETS
        .iter()
        .enumerate()
        .map(|(index, name)| {
            (
                format!("r{index}"),
                "read_file".to_owned(),
                json!({"path": name}).to_string(),
            )
        })
        .collect();
    calls.push(("l1".into(), "list_files".into(), "{}".into()));
    calls.push((
        "l2".into(),
        "list_files".into(),
        json!({"glob": "**/*"}).to_string(),
    ));
    calls.push((
        "s1".into(),
        "search_workspace".into(),
        json!({"pattern": "shown|s3cr3t", "regex": true}).to_string(),
    ));
    let borrowed: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|(id, name, args)| (id.as_str(), name.as_str(), args.as_str()))
        .collect();
    let replies = vec![
        Reply::tool_calls(&borrowed, 40),
        Reply::text(&["Nothing secret here."]),
    ];
    let doc = ws.join("src/main.rs");
    let server = start(
        replies,
        Some(&ws),
        None,
        json!({"tools": {"deny": ["PRIVATE/**"]}}),
        &doc,
    )
    .await;
    let fake = &server.fake;
    let end = explain(&server, &doc).await;
    assert!(end.starts_with("explanation opened"), "{end}");

    let results = unique_results(fake);
    assert_eq!(results.len(), calls.len());
    for (id, content) in &results {
        assert!(
            !content.contains("s3cr3t-canary"),
            "{id} leaked a secret:\n{content}"
        );
    }
    for (id, content) in &results[..SECRETS.len()] {
        assert!(content.starts_with("refused: "), "{id}: {content}");
    }
    let listing = &results[SECRETS.len()].1;
    for name in [
        ".envrc",
        ".git-credentials",
        "prod.env",
        "STAGING.ENV",
        "id_ecdsa",
        "id_dsa",
        ".docker",
        ".kube",
        ".pgpass",
        ".htpasswd",
        ".vault-token",
        "secrets.yaml",
        "Secrets.yml",
        "release.jks",
        "debug.keystore",
        "plan.txt",
        "roadmap.txt",
    ] {
        assert!(!listing.contains(name), "{name} listed:\n{listing}");
        assert!(
            !results[SECRETS.len() + 1].1.contains(name),
            "{name} listed by glob"
        );
    }
    let search = &results[SECRETS.len() + 2].1;
    assert!(
        search.starts_with("1 matching line for `shown|s3cr3t`\nsrc/notes.txt:1: token shown"),
        "{search}"
    );
}

/// Replaces `path` atomically by a symlink to `target` (through a temporary name).
fn swap_in_link(target: &Path, path: &Path) {
    let temporary = path.with_extension("swap-link");
    let _ = std::fs::remove_file(&temporary);
    if std::os::unix::fs::symlink(target, &temporary).is_ok() {
        let _ = std::fs::rename(&temporary, path);
    }
}

/// Replaces `path` atomically by a regular file holding `text`.
fn swap_in_file(path: &Path, text: &str) {
    let temporary = path.with_extension("swap-file");
    if std::fs::write(&temporary, text).is_ok() {
        let _ = std::fs::rename(&temporary, path);
    }
}

/// Replaces `path` atomically by a FIFO.
fn swap_in_fifo(path: &Path) {
    let temporary = path.with_extension("swap-fifo");
    let _ = std::fs::remove_file(&temporary);
    if rustix::fs::mknodat(
        rustix::fs::CWD,
        &temporary,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .is_ok()
    {
        let _ = std::fs::rename(&temporary, path);
    }
}

/// A thread that keeps swapping until told to stop, at most `max_rounds` times.
struct Swapper {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(max_rounds: usize, mut swap: impl FnMut(usize) + Send + 'static) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let handle = {
            let stop = Arc::clone(&stop);
            let rounds = Arc::clone(&rounds);
            std::thread::spawn(move || {
                for round in 0..max_rounds {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    swap(round);
                    rounds.store(round + 1, Ordering::Relaxed);
                }
            })
        };
        Swapper {
            stop,
            rounds,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            handle.join().unwrap();
        }
        self.rounds.load(Ordering::Relaxed)
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `count` calls of each kind, ids prefixed by the round.
fn race_round(round: usize, reads: usize, searches: usize) -> Reply {
    let mut calls: Vec<(String, &str, String)> = Vec::new();
    for index in 0..reads {
        let path = if index % 2 == 0 {
            "src/data.txt"
        } else {
            "lib/mod.txt"
        };
        calls.push((
            format!("{round}-r{index}"),
            "read_file",
            json!({"path": path}).to_string(),
        ));
    }
    for index in 0..searches {
        calls.push((
            format!("{round}-s{index}"),
            "search_workspace",
            json!({"pattern": "payload"}).to_string(),
        ));
    }
    calls.push((
        format!("{round}-l"),
        "list_files",
        json!({"path": "lib"}).to_string(),
    ));
    let borrowed: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|(id, name, args)| (id.as_str(), *name, args.as_str()))
        .collect();
    Reply::tool_calls(&borrowed, 64)
}

/// Item 8: a file and a directory component are swapped for symlinks to outside, again
/// and again, while the model reads, lists and searches them: no outside byte and no
/// outside name may reach the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_directories_swapped_for_links_while_the_model_reads_leak_nothing() {
    const ROUNDS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let ws = base.join("ws");
    let outside = base.join("outside");
    write(&ws, "src/main.rs", MAIN);
    write(&ws, "src/data.txt", "inside payload\n");
    write(&ws, "lib/mod.txt", "inside payload\n");
    write(&outside, "data.txt", "leaked-outside payload\n");
    write(&outside, "mod.txt", "leaked-outside payload\n");
    write(
        &outside,
        "outside-only-name.txt",
        "leaked-outside payload\n",
    );

    let mut replies: Vec<Reply> = (0..ROUNDS).map(|round| race_round(round, 60, 20)).collect();
    replies.push(Reply::text(&["Read it all."]));
    let replies = replies;
    let doc = ws.join("src/main.rs");
    let server = start(
        replies,
        Some(&ws),
        None,
        json!({"tools": {"maxRounds": ROUNDS + 1}}),
        &doc,
    )
    .await;
    let fake = &server.fake;

    let swapper = {
        let ws = ws.clone();
        let outside = outside.clone();
        Swapper::start(2_000_000, move |_| {
            let data = ws.join("src/data.txt");
            swap_in_link(&outside.join("data.txt"), &data);
            let lib = ws.join("lib");
            let aside = ws.join("lib.aside");
            let moved = std::fs::rename(&lib, &aside).is_ok();
            if moved {
                let _ = std::os::unix::fs::symlink(&outside, &lib);
            }
            swap_in_file(&data, "inside payload\n");
            if moved {
                let _ = std::fs::remove_file(&lib);
                let _ = std::fs::rename(&aside, &lib);
            }
        })
    };
    let end = explain(&server, &doc).await;
    let swaps = swapper.finish();
    assert!(end.starts_with("explanation opened"), "{end}");
    assert!(swaps > 0, "the swapper never ran");

    let results = unique_results(fake);
    assert_eq!(results.len(), ROUNDS * 81, "every call answered");
    let leaks: Vec<&(String, String)> = results
        .iter()
        .filter(|(_, content)| {
            content.contains("leaked-outside") || content.contains("outside-only-name")
        })
        .collect();
    let inside_reads = results
        .iter()
        .filter(|(_, content)| content.contains("1| inside payload"))
        .count();
    let refused = results
        .iter()
        .filter(|(_, content)| content.starts_with("refused: ") || content.starts_with("not found"))
        .count();
    println!(
        "race: {} calls during {swaps} swaps: {inside_reads} inside reads, {refused} refused, {} leaks",
        results.len(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "outside content reached the upstream: {leaks:#?}"
    );
}

/// Item 9: the file the model reads is swapped for a FIFO again and again: no call may
/// hang (the action ends), and the next action is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_swapped_for_a_fifo_never_hangs_a_tool_call() {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    write(&ws, "src/main.rs", MAIN);
    write(&ws, "src/data.txt", "inside payload\n");
    let calls: Vec<(String, &str, String)> = (0..60)
        .map(|index| {
            if index % 3 == 2 {
                (
                    format!("s{index}"),
                    "search_workspace",
                    json!({"pattern": "payload"}).to_string(),
                )
            } else {
                (
                    format!("r{index}"),
                    "read_file",
                    json!({"path": "src/data.txt"}).to_string(),
                )
            }
        })
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|(id, name, args)| (id.as_str(), *name, args.as_str()))
        .collect();
    let replies = vec![
        Reply::tool_calls(&borrowed, 64),
        Reply::text(&["Done reading."]),
        Reply::tool_calls(&[("after", "read_file", r#"{"path": "src/data.txt"}"#)], 64),
        Reply::text(&["Served again."]),
    ];
    let doc = ws.join("src/main.rs");
    let server = start(replies, Some(&ws), None, Value::Null, &doc).await;
    let fake = &server.fake;

    let swapper = {
        let data = ws.join("src/data.txt");
        Swapper::start(2_000_000, move |_| {
            swap_in_fifo(&data);
            swap_in_file(&data, "inside payload\n");
        })
    };
    // `explain` waits a bounded time for the end: a hung open fails here.
    let end = explain(&server, &doc).await;
    let swaps = swapper.finish();
    assert!(end.starts_with("explanation opened"), "{end}");
    assert!(swaps > 0);
    let results = unique_results(fake);
    assert_eq!(results.len(), calls.len());
    let special = results
        .iter()
        .filter(|(_, content)| content.contains("not a regular file"))
        .count();
    println!(
        "fifo: {} calls during {swaps} swaps, {special} saw the FIFO and were refused",
        results.len()
    );

    let end = explain(&server, &doc).await;
    assert!(end.starts_with("explanation opened"), "{end}");
    let after = unique_results(fake)
        .into_iter()
        .find(|(id, _)| id == "after")
        .expect("the call after the swaps");
    assert!(after.1.contains("1| inside payload"), "{}", after.1);
}

/// Item 10: a workspace folder inside `.git`, `.ssh` or `.aws` exposes nothing, and
/// neither does `/`, given at start or added later; each is refused with a message.
#[tokio::test]
async fn workspace_folders_inside_secret_directories_or_at_the_file_system_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    write(&base, "project/src/main.rs", MAIN);
    write(&base, "project/.git/config", "url = s3cr3t-git-remote\n");
    write(&base, "home/.ssh/id_work", "s3cr3t-ssh-key\n");
    write(&base, "home/.aws/credentials.bak", "s3cr3t-aws\n");
    write(
        &base,
        "home/.aws/sso/cache/token.json",
        "s3cr3t-aws-token\n",
    );
    let doc = base.join("project/src/main.rs");
    let reads = |file: &str| {
        Reply::tool_calls(
            &[
                ("read", "read_file", &json!({"path": file}).to_string()),
                ("list", "list_files", "{}"),
                ("search", "search_workspace", r#"{"pattern": "s3cr3t"}"#),
            ],
            64,
        )
    };
    for (folder, file) in [
        (base.join("project/.git"), "config"),
        (base.join("home/.ssh"), "id_work"),
        (base.join("home/.aws/sso"), "cache/token.json"),
    ] {
        let replies = vec![reads(file), Reply::text(&["ok"])];
        let server = start(replies, None, Some(vec![folder.clone()]), Value::Null, &doc).await;
        let fake = &server.fake;
        server
            .client
            .wait_until("the refused folder message", |client| {
                client
                    .shown_messages()
                    .iter()
                    .any(|message| message.contains("the tools will not read this folder"))
            })
            .await;
        let shown = server.client.shown_messages().join("\n");
        assert!(
            shown.contains(&folder.display().to_string()) && shown.contains("may hold secrets"),
            "{shown}"
        );
        explain(&server, &doc).await;
        for (id, content) in unique_results(fake) {
            assert!(!content.contains("s3cr3t-"), "{folder:?} {id}: {content}");
            assert!(
                content.contains("refused: there is no workspace folder to read from"),
                "{id}: {content}"
            );
        }
    }

    // `/` added to a good workspace: refused with a message, the good folder stays.
    let replies = vec![
        Reply::tool_calls(
            &[
                ("etc", "read_file", r#"{"path": "etc/passwd"}"#),
                ("abs", "read_file", r#"{"path": "/etc/passwd"}"#),
                ("own", "read_file", r#"{"path": "src/main.rs"}"#),
            ],
            64,
        ),
        Reply::text(&["ok"]),
    ];
    let project = base.join("project");
    let server = start(replies, Some(&project), None, Value::Null, &doc).await;
    let fake = &server.fake;
    server
        .client
        .notify(
            "workspace/didChangeWorkspaceFolders",
            json!({"event": {"added": [{"uri": "file:///", "name": "everything"}], "removed": []}}),
        )
        .await;
    server
        .client
        .wait_until("the refused root message", |client| {
            client
                .shown_messages()
                .iter()
                .any(|message| message.contains("whole file system"))
        })
        .await;
    explain(&server, &doc).await;
    let results = unique_results(fake);
    assert_eq!(results.len(), 3);
    for (id, content) in &results[..2] {
        assert!(!content.contains("root:"), "{id}: {content}");
        assert!(
            content.starts_with("refused: ") || content.starts_with("not found: "),
            "{id}: {content}"
        );
    }
    assert!(results[2].1.contains("1| fn main() {"), "{}", results[2].1);
}

/// Item 11: a huge glob is not echoed back whole, every result keeps to the 30,000-character
/// cap, and a file name holding a newline cannot forge a `path:line:` line.
#[tokio::test]
async fn huge_globs_are_not_echoed_and_names_cannot_forge_lines() {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    write(&ws, "src/main.rs", MAIN);
    write(&ws, "main.py", "print('payload')\n");
    write(
        &ws,
        "notes\nmain.py:1: import os; os.system('forged')",
        "a payload\n",
    );
    let huge = "x".repeat(129_000);
    let bad = format!("{huge}[");
    let calls = [
        ("g1", "list_files", json!({"glob": huge}).to_string()),
        ("g2", "list_files", json!({"glob": bad}).to_string()),
        (
            "g3",
            "search_workspace",
            json!({"pattern": "payload", "glob": huge}).to_string(),
        ),
        (
            "g4",
            "search_workspace",
            json!({"pattern": "payload", "glob": bad}).to_string(),
        ),
        (
            "g5",
            "search_workspace",
            json!({"pattern": huge}).to_string(),
        ),
        ("g6", "read_file", json!({"path": huge}).to_string()),
        ("n1", "list_files", "{}".to_owned()),
        (
            "n2",
            "search_workspace",
            json!({"pattern": "payload"}).to_string(),
        ),
    ];
    let borrowed: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|(id, name, args)| (*id, *name, args.as_str()))
        .collect();
    let replies = vec![Reply::tool_calls(&borrowed, 4096), Reply::text(&["ok"])];
    let doc = ws.join("src/main.rs");
    let server = start(replies, Some(&ws), None, Value::Null, &doc).await;
    let fake = &server.fake;
    explain(&server, &doc).await;
    let results = unique_results(fake);
    assert_eq!(results.len(), calls.len());
    for (id, content) in &results[..6] {
        assert!(
            content.chars().count() <= 1_000,
            "{id}: {} characters echoed",
            content.chars().count()
        );
    }
    for (id, content) in &results[6..] {
        assert!(
            content
                .lines()
                .filter(|line| line.starts_with("main.py:1:"))
                .all(|line| line == "main.py:1: print('payload')"),
            "{id} holds a forged line:\n{content}"
        );
        assert!(
            content.contains("notes\\nmain.py:1: import os"),
            "{id}: the name is shown escaped:\n{content}"
        );
    }
}

/// The peak resident memory of a process, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// Item 11: eight parallel searches over a file that is one 64 MB line: the binary's peak
/// memory stays below the size of that line (a search holds at most 1 MB of a line), and the
/// other files are still searched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_searches_over_a_file_with_one_giant_line_keep_memory_bounded() {
    const LINE: usize = 64 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    write(&ws, "src/main.rs", MAIN);
    write(&ws, "src/app.js", "// payload here\n");
    let mut giant = "x".repeat(LINE);
    giant.push_str("payload\n");
    write(&ws, "dist/bundle.min.js", &giant);
    drop(giant);
    let calls: Vec<(String, String)> = (0..8)
        .map(|index| {
            (
                format!("s{index}"),
                json!({"pattern": "payload"}).to_string(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|(id, args)| (id.as_str(), "search_workspace", args.as_str()))
        .collect();
    let replies = vec![Reply::tool_calls(&borrowed, 64), Reply::text(&["ok"])];
    let s = Fixture::new()
        .binary(&[], &[])
        .key(Some(KEY))
        .root_at(&ws)
        .open("src/main.rs")
        .replies(replies)
        .start()
        .await;
    let (client, fake) = (&s.client, &s.fake);
    let doc = ws.join("src/main.rs");
    let token = client
        .run_action(
            "chatls.explain",
            json!({"uri": file_uri(&doc), "range": range(0, 0, 2, 0)}),
        )
        .await;
    let end = client.wait_progress_end(&token).await;
    assert!(end.starts_with("explanation opened"), "{end}");
    let peak = client.pid().and_then(peak_rss).expect("the binary's VmHWM");
    let results = unique_results(fake);
    assert_eq!(results.len(), 8);
    for (id, content) in &results {
        assert!(
            content.contains("src/app.js:1: // payload here")
                && content.contains("1 file was skipped: a line longer than 1 MB"),
            "{id}: {content}"
        );
    }
    println!(
        "memory: 8 parallel searches over a {} MB line: peak RSS {:.1} MB",
        LINE >> 20,
        peak as f64 / (1024.0 * 1024.0)
    );
    assert!(
        peak < LINE as u64,
        "peak RSS {peak} bytes: the giant line was held in memory"
    );
    client.shutdown_and_exit().await;
}

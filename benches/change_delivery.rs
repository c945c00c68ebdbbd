//! Changes across files, end to end: from the model's last byte to the `workspace/applyEdit`
//! of a 20-file change (the built-in `change` row: the fake model calls `edit_file` on 20
//! files, then answers with closing words), beside a same-run baseline of one
//! single-selection refactor (the `refactor` row). The real `chatls` binary over stdio, the
//! fake upstream (real HTTP + SSE) behind a relay that timestamps every chunk it hands to
//! chatls; the "last byte" is the relay's stamp of the last chunk before the applyEdit, the
//! applyEdit instant is when this client read it. The client declares VS Code's workspace-edit
//! capabilities with change annotations, so the applyEdit itself is the change's review; it
//! answers `applied: true`. `cargo bench --bench change_delivery`; `CHATLS_BENCH_RUNS` runs
//! per row (100); `CHATLS_BENCH_BIN` another binary.

mod common;

use std::path::Path;
use std::time::Instant;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use common::{Event, Lsp, Relay, chatls_bin, load_average, ms, percentile, runs, runtime};

const FILES: usize = 20;

/// What only this benchmark asks of the client.
impl Lsp {
    /// Runs a command; returns its progress token.
    async fn run(&self, command: &str, argument: Value) -> String {
        let (_, _, response) = self
            .request(
                "workspace/executeCommand",
                json!({"command": command, "arguments": [argument]}),
            )
            .await;
        response["result"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{command} did not start: {response}"))
            .to_owned()
    }

    /// Waits for the end of the progress `token` (after events[index..]); returns the
    /// applyEdit that came before it, if any.
    async fn applied_before_end(&self, index: usize, token: &str) -> Option<Event> {
        self.wait_end(index, token).await;
        self.events_from(index)
            .into_iter()
            .find(|event| event.method == "workspace/applyEdit")
    }
}

const SOURCE: &str = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn main() {\n    println!(\"{}\", add(1, 2));\n}\n";

/// File `i` of the workspace: about 60 lines, with one `old_name` call to rename.
fn module_text(i: usize) -> String {
    let mut text =
        format!("//! Module {i}.\n\npub fn caller_{i}() -> u32 {{\n    crate::old_name()\n}}\n");
    for line in 0..55 {
        text.push_str(&format!("pub const VALUE_{i}_{line}: u32 = {line};\n"));
    }
    text
}

fn change_calls() -> Reply {
    let arguments: Vec<(String, String)> = (0..FILES)
        .map(|i| {
            (
                format!("c{i}"),
                json!({"path": format!("src/m{i}.rs"), "old_text": "crate::old_name()", "new_text": "crate::new_name()"})
                    .to_string(),
            )
        })
        .collect();
    let calls: Vec<(&str, &str, &str)> = arguments
        .iter()
        .map(|(id, args)| (id.as_str(), "edit_file", args.as_str()))
        .collect();
    Reply::tool_calls(&calls, 64)
}

fn refactor_answer() -> Reply {
    Reply::text(&[
        "```rust\n",
        "fn add(a: i64, b: i64) -> i64 {\n",
        "```\nWidened the integers.",
    ])
}

/// Returns (change samples, refactor samples) in ms, interleaved run by run.
async fn measure(bin: &Path, runs: usize) -> (Vec<f64>, Vec<f64>) {
    let root_dir = tempfile::tempdir().expect("tempdir");
    let root = root_dir.path().canonicalize().expect("canonical tempdir");
    let explain_dir = tempfile::tempdir().expect("tempdir");
    for i in 0..FILES {
        let path = root.join(format!("src/m{i}.rs"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, module_text(i)).expect("write");
    }
    let fake = FakeUpstream::start(Vec::new()).await.expect("fake");
    let relay = Relay::start(fake.port()).await;
    let lsp = Lsp::spawn(bin, &relay.address, explain_dir.path());
    // VS Code's workspace-edit capabilities: documentChanges, resource operations,
    // textOnlyTransactional and change annotations.
    lsp.initialize_with(
        &root,
        json!({
            "general": {"positionEncodings": ["utf-16"]},
            "window": {"workDoneProgress": true, "showDocument": {"support": true}},
            "workspace": {
                "workspaceEdit": {
                    "documentChanges": true,
                    "resourceOperations": ["create", "rename", "delete"],
                    "failureHandling": "textOnlyTransactional",
                    "changeAnnotationSupport": {"groupsOnLabel": true},
                },
                "configuration": false,
            },
        }),
    )
    .await;
    let open_uri = format!("file://{}/open.rs", root.display());
    lsp.open(&open_uri, SOURCE);
    let (mut change, mut refactor) = (Vec::new(), Vec::new());
    // One warm-up round, not counted.
    for run in 0..runs + 1 {
        // The change: 20 edit_file calls, then closing words. The client does not write the
        // files, so every run finds them as they were.
        fake.push(change_calls());
        fake.push(Reply::text(&["Renamed old_name to new_name in 20 files."]));
        let index = lsp.events_len();
        let token = lsp
            .run(
                "chatls.run",
                json!({"uri": open_uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                       "action": "change", "instruction": "rename old_name to new_name"}),
            )
            .await;
        let edit = lsp
            .applied_before_end(index, &token)
            .await
            .expect("the change sent no applyEdit");
        let files = edit.params["edit"]["documentChanges"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(files, FILES, "the change edited {files} files: {edit:?}");
        let annotations = edit.params["edit"]["changeAnnotations"]
            .as_object()
            .map_or(0, serde_json::Map::len);
        assert!(annotations > 0, "the change was not annotated for review");
        let last = relay.last_down_before(edit.at).expect("no upstream bytes");
        if run > 0 {
            change.push(ms(edit.at - last));
        }

        // The baseline: one single-selection refactor.
        fake.push(refactor_answer());
        let index = lsp.events_len();
        let token = lsp
            .run(
                "chatls.refactor",
                json!({"uri": open_uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}),
            )
            .await;
        let edit = lsp
            .applied_before_end(index, &token)
            .await
            .expect("the refactor sent no applyEdit");
        let last = relay.last_down_before(edit.at).expect("no upstream bytes");
        if run > 0 {
            refactor.push(ms(edit.at - last));
        }
    }
    lsp.stop().await;
    (change, refactor)
}

fn main() {
    runtime().block_on(async {
        let runs = runs(100).max(1);
        let bin = chatls_bin();
        let load_before = load_average();
        let started = Instant::now();
        let (change, refactor) = measure(&bin, runs).await;
        let (c50, c99) = (percentile(&change, 50.0), percentile(&change, 99.0));
        let (r50, r99) = (percentile(&refactor, 50.0), percentile(&refactor, 99.0));
        println!("chatls, model's last byte → workspace/applyEdit read by the client: {}", bin.display());
        println!("| row (n = {runs} each, interleaved) | p50 | p99 |");
        println!("| --- | --- | --- |");
        println!("| change: 20 files edited by edit_file, one reviewed (annotated) applyEdit | {c50:.2} ms | {c99:.2} ms |");
        println!("| refactor: one selection (baseline) | {r50:.2} ms | {r99:.2} ms |");
        println!("| ratio change ÷ refactor | {:.2}× | {:.2}× |", c50 / r50, c99 / r99);
        println!(
            "total {:.1} s; load average (1 min) {load_before} → {}",
            started.elapsed().as_secs_f64(),
            load_average()
        );
    });
}

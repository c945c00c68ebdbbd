//! Benchmark of `search_workspace` on a large source tree (the biggest crate under
//! ~/.cargo/registry/src, or `CHATLS_BENCH_TREE`), timed against `rg` on the same tree in
//! the same run when ripgrep is installed; prints the ratio.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatls::tools::{DiskOnly, Limits, Sandbox, ToolBox};
use criterion::{Criterion, criterion_group, criterion_main};

/// (label, pattern, regex?) — patterns with fewer matches than the result cap, so both tools
/// scan the whole tree.
const QUERIES: &[(&str, &str, bool)] = &[
    ("literal_absent", "chatls_needle_never_present", false),
    ("literal_rare", "x25519_ge_scalarmult", false),
    ("regex_rare", r"static\s+int\s+ec_\w+", true),
];

fn tree_size(dir: &Path, depth: usize) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && depth < 32 {
            total += tree_size(&entry.path(), depth + 1);
        } else if kind.is_file() {
            total += entry.metadata().map_or(0, |meta| meta.len());
        }
    }
    total
}

/// The tree to search: `CHATLS_BENCH_TREE`, else the largest crate source directory.
fn pick_tree() -> Option<(PathBuf, u64)> {
    if let Some(dir) = std::env::var_os("CHATLS_BENCH_TREE") {
        let dir = PathBuf::from(dir);
        let size = tree_size(&dir, 0);
        return Some((dir, size));
    }
    let registry = dirs::home_dir()?.join(".cargo/registry/src");
    let mut best: Option<(PathBuf, u64)> = None;
    for index in std::fs::read_dir(registry).ok()?.flatten() {
        for krate in std::fs::read_dir(index.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let size = tree_size(&krate.path(), 0);
            if best.as_ref().is_none_or(|(_, best_size)| size > *best_size) {
                best = Some((krate.path(), size));
            }
        }
    }
    best
}

fn rg_available() -> bool {
    Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// ripgrep with the same semantics: smart case, literal unless regex, ignore files honoured
/// outside git too, hidden and binary files skipped.
fn run_rg(tree: &Path, pattern: &str, regex: bool) -> usize {
    let mut command = Command::new("rg");
    command.args([
        "--smart-case",
        "--no-require-git",
        "--line-number",
        "--no-heading",
    ]);
    if !regex {
        command.arg("--fixed-strings");
    }
    let output = command
        .arg("--")
        .arg(pattern)
        .arg(tree)
        .stderr(Stdio::null())
        .output()
        .expect("rg runs");
    output
        .stdout
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .count()
}

fn arguments(pattern: &str, regex: bool) -> String {
    serde_json::json!({"pattern": pattern, "regex": regex, "maxResults": 100}).to_string()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn bench_search(criterion: &mut Criterion) {
    let Some((tree, size)) = pick_tree() else {
        eprintln!("no crate sources under ~/.cargo/registry/src and no CHATLS_BENCH_TREE; skipped");
        return;
    };
    eprintln!(
        "searching {} ({:.1} MB)",
        tree.display(),
        size as f64 / 1_048_576.0
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let toolbox = ToolBox::new(
        Sandbox::new(vec![tree.clone()], &[]),
        Arc::new(DiskOnly),
        Limits::default(),
    );
    let search = |pattern: &str, regex: bool| {
        let output = runtime.block_on(toolbox.run("search_workspace", &arguments(pattern, regex)));
        assert!(!output.is_error, "{}", output.content);
        output.content
    };
    let have_rg = rg_available();

    let mut group = criterion.benchmark_group("search_workspace");
    group.sample_size(20).warm_up_time(Duration::from_secs(1));
    for (label, pattern, regex) in QUERIES {
        group.bench_function(format!("chatls/{label}"), |bencher| {
            bencher.iter(|| search(pattern, *regex))
        });
        if have_rg {
            group.bench_function(format!("rg/{label}"), |bencher| {
                bencher.iter(|| run_rg(&tree, pattern, *regex))
            });
        }
    }
    group.finish();

    if !have_rg {
        eprintln!("rg is not installed: no comparison (apt-get install ripgrep)");
        return;
    }
    // Interleaved runs so both see the same machine load.
    eprintln!("\nmedian of 15 interleaved runs each:");
    for (label, pattern, regex) in QUERIES {
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let mut found = (0, 0);
        for _ in 0..15 {
            let start = Instant::now();
            let content = search(pattern, *regex);
            ours.push(start.elapsed());
            let start = Instant::now();
            let rg_lines = run_rg(&tree, pattern, *regex);
            theirs.push(start.elapsed());
            found = (
                content
                    .lines()
                    .skip(1)
                    .filter(|line| !line.starts_with('['))
                    .count(),
                rg_lines,
            );
        }
        let (ours, theirs) = (median(ours), median(theirs));
        eprintln!(
            "{label:>15}: chatls {:>8.2} ms ({} lines), rg {:>8.2} ms ({} lines), ratio {:.2}",
            ours.as_secs_f64() * 1e3,
            found.0,
            theirs.as_secs_f64() * 1e3,
            found.1,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench_search);
criterion_main!(benches);

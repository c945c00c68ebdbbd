//! Staging overhead of a change across files: one `edit_file` call in a 10,000-line file
//! (read the file, find `old_text` once, stage the new text), beside a same-run baseline of
//! one `read_file` of 200 lines of the same file, both through the `ToolBox` as the model
//! calls them.

use std::sync::Arc;
use std::time::Duration;

use chatls::tools::{DiskOnly, Limits, Sandbox, Staging, ToolBox};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn bench_staging(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let text: String = (0..10_000)
        // About 220 KB: under read_file's 256 KB limit, so the baseline reads the same file.
        .map(|line| format!("let v{line} = f({line});\n"))
        .collect();
    std::fs::write(root.join("big.rs"), &text).expect("write");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let toolbox = ToolBox::new(
        Sandbox::new(vec![root], &[]),
        Arc::new(DiskOnly),
        Limits::default(),
    );
    let edit = r#"{"path": "big.rs", "old_text": "let v7321 = f(7321);", "new_text": "let renamed = f(7321);"}"#;
    let read = r#"{"path": "big.rs", "startLine": 7200, "endLine": 7399}"#;

    let mut group = criterion.benchmark_group("change");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("edit_file/10k_lines", |bencher| {
        bencher.iter_batched(
            || toolbox.with_staging(Arc::new(Staging::new(20))),
            |staged| {
                let output = runtime.block_on(staged.run("edit_file", edit));
                assert!(!output.is_error, "{}", output.content);
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("read_file/200_of_10k_lines (baseline)", |bencher| {
        bencher.iter(|| {
            let output = runtime.block_on(toolbox.run("read_file", read));
            assert!(!output.is_error, "{}", output.content);
        });
    });
    group.finish();
}

criterion_group!(benches, bench_staging);
criterion_main!(benches);

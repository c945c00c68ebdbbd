//! Building the upstream request for an action on a 2,000-line file: the new user turn
//! (`prompt::user_turn`), the request (`engine::build_request`, tools → system → history →
//! turn) and its JSON body (`serde_json::to_vec`), apart and together.

use std::hint::black_box;

use chatls::action::ActionInput;
use chatls::action::engine::build_request;
use chatls::action::prompt::{SYSTEM_PROMPT, user_turn};
use chatls::config::{EnvSettings, Settings};
use chatls::llm::types::Message;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ropey::Rope;

const LINES: usize = 2_000;

/// A Rust-like file of `LINES` lines with some non-ASCII text.
fn file_text() -> String {
    let mut text = String::new();
    for line in 0..LINES {
        if line.is_multiple_of(25) {
            text.push_str(&format!("/// Section {line}: naïve café → ✓ handling\n"));
        } else {
            text.push_str(&format!(
                "    let value_{line} = compute(&items[{line}], \"label {line}\")?; // step {line}\n"
            ));
        }
    }
    text
}

fn input(text: &str) -> ActionInput {
    let rope = Rope::from_str(text);
    // Twenty lines in the middle of the file.
    let start = rope.line_to_char(990);
    let end = rope.line_to_char(1010);
    ActionInput {
        action: chatls::action::table::builtin_rows().remove(1),
        uri: "file:///work/src/big.rs".into(),
        path: Some("/work/src/big.rs".into()),
        display_path: "src/big.rs".into(),
        language_id: "rust".into(),
        text: rope,
        version: 7,
        selection: start..end,
        instruction: Some("make it iterate instead of indexing".into()),
        diagnostics: Vec::new(),
        with_context: true,
    }
}

fn settings() -> Settings {
    Settings::from_env(&EnvSettings {
        base_url: Some("http://127.0.0.1:1/v1".into()),
        model: Some("bench-model".into()),
        api_key: None,
        explain_dir: None,
        ..EnvSettings::default()
    })
}

/// System prompt, one earlier exchange, the new turn.
fn messages(turn: String) -> Vec<Message> {
    vec![
        Message::system(SYSTEM_PROMPT),
        Message::user("Task: Explain the selected code.\n(earlier turn)"),
        Message::assistant("It computes each value in turn and propagates errors."),
        Message::user(turn),
    ]
}

fn bench(c: &mut Criterion) {
    let text = file_text();
    let input = input(&text);
    let settings = settings();
    let turn = user_turn(&input);
    let request = build_request(&settings, &settings.model, messages(turn.clone()), true);
    let body_len = serde_json::to_vec(&request)
        .map(|body| body.len())
        .unwrap_or(0);

    let mut group = c.benchmark_group("request_2000_lines");
    group.throughput(Throughput::Bytes(body_len as u64));
    group.bench_function("user_turn", |b| b.iter(|| user_turn(black_box(&input))));
    group.bench_function("build_request", |b| {
        b.iter(|| {
            build_request(
                &settings,
                &settings.model,
                messages(black_box(turn.clone())),
                true,
            )
        })
    });
    group.bench_function("to_vec", |b| {
        b.iter(|| serde_json::to_vec(black_box(&request)))
    });
    group.bench_function("all", |b| {
        b.iter(|| {
            let turn = user_turn(black_box(&input));
            let request = build_request(&settings, &settings.model, messages(turn), true);
            serde_json::to_vec(&request)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

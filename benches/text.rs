//! Benchmarks for the document store and edit computation: single-char and line edits in
//! a 10 MB document, position conversion on long non-ASCII lines in each encoding, and
//! `minimal_edits` on a 2,000-line answer. Run with `cargo bench --bench text`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ropey::Rope;

use chatls::answer::edits::minimal_edits;
use chatls::text::{
    Document, Position, PositionEncoding, Range, TextChange, char_to_position, position_to_char,
};

/// About 10 MB of code-like text with some non-ASCII, CRLF-free, ~180k lines.
fn ten_megabytes() -> String {
    let line = "    let value_é = compute(\"中文\", 42) + other_function(x, y); // 😀 note\n";
    line.repeat(10 * 1024 * 1024 / line.len() + 1)
}

fn edits_in_a_large_document(c: &mut Criterion) {
    let text = ten_megabytes();
    let mut group = c.benchmark_group("document_10mb");
    group.measurement_time(Duration::from_secs(3));

    for enc in [PositionEncoding::Utf16, PositionEncoding::Utf8] {
        let mut document = Document::new(&text, 0, "rust");
        let line = (document.text().len_lines() / 2) as u32;
        let mut version = 0;
        group.bench_function(format!("insert_char_{}", enc.as_str()), |b| {
            b.iter(|| {
                version += 1;
                let at = Position::new(line, 17);
                let change = TextChange::replace(Range::new(at, at), "x");
                document
                    .apply_changes(version, black_box(&[change]), enc)
                    .unwrap();
            })
        });
    }

    let mut document = Document::new(&text, 0, "rust");
    let line = (document.text().len_lines() / 3) as u32;
    let mut version = 0;
    group.bench_function("insert_line_utf16", |b| {
        b.iter(|| {
            version += 1;
            let at = Position::new(line, 0);
            let change = TextChange::replace(Range::new(at, at), "    let inserted = 1;\n");
            document
                .apply_changes(version, black_box(&[change]), PositionEncoding::Utf16)
                .unwrap();
        })
    });

    let mut document = Document::new(&text, 0, "rust");
    let line = (document.text().len_lines() / 4) as u32;
    let mut version = 0;
    group.bench_function("replace_word_utf16", |b| {
        b.iter(|| {
            version += 1;
            let range = Range::new(Position::new(line, 8), Position::new(line, 13));
            let change = TextChange::replace(range, "other");
            document
                .apply_changes(version, black_box(&[change]), PositionEncoding::Utf16)
                .unwrap();
        })
    });
    group.finish();
}

fn position_conversion_on_long_lines(c: &mut Criterion) {
    // Three lines of ~200k chars each mixing 1-, 2-, 3- and 4-byte chars.
    let long_line = "aé中😀 bcd".repeat(25_000);
    let rope = Rope::from_str(&format!("{long_line}\n{long_line}\r\n{long_line}"));
    let line_len = long_line.chars().count();
    let mut group = c.benchmark_group("long_lines");
    for enc in [
        PositionEncoding::Utf8,
        PositionEncoding::Utf16,
        PositionEncoding::Utf32,
    ] {
        let offset = line_len + 1 + line_len * 3 / 4;
        let position = char_to_position(&rope, offset, enc);
        group.bench_function(format!("position_to_char_{}", enc.as_str()), |b| {
            b.iter(|| position_to_char(&rope, black_box(position), enc))
        });
        group.bench_function(format!("char_to_position_{}", enc.as_str()), |b| {
            b.iter(|| char_to_position(&rope, black_box(offset), enc))
        });
    }
    group.finish();
}

fn minimal_edits_on_an_answer(c: &mut Criterion) {
    let old: String = (0..2000)
        .map(|i| format!("    let value_{i} = compute(\"é{i}\", {i}) + other(x, y);\n"))
        .collect();
    // A typical rewrite: every 25th line changed a little, a few lines added.
    let new: String = (0..2000)
        .map(|i| match i % 25 {
            0 => format!("    let value_{i} = compute_fast(\"é{i}\", {i}) + other(x, y);\n"),
            7 if i % 100 == 7 => {
                format!("    // added\n    let value_{i} = compute(\"é{i}\", {i}) + other(x, y);\n")
            }
            _ => format!("    let value_{i} = compute(\"é{i}\", {i}) + other(x, y);\n"),
        })
        .collect();
    let mut group = c.benchmark_group("minimal_edits");
    group.sample_size(20);
    group.bench_function("answer_2000_lines", |b| {
        b.iter(|| minimal_edits(black_box(&old), black_box(&new)))
    });
    group.finish();
}

criterion_group!(
    benches,
    edits_in_a_large_document,
    position_conversion_on_long_lines,
    minimal_edits_on_an_answer
);
criterion_main!(benches);

//! SSE parsing plus chunk decoding plus accumulation of a long streamed answer held in
//! memory and split at awkward byte boundaries, as it would arrive from the network.
//! Throughput is reported in chunks per second (target: 50,000/s or more on one core).

use std::hint::black_box;

use chatls::llm::StreamEvent;
use chatls::llm::accumulate::Accumulator;
use chatls::llm::sse::SseParser;
use chatls::llm::types::ChatChunk;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CHUNKS: usize = 10_000;

/// A stream of `CHUNKS` content chunks (plus a tool call, finish, usage and `[DONE]`) cut into
/// pieces of 1, 7, 61, 113 and 1500 bytes in turn, so events, lines and CRLFs straddle pieces.
fn stream_pieces() -> Vec<Vec<u8>> {
    let mut text = String::new();
    for index in 0..CHUNKS {
        text.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"claude-sonnet-4-6\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {index} é \"}},\"finish_reason\":null}}]}}\r\n\r\n"
        ));
        if index % 1000 == 0 {
            text.push_str(": keep-alive\r\n\r\n");
        }
    }
    text.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n");
    text.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\ndata: [DONE]\n\n");
    let bytes = text.into_bytes();
    let sizes = [1usize, 7, 61, 113, 1500];
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut turn = 0;
    while start < bytes.len() {
        let end = (start + sizes[turn % sizes.len()]).min(bytes.len());
        pieces.push(bytes[start..end].to_vec());
        start = end;
        turn += 1;
    }
    pieces
}

/// Parses and accumulates the whole stream; returns the content length and call count.
fn run(pieces: &[Vec<u8>]) -> (usize, usize) {
    let mut parser = SseParser::new();
    let mut accumulator = Accumulator::new();
    let mut fragments = 0usize;
    let mut on_event = |event: StreamEvent<'_>| {
        if let StreamEvent::Content(text) = event {
            fragments += text.len();
        }
    };
    'stream: for piece in pieces {
        parser.feed(piece);
        while let Some(event) = parser.next_event() {
            if event.data == "[DONE]" {
                break 'stream;
            }
            if let Ok(chunk) = serde_json::from_str::<ChatChunk>(event.data) {
                accumulator.apply(chunk, &mut on_event);
            }
        }
    }
    let completion = accumulator.finish();
    assert_eq!(completion.content.len(), fragments);
    (completion.content.len(), completion.tool_calls.len())
}

fn bench_sse(criterion: &mut Criterion) {
    let pieces = stream_pieces();
    let (content_len, calls) = run(&pieces);
    assert!(content_len > CHUNKS * 8);
    assert_eq!(calls, 1);
    let mut group = criterion.benchmark_group("sse");
    group.throughput(Throughput::Elements(CHUNKS as u64));
    group.bench_function("parse_and_accumulate_10k_chunks", |bencher| {
        bencher.iter(|| black_box(run(black_box(&pieces))))
    });
    group.finish();
}

criterion_group!(benches, bench_sse);
criterion_main!(benches);

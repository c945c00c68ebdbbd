//! The SSE parser: any bytes, fed whole or cut into pieces at arbitrary points (inside CRLFs,
//! inside UTF-8 sequences, inside a BOM), give the same events, and nothing panics.

#![no_main]

use chatls_fuzz::sse::SseParser;
use libfuzzer_sys::fuzz_target;

/// Every event of `pieces` fed in order, then the end of the stream.
fn events(pieces: &[&[u8]]) -> Vec<(String, String)> {
    let mut parser = SseParser::new();
    let mut found = Vec::new();
    for piece in pieces {
        parser.feed(piece);
        while let Some(event) = parser.next_event() {
            found.push((event.event.to_owned(), event.data.to_owned()));
        }
    }
    while let Some(event) = parser.finish() {
        found.push((event.event.to_owned(), event.data.to_owned()));
    }
    found
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte chooses the cut points: every (n+1)-th byte, and one cut at the middle.
    let step = usize::from(data[0] % 7) + 1;
    let stream = &data[1..];
    let whole = events(&[stream]);
    let pieces: Vec<&[u8]> = stream.chunks(step).collect();
    assert_eq!(events(&pieces), whole, "cut every {step} bytes");
    let (left, right) = stream.split_at(stream.len() / 2);
    assert_eq!(events(&[left, right]), whole, "cut in the middle");
    for (_, data) in &whole {
        assert!(
            !data.contains('\r'),
            "a line end leaked into data: {data:?}"
        );
    }
});

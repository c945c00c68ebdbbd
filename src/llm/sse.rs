//! An incremental Server-Sent Events parser (the WHATWG event-stream format): feed it bytes
//! as they arrive, in pieces split anywhere, and pull complete events out. Pure logic, no IO.
//!
//! Handles LF, CRLF and lone CR line ends (also when a CRLF is split across two pieces),
//! `:` comments, multi-line `data`, the optional space after the colon, and a UTF-8 BOM.
//! Fields other than `data` and `event` are ignored. Invalid UTF-8 becomes U+FFFD.

/// One dispatched event, borrowed from the parser until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field, empty when none was given (the default type "message").
    pub event: &'a str,
    /// The `data:` lines joined with `\n`.
    pub data: &'a str,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes received and not yet consumed; `pos` is where scanning resumes.
    buffer: Vec<u8>,
    pos: usize,
    /// How far past `pos` the buffer is known to hold no line end, so a long line that
    /// arrives in many pieces is scanned once, not once per piece.
    scanned: usize,
    /// The previous piece ended in CR, so a LF at the start of the next one belongs to it.
    skip_lf: bool,
    /// The first line has been seen (a BOM is only stripped there).
    started: bool,
    data: String,
    has_data: bool,
    event: String,
    /// The event last handed out; cleared before the next one is built.
    dispatched: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a piece of the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buffer.drain(..self.pos);
            self.pos = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event, if the bytes fed so far hold one.
    pub fn next_event(&mut self) -> Option<SseEvent<'_>> {
        if self.dispatched {
            self.dispatched = false;
            self.data.clear();
            self.event.clear();
            self.has_data = false;
        }
        loop {
            if self.skip_lf && self.pos < self.buffer.len() {
                if self.buffer[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.skip_lf = false;
            }
            let from = self.pos + self.scanned;
            let Some(end) = memchr_line_end(&self.buffer[from..]) else {
                self.scanned = self.buffer.len() - self.pos;
                return None;
            };
            self.scanned = 0;
            let line_end = from + end;
            let after = if self.buffer[line_end] == b'\r' {
                if line_end + 1 < self.buffer.len() {
                    if self.buffer[line_end + 1] == b'\n' {
                        line_end + 2
                    } else {
                        line_end + 1
                    }
                } else {
                    self.skip_lf = true;
                    line_end + 1
                }
            } else {
                line_end + 1
            };
            let start = self.pos;
            self.pos = after;
            if self.process_line(start, line_end) {
                return Some(self.take_event());
            }
        }
    }

    /// The bytes held for the event being built: its `data` so far and the line still
    /// without its end. The caller bounds this (one event is never megabytes).
    pub fn pending_len(&self) -> usize {
        let data = if self.dispatched { 0 } else { self.data.len() };
        self.buffer.len() - self.pos + data
    }

    /// Ends the stream: a last line without a line end and a last event without the blank
    /// line after it are dispatched too (lenient: some servers end with `data: [DONE]` bare).
    pub fn finish(&mut self) -> Option<SseEvent<'_>> {
        if self.dispatched {
            self.dispatched = false;
            self.data.clear();
            self.event.clear();
            self.has_data = false;
        }
        if self.pos < self.buffer.len() {
            let start = self.pos;
            let end = self.buffer.len();
            self.pos = end;
            self.scanned = 0;
            if self.process_line(start, end) {
                return Some(self.take_event());
            }
        }
        if self.has_data {
            return Some(self.take_event());
        }
        None
    }

    /// Handles one line (without its end); true when it was blank and an event is ready.
    fn process_line(&mut self, start: usize, end: usize) -> bool {
        let mut line = &self.buffer[start..end];
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                line = rest;
            }
        }
        if line.is_empty() {
            return self.has_data;
        }
        if line[0] == b':' {
            return false;
        }
        let (name, value) = match line.iter().position(|&byte| byte == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            _ => {}
        }
        false
    }

    fn take_event(&mut self) -> SseEvent<'_> {
        self.dispatched = true;
        SseEvent {
            event: &self.event,
            data: &self.data,
        }
    }
}

/// The offset of the first CR or LF in `bytes`.
fn memchr_line_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .position(|&byte| byte == b'\n' || byte == b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(pieces: &[&[u8]]) -> Vec<(String, String)> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for piece in pieces {
            parser.feed(piece);
            while let Some(event) = parser.next_event() {
                events.push((event.event.to_owned(), event.data.to_owned()));
            }
        }
        while let Some(event) = parser.finish() {
            events.push((event.event.to_owned(), event.data.to_owned()));
        }
        events
    }

    fn data(events: &[(String, String)]) -> Vec<&str> {
        events.iter().map(|(_, data)| data.as_str()).collect()
    }

    #[test]
    fn parses_events_split_at_every_byte() {
        let stream = b"data: {\"a\":1}\n\n: keep-alive\n\ndata: two\r\ndata: lines\r\n\r\nevent: error\ndata:x\r\rdata: [DONE]\n\n";
        let expected = vec!["{\"a\":1}", "two\nlines", "x", "[DONE]"];
        assert_eq!(data(&collect(&[stream])), expected);
        for split in 0..stream.len() {
            let (left, right) = stream.split_at(split);
            assert_eq!(data(&collect(&[left, right])), expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let events = collect(&bytes);
        assert_eq!(data(&events), expected);
        assert_eq!(events[2].0, "error");
        assert_eq!(events[3].0, "");
    }

    #[test]
    fn a_long_line_in_small_pieces_is_scanned_once_and_measured() {
        let mut parser = SseParser::new();
        parser.feed(b"data: ");
        for _ in 0..10_000 {
            parser.feed(b"xxxxxxxxxx");
            assert!(parser.next_event().is_none());
        }
        assert_eq!(parser.pending_len(), 6 + 100_000);
        parser.feed(b"\ndata: more\n");
        assert!(parser.next_event().is_none());
        assert_eq!(parser.pending_len(), 100_000 + 1 + 4);
        parser.feed(b"\n");
        let event = parser.next_event().map(|event| event.data.len());
        assert_eq!(event, Some(100_000 + 1 + 4));
        assert!(parser.next_event().is_none());
        assert_eq!(parser.pending_len(), 0);
    }

    #[test]
    fn crlf_split_between_pieces_is_one_line_end() {
        let events = collect(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\n\n"]);
        assert_eq!(data(&events), vec!["a", "b"]);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing() {
        assert!(collect(&[b"\n\n\r\n: comment\n\nevent: x\n\n"]).is_empty());
    }

    #[test]
    fn field_without_colon_and_without_space() {
        let events = collect(&[b"data\n\ndata:no-space\n\ndata:  two-spaces\n\n"]);
        assert_eq!(data(&events), vec!["", "no-space", " two-spaces"]);
    }

    #[test]
    fn unterminated_last_event_is_dispatched_at_finish() {
        assert_eq!(data(&collect(&[b"data: [DONE]"])), vec!["[DONE]"]);
        assert_eq!(data(&collect(&[b"data: a\n"])), vec!["a"]);
    }

    #[test]
    fn bom_and_multibyte_split() {
        let text = "\u{feff}data: héllo ✓\n\n".as_bytes();
        for split in 0..text.len() {
            let (left, right) = text.split_at(split);
            assert_eq!(data(&collect(&[left, right])), vec!["héllo ✓"]);
        }
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        assert_eq!(
            data(&collect(&[b"data: \xff\xfe\n\n"])),
            vec!["\u{fffd}\u{fffd}"]
        );
    }

    proptest::proptest! {
        #[test]
        fn same_events_however_the_stream_is_split(
            payloads in proptest::collection::vec("[a-z{}\":, ]{0,12}", 1..8),
            crlf in proptest::bool::ANY,
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut stream = String::new();
            for payload in &payloads {
                stream.push_str(&format!(": c{end}data: {payload}{end}{end}"));
            }
            let bytes = stream.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for cut in cuts {
                pieces.push(&bytes[last..cut]);
                last = cut;
            }
            pieces.push(&bytes[last..]);
            let events = collect(&pieces);
            proptest::prop_assert_eq!(data(&events), payloads.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

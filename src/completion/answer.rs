//! From the model's answer to the text to insert: fences, chatter and echoed code are
//! stripped, the suggestion ends at a sensible place (the end of the statement or block,
//! never mid-token), and what repeats the text already after the cursor is dropped. The
//! stop rule is also asked while the answer streams, so reading can stop as soon as the
//! suggestion is complete. Brackets are counted as the document's language writes strings
//! and comments (see `brackets`), and a bracket typed before the cursor counts. Pure: no I/O.

use super::brackets::{self, Lexicon, State};
use super::prompt::CURSOR_MARKER;

/// The most lines a suggestion has.
pub const MAX_LINES: usize = 16;

/// The most characters a suggestion has (16 long lines of code).
pub const MAX_CHARS: usize = 4_000;

/// How much of an answer is read at most: a suggestion of [`MAX_CHARS`] with room for fences,
/// a line of chatter, an echoed line and multi-byte characters. Reading stops here (the
/// connection is closed) and the answer is judged as cut.
pub const MAX_READ_BYTES: usize = 16 * 1024;

/// Whether a newly streamed piece can change the verdict of [`is_complete`]: the stop rules
/// judge whole lines and closing fences only, so a piece without a line end or a backtick
/// cannot. Asking only then keeps the checks over a long answer from adding up.
pub fn may_complete(piece: &str) -> bool {
    piece.contains(['\n', '`'])
}

/// The text around the cursor that the cleanup needs.
#[derive(Clone, Copy, Debug)]
pub struct Surroundings<'a> {
    /// The cursor's line up to the cursor.
    pub line_before: &'a str,
    /// Everything after the cursor that was sent (the rest of the line first).
    pub after: &'a str,
    lexicon: Lexicon,
    /// In a string or comment at the cursor, or in code.
    at_cursor: State,
    /// Brackets opened on the cursor's line before it that the code after it does not
    /// close (`total = add(|`): the suggestion may close them.
    still_open: usize,
}

impl<'a> Surroundings<'a> {
    /// `language` is the document's LSP language id.
    pub fn new(line_before: &'a str, after: &'a str, language: &str) -> Self {
        let lexicon = brackets::lexicon(language);
        let (open, at_cursor) = brackets::left_open(line_before, &lexicon);
        let still_open = if open.is_empty() {
            0
        } else {
            let indent = brackets::indent_of(line_before);
            brackets::unclosed_after(&open, indent, after, &lexicon, at_cursor)
        };
        Surroundings {
            line_before,
            after,
            lexicon,
            at_cursor,
            still_open,
        }
    }

    /// The rest of the cursor's line.
    fn line_after(&self) -> &'a str {
        self.after.split('\n').next().unwrap_or_default()
    }

    /// Text follows the cursor on its line: the suggestion is one line.
    fn single_line(&self) -> bool {
        !self.line_after().trim().is_empty()
    }

    /// The first non-blank line below the cursor's line, trimmed.
    fn next_line(&self) -> Option<&'a str> {
        self.after
            .split('\n')
            .skip(1)
            .map(str::trim)
            .find(|line| !line.is_empty())
    }
}

/// True when the answer so far already holds a whole suggestion, so the rest of the stream
/// need not be read.
pub fn is_complete(raw: &str, around: Surroundings<'_>) -> bool {
    let (body, closed) = unfence(raw);
    closed || stop_at(body, around).is_some()
}

/// The text to insert for a whole (or deliberately cut) answer; `None` when nothing is left.
/// `truncated`: the upstream stopped at the token limit, so the last token may be cut.
pub fn finish(raw: &str, around: Surroundings<'_>, truncated: bool) -> Option<String> {
    // Whatever came, only the first MAX_READ_BYTES are judged (a reply that was not
    // streamed arrives whole).
    let (raw, truncated) = match raw.get(..floor_char_boundary(raw, MAX_READ_BYTES)) {
        Some(head) if head.len() < raw.len() => (head, true),
        _ => (raw, truncated),
    };
    let (body, closed) = unfence(raw);
    let body = body.replace(CURSOR_MARKER, "");
    let body = strip_echo(&body, around.line_before);
    let text = match stop_at(&body, around) {
        Some(end) => &body[..end],
        None if truncated && !closed => drop_partial(&body),
        None => body.as_str(),
    };
    // The answer's own trailing blanks go; what is left after dropping the overlap with
    // the code after the cursor stays exactly (`x, |1, 2)` keeps its space).
    let text = drop_suffix_overlap(cap_chars(text, MAX_CHARS).trim_end(), around);
    if text.trim().is_empty() {
        None
    } else {
        Some(text.to_owned())
    }
}

/// The answer without markdown fences and a leading line of chatter; true when a closing
/// fence was seen (whatever follows it is prose).
fn unfence(raw: &str) -> (&str, bool) {
    let mut body = raw;
    // "Here is the completion:" before a fence.
    if let Some(fence) = body.find("```")
        && body[..fence].trim_end().ends_with(':')
        && !body[..fence].trim().contains('\n')
    {
        body = &body[fence..];
    }
    if let Some(rest) = body.trim_start().strip_prefix("```") {
        // The rest of the fence line is the language tag.
        let Some(newline) = rest.find('\n') else {
            return ("", false);
        };
        let inside = &rest[newline + 1..];
        return match inside.find("```") {
            Some(close) => (&inside[..close], true),
            None => (inside, false),
        };
    }
    (body, false)
}

/// The model sometimes repeats the cursor's line before continuing it.
fn strip_echo(body: &str, line_before: &str) -> String {
    let typed = line_before.trim_start();
    if typed.len() >= 3 {
        let start = body.trim_start();
        if let Some(rest) = start.strip_prefix(typed) {
            return rest.to_owned();
        }
    }
    body.to_owned()
}

/// Where a complete suggestion ends in `body` (a byte offset), judged on whole lines only;
/// `None` while it may go on. Brackets left open before the cursor on its line and not
/// closed after it count as open: `total = add(|` ends with the line that closes the `(`.
fn stop_at(body: &str, around: Surroundings<'_>) -> Option<usize> {
    if around.single_line() {
        return body.find('\n');
    }
    let next_line = around.next_line();
    let mut state = around.at_cursor;
    let base = around.still_open as i64;
    let mut depth = base;
    let mut opened = false;
    let mut offset: usize = 0;
    let mut lines = 0;
    let mut seen_content = false;
    for line in body.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim();
        let end_before = offset.saturating_sub(1);
        if trimmed.is_empty() && !state.in_long_string() {
            if seen_content {
                // A blank line after code ends the block.
                return Some(end_before);
            }
            offset += line.len();
            continue;
        }
        if seen_content && depth <= 0 && next_line == Some(trimmed) {
            // The model went on into the code that already follows.
            return Some(end_before);
        }
        let change = brackets::balance(line, &around.lexicon, &mut state);
        if depth + change < 0 && !opened {
            // This line closes a block that was open before the cursor.
            return Some(end_before);
        }
        depth += change;
        opened |= depth > base;
        seen_content = true;
        offset += line.len();
        lines += 1;
        let ends_statement = trimmed.ends_with([';', '}', ')', ']', ',']);
        if depth <= 0 && (opened || ends_statement) && !state.in_long_string() {
            return Some(offset - 1);
        }
        if lines >= MAX_LINES {
            return Some(offset - 1);
        }
    }
    None
}

/// The largest index `<= at` that is a char boundary of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(0)
}

/// At most `max` characters of a suggestion, cut at the end of its last whole line, or for
/// a single line after its last whole word.
fn cap_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        None => text,
        Some((end, _)) => drop_partial(&text[..end]),
    }
}

/// A cut answer loses its unfinished last line, or a single line its last partial word.
fn drop_partial(body: &str) -> &str {
    if let Some(newline) = body.rfind('\n') {
        return &body[..newline];
    }
    let end = body
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(index, c)| index + c.len_utf8())
        .unwrap_or(0);
    &body[..end]
}

/// Drops the end of a suggestion that repeats the rest of the cursor's line (`foo(|)` with
/// the answer `x, y)` inserts `x, y`), when that leaves the line better balanced or the same
/// — brackets inside strings and comments do not count, so `print(|)` with the answer
/// `s.rstrip(")")` keeps its last `)`. The overlap must match exactly, whitespace included.
fn drop_suffix_overlap<'t>(text: &'t str, around: Surroundings<'_>) -> &'t str {
    let line_after = around.line_after();
    let last_line_start = text.rfind('\n').map_or(0, |index| index + 1);
    let last_line = &text[last_line_start..];
    let first_line_before = if last_line_start == 0 {
        around.line_before
    } else {
        ""
    };
    let score = |middle: &str| {
        brackets::imbalance(
            &format!("{first_line_before}{middle}{line_after}"),
            &around.lexicon,
        )
    };
    let keep = score(last_line);
    let mut best: Option<(usize, usize)> = None;
    for (index, _) in line_after
        .char_indices()
        .skip(1)
        .chain([(line_after.len(), ' ')])
    {
        let overlap = &line_after[..index];
        if overlap.trim().is_empty() || !last_line.ends_with(overlap) {
            continue;
        }
        let trimmed = &last_line[..last_line.len() - overlap.len()];
        let score = score(trimmed);
        if score <= keep && best.is_none_or(|(_, best_score)| score <= best_score) {
            best = Some((overlap.len(), score));
        }
    }
    match best {
        Some((len, _)) => &text[..text.len() - len],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around<'a>(line_before: &'a str, after: &'a str) -> Surroundings<'a> {
        Surroundings::new(line_before, after, "rust")
    }

    #[test]
    fn fences_chatter_and_markers_are_stripped() {
        let empty = around("    ", "\n}\n");
        assert_eq!(
            finish("```rust\nlet x = 1;\n```\nThat adds x.", empty, false).as_deref(),
            Some("let x = 1;")
        );
        assert_eq!(
            finish("Here is the code:\n```\nfoo();\n```", empty, false).as_deref(),
            Some("foo();")
        );
        assert_eq!(
            finish("bar();<|cursor|>", empty, false).as_deref(),
            Some("bar();")
        );
        assert_eq!(finish("  \n\t", empty, false), None);
        assert_eq!(finish("", empty, false), None);
        assert_eq!(finish("```", empty, false), None);
    }

    #[test]
    fn suffix_overlap_is_removed_only_when_it_repeats() {
        // `foo(|)`: the answer closes the paren the line already has.
        let inside = around("    foo(", ")\n");
        assert_eq!(finish("x, y)", inside, false).as_deref(), Some("x, y"));
        // A nested call keeps its own parens.
        assert_eq!(finish("bar()", inside, false).as_deref(), Some("bar()"));
        // `let s = "|";`
        let quoted = around("let s = \"", "\";\n");
        assert_eq!(finish("hello\";", quoted, false).as_deref(), Some("hello"));
        // Multi-line: the closing brace that follows is not repeated.
        let body = around("    ", "\n}\n");
        assert_eq!(
            finish("if x {\n        y();\n    }\n}\n", body, false).as_deref(),
            Some("if x {\n        y();\n    }")
        );
        assert_eq!(
            finish("a();\n}", around("", "\n}\n"), false).as_deref(),
            Some("a();")
        );
    }

    #[test]
    fn stops_at_the_end_of_the_statement_or_block() {
        let open = around("    let total = ", "\n    total\n}\n");
        assert!(!is_complete("items.iter()", open));
        assert!(!is_complete("items.iter().sum();", open));
        assert!(is_complete("items.iter().sum();\n", open));
        assert_eq!(
            finish("items.iter().sum();\n    let more = 2;\n", open, false).as_deref(),
            Some("items.iter().sum();")
        );
        // A block ends where its brackets close.
        let line = around("", "\n");
        let answer = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn next() {}\n";
        assert!(is_complete(answer, line));
        assert_eq!(
            finish(answer, line, false).as_deref(),
            Some("fn add(a: i32, b: i32) -> i32 {\n    a + b\n}")
        );
        // Mid-line: one line only.
        let mid = around("call(", ")\n");
        assert!(is_complete("a, b\nmore", mid));
        assert_eq!(finish("a, b\nmore", mid, false).as_deref(), Some("a, b"));
        // A closing fence ends it too.
        assert!(is_complete("```\nx()\n```", line));
    }

    #[test]
    fn a_cut_answer_never_ends_mid_token() {
        let line = around("    ", "\n");
        assert_eq!(
            finish("first(a\n    second(partial_na", line, true).as_deref(),
            Some("first(a")
        );
        let mid = around("x = ", " + 1\n");
        assert_eq!(
            finish("compute(valu", mid, true).as_deref(),
            Some("compute(")
        );
        assert_eq!(finish("abc", mid, true), None);
    }

    #[test]
    fn an_echoed_line_is_not_inserted_twice() {
        let typed = around("    let total = ", "\n");
        assert_eq!(
            finish("let total = 5;", typed, false).as_deref(),
            Some("5;")
        );
    }

    #[test]
    fn characters_are_capped_and_only_line_ends_or_fences_are_judged() {
        let line = around("", "\n");
        let long: String = (0..15)
            .map(|n| format!("call{n}({}\n", "x, ".repeat(3_000)))
            .collect();
        let text = finish(&long, line, false).unwrap_or_default();
        assert!(text.chars().count() <= MAX_CHARS, "{}", text.len());
        assert!(text.starts_with("call0("), "{text:.40}");
        let single = finish(&"word ".repeat(5_000), around("x = ", " + 1\n"), false);
        let single = single.unwrap_or_default();
        assert!(single.chars().count() <= MAX_CHARS && single.ends_with("word"));
        let wide = finish(&"é ".repeat(MAX_READ_BYTES), line, false);
        assert!(wide.is_some_and(|text| text.chars().count() <= MAX_CHARS));
        assert!(may_complete("a\nb") && may_complete("``") && !may_complete("abc(def"));
    }

    #[test]
    fn the_overlap_is_judged_outside_strings_and_keeps_spaces() {
        let python = |line_before, after| Surroundings::new(line_before, after, "python");
        let cases: &[(Surroundings<'_>, &str, &str)] = &[
            // A `)` inside a string is not the call's closing paren.
            (
                python("print(", ")\n"),
                "s.rstrip(\")\")",
                "s.rstrip(\")\")",
            ),
            (python("print(", ")\n"), "s.count(\"(\"))", "s.count(\"(\")"),
            (python("print(", ")\n"), "f(')'))", "f(')')"),
            // What is left after the overlap keeps its spaces.
            (python("add(", "1, 2)\n"), "x, 1, 2)", "x, "),
            (python("add(", " 1, 2)\r\n"), "x, 1, 2)", "x,"),
            (python("d = {", "}\n"), "\"}\": 1}", "\"}\": 1"),
            (python("xs[", "]\n"), "i + 1]", "i + 1"),
            (python("f(", ")  # (\n"), "a)", "a"),
            (around("f(", ")\r\n"), "')')", "')'"),
            (around("f(", ")\n"), "'a', x)", "'a', x"),
            (
                Surroundings::new("log(", ")\n", "javascript"),
                "`(${x}`)",
                "`(${x}`",
            ),
            (
                Surroundings::new("log(", ");\n", "typescript"),
                "`)`);",
                "`)`",
            ),
        ];
        for (around, answer, expected) in cases {
            assert_eq!(
                finish(answer, *around, false).as_deref(),
                Some(*expected),
                "{around:?} {answer:?}"
            );
        }
    }

    #[test]
    fn a_bracket_typed_before_the_cursor_may_be_closed() {
        let python = Surroundings::new("total = add(", "\nprint(total)\n", "python");
        assert!(is_complete("1, 2)\n", python));
        assert_eq!(finish("1, 2)\n", python, false).as_deref(), Some("1, 2)"));
        assert_eq!(finish("1, 2)", python, false).as_deref(), Some("1, 2)"));
        assert_eq!(
            finish("1, 2)\nprint(total)\n", python, false).as_deref(),
            Some("1, 2)")
        );
        // Arguments over several lines.
        assert_eq!(
            finish("\n    1,\n    2,\n)\nmore()\n", python, false).as_deref(),
            Some("\n    1,\n    2,\n)")
        );
        // Inside a function whose `}` follows: the `(` is still open, the `}` is not.
        let rust = around("    let total = add(", "\n}\n");
        assert_eq!(
            finish("1, 2);\n    more();\n", rust, false).as_deref(),
            Some("1, 2);")
        );
        let list = around("    let xs = vec![", "\n}\n");
        assert_eq!(finish("1, 2];\n", list, false).as_deref(), Some("1, 2];"));
        // A lifetime is no quote.
        let lifetime = around("fn longest<'a>(", "\n");
        let function = "x: &'a str, y: &'a str) -> &'a str {\n    x\n}\n\nfn next() {}\n";
        assert_eq!(
            finish(function, lifetime, false).as_deref(),
            Some("x: &'a str, y: &'a str) -> &'a str {\n    x\n}")
        );
        // A `(` inside a string before the cursor opens nothing.
        let quoted = Surroundings::new("print(\"(\", ", "\n", "python");
        assert_eq!(finish("x)\ny()\n", quoted, false).as_deref(), Some("x)"));
        // A brace the code after the cursor closes is not closed again.
        let body = around("fn main() {", "\n}\n");
        assert_eq!(
            finish("\n    run();\n}\n", body, false).as_deref(),
            Some("\n    run();")
        );
        // Inside a string at the cursor: its `)` is text, the next one closes the call.
        let in_string = Surroundings::new("print(\"hello (", "\n", "python");
        assert_eq!(
            finish("world)\")\nmore()\n", in_string, false).as_deref(),
            Some("world)\")")
        );
    }

    #[test]
    fn lines_are_capped() {
        let line = around("", "\n");
        let many: String = (0..40).map(|n| format!("call{n}(\n")).collect();
        let text = finish(&many, line, false).unwrap_or_default();
        assert_eq!(text.lines().count(), MAX_LINES);
    }
}

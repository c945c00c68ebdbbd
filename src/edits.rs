//! From a model's answer to the smallest edits of a selection: pick the code out of the
//! answer, give it the selection's indentation and line endings, and diff it against the
//! selection into a few small char-offset edits. Pure functions, no LSP types.

use std::time::Duration;

use similar::{Algorithm, DiffTag, TextDiff};

/// The code in a model's answer: the first fenced block (```` ``` ```` or `~~~`, any info
/// string, a fence of three or more; it closes at a fence of the same char at least as
/// long, and an unclosed block runs to the end), else the whole answer without its
/// leading and trailing blank lines.
///
/// The result never ends with a line break (`reindent` decides that from the selection).
/// Indentation that the opening fence itself has (a block inside a list item) is removed
/// from the block's lines. An answer with no code gives an empty string; the caller
/// decides whether that means "delete the selection" or "nothing to apply".
pub fn extract_code(answer: &str) -> String {
    let lines: Vec<&str> = answer.split_inclusive('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let Some(fence) = Fence::opening(line) else {
            continue;
        };
        let body: Vec<&str> = lines[index + 1..]
            .iter()
            .take_while(|line| !fence.is_closed_by(line))
            .map(|line| strip_indent(line, fence.indent))
            .collect();
        return without_final_line_break(&body.concat()).to_owned();
    }
    let is_blank = |line: &&str| line.trim().is_empty();
    let start = lines.iter().position(|line| !is_blank(line));
    let end = lines.iter().rposition(|line| !is_blank(line));
    match (start, end) {
        (Some(start), Some(end)) => {
            without_final_line_break(&lines[start..=end].concat()).to_owned()
        }
        _ => String::new(),
    }
}

/// An opening code fence: its char, its length and the indentation before it.
struct Fence {
    marker: char,
    len: usize,
    indent: usize,
}

impl Fence {
    fn opening(line: &str) -> Option<Fence> {
        let content = line.trim_end_matches(['\n', '\r']);
        let rest = content.trim_start_matches([' ', '\t']);
        let indent = content.len() - rest.len();
        let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == marker).count();
        if len < 3 {
            return None;
        }
        // As in CommonMark, a backtick fence's info string holds no backtick, so inline
        // code such as ```x``` in prose is not a fence.
        if marker == '`' && rest[len..].contains('`') {
            return None;
        }
        Some(Fence {
            marker,
            len,
            indent,
        })
    }

    fn is_closed_by(&self, line: &str) -> bool {
        let rest = line.trim_start_matches([' ', '\t']);
        let len = rest.chars().take_while(|c| *c == self.marker).count();
        len >= self.len && rest[len * self.marker.len_utf8()..].trim().is_empty()
    }
}

/// Removes up to `count` leading spaces or tabs.
fn strip_indent(line: &str, count: usize) -> &str {
    let strip = line
        .bytes()
        .take(count)
        .take_while(|byte| *byte == b' ' || *byte == b'\t')
        .count();
    &line[strip..]
}

fn without_final_line_break(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .or_else(|| text.strip_suffix('\r'))
        .unwrap_or(text)
}

/// The first line break in `text` (`"\r\n"`, `"\n"` or `"\r"`), if it has one.
pub fn line_ending_of(text: &str) -> Option<&'static str> {
    let index = text.find(['\n', '\r'])?;
    let bytes = text.as_bytes();
    Some(match bytes[index] {
        b'\r' if bytes.get(index + 1) == Some(&b'\n') => "\r\n",
        b'\r' => "\r",
        _ => "\n",
    })
}

/// Gives `code` the indentation and line endings of `original`, the selection it replaces.
/// See `reindent_with`; a selection without a line break makes the result use `\n`.
pub fn reindent(code: &str, original: &str) -> String {
    reindent_with(code, original, "\n")
}

/// Gives `code` the indentation and line endings of `original`:
/// - the code's common leading indentation is removed and the original's base indentation
///   (that of its first non-blank line) is put in front of every non-blank line; blank
///   lines become empty;
/// - if the original indents with tabs and the code's inner indentation uses only spaces,
///   each run of spaces becomes tabs (one per indentation step of the code, the smallest
///   inner indentation); if the original indents with spaces and the code's inner
///   indentation has tabs, each tab becomes one indentation step of the original (its
///   smallest inner indentation, else 4 spaces);
/// - lines end with the original's line break, or `fallback_eol` if it has none (a
///   one-line selection: pass the document's line ending);
/// - the result ends with a line break if and only if the original does.
///
/// Empty code stays empty.
pub fn reindent_with(code: &str, original: &str, fallback_eol: &str) -> String {
    if code.is_empty() {
        return String::new();
    }
    let eol = line_ending_of(original).unwrap_or(fallback_eol);
    let original_lines: Vec<&str> = original.lines().filter(|l| !l.trim().is_empty()).collect();
    let base = original_lines
        .first()
        .map_or("", |line| leading_whitespace(line));

    let code_lines: Vec<&str> = code.lines().collect();
    let common = common_indent(code_lines.iter().copied().filter(|l| !l.trim().is_empty()));
    let inner: Vec<(&str, &str)> = code_lines
        .iter()
        .map(|line| {
            let rest = line.strip_prefix(common).unwrap_or(line);
            let indent = leading_whitespace(rest);
            (indent, &rest[indent.len()..])
        })
        .collect();

    let original_uses_tabs = original_lines
        .iter()
        .any(|l| leading_whitespace(l).contains('\t'));
    let original_uses_spaces =
        !original_uses_tabs && original_lines.iter().any(|l| l.starts_with(' '));
    let code_inner_has_tabs = inner.iter().any(|(indent, _)| indent.contains('\t'));
    let conversion = if original_uses_tabs && !code_inner_has_tabs {
        inner
            .iter()
            .filter(|(_, rest)| !rest.trim().is_empty())
            .map(|(indent, _)| indent.len())
            .filter(|len| *len > 0)
            .min()
            .map(IndentConversion::SpacesToTabs)
    } else if original_uses_spaces && code_inner_has_tabs {
        Some(IndentConversion::TabsToSpaces(space_step(
            &original_lines,
            base,
        )))
    } else {
        None
    };

    let mut out = String::with_capacity(code.len() + code_lines.len() * (base.len() + 2));
    for (index, (indent, rest)) in inner.iter().enumerate() {
        if index > 0 {
            out.push_str(eol);
        }
        if rest.trim().is_empty() {
            continue;
        }
        out.push_str(base);
        match conversion {
            Some(IndentConversion::SpacesToTabs(step)) => {
                out.extend(std::iter::repeat_n('\t', indent.len() / step));
                out.extend(std::iter::repeat_n(' ', indent.len() % step));
            }
            Some(IndentConversion::TabsToSpaces(step)) => {
                for c in indent.chars() {
                    match c {
                        '\t' => out.extend(std::iter::repeat_n(' ', step)),
                        other => out.push(other),
                    }
                }
            }
            None => out.push_str(indent),
        }
        out.push_str(rest);
    }
    if original.ends_with(['\n', '\r']) {
        out.push_str(eol);
    }
    out
}

#[derive(Clone, Copy)]
enum IndentConversion {
    /// Runs of spaces become tabs, this many spaces per tab.
    SpacesToTabs(usize),
    /// Each tab becomes this many spaces.
    TabsToSpaces(usize),
}

fn leading_whitespace(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The longest run of whitespace that starts every line.
fn common_indent<'a>(mut lines: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(first) = lines.next() else {
        return "";
    };
    let mut common = leading_whitespace(first);
    for line in lines {
        let shared = common
            .bytes()
            .zip(line.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        common = &common[..shared];
    }
    common
}

/// The original's indentation step in spaces: its smallest indentation deeper than the
/// base, else 4.
fn space_step(original_lines: &[&str], base: &str) -> usize {
    original_lines
        .iter()
        .map(|line| leading_whitespace(line).len())
        .filter(|len| *len > base.len())
        .map(|len| len - base.len())
        .min()
        .unwrap_or(4)
}

/// The code from a model's answer, ready to replace `original`: `extract_code` then
/// `reindent`.
pub fn replacement_for(answer: &str, original: &str) -> String {
    reindent(&extract_code(answer), original)
}

/// Replace the chars `start..end` of the old text with `new_text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharEdit {
    pub start: usize,
    pub end: usize,
    pub new_text: String,
}

/// Hunks larger than this many bytes (old and new together) are replaced whole instead
/// of being refined char by char.
const REFINE_LIMIT_BYTES: usize = 16 * 1024;

/// Changes separated by fewer unchanged chars than this are joined into one edit, so the
/// editor gets a few readable edits rather than a scatter of single chars.
const MIN_GAP_CHARS: usize = 3;

/// Below this char similarity (0..1) a changed hunk is replaced as one edit.
const MIN_REFINE_SIMILARITY: f32 = 0.6;

/// Bytes of the longest common prefix, ending on a char boundary.
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map(|((index, _), _)| index)
        .unwrap_or_else(|| a.len().min(b.len()))
}

/// Bytes of the longest common suffix, starting on a char boundary.
fn common_suffix_len(a: &str, b: &str) -> usize {
    a.chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum()
}

/// How long either diff may search before settling for a larger (still correct) result.
const DIFF_TIMEOUT: Duration = Duration::from_millis(500);

/// Byte ranges of one change: `old` in the old text is replaced by `new` of the new text.
#[derive(Clone, Debug)]
struct ByteEdit {
    old: std::ops::Range<usize>,
    new: std::ops::Range<usize>,
}

/// The edits that turn `old` into `new`: sorted, non-overlapping, in char offsets of
/// `old`. A line diff finds the changed hunks, a char diff narrows each one down; edits
/// closer than a few chars are joined. No edit starts or ends between the `\r` and `\n`
/// of a `\r\n`, since no LSP position can point there. `apply_edits(old, &edits) == new`.
pub fn minimal_edits(old: &str, new: &str) -> Vec<CharEdit> {
    if old == new {
        return Vec::new();
    }
    let lines = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let old_offsets = token_offsets(lines.iter_old_slices());
    let new_offsets = token_offsets(lines.iter_new_slices());

    let mut edits = Vec::new();
    for hunk in change_groups(lines.ops()) {
        let old_range = old_offsets[hunk.old.start]..old_offsets[hunk.old.end];
        let new_range = new_offsets[hunk.new.start]..new_offsets[hunk.new.end];
        refine(old, new, old_range, new_range, &mut edits);
    }
    let edits = join_edits(old, edits);
    to_char_edits(old, new, &edits)
}

/// Start byte of every token, plus the total length at the end.
fn token_offsets<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let mut offsets = vec![0];
    let mut total = 0;
    for token in tokens {
        total += token.len();
        offsets.push(total);
    }
    offsets
}

/// Runs of consecutive non-equal diff ops, as token ranges on each side.
fn change_groups(ops: &[similar::DiffOp]) -> Vec<ByteEdit> {
    let mut groups: Vec<ByteEdit> = Vec::new();
    let mut open = false;
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            open = false;
            continue;
        }
        match groups.last_mut() {
            Some(group) if open => {
                group.old.end = old.end;
                group.new.end = new.end;
            }
            _ => groups.push(ByteEdit { old, new }),
        }
        open = true;
    }
    groups
}

/// Narrows a changed hunk down with a char diff and pushes the resulting byte edits.
fn refine(
    old: &str,
    new: &str,
    old_range: std::ops::Range<usize>,
    new_range: std::ops::Range<usize>,
    edits: &mut Vec<ByteEdit>,
) {
    let old_hunk = &old[old_range.clone()];
    let new_hunk = &new[new_range.clone()];
    if old_hunk.len() + new_hunk.len() > REFINE_LIMIT_BYTES {
        edits.push(ByteEdit {
            old: old_range,
            new: new_range,
        });
        return;
    }
    let chars = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(DIFF_TIMEOUT)
        .diff_chars(old_hunk, new_hunk);
    if chars.ratio() < MIN_REFINE_SIMILARITY {
        // A rewrite, not a touch-up: char-level pieces of it would scatter edits (and the
        // editor's cursor and undo) over the hunk. One edit, trimmed of the shared ends.
        let prefix = common_prefix_len(old_hunk, new_hunk);
        let suffix = common_suffix_len(&old_hunk[prefix..], &new_hunk[prefix..]);
        edits.push(ByteEdit {
            old: old_range.start + prefix..old_range.end - suffix,
            new: new_range.start + prefix..new_range.end - suffix,
        });
        return;
    }
    let old_offsets = token_offsets(chars.iter_old_slices());
    let new_offsets = token_offsets(chars.iter_new_slices());
    for group in change_groups(chars.ops()) {
        edits.push(ByteEdit {
            old: old_range.start + old_offsets[group.old.start]
                ..old_range.start + old_offsets[group.old.end],
            new: new_range.start + new_offsets[group.new.start]
                ..new_range.start + new_offsets[group.new.end],
        });
    }
}

/// Widens edits that would split a `\r\n` and joins edits that touch or sit closer than
/// `MIN_GAP_CHARS`. Between two edits the texts are equal, so widening both sides by the
/// same unchanged bytes keeps every edit correct.
fn join_edits(old: &str, edits: Vec<ByteEdit>) -> Vec<ByteEdit> {
    let bytes = old.as_bytes();
    let splits_crlf =
        |at: usize| at > 0 && at < bytes.len() && bytes[at - 1] == b'\r' && bytes[at] == b'\n';
    let mut joined: Vec<ByteEdit> = Vec::with_capacity(edits.len());
    for mut edit in edits {
        if splits_crlf(edit.old.start) {
            edit.old.start -= 1;
            edit.new.start -= 1;
        }
        if splits_crlf(edit.old.end) {
            edit.old.end += 1;
            edit.new.end += 1;
        }
        match joined.last_mut() {
            Some(previous)
                if previous.old.end >= edit.old.start
                    || old[previous.old.end..edit.old.start].chars().count() < MIN_GAP_CHARS =>
            {
                previous.old.end = previous.old.end.max(edit.old.end);
                previous.new.end = previous.new.end.max(edit.new.end);
            }
            _ => joined.push(edit),
        }
    }
    joined
}

/// Converts sorted byte edits to char edits in one pass over `old`.
fn to_char_edits(old: &str, new: &str, edits: &[ByteEdit]) -> Vec<CharEdit> {
    let mut chars_before = 0;
    let mut byte_cursor = 0;
    let mut to_chars = |byte: usize| {
        chars_before += old[byte_cursor..byte].chars().count();
        byte_cursor = byte;
        chars_before
    };
    edits
        .iter()
        .map(|edit| CharEdit {
            start: to_chars(edit.old.start),
            end: to_chars(edit.old.end),
            new_text: new[edit.new.clone()].to_owned(),
        })
        .collect()
}

/// Applies char edits to `old`. Meant for sorted, non-overlapping edits; anything else is
/// handled without panicking: offsets are clamped to the text, and an edit that starts
/// before the end of the previous one starts where it ended.
pub fn apply_edits(old: &str, edits: &[CharEdit]) -> String {
    let mut out = String::with_capacity(old.len());
    let mut copied_to = 0usize;
    let mut position = CharCursor::new(old);
    for edit in edits {
        let start = position.advance_to(edit.start.max(position.chars));
        let end = position.advance_to(edit.end);
        out.push_str(&old[copied_to..start]);
        out.push_str(&edit.new_text);
        copied_to = end;
    }
    out.push_str(&old[copied_to..]);
    out
}

/// Walks forward through a string, char by char, reporting byte offsets.
struct CharCursor<'a> {
    text: &'a str,
    chars: usize,
    bytes: usize,
}

impl<'a> CharCursor<'a> {
    fn new(text: &'a str) -> Self {
        CharCursor {
            text,
            chars: 0,
            bytes: 0,
        }
    }

    /// Moves to char `target` (or the end of the text) and returns its byte offset.
    fn advance_to(&mut self, target: usize) -> usize {
        for c in self.text[self.bytes..].chars() {
            if self.chars >= target {
                break;
            }
            self.chars += 1;
            self.bytes += c.len_utf8();
        }
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_code_table() {
        let cases: &[(&str, &str)] = &[
            // plain fences, any info string
            ("```\nlet x = 1;\n```", "let x = 1;"),
            ("```rust\nlet x = 1;\n```\n", "let x = 1;"),
            ("~~~ python title=\"a b\"\nx = 1\n~~~", "x = 1"),
            // prose around the fence; the first block wins
            (
                "Here is the fix:\n\n```rust\nfn a() {}\n```\n\nAnd a test:\n```rust\nfn b() {}\n```",
                "fn a() {}",
            ),
            // a longer fence holds a shorter one inside
            ("````md\n```rust\nx\n```\n````\nafter", "```rust\nx\n```"),
            // a closing fence needs the same char and at least the same length
            ("```\na\n~~~\nb\n``\nc\n```", "a\n~~~\nb\n``\nc"),
            ("~~~~\na\n~~~\nb\n~~~~~\nafter", "a\n~~~\nb"),
            // a closing fence may not carry text
            ("```\na\n``` not a fence\nb\n```", "a\n``` not a fence\nb"),
            // unclosed: the rest of the answer
            (
                "Sure:\n```js\nconst a = 1;\nconst b = 2;\n",
                "const a = 1;\nconst b = 2;",
            ),
            ("```js\nconst a = 1;", "const a = 1;"),
            // empty block
            ("```\n```", ""),
            // indentation inside the block is kept
            ("```\n    if x:\n        y()\n```", "    if x:\n        y()"),
            // a fence indented in a list item: that indentation is removed from the body
            (
                "1. Do this:\n   ```py\n   def f():\n       pass\n   ```",
                "def f():\n    pass",
            ),
            // CRLF answer keeps CRLF inside, drops the final break
            ("```\r\na\r\nb\r\n```\r\n", "a\r\nb"),
            // inline triple backticks are not a fence
            ("Use ```x``` here\n  code\n", "Use ```x``` here\n  code"),
            // no fence: the whole answer without surrounding blank lines
            ("\n\n  fn a() {}\n\n", "  fn a() {}"),
            ("fn a() {}\n\tb();\n", "fn a() {}\n\tb();"),
            ("", ""),
            ("   \n\t\n", ""),
            ("``\nnot a fence\n``", "``\nnot a fence\n``"),
        ];
        for (answer, expected) in cases {
            assert_eq!(extract_code(answer), *expected, "answer {answer:?}");
        }
    }

    #[test]
    fn reindent_table() {
        // (code, original, expected)
        let cases: &[(&str, &str, &str)] = &[
            // the code's own indentation is replaced by the selection's
            (
                "fn a() {\n    b();\n}",
                "    fn x() {\n        y();\n    }\n",
                "    fn a() {\n        b();\n    }\n",
            ),
            ("        a\n        b", "  x\n  y", "  a\n  b"),
            // the base is the first non-blank line's indentation
            ("a\n  b", "\n\n\t\tx\n", "\t\ta\n\t\t\tb\n"),
            // blank lines carry no indentation
            ("a\n\n   \nb", "    x\n", "    a\n\n\n    b\n"),
            // CRLF selection: CRLF everywhere, final break kept
            ("a\nb\n", "  x\r\n  y\r\n", "  a\r\n  b\r\n"),
            ("a\r\nb", "x\r\ny", "a\r\nb"),
            // lone CR selection
            ("a\nb", "x\ry\r", "a\rb\r"),
            // no final break when the selection has none
            ("a\n", "x\ny", "a"),
            // tabs in the selection, spaces in the code: spaces become tabs
            (
                "if x {\n    y();\n        z();\n}",
                "\tif a {\n\t\tb();\n\t}\n",
                "\tif x {\n\t\ty();\n\t\t\tz();\n\t}\n",
            ),
            (
                "if x {\n  y();\n   w;\n}",
                "\tq\n",
                "\tif x {\n\t\ty();\n\t\t w;\n\t}\n",
            ),
            // spaces in the selection (step 2), tabs in the code: tabs become two spaces
            (
                "if x {\n\ty();\n}",
                "  if a {\n    b();\n  }",
                "  if x {\n    y();\n  }",
            ),
            // spaces without a visible step: 4
            ("if x {\n\ty();\n}", "  a\n", "  if x {\n      y();\n  }\n"),
            // unindented selection keeps the code's relative indentation as is
            ("  a\n    b", "x\ny\n", "a\n  b\n"),
            // mixed leading whitespace with no common prefix is left alone
            ("\ta\n    b", "x", "\ta\n    b"),
            // empty code stays empty even if the selection ends with a break
            ("", "    x\n", ""),
            // one-line selection: LF fallback
            ("a\nb", "  x", "  a\n  b"),
        ];
        for (code, original, expected) in cases {
            assert_eq!(
                reindent(code, original),
                *expected,
                "code {code:?} original {original:?}"
            );
        }
        assert_eq!(reindent_with("a\nb", "  x", "\r\n"), "  a\r\n  b");
        assert_eq!(line_ending_of("a\r\nb\n"), Some("\r\n"));
        assert_eq!(line_ending_of("a\nb\r\n"), Some("\n"));
        assert_eq!(line_ending_of("a\rb"), Some("\r"));
        assert_eq!(line_ending_of("ab"), None);
    }

    #[test]
    fn replacement_for_combines_both() {
        let answer = "Here you go:\n\n```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\nThis adds.";
        let original = "    fn add(a, b) {\r\n        a+b\r\n    }\r\n";
        assert_eq!(
            replacement_for(answer, original),
            "    fn add(a: i32, b: i32) -> i32 {\r\n        a + b\r\n    }\r\n"
        );
        assert_eq!(replacement_for("", "x\n"), "");
    }

    fn edit(start: usize, end: usize, new_text: &str) -> CharEdit {
        CharEdit {
            start,
            end,
            new_text: new_text.to_owned(),
        }
    }

    #[test]
    fn a_rewritten_hunk_is_one_edit_not_scattered_pieces() {
        let old = "fn f() {\n    for x in xs {\n        sum += x;\n    }\n}\n";
        let new = "fn f() {\n    sum = xs.iter().sum();\n}\n";
        let edits = minimal_edits(old, new);
        assert_eq!(edits.len(), 1, "{edits:?}");
        assert_eq!(apply_edits(old, &edits), new);
        // The shared indentation and the untouched lines stay out of the edit.
        assert_eq!(edits[0].start, "fn f() {\n    ".chars().count());
    }

    #[test]
    fn minimal_edits_table() {
        let cases: Vec<(&str, &str, Vec<CharEdit>)> = vec![
            ("same", "same", vec![]),
            ("", "", vec![]),
            ("", "new", vec![edit(0, 0, "new")]),
            ("old", "", vec![edit(0, 3, "")]),
            ("let x = 1;\n", "let x = 2;\n", vec![edit(8, 9, "2")]),
            ("a\nb\nc\n", "a\nB\nc\n", vec![edit(2, 3, "B")]),
            ("a\nc\n", "a\nb\nc\n", vec![edit(2, 2, "b\n")]),
            // non-ASCII offsets are in chars
            ("é😀 = 1\n", "é😀 = 10\n", vec![edit(6, 6, "0")]),
            // changes a char apart are joined
            ("abcdef", "aXcYef", vec![edit(1, 4, "XcY")]),
            // far-apart changes stay separate
            (
                "x = 1;\nkeep this line\ny = 2;\n",
                "x = 3;\nkeep this line\ny = 4;\n",
                vec![edit(4, 5, "3"), edit(26, 27, "4")],
            ),
            // CRLF to LF: the edit covers the whole \r\n, never half of it
            ("a\r\nb\r\n", "a\nb\n", vec![edit(1, 6, "\nb\n")]),
            ("ab\r\n", "ab\n", vec![edit(2, 4, "\n")]),
            // inserting a \r before a \n splits nothing in the old text
            ("ab\n", "ab\r\n", vec![edit(2, 2, "\r")]),
        ];
        for (old, new, expected) in cases {
            let edits = minimal_edits(old, new);
            assert_eq!(edits, expected, "{old:?} -> {new:?}");
            assert_eq!(apply_edits(old, &edits), new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn minimal_edits_never_split_crlf() {
        let old = "one\r\ntwo\r\nthree\r\n";
        for new in [
            "one\ntwo\r\nthree\r\n",
            "one\r\ntwo\rthree\r\n",
            "one\r\n\ntwo\r\nthree\r\n",
            "one\r\r\ntwo\r\nthree",
        ] {
            let edits = minimal_edits(old, new);
            let chars: Vec<char> = old.chars().collect();
            for e in &edits {
                for at in [e.start, e.end] {
                    assert!(
                        !(at > 0 && at < chars.len() && chars[at - 1] == '\r' && chars[at] == '\n'),
                        "{new:?}: {e:?} splits a CRLF"
                    );
                }
            }
            assert_eq!(apply_edits(old, &edits), new);
        }
    }

    #[test]
    fn minimal_edits_on_a_big_rewrite_stays_correct() {
        let old: String = (0..3000).map(|i| format!("line {i} old\n")).collect();
        let new: String = (0..3000)
            .map(|i| format!("row {} new\n", i * 7 % 3001))
            .collect();
        let edits = minimal_edits(&old, &new);
        assert_eq!(apply_edits(&old, &edits), new);
        assert!(edits.windows(2).all(|pair| pair[0].end < pair[1].start));
    }

    #[test]
    fn apply_edits_tolerates_bad_input() {
        let cases: Vec<(&str, Vec<CharEdit>, &str)> = vec![
            ("hello", vec![edit(0, 1, "J")], "Jello"),
            ("héllo", vec![edit(1, 2, "e"), edit(5, 5, "!")], "hello!"),
            ("abc", vec![edit(10, 20, "!")], "abc!"),
            ("abc", vec![edit(2, 1, "X")], "abXc"),
            ("abcdef", vec![edit(1, 4, "X"), edit(2, 5, "Y")], "aXYf"),
            ("abc", vec![], "abc"),
            ("", vec![edit(0, 0, "new")], "new"),
        ];
        for (old, edits, expected) in cases {
            assert_eq!(apply_edits(old, &edits), expected, "{old:?} {edits:?}");
        }
    }
}

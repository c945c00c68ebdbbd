//! From a model's answer to the smallest edits of a selection: pick the code out of the
//! answer, give it the selection's indentation and line endings, and diff it against the
//! selection into a few small char-offset edits. Pure functions, no LSP types.

use std::time::Duration;

use similar::{Algorithm, DiffTag, TextDiff};

/// The code in a model's answer: the first fenced block (see [`fenced_blocks`]), else the
/// whole answer without its leading and trailing blank lines.
///
/// The result never ends with a line break (`reindent` decides that from the selection).
/// An answer with no code gives an empty string. This is the raw extraction; whether an
/// answer holds code for the selection at all is `answer::classify`'s question.
pub fn extract_code(answer: &str) -> String {
    if let Some(block) = fenced_blocks(answer).into_iter().next() {
        return block.body;
    }
    trim_blank_lines(answer).to_owned()
}

/// `text` without its leading and trailing blank lines (and without its final line break).
pub fn trim_blank_lines(text: &str) -> &str {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_blank = |line: &&str| line.trim().is_empty();
    let start = lines.iter().position(|line| !is_blank(line));
    let end = lines.iter().rposition(|line| !is_blank(line));
    match (start, end) {
        (Some(start), Some(end)) => {
            let from: usize = lines[..start].iter().map(|line| line.len()).sum();
            let to: usize = lines[..=end].iter().map(|line| line.len()).sum();
            without_final_line_break(&text[from..to])
        }
        _ => "",
    }
}

/// One fenced code block of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FencedBlock {
    /// The info string after the opening fence, trimmed (`rust`, `diff`, `py title="a"`).
    pub info: String,
    /// The lines between the fences, without the opening fence's own indentation and
    /// without the final line break.
    pub body: String,
    /// False when the answer ended before a closing fence.
    pub closed: bool,
}

impl FencedBlock {
    /// The first word of the info string, lower-cased: the block's language tag.
    pub fn language(&self) -> String {
        self.info
            .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
            .next()
            .unwrap_or_default()
            .trim_start_matches('.')
            .to_lowercase()
    }
}

/// The top-level fenced blocks of an answer, in order (```` ``` ```` or `~~~`, a fence of
/// three or more, any info string).
///
/// A block closes at a bare fence of the same char at least as long as the one that opened
/// it, so a longer outer fence holds shorter ones (```` ````markdown ```` around a
/// ```` ```sh ```` block). Models also nest fences of the same length, writing an inner
/// opening with a language tag (```` ```sh ````) inside an outer ```` ```markdown ````: such
/// an inner opening is counted, and its bare closing fence closes it rather than the outer
/// block. An unclosed block runs to the end of the answer. Indentation that the opening
/// fence itself has (a block inside a list item) is removed from the block's lines.
pub fn fenced_blocks(answer: &str) -> Vec<FencedBlock> {
    let lines: Vec<&str> = answer.split_inclusive('\n').collect();
    let mut blocks = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(fence) = Fence::opening(lines[index]) else {
            index += 1;
            continue;
        };
        // Lengths of the inner blocks open inside this one, innermost last.
        let mut inner: Vec<usize> = Vec::new();
        let mut body = String::new();
        let mut closed = false;
        index += 1;
        while index < lines.len() {
            let line = lines[index];
            index += 1;
            match fence.classify(line) {
                FenceLine::Bare(len) => match inner.last() {
                    Some(open) if len >= *open => {
                        inner.pop();
                    }
                    None if len >= fence.len => {
                        closed = true;
                        break;
                    }
                    _ => {}
                },
                FenceLine::WithInfo(len) => inner.push(len),
                FenceLine::Other => {}
            }
            body.push_str(strip_indent(line, fence.indent));
        }
        blocks.push(FencedBlock {
            info: fence.info,
            body: without_final_line_break(&body).to_owned(),
            closed,
        });
    }
    blocks
}

/// An opening code fence: its char, its length, the indentation before it and its info
/// string.
struct Fence {
    marker: char,
    len: usize,
    indent: usize,
    info: String,
}

/// What a line inside a block is, for the block's fence char.
enum FenceLine {
    /// A fence of the block's char with nothing after it (a closing fence), this long.
    Bare(usize),
    /// A fence of the block's char with a language tag (an inner opening), this long.
    WithInfo(usize),
    Other,
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
        let info = &rest[len..];
        if marker == '`' && info.contains('`') {
            return None;
        }
        Some(Fence {
            marker,
            len,
            indent,
            info: info.trim().to_owned(),
        })
    }

    fn classify(&self, line: &str) -> FenceLine {
        let rest = line.trim_start_matches([' ', '\t']);
        let len = rest.chars().take_while(|c| *c == self.marker).count();
        if len < 3 {
            return FenceLine::Other;
        }
        let info = rest[len * self.marker.len_utf8()..].trim();
        // An inner opening names a language (```sh, ```c++, ```objective-c); a fence line
        // followed by words is text, as in CommonMark.
        let is_tag = |info: &str| {
            info.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '+' | '#' | '.' | '-'))
        };
        if info.is_empty() {
            FenceLine::Bare(len)
        } else if is_tag(info) {
            FenceLine::WithInfo(len)
        } else {
            FenceLine::Other
        }
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
/// See `reindent_with`; a selection without a line break makes the result use `\n`, and
/// the indentation style comes from the selection alone.
pub fn reindent(code: &str, original: &str) -> String {
    reindent_with(
        code,
        original,
        &Layout {
            eol: "\n",
            style: None,
        },
    )
}

/// How the document a selection lies in is laid out, for what the selection alone cannot
/// tell (a one-line selection has no line break and no inner indentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout<'a> {
    /// The document's line break.
    pub eol: &'a str,
    /// The document's indentation style, if it has a clear one.
    pub style: Option<IndentStyle>,
}

/// How a text indents its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndentStyle {
    Tabs,
    /// Spaces, this many per indentation step.
    Spaces(usize),
}

/// The indentation style of a text's lines: tabs if more lines start with a tab than with
/// two or more spaces, else spaces with the most common step between consecutive lines
/// (4 when no step shows). `None` when no line is indented. Lines indented by a single space
/// (the ` * ` of a block comment) say nothing about the style and are skipped.
pub fn indent_style<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<IndentStyle> {
    let (mut tabs, mut spaces) = (0usize, 0usize);
    let mut steps = [0usize; 9];
    let mut previous_width: Option<usize> = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let indent = leading_whitespace(line);
        if indent.starts_with('\t') {
            tabs += 1;
            previous_width = None;
            continue;
        }
        let width = indent.len();
        if width >= 2 && !indent.contains('\t') {
            spaces += 1;
        }
        if let Some(previous) = previous_width
            && width > previous
            && width - previous < steps.len()
            && width - previous >= 2
        {
            steps[width - previous] += 1;
        }
        previous_width = Some(width);
    }
    if tabs == 0 && spaces == 0 {
        return None;
    }
    if tabs > spaces {
        return Some(IndentStyle::Tabs);
    }
    // The most common step; on a tie the smaller one.
    let step = (2..steps.len())
        .filter(|step| steps[*step] > 0)
        .max_by_key(|step| (steps[*step], std::cmp::Reverse(*step)))
        .unwrap_or(4);
    Some(IndentStyle::Spaces(step))
}

/// Gives `code` the indentation and line endings of `original` in a document laid out as
/// `layout` says:
/// - the code's common leading indentation is removed and the original's base indentation
///   (that of its first non-blank line) is put in front of every non-blank line; blank
///   lines become empty;
/// - the code's inner indentation (below that common part) follows the target style: the
///   selection's own if its lines show one, else the document's. Spaces become tabs (one
///   per indentation step of the code, its smallest inner indentation); tabs become spaces
///   (one target step each); spaces of another step are re-stepped when every inner
///   indentation is a whole number of the code's steps (alignment is left alone);
/// - lines end with the original's line break, or the layout's if it has none (a
///   one-line selection);
/// - the result ends with a line break if and only if the original does.
///
/// Empty code stays empty.
pub fn reindent_with(code: &str, original: &str, layout: &Layout<'_>) -> String {
    if code.is_empty() {
        return String::new();
    }
    let eol = line_ending_of(original).unwrap_or(layout.eol);
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

    let target = match (selection_style(&original_lines, base), layout.style) {
        // Spaces of a step the selection cannot show: the document's step.
        (Some(IndentStyle::Spaces(0)), Some(IndentStyle::Spaces(step))) => {
            Some(IndentStyle::Spaces(step))
        }
        (Some(own), _) => Some(own),
        (None, document) => document,
    };
    let conversion = target.and_then(|target| conversion_for(&inner, target));

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
            Some(IndentConversion::Restep { from, to }) => {
                out.extend(std::iter::repeat_n(' ', indent.len() / from * to));
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

/// The style the selection's own lines show: tabs if any indents with a tab, spaces with
/// their smallest step below the base if any line is indented deeper than the base with
/// spaces. `None` when the selection shows nothing (one line, or all lines at the base).
fn selection_style(original_lines: &[&str], base: &str) -> Option<IndentStyle> {
    if original_lines
        .iter()
        .any(|line| leading_whitespace(line).contains('\t'))
    {
        return Some(IndentStyle::Tabs);
    }
    original_lines
        .iter()
        .map(|line| leading_whitespace(line).len())
        .filter(|len| *len > base.len())
        .map(|len| len - base.len())
        .min()
        .map(IndentStyle::Spaces)
        .or_else(|| {
            // Indented with spaces but flat: spaces, of an unknown step.
            (base.len() >= 2).then_some(IndentStyle::Spaces(0))
        })
}

/// How to turn the code's inner indentation into `target`'s, if it differs.
fn conversion_for(inner: &[(&str, &str)], target: IndentStyle) -> Option<IndentConversion> {
    let indents = || {
        inner
            .iter()
            .filter(|(_, rest)| !rest.trim().is_empty())
            .map(|(indent, _)| *indent)
            .filter(|indent| !indent.is_empty())
    };
    let has_tabs = indents().any(|indent| indent.contains('\t'));
    let code_step = indents()
        .filter(|indent| !indent.contains('\t'))
        .map(str::len)
        .min();
    match target {
        IndentStyle::Tabs if !has_tabs => code_step.map(IndentConversion::SpacesToTabs),
        IndentStyle::Tabs => None,
        IndentStyle::Spaces(step) if has_tabs => Some(IndentConversion::TabsToSpaces(match step {
            0 => 4,
            step => step,
        })),
        IndentStyle::Spaces(0) => None,
        IndentStyle::Spaces(step) => {
            let from = code_step?;
            let whole_steps = indents().all(|indent| indent.len() % from == 0);
            (from != step && whole_steps).then_some(IndentConversion::Restep { from, to: step })
        }
    }
}

#[derive(Clone, Copy)]
enum IndentConversion {
    /// Runs of spaces become tabs, this many spaces per tab.
    SpacesToTabs(usize),
    /// Each tab becomes this many spaces.
    TabsToSpaces(usize),
    /// Indentation of `from` spaces per step becomes `to` spaces per step.
    Restep { from: usize, to: usize },
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
mod tests;

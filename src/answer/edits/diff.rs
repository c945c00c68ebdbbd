//! The smallest char-offset edits from the old text to the new, and applying them. It knows
//! nothing of answers or indentation, and every diff is bounded in time.

use std::time::Duration;

use similar::{Algorithm, DiffTag, TextDiff};

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

//! One open document: its text as a `Rope`, its version, and a bounded log of the edits
//! applied to it, so a range computed at an older version can be moved to the current one.

use std::collections::VecDeque;
use std::ops::Range as CharRange;
use std::sync::OnceLock;

use ropey::Rope;

use crate::text::encoding::TextError;
use crate::text::encoding::{PositionEncoding, Range, range_to_chars};
use crate::text::minimal;

/// How many edits the change log keeps (an empty change counts as one). Older entries
/// are dropped, and `changes_since` of a version that old answers `None`.
pub const CHANGE_LOG_CAPACITY: usize = 1024;

/// One content change as the client sends it: `range: None` replaces the whole document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextChange {
    pub range: Option<Range>,
    pub text: String,
}

impl TextChange {
    /// A change that replaces the whole document.
    pub fn full(text: impl Into<String>) -> Self {
        TextChange {
            range: None,
            text: text.into(),
        }
    }

    /// A change that replaces `range`.
    pub fn replace(range: Range, text: impl Into<String>) -> Self {
        TextChange {
            range: Some(range),
            text: text.into(),
        }
    }
}

/// An edit as applied, in char offsets of the text just before it: `old_len` chars at
/// `start` were replaced by `new_len` chars. A client's change is recorded in its smallest
/// form (see `text::minimal`), so a whole-document `didChange` counts only what differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AppliedEdit {
    pub start: usize,
    pub old_len: usize,
    pub new_len: usize,
    /// How many chars further left the same edit could sit with the same result (an
    /// insertion or deletion in a run of repeated text; 0 otherwise).
    pub slide: usize,
}

/// The edits of one `apply_changes` call, tagged with the version they produced.
#[derive(Clone, Debug)]
struct VersionStep {
    version: i32,
    edits: Vec<AppliedEdit>,
}

impl VersionStep {
    /// How much of the log's capacity this step uses (an empty step still counts).
    fn weight(&self) -> usize {
        self.edits.len().max(1)
    }
}

/// The bounded history of edits: `steps` lead from `base_version` to the current version.
#[derive(Clone, Debug)]
struct ChangeLog {
    base_version: i32,
    steps: VecDeque<VersionStep>,
    weight: usize,
}

impl ChangeLog {
    fn new(version: i32) -> Self {
        ChangeLog {
            base_version: version,
            steps: VecDeque::new(),
            weight: 0,
        }
    }

    fn push(&mut self, step: VersionStep) {
        self.weight += step.weight();
        self.steps.push_back(step);
        while self.weight > CHANGE_LOG_CAPACITY {
            let Some(dropped) = self.steps.pop_front() else {
                break;
            };
            self.weight -= dropped.weight();
            self.base_version = dropped.version;
        }
    }

    /// The edits made after the document was at `version`, oldest first. When a client
    /// reused a version number, the latest occurrence counts.
    fn since(&self, version: i32) -> Option<Vec<AppliedEdit>> {
        let first_after = match self.steps.iter().rposition(|step| step.version == version) {
            Some(index) => index + 1,
            None if self.base_version == version => 0,
            None => return None,
        };
        Some(
            self.steps
                .range(first_after..)
                .flat_map(|step| step.edits.iter().copied())
                .collect(),
        )
    }
}

/// An open document.
///
/// The text stays one flat string, exactly as opened, until something needs the rope (an
/// edit, a snapshot, a position lookup): most open documents are never edited, and a flat
/// string costs its own size where a rope costs about 1.14 times it (1 KiB nodes, each
/// holding at most 984 bytes, plus the index nodes above them).
#[derive(Clone, Debug)]
pub struct Document {
    /// The text as opened, until an edit or a snapshot settles it into `rope`.
    flat: Option<Box<str>>,
    rope: OnceLock<Rope>,
    pub version: i32,
    pub language_id: String,
    log: ChangeLog,
}

impl Document {
    pub fn new(text: &str, version: i32, language_id: impl Into<String>) -> Self {
        Document {
            flat: Some(text.into()),
            rope: OnceLock::new(),
            version,
            language_id: language_id.into(),
            log: ChangeLog::new(version),
        }
    }

    /// The text as a rope, built on first use.
    pub fn text(&self) -> &Rope {
        self.rope
            .get_or_init(|| Rope::from_str(self.flat.as_deref().unwrap_or_default()))
    }

    /// The whole text as one string, without building the rope when there is none yet.
    pub fn contents(&self) -> String {
        match (self.rope.get(), &self.flat) {
            (Some(rope), _) => rope.to_string(),
            (None, Some(flat)) => flat.to_string(),
            (None, None) => String::new(),
        }
    }

    /// Builds the rope if needed and drops the flat copy, so the text is held once.
    pub fn settle(&mut self) {
        let rope = self.take_rope();
        self.rope = OnceLock::from(rope);
    }

    /// The rope, leaving the document empty until it is put back.
    fn take_rope(&mut self) -> Rope {
        let flat = self.flat.take();
        self.rope
            .take()
            .unwrap_or_else(|| Rope::from_str(flat.as_deref().unwrap_or_default()))
    }

    /// Applies `changes` in order (each range refers to the text left by the previous
    /// change) and moves to `version`. All or nothing: if one change is rejected, the text,
    /// version and log stay as they were. Versions are not checked for order; the LSP
    /// layer decides what to do with a stale one.
    pub fn apply_changes(
        &mut self,
        version: i32,
        changes: &[TextChange],
        enc: PositionEncoding,
    ) -> Result<(), TextError> {
        let mut text = self.take_rope();
        // One change validates before it mutates, so only a batch needs a backup
        // (a Rope clone shares its nodes, so this is cheap).
        let backup = (changes.len() > 1).then(|| text.clone());
        let mut edits = Vec::with_capacity(changes.len());
        for change in changes {
            if let Err(error) = apply_one(&mut text, change, enc, &mut edits) {
                self.rope = OnceLock::from(backup.unwrap_or(text));
                return Err(error);
            }
        }
        self.rope = OnceLock::from(text);
        self.version = version;
        self.log.push(VersionStep { version, edits });
        Ok(())
    }

    /// The version the first change after `version` produced: how a server that sent an
    /// edit for `version` learns which version holds it once the client has reported it.
    /// `None` while nothing came after it, or when the log does not reach back that far.
    pub fn version_after(&self, version: i32) -> Option<i32> {
        let index = match self
            .log
            .steps
            .iter()
            .rposition(|step| step.version == version)
        {
            Some(index) => index + 1,
            None if self.log.base_version == version => 0,
            None => return None,
        };
        self.log.steps.get(index).map(|step| step.version)
    }

    /// The edits made since the document was at `version`, oldest first: empty if
    /// `version` is the current one, `None` if the log no longer reaches back that far or
    /// the document never had that version.
    pub fn changes_since(&self, version: i32) -> Option<Vec<AppliedEdit>> {
        if version == self.version {
            return Some(Vec::new());
        }
        self.log.since(version)
    }
}

/// The most chars (old and new together) a change may differ in and still be split into
/// the places that really changed: a line diff of that much takes a few milliseconds, and
/// `didChange` runs on the message loop.
const SPLIT_LIMIT_CHARS: usize = 64 * 1024;

/// The most places one change is split into; past that (a reformatted file) it stays one
/// edit, so one change cannot flood the change log.
const SPLIT_MAX_PIECES: usize = 64;

/// Applies one change and records it in its smallest form: the text shared at both ends is
/// kept, and a whole-text change that differs in a few separate places (two edits a
/// full-sync client sent at once) becomes one edit per place.
fn apply_one(
    text: &mut Rope,
    change: &TextChange,
    enc: PositionEncoding,
    edits: &mut Vec<AppliedEdit>,
) -> Result<(), TextError> {
    let chars = match change.range {
        Some(range) => range_to_chars(text, range, enc)?,
        None => 0..text.len_chars(),
    };
    let trimmed = minimal::trim(text.slice(chars.clone()), &change.text);
    let start = chars.start + trimmed.start;
    let inserted = &change.text[trimmed.new_bytes];
    if trimmed.old_len > 0
        && trimmed.new_len > 0
        && trimmed.old_len + trimmed.new_len <= SPLIT_LIMIT_CHARS
    {
        let old = text.slice(start..start + trimmed.old_len).to_string();
        let pieces = crate::answer::edits::minimal_edits(&old, inserted);
        if (2..=SPLIT_MAX_PIECES).contains(&pieces.len()) {
            // Recorded left to right, each in the text the ones before it left; applied
            // right to left, so the offsets of the text as it was hold.
            let (mut added, mut removed) = (0, 0);
            for piece in &pieces {
                let new_len = piece.new_text.chars().count();
                edits.push(AppliedEdit {
                    start: start + piece.start + added - removed,
                    old_len: piece.end - piece.start,
                    new_len,
                    slide: 0,
                });
                added += new_len;
                removed += piece.end - piece.start;
            }
            for piece in pieces.iter().rev() {
                if piece.start < piece.end {
                    text.remove(start + piece.start..start + piece.end);
                }
                if !piece.new_text.is_empty() {
                    text.insert(start + piece.start, &piece.new_text);
                }
            }
            return Ok(());
        }
    }
    if trimmed.old_len > 0 {
        text.remove(start..start + trimmed.old_len);
    }
    if trimmed.new_len > 0 {
        text.insert(start, inserted);
    }
    edits.push(AppliedEdit {
        start,
        old_len: trimmed.old_len,
        new_len: trimmed.new_len,
        slide: trimmed.slide,
    });
    Ok(())
}

/// Moves a char range through later edits, applied in order. Returns `None` when an edit
/// touches the text inside the range, which means the selection itself changed.
///
/// Boundary rules:
/// - an edit that ends at or before the range start shifts the range — so an insertion
///   exactly at the start counts as before it (the range moves right);
/// - an edit that starts at or after the range end leaves it alone — so an insertion
///   exactly at the end counts as after it;
/// - for an empty range both hold at an insertion on it; "before" wins, the range moves
///   right with the inserted text (like a cursor);
/// - a replacement or deletion that overlaps the range by at least one char, or an
///   insertion strictly inside it, gives `None`;
/// - an edit that neither removes nor inserts anything is ignored, wherever it is;
/// - an edit whose arithmetic does not fit the range (inconsistent input) gives `None`.
pub fn rebase_range(range: CharRange<usize>, edits: &[AppliedEdit]) -> Option<CharRange<usize>> {
    if range.start > range.end {
        return None;
    }
    let (mut start, mut end) = (range.start, range.end);
    for edit in edits {
        if edit.old_len == 0 && edit.new_len == 0 {
            continue; // an empty change (some clients send them) changes nothing
        }
        let edit_end = edit.start.checked_add(edit.old_len)?;
        if edit_end <= start {
            // Entirely before (including an insertion at the start): shift.
            start = (start - edit.old_len).checked_add(edit.new_len)?;
            end = (end - edit.old_len).checked_add(edit.new_len)?;
        } else if edit.start >= end {
            // Entirely after (including an insertion at the end): unchanged.
        } else if edit_end - start <= edit.slide {
            // The same edit moved left ends at the start: before, so shift.
            start = start.checked_sub(edit.old_len)?.checked_add(edit.new_len)?;
            end = end.checked_sub(edit.old_len)?.checked_add(edit.new_len)?;
        } else {
            return None;
        }
    }
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::text::encoding::Position;

    fn range(start: (u32, u32), end: (u32, u32)) -> Range {
        Range::new(Position::new(start.0, start.1), Position::new(end.0, end.1))
    }

    /// (initial text, changes, encoding, expected text, expected edits)
    #[test]
    fn apply_changes_table() {
        type Case = (
            &'static str,
            Vec<TextChange>,
            PositionEncoding,
            &'static str,
            Vec<(usize, usize, usize)>,
        );
        use PositionEncoding::{Utf8, Utf16, Utf32};
        let cases: Vec<Case> = vec![
            (
                "hello\nworld",
                vec![TextChange::replace(range((1, 0), (1, 5)), "there")],
                Utf16,
                "hello\nthere",
                vec![(6, 5, 5)],
            ),
            (
                "a😀b",
                vec![TextChange::replace(range((0, 1), (0, 3)), "")],
                Utf16,
                "ab",
                vec![(1, 1, 0)],
            ),
            (
                "a😀b",
                vec![TextChange::replace(range((0, 5), (0, 5)), "X")],
                Utf8,
                "a😀Xb",
                vec![(2, 0, 1)],
            ),
            (
                "a😀b",
                vec![TextChange::replace(range((0, 2), (0, 2)), "X")],
                Utf32,
                "a😀Xb",
                vec![(2, 0, 1)],
            ),
            (
                "x\r\ny",
                vec![TextChange::replace(range((0, 9), (1, 0)), "")],
                Utf16,
                "xy",
                vec![(1, 2, 0)],
            ),
            (
                "x\ry",
                vec![TextChange::replace(range((5, 0), (6, 0)), "!")],
                Utf16,
                "x\ry!",
                vec![(3, 0, 1)],
            ),
            (
                "old text",
                vec![TextChange::full("brand\nnew")],
                Utf16,
                "brand\nnew",
                vec![(0, 8, 9)],
            ),
            (
                "abc",
                vec![
                    TextChange::replace(range((0, 0), (0, 0)), "1\n"),
                    TextChange::replace(range((1, 3), (1, 3)), "é"),
                    TextChange::full("z"),
                    TextChange::replace(range((0, 1), (0, 1)), "e\u{301}"),
                ],
                Utf8,
                "ze\u{301}",
                vec![(0, 0, 2), (5, 0, 1), (0, 6, 1), (1, 0, 2)],
            ),
            (
                "\tindented",
                vec![TextChange::replace(range((0, 1), (0, 9)), "x")],
                Utf8,
                "\tx",
                vec![(1, 8, 1)],
            ),
        ];
        for (initial, changes, enc, expected, edits) in cases {
            let mut document = Document::new(initial, 1, "rust");
            document.apply_changes(2, &changes, enc).unwrap();
            assert_eq!(
                document.text().to_string(),
                expected,
                "{initial:?} {changes:?}"
            );
            assert_eq!(document.version, 2);
            let expected_edits: Vec<AppliedEdit> = edits
                .into_iter()
                .map(|(start, old_len, new_len)| AppliedEdit {
                    start,
                    old_len,
                    new_len,
                    slide: 0,
                })
                .collect();
            assert_eq!(document.changes_since(1), Some(expected_edits));
            assert_eq!(document.changes_since(2), Some(Vec::new()));
        }
    }

    #[test]
    fn a_rejected_batch_changes_nothing() {
        let mut document = Document::new("abc\ndef", 3, "text");
        let changes = [
            TextChange::replace(range((0, 0), (0, 1)), "X"),
            TextChange::replace(range((1, 2), (1, 0)), "Y"),
        ];
        assert_eq!(
            document.apply_changes(4, &changes, PositionEncoding::Utf16),
            Err(TextError::ReversedRange)
        );
        assert_eq!(document.text().to_string(), "abc\ndef");
        assert_eq!(document.version, 3);
        assert_eq!(document.changes_since(3), Some(Vec::new()));
        assert_eq!(document.changes_since(4), None);

        let single = [TextChange::replace(range((0, 2), (0, 1)), "Y")];
        assert!(
            document
                .apply_changes(4, &single, PositionEncoding::Utf16)
                .is_err()
        );
        assert_eq!(document.text().to_string(), "abc\ndef");
    }

    #[test]
    fn the_opening_text_is_kept_flat_until_the_rope_is_needed() {
        let text = "naïve\r\ncafé 😀\nend";
        let mut document = Document::new(text, 1, "text");
        assert!(document.rope.get().is_none(), "opening builds no rope");
        assert_eq!(document.contents(), text);
        assert!(document.rope.get().is_none(), "contents builds no rope");

        // A read builds the rope; the flat copy stays until the document is settled.
        assert_eq!(document.text().to_string(), text);
        assert!(document.flat.is_some());
        let copy = document.clone();
        document.settle();
        assert!(document.flat.is_none(), "settling drops the flat copy");
        assert_eq!(document.contents(), text);
        assert_eq!(copy.text().len_lines(), 3);

        // An edit on a never-read document works on the rope built from the flat text.
        let mut fresh = Document::new(text, 1, "text");
        fresh
            .apply_changes(
                2,
                &[TextChange::replace(range((1, 0), (1, 4)), "tea")],
                PositionEncoding::Utf32,
            )
            .unwrap();
        assert!(fresh.flat.is_none(), "an edit drops the flat copy");
        assert_eq!(fresh.contents(), "naïve\r\ntea 😀\nend");

        // A rejected change on a never-read document keeps its text.
        let mut untouched = Document::new(text, 1, "text");
        let reversed = [TextChange::replace(range((0, 3), (0, 1)), "x")];
        assert!(
            untouched
                .apply_changes(2, &reversed, PositionEncoding::Utf16)
                .is_err()
        );
        assert_eq!(untouched.contents(), text);
        assert_eq!(untouched.version, 1);
    }

    #[test]
    fn changes_since_spans_versions_and_forgets_old_ones() {
        let mut document = Document::new("", 0, "text");
        let insert = |column: u32| [TextChange::replace(range((0, column), (0, column)), "x")];
        document
            .apply_changes(1, &insert(0), PositionEncoding::Utf16)
            .unwrap();
        document
            .apply_changes(5, &[], PositionEncoding::Utf16)
            .unwrap(); // versions may jump
        document
            .apply_changes(6, &insert(1), PositionEncoding::Utf16)
            .unwrap();
        assert_eq!(document.version_after(0), Some(1));
        assert_eq!(document.version_after(1), Some(5));
        assert_eq!(document.version_after(5), Some(6));
        assert_eq!(document.version_after(6), None);
        assert_eq!(document.version_after(3), None);
        let edit = |start| AppliedEdit {
            start,
            old_len: 0,
            new_len: 1,
            slide: 0,
        };
        assert_eq!(document.changes_since(0), Some(vec![edit(0), edit(1)]));
        assert_eq!(document.changes_since(1), Some(vec![edit(1)]));
        assert_eq!(document.changes_since(5), Some(vec![edit(1)]));
        assert_eq!(document.changes_since(6), Some(vec![]));
        assert_eq!(document.changes_since(2), None);
        assert_eq!(document.changes_since(7), None);

        // Overflow: after CHANGE_LOG_CAPACITY more edits, the early versions are gone.
        for version in 7..7 + CHANGE_LOG_CAPACITY as i32 {
            document
                .apply_changes(version, &insert(0), PositionEncoding::Utf16)
                .unwrap();
        }
        let last = 6 + CHANGE_LOG_CAPACITY as i32;
        assert_eq!(document.version, last);
        assert_eq!(document.changes_since(0), None);
        assert_eq!(document.changes_since(1), None);
        assert_eq!(
            document.changes_since(6),
            Some(vec![edit(0); CHANGE_LOG_CAPACITY])
        );
        assert_eq!(document.changes_since(last - 2), Some(vec![edit(0); 2]));
        assert_eq!(document.text().len_chars(), 2 + CHANGE_LOG_CAPACITY);

        // One more pushes version 6 out too.
        document
            .apply_changes(last + 1, &insert(0), PositionEncoding::Utf16)
            .unwrap();
        assert_eq!(document.changes_since(6), None);
        assert_eq!(
            document.changes_since(7).map(|edits| edits.len()),
            Some(CHANGE_LOG_CAPACITY)
        );
    }

    #[test]
    fn an_oversized_batch_empties_the_log() {
        let mut document = Document::new("", 0, "text");
        let changes: Vec<TextChange> = (0..CHANGE_LOG_CAPACITY + 1)
            .map(|_| TextChange::replace(range((0, 0), (0, 0)), "y"))
            .collect();
        document
            .apply_changes(1, &changes, PositionEncoding::Utf8)
            .unwrap();
        assert_eq!(document.changes_since(0), None);
        assert_eq!(document.changes_since(1), Some(vec![]));
    }

    #[test]
    fn rebase_range_table() {
        let edit = |start, old_len, new_len| AppliedEdit {
            start,
            old_len,
            new_len,
            slide: 0,
        };
        // (range, edits, expected)
        type Case = (CharRange<usize>, Vec<AppliedEdit>, Option<CharRange<usize>>);
        let cases: Vec<Case> = vec![
            (10..20, vec![], Some(10..20)),
            // entirely before: shift by the difference
            (10..20, vec![edit(0, 2, 5)], Some(13..23)),
            (10..20, vec![edit(2, 8, 0)], Some(2..12)), // deletion ending at the start
            // insertion exactly at the start counts as before
            (10..20, vec![edit(10, 0, 3)], Some(13..23)),
            // insertion exactly at the end counts as after
            (10..20, vec![edit(20, 0, 3)], Some(10..20)),
            // entirely after
            (10..20, vec![edit(20, 5, 1)], Some(10..20)),
            (10..20, vec![edit(25, 0, 1)], Some(10..20)),
            // insertion strictly inside
            (10..20, vec![edit(11, 0, 1)], None),
            // an empty change inside changes nothing
            (10..20, vec![edit(15, 0, 0)], Some(10..20)),
            (10..20, vec![edit(15, 0, 0), edit(0, 1, 0)], Some(9..19)),
            (10..20, vec![edit(19, 0, 1)], None),
            // overlapping replacement or deletion
            (10..20, vec![edit(9, 2, 2)], None),
            (10..20, vec![edit(19, 2, 0)], None),
            (10..20, vec![edit(10, 1, 1)], None),
            (10..20, vec![edit(0, 100, 100)], None), // whole-document replace
            // empty range: an insertion on it counts as before
            (5..5, vec![edit(5, 0, 2)], Some(7..7)),
            (5..5, vec![edit(4, 2, 0)], None),
            (5..5, vec![edit(5, 2, 0)], Some(5..5)),
            (5..5, vec![edit(3, 2, 0)], Some(3..3)),
            // edits compose in order, each in the coordinates left by the previous one
            (
                10..20,
                vec![edit(0, 0, 5), edit(14, 1, 0), edit(30, 0, 1)],
                Some(14..24),
            ),
            (10..20, vec![edit(0, 0, 5), edit(16, 0, 1)], None),
            // nonsense input never panics
            (CharRange { start: 10, end: 5 }, vec![], None),
            (10..20, vec![edit(usize::MAX, 1, 0)], None),
            (10..20, vec![edit(0, usize::MAX, 0)], None),
            (10..20, vec![edit(0, 0, usize::MAX)], None),
        ];
        for (range, edits, expected) in cases {
            assert_eq!(
                rebase_range(range.clone(), &edits),
                expected,
                "{range:?} {edits:?}"
            );
        }
    }

    #[test]
    fn an_edit_that_could_sit_before_the_range_moves_it() {
        let slid = |start, old_len, new_len, slide| AppliedEdit {
            start,
            old_len,
            new_len,
            slide,
        };
        // (range, edit, expected)
        let cases = [
            (1..4, slid(3, 0, 1, 2), Some(2..5)),
            (1..4, slid(3, 0, 1, 1), None),
            (1..4, slid(3, 1, 0, 2), None),
            (1..4, slid(2, 1, 0, 2), Some(0..3)),
            (1..4, slid(2, 1, 1, 9), None), // a replacement never slides
            (1..4, slid(2, 5, 0, 9), None), // nonsense never panics
        ];
        for (range, edit, expected) in cases {
            let edit = if edit.old_len > 0 && edit.new_len > 0 {
                AppliedEdit { slide: 0, ..edit }
            } else {
                edit
            };
            assert_eq!(
                rebase_range(range.clone(), &[edit]),
                expected,
                "{range:?} {edit:?}"
            );
        }
    }

    #[test]
    fn a_whole_document_change_is_recorded_as_what_differs() {
        // Typing `a` before a selection of `aab`: the change is placed inside the run but
        // may slide out of it, so the selection holds.
        let mut document = Document::new("xaab\r\nrest 😀\r\n", 1, "text");
        document
            .apply_changes(
                2,
                &[TextChange::full("xaaab\r\nrest 😀\r\n")],
                PositionEncoding::Utf16,
            )
            .unwrap();
        assert_eq!(document.text().to_string(), "xaaab\r\nrest 😀\r\n");
        let edits = document.changes_since(1).unwrap();
        assert_eq!(
            edits,
            [AppliedEdit {
                start: 3,
                old_len: 0,
                new_len: 1,
                slide: 2
            }]
        );
        let moved = rebase_range(1..4, &edits).unwrap();
        assert_eq!(document.text().slice(moved).to_string(), "aab");
        // A full text that changes nothing is no edit at all.
        document
            .apply_changes(
                3,
                &[TextChange::full(document.contents())],
                PositionEncoding::Utf16,
            )
            .unwrap();
        assert_eq!(
            document.changes_since(2),
            Some(vec![AppliedEdit {
                start: 15,
                ..AppliedEdit::default()
            }])
        );
    }

    #[test]
    fn a_whole_text_change_in_two_places_keeps_what_lies_between() {
        // A full-sync client sends two edits at once, above and below a selection.
        let old = "fn a() {\r\n    one();\r\n}\r\n\r\nfn b() {\r\n    two();\r\n}\r\n";
        let new = "fn a() {\r\n    one(1);\r\n}\r\n\r\nfn b() {\r\n    two(2);\r\n}\r\n";
        let mut document = Document::new(old, 1, "rust");
        let selection = 22..31; // "}\r\n\r\nfn b"
        assert_eq!(
            document.text().slice(selection.clone()).to_string(),
            "}\r\n\r\nfn b"
        );
        document
            .apply_changes(2, &[TextChange::full(new)], PositionEncoding::Utf16)
            .unwrap();
        assert_eq!(document.text().to_string(), new);
        let edits = document.changes_since(1).unwrap();
        assert_eq!(edits.len(), 2, "{edits:?}");
        let moved = rebase_range(selection, &edits).expect("the selection survives");
        assert_eq!(document.text().slice(moved).to_string(), "}\r\n\r\nfn b");
    }

    #[test]
    fn rebase_through_the_log_finds_the_same_text() {
        let mut document = Document::new("fn main() {\n    let x = 1;\n}\n", 1, "rust");
        let selection = 16..26; // "let x = 1;"
        assert_eq!(
            document.text().slice(selection.clone()).to_string(),
            "let x = 1;"
        );
        let changes = [
            TextChange::replace(range((0, 0), (0, 0)), "// hi\n"),
            TextChange::replace(range((3, 1), (3, 1)), "\n// bye"),
        ];
        document
            .apply_changes(2, &changes, PositionEncoding::Utf16)
            .unwrap();
        let edits = document.changes_since(1).unwrap();
        let moved = rebase_range(selection, &edits).unwrap();
        assert_eq!(document.text().slice(moved).to_string(), "let x = 1;");
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            TextError::UnknownDocument("file:///x".into()).to_string(),
            "no open document for file:///x"
        );
        assert_eq!(
            TextError::ReversedRange.to_string(),
            "the range starts after it ends"
        );
    }
}

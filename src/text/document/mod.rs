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
mod tests;

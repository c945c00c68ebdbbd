//! Review before apply (`edits.review: "confirm"`), the parts without LSP: the unified diff a
//! person reads before deciding, the file it is written to, and the register of pending
//! reviews (one per range of a document: a newer action on overlapping code replaces the
//! older review). The editor side lives in `lsp::run::review`.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use similar::TextDiff;
use tokio_util::sync::CancellationToken;

use crate::answer::edits::{CharEdit, apply_edits};

/// The document before and after `edits` (char offsets in `before`) as a unified diff with
/// three lines of context, headed with the file's display path.
pub fn unified_diff(display_path: &str, before: &str, edits: &[CharEdit]) -> String {
    let after = apply_edits(before, edits);
    TextDiff::from_lines(before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{display_path}"), &format!("b/{display_path}"))
        .to_string()
}

/// Writes a review's diff under `dir` (created if needed) and returns its path. The name
/// ends in `.diff` so editors highlight it.
pub fn write_diff(dir: &Path, display_path: &str, diff: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let stem = crate::chat::files::file_stem(display_path);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    let path = dir.join(format!("review-{stem}-{stamp}-{nonce:08x}.diff"));
    fs::write(&path, diff)?;
    Ok(path)
}

struct Pending {
    id: u64,
    uri: String,
    selection: Range<usize>,
    replaced: CancellationToken,
}

/// The reviews waiting for an answer. Ranges are compared as the actions saw them (char
/// offsets in the text at the time each action started).
#[derive(Default)]
pub struct Reviews {
    pending: Mutex<Vec<Pending>>,
    next: std::sync::atomic::AtomicU64,
}

/// A registered review; dropping it unregisters it.
pub struct Ticket<'a> {
    reviews: &'a Reviews,
    id: u64,
    /// Cancelled when a newer review of overlapping code replaces this one.
    pub replaced: CancellationToken,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.reviews
            .with(|pending| pending.retain(|entry| entry.id != self.id));
    }
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    // Empty ranges (an insertion point) overlap a range that contains them.
    a.start <= b.end && b.start <= a.end
}

impl Reviews {
    fn with<T>(&self, change: impl FnOnce(&mut Vec<Pending>) -> T) -> T {
        match self.pending.lock() {
            Ok(mut guard) => change(&mut guard),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }

    /// Registers a review of `selection` in `uri`, replacing (cancelling) every pending
    /// review of overlapping code in the same document.
    pub fn begin(&self, uri: &str, selection: Range<usize>) -> Ticket<'_> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let replaced = CancellationToken::new();
        self.with(|pending| {
            pending.retain(|entry| {
                let clash = entry.uri == uri && overlaps(&entry.selection, &selection);
                if clash {
                    entry.replaced.cancel();
                }
                !clash
            });
            pending.push(Pending {
                id,
                uri: uri.to_owned(),
                selection,
                replaced: replaced.clone(),
            });
        });
        Ticket {
            reviews: self,
            id,
            replaced,
        }
    }

    /// How many reviews are waiting.
    pub fn len(&self) -> usize {
        self.with(|pending| pending.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_shows_the_change_with_context() {
        let before = "a\nb\nc\nd\n";
        let edits = vec![CharEdit {
            start: 4,
            end: 5,
            new_text: "C".into(),
        }];
        let diff = unified_diff("src/x.rs", before, &edits);
        assert!(
            diff.starts_with("--- a/src/x.rs\n+++ b/src/x.rs\n"),
            "{diff}"
        );
        assert!(diff.contains("-c\n+C\n"), "{diff}");
        assert!(diff.contains(" b\n"), "{diff}");
    }

    #[test]
    fn a_newer_review_of_overlapping_code_replaces_the_older_one() {
        let reviews = Reviews::default();
        let first = reviews.begin("file:///a", 10..20);
        let elsewhere = reviews.begin("file:///a", 30..40);
        let other_file = reviews.begin("file:///b", 10..20);
        assert_eq!(reviews.len(), 3);
        let second = reviews.begin("file:///a", 15..25);
        assert!(first.replaced.is_cancelled());
        assert!(!elsewhere.replaced.is_cancelled());
        assert!(!other_file.replaced.is_cancelled());
        assert!(!second.replaced.is_cancelled());
        assert_eq!(reviews.len(), 3);
        drop(second);
        drop(first);
        assert_eq!(reviews.len(), 2);
    }
}

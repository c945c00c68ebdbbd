//! The smallest form of a content change: a change that replaces a stretch of the document
//! (the whole of it, for a full-sync client) keeps the text its old and new contents share at
//! both ends, so only what really changed counts as edited. Without this, typing anywhere
//! in a full-sync client looks like an edit of every line, and every selection an action is
//! working on looks changed.
//!
//! Where an insertion or deletion sits in a run of repeated text is ambiguous (typing `a`
//! into `aa` could be at any of three places); the change is placed as far right as the
//! shared start allows and `slide` says how far left it could equally sit. Pure: no I/O.

use ropey::RopeSlice;

/// The part of a change that differs, relative to the replaced stretch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trimmed {
    /// Chars of the old stretch kept at its start.
    pub start: usize,
    /// Chars of the old stretch that are replaced.
    pub old_len: usize,
    /// Bytes of the new text that replace them.
    pub new_bytes: std::ops::Range<usize>,
    /// Chars in `new_bytes`.
    pub new_len: usize,
    /// For a pure insertion or deletion: how many chars further left the same change could
    /// sit and leave the same text.
    pub slide: usize,
}

/// Trims the shared start and end off a change that replaces `old` with `new`.
pub fn trim(old: RopeSlice<'_>, new: &str) -> Trimmed {
    let new_bytes = new.as_bytes();
    let old_total = old.len_bytes();

    let mut prefix = 0;
    for chunk in old.chunks() {
        let shared = common_prefix(chunk.as_bytes(), &new_bytes[prefix..]);
        prefix += shared;
        if shared < chunk.len() {
            break;
        }
    }
    // The shared bytes end inside a character only if both texts do, at the same place.
    while !new.is_char_boundary(prefix) {
        prefix -= 1;
    }

    let most = old_total.min(new.len()) - prefix;
    let chunks: Vec<&str> = old.chunks().collect();
    let mut suffix = 0;
    for chunk in chunks.iter().rev() {
        if suffix == most {
            break;
        }
        let shared =
            common_suffix(chunk.as_bytes(), &new_bytes[..new.len() - suffix]).min(most - suffix);
        suffix += shared;
        if shared < chunk.len() {
            break;
        }
    }
    while !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }

    let start = old.byte_to_char(prefix);
    let old_len = old.byte_to_char(old_total - suffix) - start;
    let inserted = &new[prefix..new.len() - suffix];
    let new_len = inserted.chars().count();
    let kept = &new[..prefix];
    let slide = if old_len == 0 && new_len > 0 {
        shared_tail(kept, inserted)
    } else if new_len == 0 && old_len > 0 {
        let removed = old.slice(start..start + old_len).to_string();
        shared_tail(kept, &removed)
    } else {
        0
    };
    Trimmed {
        start,
        old_len,
        new_bytes: prefix..new.len() - suffix,
        new_len,
        slide,
    }
}

/// How many chars `changed`, inserted (or deleted) right after `kept`, could move left:
/// the length of the common end of `kept` and `kept + changed`.
fn shared_tail(kept: &str, changed: &str) -> usize {
    kept.chars()
        .rev()
        .zip(changed.chars().rev().chain(kept.chars().rev()))
        .take_while(|(a, b)| a == b)
        .count()
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::*;

    /// (old, new) → (start, old_len, inserted, slide)
    #[test]
    fn trim_table() {
        type Case = (
            &'static str,
            &'static str,
            (usize, usize, &'static str, usize),
        );
        let cases: &[Case] = &[
            ("", "", (0, 0, "", 0)),
            ("abc", "abc", (3, 0, "", 0)),
            ("abc", "abXc", (2, 0, "X", 0)),
            ("abc", "", (0, 3, "", 0)),
            ("", "abc", (0, 0, "abc", 0)),
            ("abc", "xyz", (0, 3, "xyz", 0)),
            // a repeated run: the change sits rightmost and may slide left
            ("aa", "aaa", (2, 0, "a", 2)),
            ("xaab", "xaaab", (3, 0, "a", 2)),
            ("abab", "ababab", (4, 0, "ab", 4)),
            ("xaaab", "xaab", (3, 1, "", 2)),
            // characters of several bytes, shared lead bytes
            ("é", "è", (0, 1, "è", 0)),
            ("a😀b", "a😁b", (1, 1, "😁", 0)),
            ("中文", "中国文", (1, 0, "国", 0)),
            // CRLF: a line ending change is one char
            ("x\r\ny", "x\ny", (1, 1, "", 0)),
            ("x\ny", "x\r\ny", (1, 0, "\r", 0)),
            ("a\r\nb\r\n", "a\r\nb\r\nc\r\n", (6, 0, "c\r\n", 2)),
            ("e\u{301}", "e", (1, 1, "", 0)),
        ];
        for (old, new, (start, old_len, inserted, slide)) in cases {
            let rope = Rope::from_str(old);
            let trimmed = trim(rope.slice(..), new);
            assert_eq!(trimmed.start, *start, "{old:?} → {new:?}");
            assert_eq!(trimmed.old_len, *old_len, "{old:?} → {new:?}");
            assert_eq!(
                &new[trimmed.new_bytes.clone()],
                *inserted,
                "{old:?} → {new:?}"
            );
            assert_eq!(trimmed.new_len, inserted.chars().count());
            assert_eq!(trimmed.slide, *slide, "{old:?} → {new:?}");
        }
    }

    #[test]
    fn a_large_document_spanning_many_chunks() {
        let line = "let value = compute(1, 2); // 😀 注释\r\n";
        let old: String = line.repeat(5_000);
        let mut new = old.clone();
        let middle = line.len() * 2_500 + 4;
        new.insert_str(middle, "mut ");
        let rope = Rope::from_str(&old);
        let trimmed = trim(rope.slice(..), &new);
        assert_eq!(trimmed.start, rope.byte_to_char(middle));
        assert_eq!(trimmed.old_len, 0);
        assert_eq!(&new[trimmed.new_bytes], "mut ");
    }
}

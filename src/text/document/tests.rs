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

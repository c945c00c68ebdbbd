//! Answer → edit: extracting code from any answer, classifying it, applying it as a diff and
//! re-indenting it never panic, a diff that applies keeps the selection's line endings, and for
//! any two texts `minimal_edits` gives sorted, non-overlapping edits inside the old text that
//! never split a CRLF and turn the old text into the new one exactly.

#![no_main]

use chatls_fuzz::answer::classify;
use chatls_fuzz::answer::edits::{
    apply_edits, extract_code, line_ending_of, minimal_edits, reindent, replacement_for,
};
use chatls_fuzz::answer::patch::apply_diff;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    answer: String,
    original: String,
    new: String,
}

fuzz_target!(|input: Input| {
    let _ = extract_code(&input.answer);
    for language in ["python", "markdown", "diff", ""] {
        let _ = classify(&input.answer, &input.original, language);
    }
    if let Ok(patched) = apply_diff(&input.original, &input.answer)
        && line_ending_of(&input.original) == Some("\r\n")
    {
        assert!(
            !patched.replace("\r\n", "").contains('\n'),
            "a bare LF in a CRLF selection: {patched:?}"
        );
    }
    let _ = reindent(&input.answer, &input.original);
    let replacement = replacement_for(&input.answer, &input.original);

    for (old, new) in [
        (input.original.as_str(), input.new.as_str()),
        (input.original.as_str(), replacement.as_str()),
    ] {
        let edits = minimal_edits(old, new);
        assert_eq!(apply_edits(old, &edits), new, "{edits:?}");
        let chars: Vec<char> = old.chars().collect();
        let mut previous_end = 0;
        for edit in &edits {
            assert!(
                edit.start <= edit.end && edit.end <= chars.len(),
                "{edit:?}"
            );
            assert!(
                edit.start >= previous_end,
                "overlapping or unsorted: {edits:?}"
            );
            previous_end = edit.end;
            for boundary in [edit.start, edit.end] {
                let splits_crlf = boundary > 0
                    && chars.get(boundary - 1) == Some(&'\r')
                    && chars.get(boundary) == Some(&'\n');
                assert!(
                    !splits_crlf,
                    "an edit splits a CRLF at {boundary}: {edits:?}"
                );
            }
        }
        if old == new {
            assert!(edits.is_empty());
        }
    }
});

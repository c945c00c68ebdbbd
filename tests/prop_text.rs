//! Property tests for the document store and the edit computation: random incremental
//! edits in all three position encodings checked against a plain `String` model written
//! independently (per-char code), `minimal_edits` round trips, and range rebasing.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use chatls::answer::edits::{CharEdit, apply_edits, minimal_edits};
use chatls::text::{
    Document, Position, PositionEncoding, Range, TextChange, char_to_position, rebase_range,
};

const ALPHABET: &[&str] = &[
    "\r\n", "\r", "\n", "\t", "é", "e\u{301}", "😀", "𝄞", "中", "a", "b", "z", " ", "{", "}",
];

const CASES: u32 = 200;
const EDITS_PER_CASE: usize = 600;

fn text(max_tokens: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..max_tokens)
        .prop_map(|tokens| tokens.concat())
}

fn encoding() -> impl Strategy<Value = PositionEncoding> {
    prop_oneof![
        Just(PositionEncoding::Utf8),
        Just(PositionEncoding::Utf16),
        Just(PositionEncoding::Utf32),
    ]
}

/// Raw material for one position; turned into a position relative to the current text,
/// so that line ends, line breaks and the end of the document are hit often.
#[derive(Clone, Debug)]
struct PositionSeed {
    mode: u8,
    line: u32,
    character: u32,
}

fn position_seed() -> impl Strategy<Value = PositionSeed> {
    (0u8..20, any::<u32>(), any::<u32>()).prop_map(|(mode, line, character)| PositionSeed {
        mode,
        line,
        character,
    })
}

#[derive(Clone, Debug)]
struct ChangeSeed {
    full: bool,
    start: PositionSeed,
    end: PositionSeed,
    text: String,
    offset_probe: u32,
}

fn change_seed() -> impl Strategy<Value = ChangeSeed> {
    (
        prop::bool::weighted(0.02),
        position_seed(),
        position_seed(),
        text(4),
        any::<u32>(),
    )
        .prop_map(|(full, start, end, text, offset_probe)| ChangeSeed {
            full,
            start,
            end,
            text,
            offset_probe,
        })
}

// ---- the model: plain per-char code, independent of the code under test ----

/// (start char, content length in chars, line break length in chars) of every line.
fn model_lines(chars: &[char]) -> Vec<(usize, usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut index = 0;
    while index < chars.len() {
        let break_len = match chars[index] {
            '\r' if chars.get(index + 1) == Some(&'\n') => 2,
            '\r' | '\n' => 1,
            _ => 0,
        };
        if break_len > 0 {
            lines.push((start, index - start, break_len));
            index += break_len;
            start = index;
        } else {
            index += 1;
        }
    }
    lines.push((start, chars.len() - start, 0));
    lines
}

fn units(c: char, enc: PositionEncoding) -> usize {
    match enc {
        PositionEncoding::Utf8 => c.len_utf8(),
        PositionEncoding::Utf16 => c.len_utf16(),
        PositionEncoding::Utf32 => 1,
    }
}

fn model_position_to_char(chars: &[char], pos: Position, enc: PositionEncoding) -> usize {
    let lines = model_lines(chars);
    let Some(&(start, content_len, _)) = lines.get(pos.line as usize) else {
        return chars.len();
    };
    let mut used = 0usize;
    let mut column = 0;
    while column < content_len {
        let width = units(chars[start + column], enc);
        if used + width > pos.character as usize {
            break;
        }
        used += width;
        column += 1;
    }
    start + column
}

fn model_char_to_position(chars: &[char], offset: usize, enc: PositionEncoding) -> Position {
    let offset = offset.min(chars.len());
    let lines = model_lines(chars);
    for (line, &(start, content_len, break_len)) in lines.iter().enumerate() {
        let is_last = line + 1 == lines.len();
        if offset < start + content_len + break_len || is_last {
            let column = (offset - start).min(content_len);
            let character: usize = chars[start..start + column]
                .iter()
                .map(|c| units(*c, enc))
                .sum();
            return Position::new(line as u32, character as u32);
        }
    }
    unreachable!("the last line always matches")
}

/// Turns a seed into a position in the current model text.
fn position_from_seed(chars: &[char], seed: &PositionSeed, enc: PositionEncoding) -> Position {
    let lines = model_lines(chars);
    let line_count = lines.len() as u32;
    match seed.mode {
        0 => Position::new(u32::MAX, seed.character),
        1 => Position::new(seed.line % (line_count + 2), u32::MAX),
        2 => Position::new(line_count + seed.line % 3, seed.character % 5),
        _ => {
            let line = seed.line % (line_count + 1);
            let line_units: usize = lines.get(line as usize).map_or(0, |&(start, len, _)| {
                chars[start..start + len]
                    .iter()
                    .map(|c| units(*c, enc))
                    .sum()
            });
            // up to two units past the line's content: hits the end and the break
            let character = seed.character % (line_units as u32 + 3);
            Position::new(line, character)
        }
    }
}

/// Applies one change to the model, with the same clamping rules; `None` if rejected.
fn model_apply(chars: &mut Vec<char>, change: &TextChange, enc: PositionEncoding) -> Option<()> {
    let new: Vec<char> = change.text.chars().collect();
    match change.range {
        None => *chars = new,
        Some(range) => {
            if (range.start.line, range.start.character) > (range.end.line, range.end.character) {
                return None;
            }
            let start = model_position_to_char(chars, range.start, enc);
            let end = model_position_to_char(chars, range.end, enc);
            chars.splice(start..end, new);
        }
    }
    Some(())
}

static EDITS_TRIED: AtomicUsize = AtomicUsize::new(0);
static EDITS_APPLIED: AtomicUsize = AtomicUsize::new(0);

fn run_incremental_case(
    enc: PositionEncoding,
    initial: &str,
    seeds: &[ChangeSeed],
) -> Result<(), TestCaseError> {
    let mut document = Document::new(initial, 0, "text");
    let mut model: Vec<char> = initial.chars().collect();
    let mut version = 0;
    let mut index = 0;
    while index < seeds.len() {
        // Batches of one to three changes, like a client's didChange.
        let batch_len = 1 + (seeds[index].offset_probe % 3) as usize;
        let batch = &seeds[index..(index + batch_len).min(seeds.len())];
        index += batch.len();

        let mut scratch = model.clone();
        let mut changes = Vec::new();
        let mut accepted = true;
        for seed in batch {
            let change = if seed.full {
                TextChange::full(seed.text.clone())
            } else {
                let start = position_from_seed(&scratch, &seed.start, enc);
                let end = position_from_seed(&scratch, &seed.end, enc);
                // Mostly ordered ranges; one in twenty left reversed on purpose.
                let (start, end) = if start > end && seed.start.mode != 19 {
                    (end, start)
                } else {
                    (start, end)
                };
                TextChange::replace(Range::new(start, end), seed.text.clone())
            };
            // After a rejected change the whole batch is void; the rest is still sent.
            if accepted && model_apply(&mut scratch, &change, enc).is_none() {
                accepted = false;
            }
            changes.push(change);
        }
        EDITS_TRIED.fetch_add(changes.len(), Ordering::Relaxed);
        if accepted {
            EDITS_APPLIED.fetch_add(changes.len(), Ordering::Relaxed);
        }

        let result = document.apply_changes(version + 1, &changes, enc);
        prop_assert_eq!(result.is_ok(), accepted, "changes {:?}", changes);
        if accepted {
            model = scratch;
            version += 1;
        }
        let model_text: String = model.iter().collect();
        prop_assert_eq!(
            document.text().to_string(),
            model_text.clone(),
            "after {:?}",
            changes
        );
        prop_assert_eq!(document.version, version);
        prop_assert_eq!(document.text().len_lines(), model_lines(&model).len());

        // Offsets back to positions, and those positions back to offsets.
        let offset = batch[0].offset_probe as usize % (model.len() + 2);
        let position = char_to_position(document.text(), offset, enc);
        prop_assert_eq!(position, model_char_to_position(&model, offset, enc));
        prop_assert_eq!(
            chatls::text::position_to_char(document.text(), position, enc),
            model_position_to_char(&model, position, enc)
        );
    }
    Ok(())
}

#[test]
fn incremental_edits_match_a_string_model() {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        encoding(),
        text(40),
        prop::collection::vec(change_seed(), EDITS_PER_CASE),
    );
    let result = runner.run(&strategy, |(enc, initial, seeds)| {
        run_incremental_case(enc, &initial, &seeds)
    });
    let tried = EDITS_TRIED.load(Ordering::Relaxed);
    let applied = EDITS_APPLIED.load(Ordering::Relaxed);
    eprintln!(
        "prop_text: {tried} incremental edits tried, {applied} applied, the rest in rejected batches \
         ({CASES} cases x {EDITS_PER_CASE} changes, utf-8/16/32, each checked against the model)"
    );
    if let Err(error) = result {
        panic!("{error}");
    }
    assert!(tried >= 100_000, "only {tried} edits tried");
}

/// Derives a new text from an old one by a few token-level changes, so the two are
/// similar as a model's rewrite usually is.
fn similar_pair() -> impl Strategy<Value = (String, String)> {
    let lines = prop::collection::vec(text(12), 0..30);
    (
        lines,
        prop::collection::vec((any::<u16>(), 0u8..4, text(6)), 0..8),
    )
        .prop_map(|(lines, mutations)| {
            let old = lines.join("\n");
            let mut new: Vec<char> = old.chars().collect();
            for (at, kind, insert) in mutations {
                let at = at as usize % (new.len() + 1);
                let end = (at + kind as usize).min(new.len());
                new.splice(at..end, insert.chars());
            }
            (old, new.into_iter().collect())
        })
}

fn check_edits(old: &str, new: &str, edits: &[CharEdit]) -> Result<(), TestCaseError> {
    prop_assert_eq!(apply_edits(old, edits), new);
    let chars: Vec<char> = old.chars().collect();
    for pair in edits.windows(2) {
        prop_assert!(
            pair[0].end < pair[1].start,
            "edits overlap or touch: {:?}",
            pair
        );
    }
    for edit in edits {
        prop_assert!(edit.start <= edit.end && edit.end <= chars.len());
        for at in [edit.start, edit.end] {
            let splits = at > 0 && at < chars.len() && chars[at - 1] == '\r' && chars[at] == '\n';
            prop_assert!(!splits, "{:?} splits a CRLF", edit);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 500, failure_persistence: None, ..Config::default() })]

    #[test]
    fn minimal_edits_round_trip_on_similar_texts((old, new) in similar_pair()) {
        let edits = minimal_edits(&old, &new);
        check_edits(&old, &new, &edits)?;
        if old == new {
            prop_assert!(edits.is_empty());
        }
    }

    #[test]
    fn minimal_edits_round_trip_on_unrelated_texts(old in text(80), new in text(80)) {
        let edits = minimal_edits(&old, &new);
        check_edits(&old, &new, &edits)?;
    }

    #[test]
    fn rebased_ranges_point_at_the_same_text(
        initial in text(60),
        range_seed in (any::<u32>(), any::<u32>()),
        enc in encoding(),
        seeds in prop::collection::vec(change_seed(), 1..12),
    ) {
        let mut document = Document::new(&initial, 0, "text");
        let len = document.text().len_chars();
        let a = range_seed.0 as usize % (len + 1);
        let b = range_seed.1 as usize % (len + 1);
        let selection = a.min(b)..a.max(b);
        let selected = document.text().slice(selection.clone()).to_string();

        // The model: every char carries its original index; inserted chars carry none.
        let mut tagged: Vec<Option<usize>> = (0..len).map(Some).collect();
        for (version, seed) in seeds.iter().enumerate() {
            let chars: Vec<char> = document.text().chars().collect();
            let start = position_from_seed(&chars, &seed.start, enc);
            let end = position_from_seed(&chars, &seed.end, enc);
            let range = Range::new(start.min(end), start.max(end));
            let from = model_position_to_char(&chars, range.start, enc);
            let to = model_position_to_char(&chars, range.end, enc);
            tagged.splice(from..to, seed.text.chars().map(|_| None));
            document
                .apply_changes(version as i32 + 1, &[TextChange::replace(range, seed.text.clone())], enc)
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
        }
        let edits = document.changes_since(0).expect("the log holds every edit");
        // One edit per change, or more when a change differs in separate places.
        prop_assert!(edits.len() >= seeds.len());
        let rebased = rebase_range(selection.clone(), &edits);
        if let Some(moved) = rebased.clone() {
            prop_assert!(moved.end <= document.text().len_chars());
            prop_assert_eq!(document.text().slice(moved).to_string(), selected);
        }
        // A non-empty selection whose chars are all still there, side by side (nothing
        // deleted from it, nothing inserted inside it), survives where they are. (It may
        // survive more: a change is recorded in its smallest form, so replacing text with
        // the same text changes nothing.)
        if !selection.is_empty() {
            let first = tagged.iter().position(|tag| *tag == Some(selection.start));
            let survives = first.is_some_and(|first| {
                selection
                    .clone()
                    .enumerate()
                    .all(|(i, id)| tagged.get(first + i) == Some(&Some(id)))
            });
            if let Some(first) = first.filter(|_| survives) {
                prop_assert_eq!(rebased, Some(first..first + selection.len()));
            }
        }
    }

    /// A whole-document change (what full-sync clients send) that only changes text before
    /// and after a selection keeps the selection, moved onto the same text.
    #[test]
    fn a_full_text_change_outside_a_selection_keeps_it(
        before in text(20),
        selected in text(12),
        after in text(20),
        new_before in text(20),
        new_after in text(20),
        enc in encoding(),
    ) {
        let old = format!("{before}{selected}{after}");
        let mut document = Document::new(&old, 0, "text");
        let start = before.chars().count();
        let selection = start..start + selected.chars().count();
        let new = format!("{new_before}{selected}{new_after}");
        document
            .apply_changes(1, &[TextChange::full(new.clone())], enc)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(document.text().to_string(), new);
        let edits = document.changes_since(0).expect("one step");
        let rebased = rebase_range(selection.clone(), &edits);
        if let Some(moved) = rebased.clone() {
            prop_assert_eq!(document.text().slice(moved).to_string(), selected.clone());
        }
        // Text changed on one side only: the selection always survives.
        if before == new_before || after == new_after {
            let moved = rebased.expect("the selection survives");
            prop_assert_eq!(moved.len(), selection.len());
        }
    }
}

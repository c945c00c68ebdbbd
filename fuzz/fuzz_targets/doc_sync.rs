//! Document sync: random batches of incremental (and occasionally full) changes in a random
//! position encoding, applied to chatls's `Document` and to a plain per-char model with the
//! same LSP clamping rules; after every batch the texts, versions, line counts and position
//! conversions must agree, and a rejected batch must change nothing.

#![no_main]

use chatls_fuzz::text::{
    Document, Position, PositionEncoding, Range, TextChange, char_to_position, position_to_char,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    initial: String,
    encoding: u8,
    batches: Vec<Vec<Change>>,
}

#[derive(Arbitrary, Debug)]
struct Change {
    full: bool,
    start: Seed,
    end: Seed,
    text: String,
    probe: u32,
}

#[derive(Arbitrary, Debug)]
struct Seed {
    mode: u8,
    line: u32,
    character: u32,
}

fn lines(chars: &[char]) -> Vec<(usize, usize, usize)> {
    let mut found = Vec::new();
    let (mut start, mut index) = (0, 0);
    while index < chars.len() {
        let width = match chars[index] {
            '\r' if chars.get(index + 1) == Some(&'\n') => 2,
            '\r' | '\n' => 1,
            _ => 0,
        };
        if width > 0 {
            found.push((start, index - start, width));
            index += width;
            start = index;
        } else {
            index += 1;
        }
    }
    found.push((start, chars.len() - start, 0));
    found
}

fn units(c: char, encoding: PositionEncoding) -> usize {
    match encoding {
        PositionEncoding::Utf8 => c.len_utf8(),
        PositionEncoding::Utf16 => c.len_utf16(),
        PositionEncoding::Utf32 => 1,
    }
}

fn model_position_to_char(chars: &[char], pos: Position, encoding: PositionEncoding) -> usize {
    let all = lines(chars);
    let Some(&(start, len, _)) = all.get(pos.line as usize) else {
        return chars.len();
    };
    let (mut used, mut column) = (0usize, 0);
    while column < len {
        let width = units(chars[start + column], encoding);
        if used + width > pos.character as usize {
            break;
        }
        used += width;
        column += 1;
    }
    start + column
}

fn model_char_to_position(chars: &[char], offset: usize, encoding: PositionEncoding) -> Position {
    let offset = offset.min(chars.len());
    let all = lines(chars);
    for (line, &(start, len, width)) in all.iter().enumerate() {
        if offset < start + len + width || line + 1 == all.len() {
            let column = (offset - start).min(len);
            let character: usize = chars[start..start + column]
                .iter()
                .map(|c| units(*c, encoding))
                .sum();
            return Position::new(line as u32, character as u32);
        }
    }
    unreachable!("the last line always matches")
}

/// A position relative to the current text, so line ends and the end of text come up often.
fn position(chars: &[char], seed: &Seed, encoding: PositionEncoding) -> Position {
    let all = lines(chars);
    let count = all.len() as u32;
    match seed.mode % 8 {
        0 => Position::new(seed.line, seed.character),
        1 => Position::new(seed.line % (count + 2), u32::MAX),
        _ => {
            let line = seed.line % (count + 1);
            let width: usize = all.get(line as usize).map_or(0, |&(start, len, _)| {
                chars[start..start + len]
                    .iter()
                    .map(|c| units(*c, encoding))
                    .sum()
            });
            Position::new(line, seed.character % (width as u32 + 3))
        }
    }
}

fn model_apply(chars: &mut Vec<char>, change: &TextChange, encoding: PositionEncoding) -> bool {
    let new: Vec<char> = change.text.chars().collect();
    match change.range {
        None => *chars = new,
        Some(range) => {
            if (range.start.line, range.start.character) > (range.end.line, range.end.character) {
                return false;
            }
            let start = model_position_to_char(chars, range.start, encoding);
            let end = model_position_to_char(chars, range.end, encoding);
            chars.splice(start..end, new);
        }
    }
    true
}

fuzz_target!(|input: Input| {
    let encoding = match input.encoding % 3 {
        0 => PositionEncoding::Utf8,
        1 => PositionEncoding::Utf16,
        _ => PositionEncoding::Utf32,
    };
    let mut document = Document::new(&input.initial, 0, "text");
    let mut model: Vec<char> = input.initial.chars().collect();
    let mut version = 0;
    for batch in input.batches.iter().take(64) {
        let mut scratch = model.clone();
        let mut accepted = true;
        let mut changes = Vec::new();
        for seed in batch.iter().take(8) {
            let change = if seed.full && seed.probe % 16 == 0 {
                TextChange::full(seed.text.clone())
            } else {
                let start = position(&scratch, &seed.start, encoding);
                let end = position(&scratch, &seed.end, encoding);
                TextChange::replace(Range::new(start, end), seed.text.clone())
            };
            if accepted && !model_apply(&mut scratch, &change, encoding) {
                accepted = false;
            }
            changes.push(change);
        }
        let result = document.apply_changes(version + 1, &changes, encoding);
        assert_eq!(result.is_ok(), accepted, "{changes:?}");
        if accepted {
            model = scratch;
            version += 1;
        }
        let text: String = model.iter().collect();
        assert_eq!(document.text().to_string(), text, "after {changes:?}");
        assert_eq!(document.version, version);
        assert_eq!(document.text().len_lines(), lines(&model).len());
        let probe = batch.first().map_or(0, |change| change.probe) as usize % (model.len() + 2);
        let at = char_to_position(document.text(), probe, encoding);
        assert_eq!(at, model_char_to_position(&model, probe, encoding));
        assert_eq!(
            position_to_char(document.text(), at, encoding),
            model_position_to_char(&model, at, encoding)
        );
    }
});

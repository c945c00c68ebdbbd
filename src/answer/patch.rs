//! A unified diff from a model, applied to the selection it was asked about. Pure.
//!
//! Models write diffs loosely: line numbers that refer to the file, to the selection or to
//! nothing, hunks without headers, context lines whose leading space got lost, indentation
//! that differs from the file's. So hunks are placed by their content, never by their
//! numbers: each hunk's old lines (context and removals) must be found in the selection, in
//! order, first exactly, then ignoring trailing whitespace, then ignoring indentation (the
//! added lines then take the selection's indentation). A hunk that matches nowhere refuses
//! the whole diff: a diff applied in part, or in the wrong place, would corrupt the code.

use crate::answer::edits::line_ending_of;

/// Why a diff does not apply to the selection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("it holds no added or removed lines")]
    Empty,
    #[error("hunk {0} adds lines without any context to place them")]
    Unplaced(usize),
    #[error("hunk {0} does not match the selected code")]
    NoMatch(usize),
}

/// One hunk: the lines it expects and the lines it leaves.
#[derive(Debug, Default)]
struct Hunk {
    old: Vec<String>,
    new: Vec<String>,
    changes: usize,
}

/// Applies `diff` to `selection` and returns the new text of the selection, with the
/// selection's line endings and its final line break (or lack of one).
pub fn apply_diff(selection: &str, diff: &str) -> Result<String, PatchError> {
    let hunks = parse(diff);
    if hunks.iter().all(|hunk| hunk.changes == 0) {
        return Err(PatchError::Empty);
    }
    let eol = line_ending_of(selection).unwrap_or("\n");
    let ends_with_break = selection.ends_with(['\n', '\r']);
    let mut lines: Vec<String> = selection.lines().map(str::to_owned).collect();
    let mut cursor = 0;
    for (number, hunk) in hunks.iter().enumerate().filter(|(_, h)| h.changes > 0) {
        let number = number + 1;
        if hunk.old.is_empty() {
            return Err(PatchError::Unplaced(number));
        }
        let (at, matched) = find(&lines, &hunk.old, cursor).ok_or(PatchError::NoMatch(number))?;
        let replacement: Vec<String> = match matched {
            Match::Exact | Match::TrailingSpace => hunk.new.clone(),
            Match::Indentation => reindented(&lines[at..at + hunk.old.len()], hunk),
        };
        cursor = at + replacement.len();
        lines.splice(at..at + hunk.old.len(), replacement);
    }
    let mut out = lines.join(eol);
    if ends_with_break && !lines.is_empty() {
        out.push_str(eol);
    }
    Ok(out)
}

/// Splits a diff into hunks. File headers (`diff`, `index`, `---`/`+++` pairs) are skipped,
/// `@@` starts a new hunk, a diff with no `@@` is one hunk; a line with no diff prefix is
/// taken as context (its leading space was lost).
fn parse(diff: &str) -> Vec<Hunk> {
    let lines: Vec<&str> = diff
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .collect();
    let mut hunks = vec![Hunk::default()];
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        index += 1;
        let header_pair = line.starts_with("--- ")
            && lines
                .get(index)
                .is_some_and(|next| next.starts_with("+++ "));
        if header_pair {
            index += 1;
            continue;
        }
        if line.starts_with("diff ") || line.starts_with("index ") || line.starts_with('\\') {
            continue;
        }
        let Some(hunk) = hunks.last_mut() else {
            continue;
        };
        if line.starts_with("@@") {
            if hunk.changes > 0 || !hunk.old.is_empty() {
                hunks.push(Hunk::default());
            }
            continue;
        }
        if let Some(removed) = line.strip_prefix('-') {
            hunk.old.push(removed.to_owned());
            hunk.changes += 1;
        } else if let Some(added) = line.strip_prefix('+') {
            hunk.new.push(added.to_owned());
            hunk.changes += 1;
        } else {
            let context = line.strip_prefix(' ').unwrap_or(line);
            hunk.old.push(context.to_owned());
            hunk.new.push(context.to_owned());
        }
    }
    // Context lines that are blank at the very ends often come from blank lines the model
    // added around its diff; they carry no information, so they need not match.
    for hunk in &mut hunks {
        while hunk.old.last().is_some_and(|l| l.trim().is_empty())
            && hunk.new.last().is_some_and(|l| l.trim().is_empty())
            && hunk.old.len() > 1
        {
            hunk.old.pop();
            hunk.new.pop();
        }
    }
    hunks
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Match {
    Exact,
    TrailingSpace,
    Indentation,
}

/// Whether a selected line matches a diff line, in one way of matching.
type LineTest = fn(&str, &str) -> bool;

/// The first place at or after `from` where `old` matches the lines, trying each way of
/// matching in turn (exact first). Matching without indentation needs the indentation to
/// differ the same way on every line, so the added lines can be shifted the same way.
fn find(lines: &[String], old: &[String], from: usize) -> Option<(usize, Match)> {
    if old.len() > lines.len() {
        return None;
    }
    let ways: [(Match, LineTest); 3] = [
        (Match::Exact, |a, b| a == b),
        (Match::TrailingSpace, |a, b| a.trim_end() == b.trim_end()),
        (Match::Indentation, |a, b| a.trim() == b.trim()),
    ];
    for (way, same) in ways {
        for at in from..=lines.len() - old.len() {
            let window = &lines[at..at + old.len()];
            if window
                .iter()
                .zip(old)
                .all(|(line, expected)| same(line, expected))
                && (way != Match::Indentation || indent_shift(window, old).is_some())
            {
                return Some((at, way));
            }
        }
    }
    None
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The selection's indentation and the diff's for the first non-blank line, if every
/// non-blank line differs by exactly that (the rest of each indentation being equal).
fn indent_shift<'a>(matched: &'a [String], old: &'a [String]) -> Option<(&'a str, &'a str)> {
    let mut pairs = matched
        .iter()
        .zip(old)
        .filter(|(line, _)| !line.trim().is_empty());
    let (first_selected, first_diffed) = pairs.next()?;
    let (ours, theirs) = (indent_of(first_selected), indent_of(first_diffed));
    let consistent = std::iter::once((first_selected, first_diffed))
        .chain(pairs)
        .all(|(selected, diffed)| {
            match (
                indent_of(selected).strip_prefix(ours),
                indent_of(diffed).strip_prefix(theirs),
            ) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
        });
    consistent.then_some((ours, theirs))
}

/// The hunk's new lines with the selection's indentation in place of the diff's.
fn reindented(matched: &[String], hunk: &Hunk) -> Vec<String> {
    let Some((ours, theirs)) = indent_shift(matched, &hunk.old) else {
        return hunk.new.clone();
    };
    hunk.new
        .iter()
        .map(|line| match line.strip_prefix(theirs) {
            Some(rest) if !line.trim().is_empty() => format!("{ours}{rest}"),
            _ => line.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELECTION: &str = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n";

    #[test]
    fn apply_diff_table() {
        let cases: &[(&str, Result<&str, PatchError>)] = &[
            // a headerless hunk
            (
                "-    return result\n+    return int(result)",
                Ok(
                    "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return int(result)\n",
                ),
            ),
            // file headers and a hunk header whose numbers refer to the file
            (
                "--- a/m.py\n+++ b/m.py\n@@ -40,3 +40,3 @@\n     result = 0\n-    for value in values:\n+    for value in list(values):\n         result += value",
                Ok(
                    "def total(values):\n    result = 0\n    for value in list(values):\n        result += value\n    return result\n",
                ),
            ),
            // two hunks, in order
            (
                "@@ -1 +1 @@\n-def total(values):\n+def total(values, start=0):\n@@ -2 +2 @@\n-    result = 0\n+    result = start",
                Ok(
                    "def total(values, start=0):\n    result = start\n    for value in values:\n        result += value\n    return result\n",
                ),
            ),
            // context whose leading space was lost, and a removal with no replacement
            (
                "    result = 0\n-    for value in values:\n-        result += value\n+    result += sum(values)\nreturn result",
                Err(PatchError::NoMatch(1)),
            ),
            (
                "     result = 0\n-    for value in values:\n-        result += value\n+    result += sum(values)\n     return result",
                Ok(
                    "def total(values):\n    result = 0\n    result += sum(values)\n    return result\n",
                ),
            ),
            // the diff's indentation differs from the file's: the file's wins
            (
                "-return result\n+return int(result)",
                Ok(
                    "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return int(result)\n",
                ),
            ),
            // context that is not in the selection refuses the whole diff
            (
                "-    return results\n+    return int(results)",
                Err(PatchError::NoMatch(1)),
            ),
            ("+    print(result)", Err(PatchError::Unplaced(1))),
            (" def total(values):", Err(PatchError::Empty)),
        ];
        for (diff, expected) in cases {
            assert_eq!(
                apply_diff(SELECTION, diff).as_deref().map_err(Clone::clone),
                expected.clone(),
                "{diff:?}"
            );
        }
    }

    #[test]
    fn crlf_and_no_final_break_are_kept() {
        let selection = "a = 1\r\nb = 2";
        assert_eq!(
            apply_diff(selection, "-b = 2\n+b = 3").as_deref(),
            Ok("a = 1\r\nb = 3")
        );
    }
}

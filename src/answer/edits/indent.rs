//! The code given the selection's (or the document's) indentation style and line endings.
//! It changes only leading whitespace and line breaks, never a line's other text.

/// The first line break in `text` (`"\r\n"`, `"\n"` or `"\r"`), if it has one.
pub fn line_ending_of(text: &str) -> Option<&'static str> {
    let index = text.find(['\n', '\r'])?;
    let bytes = text.as_bytes();
    Some(match bytes[index] {
        b'\r' if bytes.get(index + 1) == Some(&b'\n') => "\r\n",
        b'\r' => "\r",
        _ => "\n",
    })
}

/// Gives `code` the indentation and line endings of `original`, the selection it replaces.
/// See `reindent_with`; a selection without a line break makes the result use `\n`, and
/// the indentation style comes from the selection alone.
pub fn reindent(code: &str, original: &str) -> String {
    reindent_with(
        code,
        original,
        &Layout {
            eol: "\n",
            style: None,
        },
    )
}

/// How the document a selection lies in is laid out, for what the selection alone cannot
/// tell (a one-line selection has no line break and no inner indentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout<'a> {
    /// The document's line break.
    pub eol: &'a str,
    /// The document's indentation style, if it has a clear one.
    pub style: Option<IndentStyle>,
}

/// How a text indents its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndentStyle {
    Tabs,
    /// Spaces, this many per indentation step.
    Spaces(usize),
}

/// The indentation style of a text's lines: tabs if more lines start with a tab than with
/// two or more spaces, else spaces with the most common step between consecutive lines
/// (4 when no step shows). `None` when no line is indented. Lines indented by a single space
/// (the ` * ` of a block comment) say nothing about the style and are skipped.
pub fn indent_style<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<IndentStyle> {
    let (mut tabs, mut spaces) = (0usize, 0usize);
    let mut steps = [0usize; 9];
    let mut previous_width: Option<usize> = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let indent = leading_whitespace(line);
        if indent.starts_with('\t') {
            tabs += 1;
            previous_width = None;
            continue;
        }
        let width = indent.len();
        if width >= 2 && !indent.contains('\t') {
            spaces += 1;
        }
        if let Some(previous) = previous_width
            && width > previous
            && width - previous < steps.len()
            && width - previous >= 2
        {
            steps[width - previous] += 1;
        }
        previous_width = Some(width);
    }
    if tabs == 0 && spaces == 0 {
        return None;
    }
    if tabs > spaces {
        return Some(IndentStyle::Tabs);
    }
    // The most common step; on a tie the smaller one.
    let step = (2..steps.len())
        .filter(|step| steps[*step] > 0)
        .max_by_key(|step| (steps[*step], std::cmp::Reverse(*step)))
        .unwrap_or(4);
    Some(IndentStyle::Spaces(step))
}

/// Gives `code` the indentation and line endings of `original` in a document laid out as
/// `layout` says:
/// - the code's common leading indentation is removed and the original's base indentation
///   (that of its first non-blank line) is put in front of every non-blank line; blank
///   lines become empty;
/// - the code's inner indentation (below that common part) follows the target style: the
///   selection's own if its lines show one, else the document's. Spaces become tabs (one
///   per indentation step of the code, its smallest inner indentation); tabs become spaces
///   (one target step each); spaces of another step are re-stepped when every inner
///   indentation is a whole number of the code's steps (alignment is left alone);
/// - lines end with the original's line break, or the layout's if it has none (a
///   one-line selection);
/// - the result ends with a line break if and only if the original does.
///
/// Empty code stays empty.
pub fn reindent_with(code: &str, original: &str, layout: &Layout<'_>) -> String {
    if code.is_empty() {
        return String::new();
    }
    let eol = line_ending_of(original).unwrap_or(layout.eol);
    let original_lines: Vec<&str> = original.lines().filter(|l| !l.trim().is_empty()).collect();
    let base = original_lines
        .first()
        .map_or("", |line| leading_whitespace(line));

    let code_lines: Vec<&str> = code.lines().collect();
    let common = common_indent(code_lines.iter().copied().filter(|l| !l.trim().is_empty()));
    let inner: Vec<(&str, &str)> = code_lines
        .iter()
        .map(|line| {
            let rest = line.strip_prefix(common).unwrap_or(line);
            let indent = leading_whitespace(rest);
            (indent, &rest[indent.len()..])
        })
        .collect();

    let target = match (selection_style(&original_lines, base), layout.style) {
        // Spaces of a step the selection cannot show: the document's step.
        (Some(IndentStyle::Spaces(0)), Some(IndentStyle::Spaces(step))) => {
            Some(IndentStyle::Spaces(step))
        }
        (Some(own), _) => Some(own),
        (None, document) => document,
    };
    let conversion = target.and_then(|target| conversion_for(&inner, target));

    let mut out = String::with_capacity(code.len() + code_lines.len() * (base.len() + 2));
    for (index, (indent, rest)) in inner.iter().enumerate() {
        if index > 0 {
            out.push_str(eol);
        }
        if rest.trim().is_empty() {
            continue;
        }
        out.push_str(base);
        match conversion {
            Some(IndentConversion::SpacesToTabs(step)) => {
                out.extend(std::iter::repeat_n('\t', indent.len() / step));
                out.extend(std::iter::repeat_n(' ', indent.len() % step));
            }
            Some(IndentConversion::TabsToSpaces(step)) => {
                for c in indent.chars() {
                    match c {
                        '\t' => out.extend(std::iter::repeat_n(' ', step)),
                        other => out.push(other),
                    }
                }
            }
            Some(IndentConversion::Restep { from, to }) => {
                out.extend(std::iter::repeat_n(' ', indent.len() / from * to));
            }
            None => out.push_str(indent),
        }
        out.push_str(rest);
    }
    if original.ends_with(['\n', '\r']) {
        out.push_str(eol);
    }
    out
}

/// The style the selection's own lines show: tabs if any indents with a tab, spaces with
/// their smallest step below the base if any line is indented deeper than the base with
/// spaces. `None` when the selection shows nothing (one line, or all lines at the base).
fn selection_style(original_lines: &[&str], base: &str) -> Option<IndentStyle> {
    if original_lines
        .iter()
        .any(|line| leading_whitespace(line).contains('\t'))
    {
        return Some(IndentStyle::Tabs);
    }
    original_lines
        .iter()
        .map(|line| leading_whitespace(line).len())
        .filter(|len| *len > base.len())
        .map(|len| len - base.len())
        .min()
        .map(IndentStyle::Spaces)
        .or_else(|| {
            // Indented with spaces but flat: spaces, of an unknown step.
            (base.len() >= 2).then_some(IndentStyle::Spaces(0))
        })
}

/// How to turn the code's inner indentation into `target`'s, if it differs.
fn conversion_for(inner: &[(&str, &str)], target: IndentStyle) -> Option<IndentConversion> {
    let indents = || {
        inner
            .iter()
            .filter(|(_, rest)| !rest.trim().is_empty())
            .map(|(indent, _)| *indent)
            .filter(|indent| !indent.is_empty())
    };
    let has_tabs = indents().any(|indent| indent.contains('\t'));
    let code_step = indents()
        .filter(|indent| !indent.contains('\t'))
        .map(str::len)
        .min();
    match target {
        IndentStyle::Tabs if !has_tabs => code_step.map(IndentConversion::SpacesToTabs),
        IndentStyle::Tabs => None,
        IndentStyle::Spaces(step) if has_tabs => Some(IndentConversion::TabsToSpaces(match step {
            0 => 4,
            step => step,
        })),
        IndentStyle::Spaces(0) => None,
        IndentStyle::Spaces(step) => {
            let from = code_step?;
            let whole_steps = indents().all(|indent| indent.len() % from == 0);
            (from != step && whole_steps).then_some(IndentConversion::Restep { from, to: step })
        }
    }
}

#[derive(Clone, Copy)]
enum IndentConversion {
    /// Runs of spaces become tabs, this many spaces per tab.
    SpacesToTabs(usize),
    /// Each tab becomes this many spaces.
    TabsToSpaces(usize),
    /// Indentation of `from` spaces per step becomes `to` spaces per step.
    Restep { from: usize, to: usize },
}

fn leading_whitespace(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The longest run of whitespace that starts every line.
fn common_indent<'a>(mut lines: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(first) = lines.next() else {
        return "";
    };
    let mut common = leading_whitespace(first);
    for line in lines {
        let shared = common
            .bytes()
            .zip(line.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        common = &common[..shared];
    }
    common
}

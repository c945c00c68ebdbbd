//! The code in a model's answer: fenced blocks (nesting included) or the answer itself
//! without its blank edges. It only picks text out; it never re-indents or diffs it.

/// The code in a model's answer: the first fenced block (see [`fenced_blocks`]), else the
/// whole answer without its leading and trailing blank lines.
///
/// The result never ends with a line break (`reindent` decides that from the selection).
/// An answer with no code gives an empty string. This is the raw extraction; whether an
/// answer holds code for the selection at all is `answer::classify`'s question.
pub fn extract_code(answer: &str) -> String {
    if let Some(block) = fenced_blocks(answer).into_iter().next() {
        return block.body;
    }
    trim_blank_lines(answer).to_owned()
}

/// `text` without its leading and trailing blank lines (and without its final line break).
pub fn trim_blank_lines(text: &str) -> &str {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_blank = |line: &&str| line.trim().is_empty();
    let start = lines.iter().position(|line| !is_blank(line));
    let end = lines.iter().rposition(|line| !is_blank(line));
    match (start, end) {
        (Some(start), Some(end)) => {
            let from: usize = lines[..start].iter().map(|line| line.len()).sum();
            let to: usize = lines[..=end].iter().map(|line| line.len()).sum();
            without_final_line_break(&text[from..to])
        }
        _ => "",
    }
}

/// One fenced code block of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FencedBlock {
    /// The info string after the opening fence, trimmed (`rust`, `diff`, `py title="a"`).
    pub info: String,
    /// The lines between the fences, without the opening fence's own indentation and
    /// without the final line break.
    pub body: String,
    /// False when the answer ended before a closing fence.
    pub closed: bool,
}

impl FencedBlock {
    /// The first word of the info string, lower-cased: the block's language tag.
    pub fn language(&self) -> String {
        self.info
            .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
            .next()
            .unwrap_or_default()
            .trim_start_matches('.')
            .to_lowercase()
    }
}

/// The top-level fenced blocks of an answer, in order (```` ``` ```` or `~~~`, a fence of
/// three or more, any info string).
///
/// A block closes at a bare fence of the same char at least as long as the one that opened
/// it, so a longer outer fence holds shorter ones (```` ````markdown ```` around a
/// ```` ```sh ```` block). Models also nest fences of the same length, writing an inner
/// opening with a language tag (```` ```sh ````) inside an outer ```` ```markdown ````: such
/// an inner opening is counted, and its bare closing fence closes it rather than the outer
/// block. An unclosed block runs to the end of the answer. Indentation that the opening
/// fence itself has (a block inside a list item) is removed from the block's lines.
pub fn fenced_blocks(answer: &str) -> Vec<FencedBlock> {
    let lines: Vec<&str> = answer.split_inclusive('\n').collect();
    let mut blocks = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(fence) = Fence::opening(lines[index]) else {
            index += 1;
            continue;
        };
        // Lengths of the inner blocks open inside this one, innermost last.
        let mut inner: Vec<usize> = Vec::new();
        let mut body = String::new();
        let mut closed = false;
        index += 1;
        while index < lines.len() {
            let line = lines[index];
            index += 1;
            match fence.classify(line) {
                FenceLine::Bare(len) => match inner.last() {
                    Some(open) if len >= *open => {
                        inner.pop();
                    }
                    None if len >= fence.len => {
                        closed = true;
                        break;
                    }
                    _ => {}
                },
                FenceLine::WithInfo(len) => inner.push(len),
                FenceLine::Other => {}
            }
            body.push_str(strip_indent(line, fence.indent));
        }
        blocks.push(FencedBlock {
            info: fence.info,
            body: without_final_line_break(&body).to_owned(),
            closed,
        });
    }
    blocks
}

/// An opening code fence: its char, its length, the indentation before it and its info
/// string.
struct Fence {
    marker: char,
    len: usize,
    indent: usize,
    info: String,
}

/// What a line inside a block is, for the block's fence char.
enum FenceLine {
    /// A fence of the block's char with nothing after it (a closing fence), this long.
    Bare(usize),
    /// A fence of the block's char with a language tag (an inner opening), this long.
    WithInfo(usize),
    Other,
}

impl Fence {
    fn opening(line: &str) -> Option<Fence> {
        let content = line.trim_end_matches(['\n', '\r']);
        let rest = content.trim_start_matches([' ', '\t']);
        let indent = content.len() - rest.len();
        let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == marker).count();
        if len < 3 {
            return None;
        }
        // As in CommonMark, a backtick fence's info string holds no backtick, so inline
        // code such as ```x``` in prose is not a fence.
        let info = &rest[len..];
        if marker == '`' && info.contains('`') {
            return None;
        }
        Some(Fence {
            marker,
            len,
            indent,
            info: info.trim().to_owned(),
        })
    }

    fn classify(&self, line: &str) -> FenceLine {
        let rest = line.trim_start_matches([' ', '\t']);
        let len = rest.chars().take_while(|c| *c == self.marker).count();
        if len < 3 {
            return FenceLine::Other;
        }
        let info = rest[len * self.marker.len_utf8()..].trim();
        // An inner opening names a language (```sh, ```c++, ```objective-c); a fence line
        // followed by words is text, as in CommonMark.
        let is_tag = |info: &str| {
            info.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '+' | '#' | '.' | '-'))
        };
        if info.is_empty() {
            FenceLine::Bare(len)
        } else if is_tag(info) {
            FenceLine::WithInfo(len)
        } else {
            FenceLine::Other
        }
    }
}

/// Removes up to `count` leading spaces or tabs.
fn strip_indent(line: &str, count: usize) -> &str {
    let strip = line
        .bytes()
        .take(count)
        .take_while(|byte| *byte == b' ' || *byte == b'\t')
        .count();
    &line[strip..]
}

fn without_final_line_break(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .or_else(|| text.strip_suffix('\r'))
        .unwrap_or(text)
}

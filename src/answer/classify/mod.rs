//! What a model's answer to an edit action holds: replacement code for the selection, a diff
//! of the selection, or no code for it at all (a refusal, prose, code of another language,
//! an example that is not a replacement). Pure; applying the result is `apply`'s job.
//!
//! Applying prose or an unrelated snippet over the selection destroys the person's code,
//! while declining to apply costs nothing (the answer is shown), so every doubt here
//! resolves towards "no code".

use std::collections::HashSet;

use crate::answer::edits::{FencedBlock, fenced_blocks, trim_blank_lines};

/// What the answer is, for the selection it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerCode {
    /// Code to replace the selection with (not yet re-indented).
    Code(String),
    /// A unified diff, meant for the selection.
    Diff(String),
    /// Nothing to apply.
    None(NoCode),
}

/// Why an answer holds nothing to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoCode {
    /// Blank.
    Empty,
    /// The model says the code needs no change (or declines).
    Refusal,
    /// Prose, with no code block.
    Prose,
    /// Its only code is of another language (a shell command, say); the tag is kept.
    OtherLanguage(String),
    /// Its code shares too little with the selection to be a replacement for it.
    Unrelated,
}

/// Decides what `answer` holds for `selection`, in a document of `language_id`.
///
/// - Fenced blocks: the first block whose language fits the document is the code; a block
///   that only repeats the selection (a "before" quote) gives way to a later one. A
///   ```` ```diff ```` block (or an untagged block shaped like a diff) is a diff, unless
///   the document itself is one. Blocks of another language are not code for the
///   selection.
/// - If the prose around the blocks says nothing needs changing, the block must still
///   look like a version of the selection, else it is an example, not a replacement.
/// - A block far smaller than a sizeable selection that shares almost none of its names is
///   an example too (a usage line answered for a whole function).
/// - No fence: a refusal is never code; prose (most lines are sentences, or it opens with
///   "Here is the fix:") is code only where the selection itself is prose; a text shaped
///   like a unified diff is a diff; anything else is taken as code.
pub fn classify(answer: &str, selection: &str, language_id: &str) -> AnswerCode {
    let document = family(language_id);
    let blocks = fenced_blocks(answer);
    if blocks.is_empty() {
        return classify_unfenced(answer, selection, document);
    }
    let prose = prose_outside(answer);
    let refuses = says_no_change(&prose);
    let fitting: Vec<&FencedBlock> = blocks
        .iter()
        .filter(|block| fits(block, document))
        .collect();
    let Some(first) = fitting.first() else {
        if refuses {
            return AnswerCode::None(NoCode::Refusal);
        }
        return AnswerCode::None(NoCode::OtherLanguage(blocks[0].language()));
    };
    // A block that repeats the selection is a quote of it when a later block follows.
    let chosen = fitting
        .iter()
        .find(|block| !same_code(&block.body, selection))
        .unwrap_or(first);
    if document != Some("diff") && is_diff_block(chosen) {
        return AnswerCode::Diff(chosen.body.clone());
    }
    let overlap = name_overlap(selection, &chosen.body);
    if refuses && overlap < REFUSAL_MIN_OVERLAP {
        return AnswerCode::None(NoCode::Refusal);
    }
    if looks_like_an_example(selection, &chosen.body, overlap) {
        return AnswerCode::None(NoCode::Unrelated);
    }
    AnswerCode::Code(chosen.body.clone())
}

/// With a "no change needed" in the prose, a block is applied only if it shares at least
/// this share of the selection's names (a corrected version of the selection does).
const REFUSAL_MIN_OVERLAP: f64 = 0.5;

fn classify_unfenced(answer: &str, selection: &str, document: Option<&str>) -> AnswerCode {
    let text = trim_blank_lines(answer);
    if text.trim().is_empty() {
        return AnswerCode::None(NoCode::Empty);
    }
    if document != Some("diff") && is_diff_text(text) {
        return AnswerCode::Diff(text.to_owned());
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let prose_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| is_prose_line(line))
        .collect();
    if says_no_change(&prose_lines.join("\n")) || (lines.len() <= 3 && says_no_change(text)) {
        return AnswerCode::None(NoCode::Refusal);
    }
    let opens_with_preamble = lines
        .first()
        .is_some_and(|line| is_prose_line(line) && line.trim_end().ends_with(':'))
        && lines.len() > 1;
    if opens_with_preamble {
        return AnswerCode::None(NoCode::Prose);
    }
    let mostly_prose = prose_lines.len() * 2 >= lines.len();
    if mostly_prose && !is_prose_text(selection) && !matches!(document, Some("markdown" | "text")) {
        return AnswerCode::None(NoCode::Prose);
    }
    AnswerCode::Code(text.to_owned())
}

/// The answer's text outside its fenced blocks.
fn prose_outside(answer: &str) -> String {
    let mut prose = String::new();
    let mut rest = answer;
    for block in fenced_blocks(answer) {
        // Cut at the block's body; whatever precedes it (including its fence line) is prose.
        if let Some(at) = rest.find(&block.body).filter(|_| !block.body.is_empty()) {
            prose.push_str(&rest[..at]);
            rest = &rest[at + block.body.len()..];
        }
    }
    prose.push_str(rest);
    prose
        .lines()
        .filter(|line| {
            !line.trim_start().starts_with("```") && !line.trim_start().starts_with("~~~")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a text says the code needs no change, or declines to answer.
pub fn says_no_change(text: &str) -> bool {
    let normalized = normalize(text);
    const PHRASES: &[&str] = &[
        "no changes are needed",
        "no changes are necessary",
        "no changes are required",
        "no change is needed",
        "no change is necessary",
        "no change is required",
        "no changes needed",
        "no changes necessary",
        "no changes required",
        "no modifications are needed",
        "no modifications are necessary",
        "no modifications are required",
        "no modification is needed",
        "no fix is needed",
        "no fix is necessary",
        "no fix is required",
        "no fixes are needed",
        "nothing to change",
        "nothing to fix",
        "nothing to refactor",
        "nothing to improve",
        "nothing needs to change",
        "nothing needs to be changed",
        "nothing needs fixing",
        "does not need any change",
        "does not need to be changed",
        "does not need to change",
        "does not need changes",
        "does not need fixing",
        "does not require any change",
        "does not require changes",
        "needs no change",
        "needs no fix",
        "requires no change",
        "is already correct",
        "are already correct",
        "is already optimal",
        "is already idiomatic",
        "is already clean",
        "is already as simple",
        "is already well",
        "code is correct",
        "code is fine",
        "function is correct",
        "function is fine",
        "function looks correct",
        "is correct as written",
        "is fine as written",
        "is fine as it is",
        "is fine as is",
        "code looks correct",
        "code looks good",
        "code looks fine",
        "looks correct to me",
        "looks good to me",
        "looks fine to me",
        "leave it as is",
        "leave the code as is",
        "can stay as is",
        "should stay as is",
        "there is no bug",
        "there are no bugs",
        "i don't see any bug",
        "i don't see any issue",
        "i don't see any problem",
        "i see no bug",
        "i see no issue",
        "i see no problem",
        "no bugs found",
        "no issues found",
    ];
    const OPENINGS: &[&str] = &[
        "i can't",
        "i cannot",
        "i can not",
        "i'm unable",
        "i am unable",
        "i won't",
        "i will not",
        "i'm sorry",
        "i am sorry",
        "sorry,",
    ];
    let contracted = normalized
        .replace("doesn't", "does not")
        .replace("isn't", "is not");
    PHRASES.iter().any(|phrase| contracted.contains(phrase))
        || OPENINGS
            .iter()
            .any(|opening| normalized.trim_start().starts_with(opening))
}

/// Lower case, typographic apostrophes made plain, whitespace collapsed.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether most of a text's non-blank lines are prose (a comment block's lines start with
/// their markers, so they are not).
fn is_prose_text(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    !lines.is_empty() && lines.iter().filter(|line| is_prose_line(line)).count() * 2 >= lines.len()
}

/// Whether a line reads as a sentence rather than code: it starts with a capital letter (after
/// a list marker), has at least four words, nearly all of them plain words, hardly any code
/// punctuation, and ends like a sentence (or is long). Comment lines are not prose here.
pub fn is_prose_line(line: &str) -> bool {
    let mut text = line.trim();
    for marker in ["- ", "* ", "> "] {
        if let Some(rest) = text.strip_prefix(marker) {
            text = rest.trim_start();
        }
    }
    if let Some((number, rest)) = text.split_once(". ")
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
    {
        text = rest.trim_start();
    }
    if !text.chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() < 4 {
        return false;
    }
    let plain = words.iter().filter(|word| is_plain_word(word)).count();
    if plain * 5 < words.len() * 4 {
        return false;
    }
    let code_chars = text
        .chars()
        .filter(|c| {
            matches!(
                c,
                '{' | '}' | ';' | '=' | '<' | '>' | '[' | ']' | '|' | '&' | '$' | '\\'
            )
        })
        .count();
    if code_chars * 5 > words.len() {
        return false;
    }
    text.ends_with(['.', '!', '?', ':']) || words.len() >= 8
}

/// A word of prose: letters (with apostrophes or hyphens inside), maybe wrapped in quotes,
/// brackets or trailing punctuation, or inline `code`.
fn is_plain_word(word: &str) -> bool {
    if word.len() > 2 && word.starts_with('`') {
        return true;
    }
    let core = word
        .trim_start_matches(['(', '"', '\'', '*', '_'])
        .trim_end_matches([',', '.', ';', ':', '!', '?', ')', '"', '\'', '*', '_']);
    !core.is_empty()
        && core.chars().any(char::is_alphabetic)
        && core
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '-' || c == '\u{2019}')
}

/// Whether a block is a diff: tagged `diff`/`patch`, or untagged and shaped like one.
fn is_diff_block(block: &FencedBlock) -> bool {
    match family(&block.language()) {
        Some("diff") => true,
        _ if block.language().is_empty() => is_diff_text(&block.body),
        _ => false,
    }
}

/// Whether a text is shaped like a unified diff: every non-blank line is a diff line, with
/// removed or added lines, and a hunk header or both removals and additions.
fn is_diff_text(text: &str) -> bool {
    let (mut hunks, mut added, mut removed) = (0, 0, 0);
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with("@@") {
            hunks += 1;
        } else if line.starts_with("+++ ")
            || line.starts_with("--- ")
            || line.starts_with("diff ")
            || line.starts_with("index ")
            || line.starts_with('\\')
            || line.starts_with(' ')
        {
        } else if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') {
            removed += 1;
        } else {
            return false;
        }
    }
    added + removed > 0 && (hunks > 0 || (added > 0 && removed > 0))
}

/// Whether two texts are the same code, ignoring whitespace.
fn same_code(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// The share of the selection's names (identifier-like words of two or more chars) that
/// appear in `code`; 1.0 when the selection has too few names to judge.
fn name_overlap(selection: &str, code: &str) -> f64 {
    let names = |text: &str| -> HashSet<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| word.chars().count() >= 2 && word.chars().any(char::is_alphabetic))
            .map(str::to_owned)
            .collect()
    };
    let selected = names(selection);
    if selected.len() < 4 {
        return 1.0;
    }
    let answered = names(code);
    selected.intersection(&answered).count() as f64 / selected.len() as f64
}

/// A block at most a third the lines of a selection of three lines or more that shares under
/// a fifth of its names is an example of using the code, not a replacement for it.
fn looks_like_an_example(selection: &str, code: &str, overlap: f64) -> bool {
    let lines = |text: &str| text.lines().filter(|line| !line.trim().is_empty()).count();
    let (selected, answered) = (lines(selection), lines(code));
    selected >= 3 && answered * 3 <= selected && overlap < 0.2
}

/// Whether a block of `language` can hold code for a document of family `document`. Only a
/// known language against another known one says no; markdown and HTML documents hold
/// code of any language.
fn fits(block: &FencedBlock, document: Option<&str>) -> bool {
    let language = block.language();
    if language.is_empty() {
        return true;
    }
    let Some(tagged) = family(&language) else {
        return true;
    };
    match document {
        None | Some("markdown" | "html") => true,
        Some(_) if tagged == "diff" => true,
        Some(document) => tagged == document,
    }
}

/// The language family of a language id or fence tag, for those worth telling apart.
fn family(tag: &str) -> Option<&'static str> {
    const FAMILIES: &[(&str, &[&str])] = &[
        ("rust", &["rust", "rs"]),
        ("python", &["python", "py", "python3", "py3", "pyw", "pyi"]),
        (
            "ecmascript",
            &[
                "javascript",
                "js",
                "jsx",
                "javascriptreact",
                "mjs",
                "cjs",
                "typescript",
                "ts",
                "tsx",
                "typescriptreact",
                "mts",
                "cts",
            ],
        ),
        ("go", &["go", "golang"]),
        (
            "c",
            &[
                "c",
                "h",
                "cpp",
                "c++",
                "cc",
                "cxx",
                "hpp",
                "hh",
                "hxx",
                "objc",
                "objective-c",
                "objective-cpp",
                "cuda",
            ],
        ),
        ("csharp", &["csharp", "cs", "c#"]),
        ("java", &["java"]),
        ("kotlin", &["kotlin", "kt", "kts"]),
        ("swift", &["swift"]),
        ("ruby", &["ruby", "rb"]),
        ("php", &["php"]),
        (
            "shell",
            &[
                "shellscript",
                "sh",
                "bash",
                "zsh",
                "shell",
                "fish",
                "ksh",
                "console",
                "terminal",
                "shell-session",
                "sh-session",
                "powershell",
                "ps1",
                "pwsh",
                "bat",
                "cmd",
            ],
        ),
        ("markdown", &["markdown", "md", "mdx"]),
        ("json", &["json", "jsonc", "json5"]),
        ("yaml", &["yaml", "yml"]),
        ("toml", &["toml"]),
        ("html", &["html", "htm", "xhtml"]),
        ("css", &["css", "scss", "sass", "less"]),
        (
            "sql",
            &["sql", "plsql", "pgsql", "mysql", "postgresql", "sqlite"],
        ),
        ("lua", &["lua"]),
        ("haskell", &["haskell", "hs"]),
        ("elixir", &["elixir", "ex", "exs"]),
        ("dart", &["dart"]),
        ("zig", &["zig"]),
        ("diff", &["diff", "patch", "udiff"]),
        (
            "text",
            &[
                "text",
                "txt",
                "plaintext",
                "plain",
                "output",
                "log",
                "stdout",
            ],
        ),
    ];
    let tag = tag.trim().to_lowercase();
    FAMILIES
        .iter()
        .find(|(_, tags)| tags.contains(&tag.as_str()))
        .map(|(family, _)| *family)
}

#[cfg(test)]
mod tests;

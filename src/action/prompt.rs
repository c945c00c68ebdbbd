//! Prompt building, pure. The system prompt is one constant for every action and every
//! conversation, so the cached prefix (tools → system → earlier turns) stays byte-identical;
//! everything that changes (file text, selection, diagnostics, instruction) goes in the new
//! user turn.

use std::fmt::Write as _;

use crate::action::input::ActionInput;
use crate::action::table::RowKind;
use crate::action::template::{PLACEHOLDERS, placeholders};

/// Lines of context shown on each side of the selection.
pub const CONTEXT_LINES: usize = 60;
/// Files up to this many lines are shown whole.
pub const WHOLE_FILE_LINES: usize = 400;
/// Cap on the context text (chars) so one huge file cannot crowd out the answer.
pub const MAX_CONTEXT_CHARS: usize = 40_000;

pub const SYSTEM_PROMPT: &str = "\
You are chatls, a senior software engineer working inside the user's code editor. \
The user selects code and asks for an action on it (explain, refactor, fix, document, or one \
of their own) or asks a question about it. Each request names the task, the file, the \
selected lines, the code around them and any diagnostics.

Rules:
- When the request ends by asking for markdown, answer in concise GitHub-flavoured markdown: \
start with a one-sentence answer, then the details that matter.
- When the request ends by asking for a code block, reply with exactly one fenced code block \
holding the complete replacement for the selected code and nothing else of the file, then at \
most three short sentences on what you changed. Keep the surrounding indentation style, do not \
add line numbers, do not elide code with comments such as \"...\". The block replaces the \
selection verbatim, so it must compile in place.
- Change no behaviour beyond what the task asks for.
- When the selection uses names defined elsewhere, use the tools (read_file, list_files, \
search_workspace, get_diagnostics) to look before you answer. Paths are relative to the \
workspace root. Read only what you need.
- Never ask the user questions; make the best reasonable choice and say which.";

/// The largest a row's filled template may come to: far beyond any model's context window,
/// well short of the hundreds of megabytes a template that repeats `{selection}` reaches.
pub const MAX_PROMPT_BYTES: usize = 1024 * 1024;

/// A row's template would fill to more than [`MAX_PROMPT_BYTES`]; nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the prompt of the action `{row}` comes to {} once its placeholders are filled ({placeholders} of them, the selection {}), more than the {} chatls sends, so nothing was sent; select less code or use fewer placeholders in the row's `prompt`",
    size(*.bytes), size(*.selection), size(MAX_PROMPT_BYTES)
)]
pub struct PromptTooLarge {
    pub row: String,
    pub bytes: usize,
    pub placeholders: usize,
    pub selection: usize,
}

/// "1 MB", "101.9 MB" or "104 KB".
fn size(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// Checks, without filling it, that the row's template stays within [`MAX_PROMPT_BYTES`]
/// (the size counted is what [`render`] could produce at most).
pub fn check_size(input: &ActionInput) -> Result<(), PromptTooLarge> {
    let language = language(input);
    let mut sizes: Vec<(&str, usize)> = Vec::new();
    let mut selection = input.selection.len();
    let mut bytes = input.action.prompt.len();
    let mut count = 0;
    for name in placeholders(&input.action.prompt).filter(|name| PLACEHOLDERS.contains(name)) {
        let size = match sizes.iter().find(|(known, _)| *known == name) {
            Some((_, size)) => *size,
            None => {
                let size = placeholder_value(name, input, language).len();
                if name == "selection" {
                    selection = size;
                }
                sizes.push((name, size));
                size
            }
        };
        bytes = bytes.saturating_add(size);
        count += 1;
    }
    if bytes <= MAX_PROMPT_BYTES {
        return Ok(());
    }
    Err(PromptTooLarge {
        row: input.action.id.clone(),
        bytes,
        placeholders: count,
        selection,
    })
}

/// A template with its placeholders filled from the action: `{selection}` becomes the
/// selected code in a fenced block, `{diagnostics}` a list (or "(none reported)"),
/// `{instruction}` the person's words (or nothing). A line whose placeholders all came out
/// empty is left out, so "Instruction: {instruction}" vanishes without an instruction.
pub fn render(template: &str, input: &ActionInput) -> String {
    let language = language(input);
    let mut lines = Vec::new();
    for line in template.split('\n') {
        let mut out = String::new();
        let mut rest = line;
        let (mut filled, mut empty) = (0, 0);
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name = after
                .split_once('}')
                .map(|(name, _)| name)
                .filter(|name| PLACEHOLDERS.contains(name));
            let Some(name) = name else {
                out.push('{');
                rest = after;
                continue;
            };
            let value = placeholder_value(name, input, language);
            filled += 1;
            if value.is_empty() {
                empty += 1;
            }
            out.push_str(&value);
            rest = &after[name.len() + 1..];
        }
        out.push_str(rest);
        if filled > 0 && filled == empty {
            continue;
        }
        lines.push(out);
    }
    lines.join("\n").trim().to_owned()
}

fn placeholder_value(name: &str, input: &ActionInput, language: &str) -> String {
    match name {
        "selection" => {
            let selected = input.selected_text();
            let fence = fence_for(&selected);
            format!("{fence}{language}\n{selected}\n{fence}")
        }
        "language" => language.to_owned(),
        "path" => input.display_path.clone(),
        "instruction" => input
            .instruction
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned(),
        "diagnostics" => diagnostics_list(input),
        _ => String::new(),
    }
}

fn diagnostics_list(input: &ActionInput) -> String {
    if input.diagnostics.is_empty() {
        return "(none reported; look for the bug yourself)".to_owned();
    }
    let mut list = String::new();
    for diagnostic in &input.diagnostics {
        let source = diagnostic
            .source
            .as_deref()
            .map(|source| format!(" [{source}]"))
            .unwrap_or_default();
        let _ = writeln!(
            list,
            "- line {}, column {}: {}: {}{source}",
            diagnostic.line + 1,
            diagnostic.character + 1,
            diagnostic.severity,
            diagnostic.message.trim()
        );
    }
    list.trim_end().to_owned()
}

fn language(input: &ActionInput) -> &str {
    if input.language_id.is_empty() {
        "text"
    } else {
        input.language_id.as_str()
    }
}

/// The new user turn for an action: the row's task (its template, filled), the file and the
/// code around the selection, and what shape the reply must have. A follow-up
/// (`with_context: false`) is the person's words alone: the conversation already holds the code.
pub fn user_turn(input: &ActionInput) -> String {
    let mut turn = render(&input.action.prompt, input);
    let closing = match input.action.kind {
        RowKind::Answer => "Reply in markdown.",
        RowKind::Workspace => {
            "Make the change with the edit_file and create_file tools (read a file before editing it, so old_text is exact); nothing is written until the person accepts the whole change. When you are done, reply with a short summary of what you changed and why, without code blocks."
        }
        RowKind::Edit => {
            "Reply with one fenced code block that replaces the selected code exactly, then a short note."
        }
    };
    if !input.with_context {
        let _ = write!(turn, "\n\n{closing}");
        return turn;
    }
    let (first, last) = input.selected_lines();
    let total_lines = input.text.len_lines();
    let language = language(input);
    let _ = writeln!(
        turn,
        "\n\nFile: {} ({language}), lines {}-{} of {total_lines} selected.",
        input.display_path,
        first + 1,
        last + 1
    );
    let (context_first, context_last) = context_lines(first, last, total_lines);
    let context = marked_context(input, context_first, context_last);
    let fence = fence_for(&context);
    let _ = writeln!(
        turn,
        "\nThe file around the selection (lines {}-{}; the selection lies between the \
         markers <<<SELECTION and SELECTION>>>, which are not part of the code):",
        context_first + 1,
        context_last + 1
    );
    let _ = writeln!(turn, "{fence}{language}\n{context}\n{fence}");
    let _ = write!(turn, "\n{closing}");
    turn
}

/// The window of lines shown: the whole file when small, else the selection padded.
fn context_lines(first: usize, last: usize, total_lines: usize) -> (usize, usize) {
    let last_line = total_lines.saturating_sub(1);
    if total_lines <= WHOLE_FILE_LINES {
        return (0, last_line);
    }
    (
        first.saturating_sub(CONTEXT_LINES),
        (last + CONTEXT_LINES).min(last_line),
    )
}

fn marked_context(input: &ActionInput, first: usize, last: usize) -> String {
    let text = &input.text;
    let start = text.line_to_char(first);
    let end = if last + 1 >= text.len_lines() {
        text.len_chars()
    } else {
        text.line_to_char(last + 1)
    };
    let selection_start = input.selection.start.clamp(start, end);
    let selection_end = input.selection.end.clamp(selection_start, end);
    let before = text.slice(start..selection_start).to_string();
    let selected = text.slice(selection_start..selection_end).to_string();
    let after = text.slice(selection_end..end).to_string();
    let half = MAX_CONTEXT_CHARS / 2;
    let before = tail_chars(&before, half);
    let after = head_chars(&after, half);
    let mut context = format!("{before}<<<SELECTION{selected}SELECTION>>>{after}");
    while context.ends_with('\n') || context.ends_with('\r') {
        context.pop();
    }
    context
}

fn tail_chars(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let skipped: String = text.chars().skip(count - max).collect();
    format!("[… {} earlier characters cut …]\n{skipped}", count - max)
}

fn head_chars(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}\n[… {} later characters cut …]", count - max)
}

/// A backtick fence longer than any run of backticks inside `content`.
pub fn fence_for(content: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::*;
    use crate::action::table::{ActionTable, builtin_rows};
    use crate::tools::FileDiagnostic;

    fn row(id: &str) -> crate::action::ActionRow {
        builtin_rows().into_iter().find(|row| row.id == id).unwrap()
    }

    fn input(id: &str, text: &str, selection: std::ops::Range<usize>) -> ActionInput {
        ActionInput {
            action: row(id),
            uri: "file:///w/src/lib.rs".into(),
            path: None,
            display_path: "src/lib.rs".into(),
            language_id: "rust".into(),
            text: Rope::from_str(text),
            version: 1,
            selection,
            instruction: None,
            diagnostics: Vec::new(),
            with_context: true,
        }
    }

    #[test]
    fn refactor_turn_names_file_lines_and_marks_the_selection() {
        let text = "fn a() {}\nfn b() {\n    1\n}\nfn c() {}\n";
        let mut action = input("refactor", text, 10..27);
        action.instruction = Some("  use a const  ".into());
        let turn = user_turn(&action);
        assert!(turn.starts_with("Refactor the selected code."), "{turn}");
        assert!(turn.contains("\nInstruction: use a const\n"), "{turn}");
        assert!(
            turn.contains("File: src/lib.rs (rust), lines 2-4 of 6 selected."),
            "{turn}"
        );
        assert!(turn.contains("fn a() {}\n<<<SELECTIONfn b() {\n    1\n}\nSELECTION>>>fn c() {}"));
        assert!(
            turn.contains("Selected code:\n```rust\nfn b() {\n    1\n}\n\n```"),
            "{turn}"
        );
        assert!(turn.ends_with("then a short note."));
    }

    #[test]
    fn a_line_whose_placeholders_are_empty_is_left_out() {
        let action = input("refactor", "x\n", 0..1);
        let turn = user_turn(&action);
        assert!(!turn.contains("Instruction:"), "{turn}");
        let mut custom = input("refactor", "let x = 1;\n", 0..10);
        custom.action.prompt =
            "In {language} at {path}: {unknown} {instruction}\nDo it {instruction}\nfn f() { 1 }"
                .into();
        custom.instruction = Some("now".into());
        assert_eq!(
            render(&custom.action.prompt, &custom),
            "In rust at src/lib.rs: {unknown} now\nDo it now\nfn f() { 1 }"
        );
    }

    #[test]
    fn fix_turn_carries_diagnostics() {
        let mut action = input("fix", "let x: u8 = -1;\n", 0..15);
        assert!(user_turn(&action).contains("(none reported; look for the bug yourself)"));
        action.diagnostics.push(FileDiagnostic {
            path: "/w/src/lib.rs".into(),
            line: 0,
            character: 12,
            severity: "error".into(),
            message: "cannot apply unary operator `-`".into(),
            source: Some("rustc".into()),
        });
        let turn = user_turn(&action);
        assert!(
            turn.contains("- line 1, column 13: error: cannot apply unary operator `-` [rustc]")
        );
    }

    #[test]
    fn every_placeholder_is_filled() {
        let table = ActionTable::from_setting(&serde_json::json!([{
            "id": "all", "title": "All", "kind": "answer",
            "prompt": "S={selection} L={language} P={path} I={instruction} D={diagnostics}"
        }]))
        .unwrap();
        let mut action = input("explain", "abc\n", 0..3);
        action.action = table.get("all").unwrap().clone();
        action.instruction = Some("go".into());
        let turn = user_turn(&action);
        assert!(
            turn.starts_with("S=```rust\nabc\n``` L=rust P=src/lib.rs I=go D=(none reported"),
            "{turn}"
        );
        assert!(turn.ends_with("Reply in markdown."));
        // No placeholder is left as written, whatever the grammar knows.
        for name in [
            "selection",
            "language",
            "path",
            "instruction",
            "diagnostics",
        ] {
            assert!(
                !turn.contains(&format!("{{{name}}}")),
                "{{{name}}} left in {turn}"
            );
        }
    }

    #[test]
    fn a_follow_up_is_the_words_alone() {
        let mut action = input("explain", "abc\n", 0..3);
        action.action = crate::action::ActionRow::follow_up();
        action.instruction = Some("and why?".into());
        action.with_context = false;
        assert_eq!(user_turn(&action), "and why?\n\nReply in markdown.");
    }

    #[test]
    fn fences_outgrow_backticks_in_the_code() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        let action = input("explain", "x = \"```\"\n", 0..9);
        assert!(!user_turn(&action).contains("````text"));
        assert!(user_turn(&action).contains("````rust\nx = \"```\"\n````"));
    }

    #[test]
    fn large_files_show_a_window() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let start = Rope::from_str(&text).line_to_char(500);
        let action = input("explain", &text, start..start + 8);
        let turn = user_turn(&action);
        assert!(turn.contains("(lines 441-561;"), "{}", &turn[..300]);
        assert!(!turn.contains("line 300\n"));
    }

    #[test]
    fn system_prompt_is_a_constant() {
        // The cache prefix depends on it: no formatting, no dates, no paths.
        assert!(!SYSTEM_PROMPT.contains('{'));
    }

    #[test]
    fn a_template_that_multiplies_the_selection_is_refused_before_it_is_filled() {
        let text = "let x = 1;\n".repeat(10_000);
        let mut action = input("refactor", &text, 0..text.len());
        assert_eq!(check_size(&action), Ok(()), "the built-in row on 110 KB");
        action.action.prompt = "{selection}\n".repeat(9);
        assert_eq!(
            check_size(&action),
            Ok(()),
            "nine times 110 KB fits in 1 MB"
        );
        action.action.prompt = "{selection} {instruction}\n".repeat(1000);
        let refused = check_size(&action).unwrap_err();
        assert_eq!(refused.placeholders, 2000);
        let message = refused.to_string();
        assert!(
            message.starts_with("the prompt of the action `refactor` comes to 104.9 MB"),
            "{message}"
        );
        assert!(
            message.contains(
                "the selection 108 KB), more than the 1 MB chatls sends, so nothing was sent"
            ),
            "{message}"
        );
    }
}

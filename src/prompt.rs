//! Prompt building, pure. The system prompt is one constant for every action and every
//! conversation, so the cached prefix (tools → system → earlier turns) stays byte-identical;
//! everything that changes (file text, selection, diagnostics, instruction) goes in the new
//! user turn.

use std::fmt::Write as _;

use crate::action::{ActionInput, ActionKind};

/// Lines of context shown on each side of the selection.
pub const CONTEXT_LINES: usize = 60;
/// Files up to this many lines are shown whole.
pub const WHOLE_FILE_LINES: usize = 400;
/// Cap on the context text (chars) so one huge file cannot crowd out the answer.
pub const MAX_CONTEXT_CHARS: usize = 40_000;

pub const SYSTEM_PROMPT: &str = "\
You are chatls, a senior software engineer working inside the user's code editor. \
The user selects code and asks you to explain, refactor or fix it. Each request names the \
task, the file, the selected lines, the code around them and any diagnostics.

Rules:
- Explain: answer in concise GitHub-flavoured markdown. Start with a one-sentence summary, \
then the details that matter: what the code does, how, and anything surprising or wrong.
- Refactor and Fix: reply with exactly one fenced code block holding the complete \
replacement for the selected code and nothing else of the file, then at most three short \
sentences on what you changed. Keep the surrounding indentation style, do not add line \
numbers, do not elide code with comments such as \"...\". The block replaces the selection \
verbatim, so it must compile in place.
- Fix: repair the reported diagnostics and any clear bug in the selection; change no behaviour \
beyond that.
- Refactor: keep the behaviour identical unless the instruction says otherwise.
- When the selection uses names defined elsewhere, use the tools (read_file, list_files, \
search_workspace, get_diagnostics) to look before you answer. Paths are relative to the \
workspace root. Read only what you need.
- Never ask the user questions; make the best reasonable choice and say which.";

/// The new user turn for an action.
pub fn user_turn(input: &ActionInput) -> String {
    let (first, last) = input.selected_lines();
    let total_lines = input.text.len_lines();
    let language = if input.language_id.is_empty() {
        "text"
    } else {
        input.language_id.as_str()
    };
    let mut turn = String::new();
    let task = match input.kind {
        ActionKind::Explain => "Explain the selected code.",
        ActionKind::Refactor => "Refactor the selected code.",
        ActionKind::Fix => "Fix the selected code.",
    };
    let _ = writeln!(turn, "Task: {task}");
    if let Some(instruction) = input.instruction.as_deref().map(str::trim)
        && !instruction.is_empty()
    {
        let _ = writeln!(turn, "Instruction: {instruction}");
    }
    let _ = writeln!(
        turn,
        "File: {} ({language}), lines {}-{} of {total_lines} selected.",
        input.display_path,
        first + 1,
        last + 1
    );

    if !input.diagnostics.is_empty() {
        let _ = writeln!(turn, "\nDiagnostics in the selection:");
        for diagnostic in &input.diagnostics {
            let source = diagnostic
                .source
                .as_deref()
                .map(|source| format!(" [{source}]"))
                .unwrap_or_default();
            let _ = writeln!(
                turn,
                "- line {}, column {}: {}: {}{source}",
                diagnostic.line + 1,
                diagnostic.character + 1,
                diagnostic.severity,
                diagnostic.message.trim()
            );
        }
    } else if input.kind == ActionKind::Fix {
        let _ = writeln!(
            turn,
            "\nNo diagnostics were reported for the selection; look for the bug yourself."
        );
    }

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

    let selected = input.selected_text();
    let fence = fence_for(&selected);
    let _ = writeln!(
        turn,
        "\nSelected code:\n{fence}{language}\n{selected}\n{fence}"
    );
    let closing = match input.kind {
        ActionKind::Explain => "Reply in markdown.",
        ActionKind::Refactor | ActionKind::Fix => {
            "Reply with one fenced code block that replaces the selected code exactly, then a short note."
        }
    };
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
    use crate::tools::FileDiagnostic;

    fn input(kind: ActionKind, text: &str, selection: std::ops::Range<usize>) -> ActionInput {
        ActionInput {
            kind,
            uri: "file:///w/src/lib.rs".into(),
            path: None,
            display_path: "src/lib.rs".into(),
            language_id: "rust".into(),
            text: Rope::from_str(text),
            version: 1,
            selection,
            instruction: None,
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn refactor_turn_names_file_lines_and_marks_the_selection() {
        let text = "fn a() {}\nfn b() {\n    1\n}\nfn c() {}\n";
        let mut action = input(ActionKind::Refactor, text, 10..27);
        action.instruction = Some("  use a const  ".into());
        let turn = user_turn(&action);
        assert!(turn.starts_with("Task: Refactor the selected code.\nInstruction: use a const\n"));
        assert!(
            turn.contains("File: src/lib.rs (rust), lines 2-4 of 6 selected."),
            "{turn}"
        );
        assert!(turn.contains("fn a() {}\n<<<SELECTIONfn b() {\n    1\n}\nSELECTION>>>fn c() {}"));
        assert!(turn.contains("Selected code:\n```rust\nfn b() {\n    1\n}\n\n```"));
        assert!(turn.ends_with("then a short note."));
    }

    #[test]
    fn fix_turn_carries_diagnostics() {
        let mut action = input(ActionKind::Fix, "let x: u8 = -1;\n", 0..15);
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
    fn fences_outgrow_backticks_in_the_code() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        let action = input(ActionKind::Explain, "x = \"```\"\n", 0..9);
        assert!(!user_turn(&action).contains("````text"));
        assert!(user_turn(&action).contains("````rust\nx = \"```\"\n````"));
    }

    #[test]
    fn large_files_show_a_window() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let start = Rope::from_str(&text).line_to_char(500);
        let action = input(ActionKind::Explain, &text, start..start + 8);
        let turn = user_turn(&action);
        assert!(turn.contains("(lines 441-561;"), "{}", &turn[..300]);
        assert!(!turn.contains("line 300\n"));
    }

    #[test]
    fn system_prompt_is_a_constant() {
        // The cache prefix depends on it: no formatting, no dates, no paths.
        assert!(!SYSTEM_PROMPT.contains('{'));
    }
}

//! `chatls ask`: the target read through the sandbox, the action's input built as the
//! server builds it (`action::request`), the engine run with its progress on stderr and its
//! answer on stdout, and an edit's diff shown (and with `--apply` written).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;
use tokio_util::sync::CancellationToken;

use crate::action::engine::{Engine, EngineEvent, Workspace};
use crate::action::request::{explain_error, selection_from_lines, stage_changes};
use crate::action::{ActionInput, ActionRow, RowKind};
use crate::answer::apply::{NotApplied, plan_outcome};
use crate::answer::edits::apply_edits;
use crate::chat::conversation::Conversations;
use crate::config::Settings;
use crate::text::Document;
use crate::tools::sandbox::{Opened, real_path};
use crate::tools::{DiskOnly, Limits, Sandbox, ToolBox};

use super::change::finish_change;
use super::{AskArgs, cli_settings};

/// What `chatls ask` was asked: a row of the table and the instruction, and the target.
fn choose(
    args: &AskArgs,
    table: &crate::action::table::ActionTable,
) -> Result<(ActionRow, Option<String>, Option<String>), String> {
    if args.words.is_empty() {
        // Only a change needs no file: the model finds the files itself.
        return match args.action.as_deref().and_then(|id| table.get(id)) {
            Some(row) if row.kind == RowKind::Workspace => {
                Ok((row.clone(), args.instruction.clone(), None))
            }
            _ => Err("give an action or a question, then the file".to_owned()),
        };
    }
    let (first, target) = match args.words.as_slice() {
        [target] => (None, Some(target.clone())),
        [first, target] => (Some(first.as_str()), Some(target.clone())),
        _ => return Err("give an action or a question, then the file".to_owned()),
    };
    let lookup = |id: &str| {
        table
            .get(id)
            .cloned()
            .ok_or_else(|| format!("there is no action {id:?}; the actions are {}", table.ids()))
    };
    match (args.action.as_deref(), first) {
        (Some(id), None) => Ok((lookup(id)?, args.instruction.clone(), target)),
        (Some(_), Some(_)) => Err("with --action, give only the file".to_owned()),
        (None, Some(word)) if table.get(word).is_some() => {
            Ok((lookup(word)?, args.instruction.clone(), target))
        }
        (None, Some(question))
            if question.contains(char::is_whitespace) || question.ends_with('?') =>
        {
            let question = match &args.instruction {
                Some(more) => format!("{question}\n{more}"),
                None => question.to_owned(),
            };
            Ok((ActionRow::ask(), Some(question), target))
        }
        (None, Some(word)) => Err(format!(
            "{word:?} is neither an action ({}) nor a question (a question has spaces or ends with ?)",
            table.ids()
        )),
        (None, None) => {
            Err("give an action (or --action ID) or a question before the file".to_owned())
        }
    }
}

/// `path`, `path:10` or `path:10-20` → the path and 1-based inclusive lines.
pub fn parse_target(target: &str) -> Result<(PathBuf, Option<(usize, usize)>), String> {
    if let Some((path, lines)) = target.rsplit_once(':')
        && !lines.is_empty()
        && lines.chars().all(|c| c.is_ascii_digit() || c == '-')
    {
        let (start, end) = match lines.split_once('-') {
            Some((start, end)) => (start, end),
            None => (lines, lines),
        };
        let start: usize = start
            .parse()
            .map_err(|_| format!("bad line range {lines:?}: expected START-END, 1-based"))?;
        let end: usize = end
            .parse()
            .map_err(|_| format!("bad line range {lines:?}: expected START-END, 1-based"))?;
        if start == 0 || end < start {
            return Err(format!(
                "bad line range {lines:?}: lines are 1-based and START ≤ END"
            ));
        }
        return Ok((PathBuf::from(path), Some((start, end))));
    }
    Ok((PathBuf::from(target), None))
}

/// A language id from the file name, as editors name them.
pub fn language_id(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "rs" => "rust",
        "py" => "python",
        "js" | "mjs" | "cjs" => "javascript",
        "ts" | "mts" | "cts" => "typescript",
        "tsx" => "typescriptreact",
        "jsx" => "javascriptreact",
        "go" => "go",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "java" => "java",
        "kt" => "kotlin",
        "rb" => "ruby",
        "lua" => "lua",
        "sh" | "bash" => "shellscript",
        "md" => "markdown",
        "toml" => "toml",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "zig" => "zig",
        "swift" => "swift",
        "cs" => "csharp",
        "php" => "php",
        _ => "plaintext",
    }
}

/// The nearest ancestor holding `.git`, else the file's directory.
fn workspace_root(file: &Path) -> PathBuf {
    let directory = file.parent().map(Path::to_path_buf).unwrap_or_default();
    directory
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(directory)
}

/// The sandbox of the file's workspace (the nearest folder above it holding `.git`, else
/// its own folder) and the file as that sandbox resolves it: the same secret, deny and
/// link rules as the server's tools, so a link to `.env` or a key is refused, not sent.
fn sandboxed(requested: &Path, deny: &[String]) -> Result<(Sandbox, PathBuf), String> {
    let shown = requested.display();
    let absolute =
        std::path::absolute(requested).map_err(|error| format!("cannot open {shown}: {error}"))?;
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return Err(format!("cannot open {shown}: it names no file"));
    };
    // The folder is resolved, the file's own name is not: a link is judged by where it
    // leads, from inside the workspace it sits in.
    let file = real_path(parent).join(name);
    if let Err(error) = std::fs::symlink_metadata(&file) {
        return Err(format!("cannot open {shown}: {error}"));
    }
    let sandbox = Sandbox::new(vec![workspace_root(&file)], deny);
    let path = sandbox.resolve(&file.to_string_lossy()).map_err(|refusal| {
        let real = real_path(&file);
        let leads = if real != file {
            format!(" ({shown} leads to {})", real.display())
        } else {
            String::new()
        };
        format!(
            "{shown} was not sent{leads}: {refusal}; chatls sends no file that may hold secrets, that `tools.deny` names, or that a link leads out of its workspace"
        )
    })?;
    Ok((sandbox, path))
}

/// The text of a file the sandbox resolved, read from what was opened at that path.
fn read_through(sandbox: &Sandbox, path: &Path) -> Result<String, String> {
    let shown = path.display();
    match sandbox.open(path) {
        Ok(Opened::File { mut file, .. }) => {
            let mut text = String::new();
            file.read_to_string(&mut text)
                .map_err(|error| format!("cannot read {shown}: {error}"))?;
            Ok(text)
        }
        Ok(Opened::Dir) => Err(format!("cannot read {shown}: it is a directory")),
        Err(refusal) => Err(format!("{shown} was not sent: {refusal}")),
    }
}

/// Runs `chatls ask`; the exit code.
pub async fn ask(args: AskArgs) -> i32 {
    match ask_inner(args).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("chatls: {}", crate::display::terminal(&message));
            1
        }
    }
}

async fn ask_inner(args: AskArgs) -> Result<(), String> {
    let settings = cli_settings(
        args.settings.as_deref(),
        args.model.clone(),
        args.base_url.clone(),
        args.no_tools,
    )?;
    let (row, instruction, target) = choose(&args, &settings.actions)?;
    let mut settings = settings;
    if let Some(model) = row.model.clone().filter(|_| args.model.is_none()) {
        settings.model = model;
    }
    if row.kind == RowKind::Workspace
        && instruction
            .as_deref()
            .is_none_or(|instruction| instruction.trim().is_empty())
    {
        return Err(format!(
            "{} needs --instruction TEXT: what to change",
            row.title
        ));
    }
    let Some(target) = target else {
        // A change without a file: the workspace of the current directory.
        let here =
            std::env::current_dir().map_err(|error| format!("no current directory: {error}"))?;
        let sandbox = Sandbox::new(vec![workspace_root(&here.join("x"))], &settings.tools_deny);
        if sandbox.roots().is_empty() {
            return Err(sandbox.no_workspace().to_string());
        }
        let input = ActionInput {
            action: row,
            uri: url::Url::from_directory_path(&here)
                .map(String::from)
                .unwrap_or_else(|()| here.display().to_string()),
            path: None,
            display_path: String::new(),
            language_id: String::new(),
            text: Rope::new(),
            version: 0,
            selection: 0..0,
            instruction,
            diagnostics: Vec::new(),
            with_context: false,
        };
        return run_ask(&args, &settings, input, sandbox, String::new()).await;
    };
    let (requested, lines) = parse_target(&target)?;
    let (sandbox, path) = sandboxed(&requested, &settings.tools_deny)?;
    let original = read_through(&sandbox, &path)?;
    let text = Rope::from_str(&original);
    let selection = match lines {
        None => 0..text.len_chars(),
        Some((start, end)) => selection_from_lines(&text, start, end).map_err(|total| {
            format!(
                "{} has {total} lines; line {start} is past the end",
                path.display()
            )
        })?,
    };

    let root = sandbox.roots().first().cloned().unwrap_or_default();
    let display_path = path
        .strip_prefix(&root)
        .unwrap_or(&path)
        .to_string_lossy()
        .replace('\\', "/");
    let input = ActionInput {
        action: row,
        uri: url::Url::from_file_path(&path)
            .map(String::from)
            .unwrap_or_else(|()| path.display().to_string()),
        path: Some(path.clone()),
        display_path,
        language_id: language_id(&path).to_owned(),
        text,
        version: 0,
        selection,
        instruction,
        diagnostics: Vec::new(),
        with_context: true,
    };
    run_ask(&args, &settings, input, sandbox, original).await
}

/// Runs the action and prints (and with `--apply` writes) what it changes.
async fn run_ask(
    args: &AskArgs,
    settings: &Settings,
    input: ActionInput,
    sandbox: Sandbox,
    original: String,
) -> Result<(), String> {
    let edits = input.action.kind == RowKind::Edit;
    let changes_files = input.action.kind == RowKind::Workspace;
    let limits = Limits::default();
    let mut workspace = Workspace {
        toolbox: ToolBox::new(sandbox.clone(), Arc::new(DiskOnly), limits.clone()),
        sandbox,
        limits,
        rules: Arc::default(),
    };
    let staging = stage_changes(&mut workspace, &input.action, settings.change_max_files);

    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });

    let color = std::io::stderr().is_terminal();
    // Everything from the model or the gateway is cleaned before it reaches the terminal.
    let status = |line: &str| {
        let line = crate::display::terminal(line);
        if color {
            eprintln!("\x1b[2m{line}\x1b[0m");
        } else {
            eprintln!("{line}");
        }
    };
    status(&format!(
        "chatls: {} {} with {} at {}",
        input.action.title, input.display_path, settings.model, settings.base_url
    ));
    let conversations = Conversations::default();
    let conversation = conversations.begin(&input.uri);
    let mut stdout = std::io::stdout();
    let mut on_event = |event: EngineEvent<'_>| match event {
        // A change's stdout is its diff alone (for `git apply`): its words go to stderr.
        EngineEvent::Token(text) if changes_files => {
            eprint!("{}", crate::display::terminal(text));
        }
        EngineEvent::Token(text) => {
            let _ = stdout.write_all(crate::display::terminal(text).as_bytes());
            let _ = stdout.flush();
        }
        EngineEvent::Tool(label) => status(&format!("[tool] {label}")),
        EngineEvent::Note(note) => status(&format!("[note] {note}")),
        EngineEvent::Retrying {
            attempt,
            delay,
            reason,
        } => status(&format!(
            "[retry] {reason}; retrying in {:.1} s (attempt {attempt})",
            delay.as_secs_f64()
        )),
        EngineEvent::Requesting { .. } => {}
    };
    let outcome = Engine::default()
        .run(
            settings,
            &settings.model,
            &conversation,
            &input,
            Some(&workspace),
            &cancel,
            &mut on_event,
        )
        .await
        .map_err(|error| {
            explain_error(
                &error,
                &settings.model,
                "--model (`chatls models` lists them) or CHATLS_MODEL",
            )
        })?;
    if changes_files {
        if !settings.stream {
            eprint!("{}", crate::display::terminal(&outcome.answer));
        }
        eprintln!();
    } else {
        if !settings.stream {
            print!("{}", crate::display::terminal(&outcome.answer));
        }
        println!();
    }
    status(&format!(
        "chatls: done ({}, {} tool rounds)",
        crate::chat::usage::describe(&outcome.usage),
        outcome.tool_rounds
    ));
    if let Some(staging) = staging {
        return finish_change(&staging, &workspace.sandbox, args.apply, &status).await;
    }
    if !edits {
        return Ok(());
    }
    let path = input.path.clone().unwrap_or_default();
    let document = Document::new(&original, 0, input.language_id.clone());
    let edit_plan = match plan_outcome(&document, &input, &outcome.answer, outcome.truncated) {
        Ok(edit_plan) => edit_plan,
        Err(NotApplied::Unchanged) => {
            status("chatls: the answer matches the selection; nothing to change");
            return Ok(());
        }
        Err(reason) => return Err(reason.to_string()),
    };
    let changed = apply_edits(&original, &edit_plan.edits);
    // The same diff a review shows in the editor (`a/` and `b/` paths, for `git apply`).
    let diff =
        crate::chat::pending_review::unified_diff(&input.display_path, &original, &edit_plan.edits);
    eprint!("{}", crate::display::terminal(&diff));
    if args.apply {
        let now = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot re-read {}: {error}", path.display()))?;
        if now != original {
            return Err(format!(
                "{} changed on disk while the model was answering; nothing was written",
                path.display()
            ));
        }
        std::fs::write(&path, changed)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        status(&format!(
            "chatls: applied {} edit(s) to {}",
            edit_plan.edits.len(),
            path.display()
        ));
    } else {
        status("chatls: not written (add --apply to write the change)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_with_and_without_lines() {
        assert_eq!(parse_target("a.rs").unwrap(), (PathBuf::from("a.rs"), None));
        assert_eq!(
            parse_target("a.rs:3").unwrap(),
            (PathBuf::from("a.rs"), Some((3, 3)))
        );
        assert_eq!(
            parse_target("dir/a.rs:3-9").unwrap(),
            (PathBuf::from("dir/a.rs"), Some((3, 9)))
        );
        assert!(parse_target("a.rs:0-2").is_err());
        assert!(parse_target("a.rs:5-2").is_err());
        assert!(parse_target("a.rs:x").unwrap().1.is_none());
    }

    #[test]
    fn language_ids() {
        assert_eq!(language_id(Path::new("x/y.RS")), "rust");
        assert_eq!(language_id(Path::new("README")), "plaintext");
    }
}

//! The command line: `chatls [serve]` runs the language server on stdio; `chatls ask` runs
//! one action on a file through the same engine and streams the answer to stdout.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use ropey::Rope;
use tokio_util::sync::CancellationToken;

use crate::action::{ActionInput, ActionKind};
use crate::apply::{NotApplied, plan_outcome};
use crate::config::{EnvSettings, Settings};
use crate::conversation::Conversations;
use crate::edits::apply_edits;
use crate::engine::{Engine, EngineEvent, Workspace};
use crate::text::Document;
use crate::tools::{FileDiagnostic, Limits, Sandbox, ToolBox, WorkspaceView};

#[derive(Parser, Debug)]
#[command(
    name = "chatls",
    version,
    about = "An AI language server: Explain, Refactor and Fix code from any LSP editor"
)]
pub struct Cli {
    /// Also write logs to this file (stderr always gets them); filter with CHATLS_LOG.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The arguments LSP clients add when they start a server (vscode-languageclient appends
/// `--stdio` for the stdio transport and `--clientProcessId=N` for some others). stdio is
/// the only transport chatls speaks, so both are accepted and change nothing; any other
/// transport flag (`--pipe`, `--socket`, `--node-ipc`) is a usage error.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// Speak LSP on stdin/stdout: the default and only transport, accepted because LSP clients pass it
    #[arg(long)]
    pub stdio: bool,
    /// The editor's process id, as LSP clients may pass it (chatls ends when its stdin closes)
    #[arg(long = "clientProcessId", value_name = "PID")]
    pub client_process_id: Option<u32>,
}

impl Cli {
    /// The command line, parsed; a usage error (exit code 2) for anything chatls does not
    /// take, including the server's transport flags in front of `ask`.
    pub fn parse_args() -> Cli {
        let cli = Cli::parse();
        if matches!(cli.command, Some(Command::Ask(_)))
            && (cli.serve.stdio || cli.serve.client_process_id.is_some())
        {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--stdio and --clientProcessId start the language server; `chatls ask` takes neither",
                )
                .exit();
        }
        cli
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the language server on stdio (the default).
    Serve(ServeArgs),
    /// Run one action on a file and stream the answer to stdout.
    Ask(AskArgs),
}

#[derive(clap::Args, Debug)]
pub struct AskArgs {
    /// explain, refactor or fix
    #[arg(value_parser = ["explain", "refactor", "fix"])]
    pub action: String,
    /// The file, optionally with 1-based inclusive lines: src/lib.rs:10-20 (or :10)
    pub target: String,
    /// What to do, in your words ("use iterators", "handle the empty case")
    #[arg(long)]
    pub instruction: Option<String>,
    /// Write the refactor/fix to the file instead of only printing the change
    #[arg(long)]
    pub apply: bool,
    /// Override the model (else CHATLS_MODEL or the default)
    #[arg(long)]
    pub model: Option<String>,
    /// Override the base URL (else CHATLS_BASE_URL or the default gateway)
    #[arg(long)]
    pub base_url: Option<String>,
    /// Do not let the model call workspace tools
    #[arg(long)]
    pub no_tools: bool,
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

struct DiskOnly;

impl WorkspaceView for DiskOnly {
    fn open_buffer(&self, _: &Path) -> Option<String> {
        None
    }
    fn diagnostics(&self, _: Option<&Path>) -> Vec<FileDiagnostic> {
        Vec::new()
    }
}

/// Runs `chatls ask`; the exit code.
pub async fn ask(args: AskArgs) -> i32 {
    match ask_inner(args).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("chatls: {message}");
            1
        }
    }
}

async fn ask_inner(args: AskArgs) -> Result<(), String> {
    let kind =
        ActionKind::parse(&args.action).ok_or("the action must be explain, refactor or fix")?;
    let (path, lines) = parse_target(&args.target)?;
    let path = std::fs::canonicalize(&path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    let original = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let text = Rope::from_str(&original);
    let selection = match lines {
        None => 0..text.len_chars(),
        Some((start, end)) => {
            let total = text.len_lines();
            if start > total {
                return Err(format!(
                    "{} has {total} lines; line {start} is past the end",
                    path.display()
                ));
            }
            let first = text.line_to_char(start - 1);
            let last = if end >= total {
                text.len_chars()
            } else {
                text.line_to_char(end)
            };
            first..last
        }
    };

    let mut settings = Settings::from_env(&EnvSettings::from_process());
    let mut overrides = serde_json::Map::new();
    if let Some(model) = args.model {
        overrides.insert("model".into(), model.into());
    }
    if let Some(base_url) = args.base_url {
        overrides.insert("baseUrl".into(), base_url.into());
    }
    if args.no_tools {
        overrides.insert("tools.enabled".into(), false.into());
    }
    settings = Settings::layered(&settings, &serde_json::Value::Object(overrides))
        .map_err(|errors| crate::config::describe_errors(&errors))?;

    let root = workspace_root(&path);
    let display_path = path
        .strip_prefix(&root)
        .unwrap_or(&path)
        .to_string_lossy()
        .replace('\\', "/");
    let input = ActionInput {
        kind,
        uri: url::Url::from_file_path(&path)
            .map(String::from)
            .unwrap_or_else(|()| path.display().to_string()),
        path: Some(path.clone()),
        display_path,
        language_id: language_id(&path).to_owned(),
        text,
        version: 0,
        selection,
        instruction: args.instruction,
        diagnostics: Vec::new(),
    };
    let limits = Limits::default();
    let sandbox = Sandbox::new(vec![root], &settings.tools_deny);
    let workspace = Workspace {
        toolbox: ToolBox::new(sandbox.clone(), Arc::new(DiskOnly), limits.clone()),
        sandbox,
        limits,
    };

    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });

    let color = std::io::stderr().is_terminal();
    let status = |line: &str| {
        if color {
            eprintln!("\x1b[2m{line}\x1b[0m");
        } else {
            eprintln!("{line}");
        }
    };
    status(&format!(
        "chatls: {} {} with {} at {}",
        kind.as_str(),
        input.display_path,
        settings.model,
        settings.base_url
    ));
    let conversations = Conversations::default();
    let conversation = conversations.begin(&input.uri);
    let mut stdout = std::io::stdout();
    let mut on_event = |event: EngineEvent<'_>| match event {
        EngineEvent::Token(text) => {
            let _ = stdout.write_all(text.as_bytes());
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
            &settings,
            &conversation,
            &input,
            Some(&workspace),
            &cancel,
            &mut on_event,
        )
        .await
        .map_err(|error| error.to_string())?;
    if !settings.stream {
        print!("{}", outcome.answer);
    }
    println!();
    status(&format!(
        "chatls: done ({}, {} tool rounds)",
        crate::usage::describe(&outcome.usage),
        outcome.tool_rounds
    ));
    if !kind.edits() {
        return Ok(());
    }
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
    let diff = similar::TextDiff::from_lines(&original, &changed);
    let shown = path.display().to_string();
    eprint!(
        "{}",
        diff.unified_diff().context_radius(2).header(&shown, &shown)
    );
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

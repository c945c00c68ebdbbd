//! The command line: `chatls [serve]` runs the language server on stdio; `chatls ask` runs
//! one action of the table (or a free question) on a file through the same engine and
//! streams the answer to stdout; `chatls models` lists the models to pick from;
//! `chatls settings-schema` prints the settings table as JSON Schema.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use ropey::Rope;
use tokio_util::sync::CancellationToken;

use crate::action::engine::{Engine, EngineEvent, Workspace};
use crate::action::{ActionInput, ActionRow, RowKind};
use crate::answer::apply::{NotApplied, plan_outcome};
use crate::answer::edits::apply_edits;
use crate::chat::conversation::Conversations;
use crate::config::{EnvSettings, Settings};
use crate::text::Document;
use crate::tools::sandbox::{Opened, real_path};
use crate::tools::staging::{Base, StagedFile, read_disk_text, unified_diff};
use crate::tools::{FileDiagnostic, Limits, Sandbox, Staging, ToolBox, WorkspaceView};

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
    /// Run one action on a file (or ask a question about it) and stream the answer to stdout.
    Ask(AskArgs),
    /// List the models: the gateway's seven and what GET {baseUrl}/models returns.
    Models(ModelsArgs),
    /// Print the settings chatls accepts as JSON Schema (keys, types, defaults, ranges).
    SettingsSchema(SettingsSchemaArgs),
}

#[derive(clap::Args, Debug)]
pub struct SettingsSchemaArgs {
    /// Print VS Code's `contributes.configuration.properties` instead (`chatls.<key>`)
    #[arg(long)]
    pub vscode: bool,
}

#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// Override the base URL (else CHATLS_BASE_URL or the default gateway)
    #[arg(long)]
    pub base_url: Option<String>,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  chatls ask explain src/lib.rs:10-20\n  chatls ask --action write-tests src/lib.rs:10-20 --settings chatls.json\n  chatls ask \"why is this slow?\" src/lib.rs:10-20\n  chatls ask --action change --instruction \"rename parse to load\" src/lib.rs:10-20 > change.diff"
)]
pub struct AskArgs {
    /// An action id (explain, refactor, fix, document, change, or a row of --settings) or a
    /// question, then the file, optionally with 1-based inclusive lines: src/lib.rs:10-20 (or
    /// :10). A change (`--action change`) may leave the file out: the workspace is the
    /// current directory's
    #[arg(num_args = 0..=2, value_names = ["ACTION|QUESTION", "FILE[:LINES]"])]
    pub words: Vec<String>,
    /// The action to run (the first word is then the file)
    #[arg(long, value_name = "ID")]
    pub action: Option<String>,
    /// What to do, in your words ("use iterators", "handle the empty case")
    #[arg(long)]
    pub instruction: Option<String>,
    /// Write an edit action's change to the file (a change's to every file) instead of only
    /// printing it
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
    /// A JSON file of settings, as an editor sends them (for example an `actions` table)
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
}

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
            eprintln!("chatls: {}", crate::display::terminal(&message));
            1
        }
    }
}

/// Settings from the environment, a `--settings` file and the flags, in that order.
fn cli_settings(
    file: Option<&Path>,
    model: Option<String>,
    base_url: Option<String>,
    no_tools: bool,
) -> Result<Settings, String> {
    let mut settings = Settings::from_env(&EnvSettings::from_process());
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not JSON: {error}", file.display()))?;
        settings = Settings::layered(&settings, &value)
            .map_err(|errors| crate::config::describe_errors(&errors))?;
    }
    let mut overrides = serde_json::Map::new();
    if let Some(model) = model {
        overrides.insert("model".into(), model.into());
    }
    if let Some(base_url) = base_url {
        overrides.insert("baseUrl".into(), base_url.into());
    }
    if no_tools {
        overrides.insert("tools.enabled".into(), false.into());
    }
    Settings::layered(&settings, &serde_json::Value::Object(overrides))
        .map_err(|errors| crate::config::describe_errors(&errors))
}

/// Runs `chatls settings-schema`: the settings table as JSON Schema on stdout.
pub fn settings_schema(args: SettingsSchemaArgs) -> i32 {
    let schema = if args.vscode {
        crate::config::table::vscode_properties()
    } else {
        crate::config::table::schema()
    };
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(error) => {
            eprintln!("chatls: cannot write the schema: {error}");
            1
        }
    }
}

/// Runs `chatls models`: the seed's models and the upstream's, the current one marked.
pub async fn models(args: ModelsArgs) -> i32 {
    let settings = match cli_settings(None, None, args.base_url, false) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("chatls: {message}");
            return 1;
        }
    };
    let listed = match Engine::default()
        .client()
        .models(
            &crate::action::engine::endpoint(&settings),
            crate::config::models::LIST_TIMEOUT,
        )
        .await
    {
        Ok(listed) => listed,
        Err(error) => {
            eprintln!(
                "chatls: {} did not list its models ({}); showing the known ones",
                settings.base_url,
                crate::display::line(&error.to_string())
            );
            Vec::new()
        }
    };
    for entry in crate::config::models::choices(&listed, &settings.model) {
        println!("{entry}");
    }
    0
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
    let mut toolbox = ToolBox::new(sandbox.clone(), Arc::new(DiskOnly), limits.clone());
    let staging = changes_files.then(|| {
        let staging = Arc::new(Staging::new(settings.change_max_files as usize));
        toolbox = toolbox.with_staging(Arc::clone(&staging));
        staging
    });
    let workspace = Workspace {
        toolbox,
        sandbox,
        limits,
        rules: Arc::default(),
    };

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
        .map_err(|error| match error {
            crate::action::engine::ActionError::Upstream(crate::llm::error::LlmError::NotFound {
                url,
                upstream,
            }) => format!(
                "unknown model \"{}\" (404){}: pick another with --model (`chatls models` lists them) or CHATLS_MODEL; if the model is right, check the base URL ({url})",
                settings.model,
                upstream
                    .as_deref()
                    .map(|said| format!(" (upstream said: {said})"))
                    .unwrap_or_default()
            ),
            other => other.to_string(),
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
    let diff = similar::TextDiff::from_lines(&original, &changed);
    let shown = path.display().to_string();
    eprint!(
        "{}",
        crate::display::terminal(
            &diff
                .unified_diff()
                .context_radius(2)
                .header(&shown, &shown)
                .to_string()
        )
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

/// A change's end in the terminal: one unified diff of every file on stdout (ready for
/// `git apply`); with `--apply` every file written, once none of them changed on disk since
/// the model read it (else nothing is written).
async fn finish_change(
    staging: &Staging,
    sandbox: &Sandbox,
    apply: bool,
    status: &dyn Fn(&str),
) -> Result<(), String> {
    let files = staging.files();
    if files.is_empty() {
        return Err("the model changed no file; nothing to show or write".to_owned());
    }
    print!("{}", crate::display::terminal(&unified_diff(&files)));
    let _ = std::io::stdout().flush();
    let names = files
        .iter()
        .map(|file| file.shown.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if !apply {
        status(&format!(
            "chatls: {} file(s) changed ({names}); not written (add --apply to write them)",
            files.len()
        ));
        return Ok(());
    }
    let sandbox = sandbox.clone();
    let written = files.clone();
    tokio::task::spawn_blocking(move || write_change(&sandbox, &written))
        .await
        .map_err(|_| "writing the change failed".to_owned())??;
    status(&format!("chatls: wrote {} file(s) ({names})", files.len()));
    Ok(())
}

/// Writes every file of a change, all checked first: a file changed on disk (or swapped for
/// a link) since the model read it, or a new file that appeared meanwhile, writes nothing.
fn write_change(sandbox: &Sandbox, files: &[StagedFile]) -> Result<(), String> {
    for file in files {
        let shown = &file.shown;
        match &file.base {
            Base::New => {
                if std::fs::symlink_metadata(&file.path).is_ok() {
                    return Err(format!(
                        "{shown} appeared while the model was working; nothing was written"
                    ));
                }
            }
            base => {
                let now = read_disk_text(sandbox, &file.path, shown)
                    .map_err(|reason| format!("{reason}; nothing was written"))?;
                if now != base.text() {
                    return Err(format!(
                        "{shown} changed on disk while the model was working; nothing was written"
                    ));
                }
            }
        }
    }
    for file in files {
        write_file(file).map_err(|error| {
            format!(
                "cannot write {}: {error} (the files before it in the diff were written)",
                file.shown
            )
        })?;
    }
    Ok(())
}

/// One file of a change: a new one created (never over something there), an existing one
/// rewritten without following a link.
fn write_file(file: &StagedFile) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if file.base == Base::New {
        if let Some(parent) = file.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        options.create_new(true);
    } else {
        options.truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
    }
    options.open(&file.path)?.write_all(file.text.as_bytes())
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

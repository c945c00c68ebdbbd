//! The command line: `chatls [serve]` runs the language server on stdio; `chatls ask` runs
//! one action of the table (or a free question) on a file through the same engine and
//! streams the answer to stdout; `chatls models` lists the models to pick from;
//! `chatls settings-schema` prints the settings table as JSON Schema.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser, Subcommand};

use crate::action::engine::Engine;
use crate::config::{EnvSettings, Settings};

mod ask;
mod change;

pub use ask::{ask, language_id, parse_target};

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

/// Settings from the environment, a `--settings` file and the flags, in that order.
pub(super) fn cli_settings(
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

//! The workspace tools the model can call (`read_file`, `list_files`, `search_workspace`,
//! `get_diagnostics`): their JSON-Schema definitions, progress labels, and a `ToolBox` that
//! runs a call confined by the `Sandbox` and never fails — every problem becomes a result
//! the model can read. Every call is bounded: in time (`Limits::call_timeout`), in how many
//! run at once across the process, and in the size of what it returns.

pub mod diagnostics;
pub mod images;
pub mod list_files;
pub mod read_file;
pub mod sandbox;
pub mod search;
pub mod staging;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::llm::types::ToolDef;
pub use sandbox::{Refusal, Sandbox};
pub use staging::Staging;

/// One diagnostic the editor reported for a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiagnostic {
    pub path: PathBuf,
    /// 0-based.
    pub line: u32,
    /// 0-based.
    pub character: u32,
    pub severity: String,
    pub message: String,
    pub source: Option<String>,
}

/// What the tools may see of the editor's state.
pub trait WorkspaceView: Send + Sync {
    /// The unsaved editor buffer text for an absolute path, if the file is open.
    fn open_buffer(&self, path: &Path) -> Option<String>;
    /// The open buffer and its version, read together (a change stages against them).
    fn open_document(&self, path: &Path) -> Option<(String, Option<i32>)> {
        self.open_buffer(path).map(|text| (text, None))
    }
    /// Diagnostics for one file, or for every file when `path` is `None`.
    fn diagnostics(&self, path: Option<&Path>) -> Vec<FileDiagnostic>;
}

/// Size caps on what the tools read and return.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_file_bytes: usize,
    pub max_result_chars: usize,
    pub max_read_lines: usize,
    pub max_list_entries: usize,
    pub max_search_results: usize,
    pub max_image_bytes: usize,
    pub max_images: usize,
    /// The longest a tool call may take, waiting for a free slot included; a call still
    /// running then is answered with a timeout result (and told to stop).
    pub call_timeout: Duration,
}

/// How many tool calls run at once in the whole process: a model asking for dozens of
/// searches in one round, or several actions at once, cannot take every core or pile up
/// search buffers.
const MAX_CONCURRENT_CALLS: usize = 4;

static CALL_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_CALLS);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 * 1024,
            max_result_chars: 30_000,
            max_read_lines: 800,
            max_list_entries: 500,
            max_search_results: 100,
            max_image_bytes: 5 * 1024 * 1024,
            max_images: 4,
            call_timeout: Duration::from_secs(20),
        }
    }
}

/// The result of one tool call: text for the `role: tool` message, images to attach in a
/// following user turn, and whether the call failed.
#[derive(Clone, Debug, Default)]
pub struct ToolOutput {
    pub content: String,
    pub images: Vec<images::Image>,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            images: Vec::new(),
            is_error: false,
        }
    }

    pub fn error(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            images: Vec::new(),
            is_error: true,
        }
    }
}

/// Everything a tool needs; shared by the calls of a `ToolBox`.
pub(crate) struct Context {
    pub(crate) sandbox: Sandbox,
    pub(crate) view: Arc<dyn WorkspaceView>,
    pub(crate) limits: Limits,
    /// The overlay of a change (`edit_file`, `create_file`); `None` for read-only actions.
    pub(crate) staging: Option<Arc<Staging>>,
}

/// Runs tool calls inside the sandbox.
pub struct ToolBox {
    context: Arc<Context>,
}

pub const READ_FILE: &str = "read_file";
pub const LIST_FILES: &str = "list_files";
pub const SEARCH_WORKSPACE: &str = "search_workspace";
pub const GET_DIAGNOSTICS: &str = "get_diagnostics";
pub const EDIT_FILE: &str = "edit_file";
pub const CREATE_FILE: &str = "create_file";

impl ToolBox {
    pub fn new(sandbox: Sandbox, view: Arc<dyn WorkspaceView>, limits: Limits) -> Self {
        ToolBox {
            context: Arc::new(Context {
                sandbox,
                view,
                limits,
                staging: None,
            }),
        }
    }

    /// The same tools over a change's overlay: `edit_file` and `create_file` stage into it,
    /// and the read tools see what is staged.
    pub fn with_staging(&self, staging: Arc<Staging>) -> Self {
        let view: Arc<dyn WorkspaceView> = Arc::new(staging::StagedView {
            inner: Arc::clone(&self.context.view),
            staging: Arc::clone(&staging),
        });
        ToolBox {
            context: Arc::new(Context {
                sandbox: self.context.sandbox.clone(),
                view,
                limits: self.context.limits.clone(),
                staging: Some(staging),
            }),
        }
    }

    /// Runs one call. Never fails: malformed arguments, unknown tools, refusals, I/O
    /// errors and timeouts come back as `is_error` output the model can read. Filesystem
    /// work runs on the blocking pool, at most `MAX_CONCURRENT_CALLS` at once, within
    /// `call_timeout`; the result is cut to `max_result_chars`.
    pub async fn run(&self, name: &str, arguments: &str) -> ToolOutput {
        let context = Arc::clone(&self.context);
        let limits = &self.context.limits;
        let call = match Call::parse(name, arguments, self.context.staging.is_some()) {
            Ok(call) => call,
            Err(output) => {
                tracing::debug!(tool = %name, content = %output.content, "tool call rejected");
                return cap_output(output, limits.max_result_chars);
            }
        };
        let deadline = Instant::now() + limits.call_timeout;
        let output = bounded(name, limits.call_timeout, move || {
            call.run(&context, deadline)
        })
        .await;
        if output.is_error {
            tracing::debug!(tool = %name, content = %output.content, "tool call failed");
        }
        cap_output(output, limits.max_result_chars)
    }
}

/// Runs blocking tool work on the blocking pool once a process-wide slot is free, and
/// gives up after `limit` (waiting for the slot included). The work is also handed the
/// deadline so that walks stop on their own; a thread stuck in the kernel is left behind,
/// but the action goes on.
async fn bounded<F>(tool: &str, limit: Duration, work: F) -> ToolOutput
where
    F: FnOnce() -> ToolOutput + Send + 'static,
{
    let run = async {
        let _slot = CALL_SLOTS.acquire().await.ok();
        tokio::task::spawn_blocking(work).await
    };
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) if error.is_panic() => {
            tracing::error!(%tool, "tool panicked");
            ToolOutput::error(format!("{tool} failed with an internal error"))
        }
        Ok(Err(_)) => ToolOutput::error(format!("{tool} was cancelled")),
        Err(_) => {
            tracing::warn!(%tool, ?limit, "tool call timed out");
            ToolOutput::error(format!(
                "{tool} did not finish within {} and was stopped; try a narrower path, glob or pattern",
                human_duration(limit)
            ))
        }
    }
}

fn human_duration(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Cuts a result that is longer than `max_chars` bytes, on a character boundary, with a
/// marker: whatever a tool echoes (a huge glob, a path), the model gets at most the cap.
fn cap_output(mut output: ToolOutput, max_chars: usize) -> ToolOutput {
    const MARKER: &str = "\n[output cut at the tool result size limit]\n";
    if output.content.len() <= max_chars {
        return output;
    }
    let mut end = max_chars.saturating_sub(MARKER.len());
    while end > 0 && !output.content.is_char_boundary(end) {
        end -= 1;
    }
    output.content.truncate(end);
    output.content.push_str(MARKER);
    output
}

/// A parsed tool call.
enum Call {
    ReadFile(read_file::Args),
    ListFiles(list_files::Args),
    Search(search::Args),
    Diagnostics(diagnostics::Args),
    EditFile(staging::EditArgs),
    CreateFile(staging::CreateArgs),
}

impl Call {
    fn parse(name: &str, arguments: &str, staging: bool) -> Result<Call, ToolOutput> {
        match name {
            EDIT_FILE if staging => parse_args(name, arguments).map(Call::EditFile),
            CREATE_FILE if staging => parse_args(name, arguments).map(Call::CreateFile),
            READ_FILE => parse_args(name, arguments).map(Call::ReadFile),
            LIST_FILES => parse_args(name, arguments).map(Call::ListFiles),
            SEARCH_WORKSPACE => parse_args(name, arguments).map(Call::Search),
            GET_DIAGNOSTICS => parse_args(name, arguments).map(Call::Diagnostics),
            _ => Err(ToolOutput::error(format!(
                "unknown tool `{}`; the available tools are {READ_FILE}, {LIST_FILES}, {SEARCH_WORKSPACE} and {GET_DIAGNOSTICS}",
                one_line(name, 80)
            ))),
        }
    }

    fn run(self, context: &Context, deadline: Instant) -> ToolOutput {
        match self {
            Call::ReadFile(args) => read_file::run(context, args),
            Call::ListFiles(args) => list_files::run(context, args, deadline),
            Call::Search(args) => search::run(context, args, deadline),
            Call::Diagnostics(args) => diagnostics::run(context, args),
            Call::EditFile(args) => match &context.staging {
                Some(staging) => staging::edit(context, staging, args),
                None => ToolOutput::error(format!("unknown tool `{EDIT_FILE}`")),
            },
            Call::CreateFile(args) => match &context.staging {
                Some(staging) => staging::create(context, staging, args),
                None => ToolOutput::error(format!("unknown tool `{CREATE_FILE}`")),
            },
        }
    }
}

/// Parses the JSON arguments of a call; an empty string means no arguments.
fn parse_args<T: DeserializeOwned>(tool: &str, arguments: &str) -> Result<T, ToolOutput> {
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str(text).map_err(|error| {
        ToolOutput::error(format!(
            "invalid arguments for {tool}: {error}; send a JSON object as described by the tool's parameters"
        ))
    })
}

/// Accepts a number (`12`, `12.0`) or a numeric string (`"12"`), or null.
pub(crate) fn lenient_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            if let Some(n) = number.as_u64() {
                Ok(Some(n))
            } else if let Some(n) = number.as_i64() {
                // Negative numbers mean "from the start".
                Ok(Some(if n < 0 { 0 } else { n as u64 }))
            } else {
                match number.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
                    _ => Err(D::Error::custom(format!(
                        "expected a whole number, got {number}"
                    ))),
                }
            }
        }
        Some(Value::String(text)) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a whole number, got \"{text}\""))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a whole number, got {other}"
        ))),
    }
}

/// Accepts `true`/`false` or the strings `"true"`/`"false"`, or null.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(D::Error::custom(format!(
            "expected true or false, got {other}"
        ))),
    }
}

/// The tools offered to the model, in a stable order and byte-identical on every call so
/// that the prompt prefix stays cacheable.
pub fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef::function(
            READ_FILE,
            "Read a text file of the workspace, with line numbers. Shows the editor's unsaved \
             text when the file is open. Long files are shown in parts: pass startLine and \
             endLine to read a specific range. Image files (png, jpeg, webp, gif) are attached \
             as images. Binary files and secrets (.env, keys, .git) are refused.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "File path relative to the workspace root, e.g. \"src/main.rs\""
                    },
                    "startLine": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "First line to read, 1-based (default 1)"
                    },
                    "endLine": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Last line to read, 1-based and inclusive (default: as many lines as allowed)"
                    }
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        ),
        ToolDef::function(
            LIST_FILES,
            "List files and directories of the workspace (directories end with /). Files \
             ignored by .gitignore, hidden files and secrets are left out.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Directory to list, relative to the workspace root (default: the whole workspace)"
                    },
                    "glob": {
                        "type": "string",
                        "description": "Only list files whose workspace-relative path matches this glob, e.g. \"*.rs\" or \"src/**/*.ts\""
                    },
                    "maxDepth": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "How many directory levels to descend (1 = only the directory's own entries)"
                    }
                },
                "additionalProperties": false
            }),
        ),
        ToolDef::function(
            SEARCH_WORKSPACE,
            "Search the text of the workspace's files, like grep. Returns matching lines as \
             path:line: text. The pattern is literal text unless regex is true; it is \
             case-insensitive when written all in lowercase. Ignored, hidden, binary and \
             secret files are skipped; open editor buffers are searched with their unsaved text.",
            json!({
                "type": "object",
                "properties": {
                    "pattern": {
                        "type": "string",
                        "description": "Text to look for (or a regular expression when regex is true)"
                    },
                    "glob": {
                        "type": "string",
                        "description": "Only search files whose workspace-relative path matches this glob, e.g. \"*.rs\" or \"src/**\""
                    },
                    "regex": {
                        "type": "boolean",
                        "description": "Treat pattern as a regular expression (Rust regex syntax); default false"
                    },
                    "maxResults": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Maximum number of matching lines to return (default and upper limit 100)"
                    }
                },
                "required": ["pattern"],
                "additionalProperties": false
            }),
        ),
        ToolDef::function(
            GET_DIAGNOSTICS,
            "Get the errors and warnings the editor reports (compiler, linter), as \
             path:line:col: severity: message [source], with 1-based lines and columns.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Only this file, relative to the workspace root (default: every file)"
                    }
                },
                "additionalProperties": false
            }),
        ),
    ]
}

/// The tools of a change (a `workspace` row): the read tools, then `edit_file` and
/// `create_file`, byte-identical on every call.
pub fn change_definitions() -> Vec<ToolDef> {
    let mut tools = definitions();
    tools.push(ToolDef::function(
        EDIT_FILE,
        "Change a file of the workspace: replace old_text, which must occur exactly once in \
         the file as it stands now (with your earlier edits), by new_text. Quote enough \
         surrounding text to make old_text unique, whitespace included. Nothing is written \
         until the person accepts the whole change; later reads show your edits.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "File path relative to the workspace root"
                },
                "old_text": {
                    "type": "string",
                    "description": "The exact text to replace; it must occur exactly once"
                },
                "new_text": {
                    "type": "string",
                    "description": "The text to put in its place"
                }
            },
            "required": ["path", "old_text", "new_text"],
            "additionalProperties": false
        }),
    ));
    tools.push(ToolDef::function(
        CREATE_FILE,
        "Create a new text file in the workspace with the given content. The file must not \
         exist yet (use edit_file to change one that does). Nothing is written until the \
         person accepts the whole change.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "Path of the new file, relative to the workspace root"
                },
                "content": {
                    "type": "string",
                    "description": "The whole text of the new file"
                }
            },
            "required": ["path", "content"],
            "additionalProperties": false
        }),
    ));
    tools
}

/// Short progress text shown before a call runs; tolerant of malformed arguments.
pub fn label(name: &str, arguments: &str) -> String {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let text = |key: &str| -> Option<String> {
        match args.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(one_line(s.trim(), 80)),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    match name {
        READ_FILE => {
            let path = text("path").unwrap_or_else(|| "a file".to_owned());
            match (text("startLine"), text("endLine")) {
                (Some(start), Some(end)) => format!("reading {path}:{start}-{end}"),
                (Some(start), None) => format!("reading {path}:{start}-"),
                (None, Some(end)) => format!("reading {path}:1-{end}"),
                (None, None) => format!("reading {path}"),
            }
        }
        LIST_FILES => {
            let mut label = match text("path") {
                Some(path) if path == "." || path == "./" => "listing the workspace".to_owned(),
                Some(path) if path.ends_with('/') => format!("listing {path}"),
                Some(path) => format!("listing {path}/"),
                None => "listing the workspace".to_owned(),
            };
            if let Some(glob) = text("glob") {
                label.push_str(&format!(" ({glob})"));
            }
            label
        }
        SEARCH_WORKSPACE => {
            let mut label = match text("pattern") {
                Some(pattern) => format!("searching for `{}`", pattern.replace('`', "'")),
                None => "searching the workspace".to_owned(),
            };
            if let Some(glob) = text("glob") {
                label.push_str(&format!(" in {glob}"));
            }
            label
        }
        EDIT_FILE => format!(
            "staging an edit of {}",
            text("path").unwrap_or_else(|| "a file".to_owned())
        ),
        CREATE_FILE => format!(
            "staging a new file {}",
            text("path").unwrap_or_else(|| "a file".to_owned())
        ),
        GET_DIAGNOSTICS => match text("path") {
            Some(path) => format!("checking diagnostics of {path}"),
            None => "checking diagnostics".to_owned(),
        },
        other => format!("running {}", one_line(other, 40)),
    }
}

/// `text` on one line, at most `max` characters (an ellipsis marks the cut).
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// A file name for tool output: control characters (newlines, carriage returns, escape
/// sequences), Unicode line separators and bidirectional overrides are written as escapes
/// (`\n`, `\u{202e}`), so a name can never start a line of its own or reorder one.
pub(crate) fn escape_name(name: &str) -> String {
    if !name.chars().any(needs_escape) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Appends `line` and a newline unless that would pass `max_chars`; false when it didn't fit.
pub(crate) fn push_line(out: &mut String, line: &str, max_chars: usize) -> bool {
    if out.len() + line.len() + 1 > max_chars {
        return false;
    }
    out.push_str(line);
    out.push('\n');
    true
}

/// Tests shared by the tool modules: a `WorkspaceView` with scripted buffers and diagnostics.
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;

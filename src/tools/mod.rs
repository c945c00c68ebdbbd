//! The workspace tools the model can call (`read_file`, `list_files`, `search_workspace`,
//! `get_diagnostics`): their JSON-Schema definitions, progress labels, and a `ToolBox` that
//! runs a call confined by the `Sandbox` and never fails — every problem becomes a result
//! the model can read. Every call is bounded: in time (`Limits::call_timeout`), in how many
//! run at once across the process, and in the size of what it returns.

mod definitions;
pub mod diagnostics;
mod escape;
pub mod images;
pub mod list_files;
pub mod read_file;
pub mod sandbox;
pub mod search;
pub mod staging;
mod text_file;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use self::definitions::{
    CREATE_FILE, EDIT_FILE, GET_DIAGNOSTICS, LIST_FILES, READ_FILE, SEARCH_WORKSPACE,
    change_definitions, definitions, label,
};
pub(crate) use self::escape::{one_line, push_line};
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

/// No editor: no open buffers, no diagnostics; the tools read the disk alone. What
/// `chatls ask` and the benchmarks give the tools.
pub struct DiskOnly;

impl WorkspaceView for DiskOnly {
    fn open_buffer(&self, _path: &Path) -> Option<String> {
        None
    }

    fn diagnostics(&self, _path: Option<&Path>) -> Vec<FileDiagnostic> {
        Vec::new()
    }
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

/// Tests shared by the tool modules: a `WorkspaceView` with scripted buffers and diagnostics.
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;

//! Staging for changes across files (`edit_file`, `create_file`): an overlay of path →
//! staged text over the workspace (the open buffer, else the disk). Nothing is written while
//! the model works; later `read_file`, `list_files` and `search_workspace` calls see the
//! staged text, and at the end the caller turns the overlay into one workspace edit (the
//! server) or a diff and writes (the CLI). Paths pass the same sandbox as reads (roots, no
//! secrets, no `.git`, no links out, text only); caps: `change.maxFiles` files and
//! [`MAX_STAGED_BYTES`] a file. Every refusal is a sentence the model can act on.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ropey::Rope;
use serde::Deserialize;

use crate::answer::edits::CharEdit;
use crate::text::{Document, rebase_range};

use super::images::human_size;
use super::sandbox::{Opened, Refusal, Sandbox};
use super::text_file::text_of;
use super::{Context, ToolOutput, WorkspaceView};

/// The largest file that may be edited or created, in bytes (before and after the edit).
pub const MAX_STAGED_BYTES: usize = 1024 * 1024;

/// What a staged file was before the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// The editor's buffer, as it was when the file was first staged, and its version.
    Buffer { text: String, version: Option<i32> },
    /// The file on disk, as it was read.
    Disk { text: String },
    /// A file `create_file` made: nothing there before.
    New,
}

impl Base {
    /// The text before the change ("" for a new file).
    pub fn text(&self) -> &str {
        match self {
            Base::Buffer { text, .. } | Base::Disk { text } => text,
            Base::New => "",
        }
    }
}

/// One staged file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedFile {
    /// Canonical path (for a new file: its canonical folder and name).
    pub path: PathBuf,
    /// Workspace-relative path for messages and diffs.
    pub shown: String,
    pub base: Base,
    /// The text as the change leaves it.
    pub text: String,
}

/// The overlay of one change. Shared by the tool calls of one action (they run
/// concurrently: each call takes the lock for its own read-modify-write, no I/O while
/// holding it except reading the one file it stages).
#[derive(Debug)]
pub struct Staging {
    files: Mutex<BTreeMap<PathBuf, StagedFile>>,
    max_files: usize,
}

impl Staging {
    pub fn new(max_files: usize) -> Self {
        Staging {
            files: Mutex::new(BTreeMap::new()),
            max_files: max_files.max(1),
        }
    }

    fn with<T>(&self, work: impl FnOnce(&mut BTreeMap<PathBuf, StagedFile>) -> T) -> T {
        match self.files.lock() {
            Ok(mut guard) => work(&mut guard),
            Err(poisoned) => work(&mut poisoned.into_inner()),
        }
    }

    /// The staged text of a path, if staged.
    pub fn text(&self, path: &Path) -> Option<String> {
        self.with(|files| files.get(path).map(|file| file.text.clone()))
    }

    /// Staged files that did not exist before (for listings and searches).
    pub fn new_files(&self) -> Vec<(PathBuf, String)> {
        self.with(|files| {
            files
                .values()
                .filter(|file| file.base == Base::New)
                .map(|file| (file.path.clone(), file.text.clone()))
                .collect()
        })
    }

    /// Every staged file that differs from its base, in path order.
    pub fn files(&self) -> Vec<StagedFile> {
        self.with(|files| {
            files
                .values()
                .filter(|file| file.base == Base::New || file.text != file.base.text())
                .cloned()
                .collect()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.files().is_empty()
    }
}

/// Arguments of `edit_file`.
#[derive(Debug, Deserialize)]
pub(crate) struct EditArgs {
    path: String,
    #[serde(alias = "oldText")]
    old_text: String,
    #[serde(alias = "newText")]
    new_text: String,
}

/// Arguments of `create_file`.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateArgs {
    path: String,
    content: String,
}

/// `edit_file`: replaces the one occurrence of `old_text` in the file as it stands (staged
/// text, else the open buffer, else the disk).
pub(crate) fn edit(context: &Context, staging: &Staging, args: EditArgs) -> ToolOutput {
    let sandbox = &context.sandbox;
    if args.old_text.is_empty() {
        return ToolOutput::error(
            "old_text is empty; quote the exact text to replace (use create_file for a new file)",
        );
    }
    let path = match locate(sandbox, staging, &args.path) {
        Ok(path) => path,
        Err(message) => return ToolOutput::error(message),
    };
    let shown = sandbox.display(&path);
    let staged = staging.with(|files| files.get(&path).cloned());
    let (base, current) = match staged {
        Some(file) => (file.base.clone(), file.text),
        None => match base_of(context, &path, &shown) {
            Ok(base) => {
                let text = base.text().to_owned();
                (base, text)
            }
            Err(message) => return ToolOutput::error(message),
        },
    };
    // A file with CRLF line ends is quoted by the model with LF: match and write it in the
    // file's own line ends.
    let (old_text, new_text) = if !current.contains(args.old_text.as_str())
        && current.contains("\r\n")
        && args.old_text.contains('\n')
        && !args.old_text.contains('\r')
    {
        let crlf = |text: &str| text.replace("\r\n", "\n").replace('\n', "\r\n");
        (crlf(&args.old_text), crlf(&args.new_text))
    } else {
        (args.old_text, args.new_text)
    };
    let found = current.matches(old_text.as_str()).count();
    if found == 0 {
        return ToolOutput::error(format!(
            "not found: old_text does not occur in `{shown}` as it stands now (with the changes staged so far); read the file again and quote its text exactly, whitespace included"
        ));
    }
    if found > 1 {
        return ToolOutput::error(format!(
            "found {found} times: old_text occurs {found} times in `{shown}`; quote more of the surrounding lines so it occurs exactly once"
        ));
    }
    let Some(at) = current.find(old_text.as_str()) else {
        return ToolOutput::error(format!("not found: old_text does not occur in `{shown}`"));
    };
    let mut text = String::with_capacity(current.len() + new_text.len());
    text.push_str(&current[..at]);
    text.push_str(&new_text);
    text.push_str(&current[at + old_text.len()..]);
    if let Err(message) = check_text(&text, &shown) {
        return ToolOutput::error(message);
    }
    let first_line = current[..at].matches('\n').count() + 1;
    let last_line = first_line + new_text.matches('\n').count();
    let stored = staging.with(|files| {
        if !files.contains_key(&path) && files.len() >= staging.max_files {
            return Err(too_many(staging.max_files));
        }
        let entry = files.entry(path.clone()).or_insert_with(|| StagedFile {
            path: path.clone(),
            shown: shown.clone(),
            base,
            text: current.clone(),
        });
        if entry.text != current {
            // Another call of the same round staged this file meanwhile.
            return Err(format!(
                "`{shown}` was changed by another call of this round; read it again and retry"
            ));
        }
        entry.text = text;
        Ok(())
    });
    match stored {
        Ok(()) => ToolOutput::text(format!(
            "staged an edit of `{shown}` (now lines {first_line}-{last_line}); nothing is written until the person accepts the whole change"
        )),
        Err(message) => ToolOutput::error(message),
    }
}

/// `create_file`: stages a file that does not exist yet.
pub(crate) fn create(context: &Context, staging: &Staging, args: CreateArgs) -> ToolOutput {
    let sandbox = &context.sandbox;
    let path = match sandbox.resolve_new(&args.path) {
        Ok(path) => path,
        Err(refusal) => return ToolOutput::error(refusal.to_string()),
    };
    let shown = sandbox.display(&path);
    if let Err(message) = check_text(&args.content, &shown) {
        return ToolOutput::error(message);
    }
    let lines = args.content.lines().count();
    let stored = staging.with(|files| {
        if files.contains_key(&path) {
            return Err(format!(
                "refused: `{shown}` was already created in this change; use edit_file to change it"
            ));
        }
        if files.len() >= staging.max_files {
            return Err(too_many(staging.max_files));
        }
        files.insert(
            path.clone(),
            StagedFile {
                path: path.clone(),
                shown: shown.clone(),
                base: Base::New,
                text: args.content,
            },
        );
        Ok(())
    });
    match stored {
        Ok(()) => ToolOutput::text(format!(
            "staged a new file `{shown}` ({lines} lines); nothing is written until the person accepts the whole change"
        )),
        Err(message) => ToolOutput::error(message),
    }
}

fn too_many(max: usize) -> String {
    format!(
        "refused: this change already touches {max} files, the most one change may (change.maxFiles); finish with what is staged"
    )
}

/// The canonical path `edit_file` works on: an existing file the sandbox allows, or a file
/// this change created.
fn locate(sandbox: &Sandbox, staging: &Staging, requested: &str) -> Result<PathBuf, String> {
    match sandbox.resolve(requested) {
        Ok(path) if path.is_dir() => Err(format!(
            "`{}` is a directory; edit_file changes one file",
            sandbox.display(&path)
        )),
        Ok(path) => Ok(path),
        Err(refusal @ Refusal::NotFound { .. }) => staged_new(sandbox, staging, requested)
            .ok_or_else(|| {
                format!("{refusal}; use create_file for a new file, or list_files to find it")
            }),
        Err(refusal) => Err(refusal.to_string()),
    }
}

/// The path of a file this change created, by the name the model gave.
pub(crate) fn staged_new(sandbox: &Sandbox, staging: &Staging, requested: &str) -> Option<PathBuf> {
    let path = sandbox.resolve_new(requested).ok()?;
    staging
        .with(|files| files.get(&path).map(|file| file.base == Base::New))
        .unwrap_or(false)
        .then_some(path)
}

/// What a file is before the change: its open buffer, else its text on disk (through the
/// sandbox's descriptor, no link followed, text only, at most [`MAX_STAGED_BYTES`]).
fn base_of(context: &Context, path: &Path, shown: &str) -> Result<Base, String> {
    if let Some((text, version)) = context.view.open_document(path) {
        return Ok(Base::Buffer { text, version });
    }
    read_disk_text(&context.sandbox, path, shown).map(|text| Base::Disk { text })
}

/// A text file of the workspace as it is on disk now, read through the sandbox.
pub fn read_disk_text(sandbox: &Sandbox, path: &Path, shown: &str) -> Result<String, String> {
    match sandbox.open(path) {
        Err(refusal) => Err(refusal.to_string()),
        Ok(Opened::Dir) => Err(format!("`{shown}` is a directory")),
        Ok(Opened::File { file, len }) => {
            if len > MAX_STAGED_BYTES as u64 {
                return Err(format!(
                    "refused: `{shown}` is {}, larger than the {} a changed file may be",
                    human_size(len),
                    human_size(MAX_STAGED_BYTES as u64)
                ));
            }
            let mut bytes = Vec::new();
            file.take(MAX_STAGED_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|error| format!("cannot read `{shown}`: {error}"))?;
            if bytes.len() > MAX_STAGED_BYTES {
                return Err(format!(
                    "refused: `{shown}` is larger than the {} a changed file may be",
                    human_size(MAX_STAGED_BYTES as u64)
                ));
            }
            text_of(bytes, shown)
        }
    }
}

/// A staged text must be text and within the cap.
fn check_text(text: &str, shown: &str) -> Result<(), String> {
    if text.len() > MAX_STAGED_BYTES {
        return Err(format!(
            "refused: `{shown}` would be {}, larger than the {} a changed file may be",
            human_size(text.len() as u64),
            human_size(MAX_STAGED_BYTES as u64)
        ));
    }
    if text.contains('\0') {
        return Err(format!(
            "refused: the text for `{shown}` contains NUL bytes; only text files are changed"
        ));
    }
    Ok(())
}

/// The editor as the tools see it during a change: staged text wins over the open buffer,
/// which wins over the disk.
pub(crate) struct StagedView {
    pub(crate) inner: std::sync::Arc<dyn WorkspaceView>,
    pub(crate) staging: std::sync::Arc<Staging>,
}

impl WorkspaceView for StagedView {
    fn open_buffer(&self, path: &Path) -> Option<String> {
        self.staging
            .text(path)
            .or_else(|| self.inner.open_buffer(path))
    }

    fn open_document(&self, path: &Path) -> Option<(String, Option<i32>)> {
        self.inner.open_document(path)
    }

    fn diagnostics(&self, path: Option<&Path>) -> Vec<super::FileDiagnostic> {
        self.inner.diagnostics(path)
    }
}

/// A staged file's edits in its open document as it is now: each edit's whole lines (in the
/// text the change was staged on, the document at `version`) are moved through what the
/// person typed since; typing on an edited line, or a history too long to follow, places
/// nothing (`Err` says why). `edits` are char offsets in `base`.
pub fn place_on(
    document: &Document,
    version: i32,
    base: &str,
    edits: &[CharEdit],
) -> Result<Vec<CharEdit>, &'static str> {
    let changes = document
        .changes_since(version)
        .ok_or("it was edited too much to follow")?;
    let base = Rope::from_str(base);
    let current = document.text();
    let mut placed = Vec::with_capacity(edits.len());
    for edit in edits {
        if edit.start > edit.end || edit.end > base.len_chars() {
            return Err("the staged edit does not fit the file");
        }
        let first = base.char_to_line(edit.start);
        let last = base.char_to_line(edit.end);
        let lines = base.line_to_char(first)..base.line_to_char((last + 1).min(base.len_lines()));
        let lines = if lines.end < edit.end {
            lines.start..base.len_chars()
        } else {
            lines
        };
        let moved = rebase_range(lines.clone(), &changes).ok_or("you typed in an edited line")?;
        if moved.end > current.len_chars()
            || current.slice(moved.clone()) != base.slice(lines.clone())
        {
            return Err("you typed in an edited line");
        }
        let shift = |at: usize| at - lines.start + moved.start;
        placed.push(CharEdit {
            start: shift(edit.start),
            end: shift(edit.end),
            new_text: edit.new_text.clone(),
        });
    }
    Ok(placed)
}

/// The staged files as one unified diff, for review and for `chatls ask --action change`.
pub fn unified_diff(files: &[StagedFile]) -> String {
    let mut out = String::new();
    for file in files {
        let before = if file.base == Base::New {
            "/dev/null".to_owned()
        } else {
            format!("a/{}", file.shown)
        };
        out.push_str(
            &similar::TextDiff::from_lines(file.base.text(), &file.text)
                .unified_diff()
                .context_radius(3)
                .header(&before, &format!("b/{}", file.shown))
                .to_string(),
        );
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;

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
use super::read_file::text_of;
use super::sandbox::{Opened, Refusal, Sandbox};
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
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{CREATE_FILE, EDIT_FILE, LIST_FILES, Limits, READ_FILE, SEARCH_WORKSPACE};
    use super::*;

    fn setup() -> (Workspace, Arc<Staging>, super::super::ToolBox) {
        let workspace = Workspace::new();
        workspace.write("src/lib.rs", "pub fn old_name() {}\n");
        workspace.write("src/main.rs", "fn main() { old_name(); old_name(); }\n");
        workspace.write(".env", "KEY=secret\n");
        workspace.write(".git/config", "[core]\n");
        workspace.write("bin.dat", b"\x00\x01\x02");
        let staging = Arc::new(Staging::new(20));
        let toolbox = workspace
            .toolbox(Limits::default())
            .with_staging(Arc::clone(&staging));
        (workspace, staging, toolbox)
    }

    async fn call(
        toolbox: &super::super::ToolBox,
        name: &str,
        args: serde_json::Value,
    ) -> ToolOutput {
        run(toolbox, name, args).await
    }

    #[tokio::test]
    async fn an_edit_is_staged_not_written_and_later_reads_see_it() {
        let (workspace, staging, toolbox) = setup();
        let output = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "src/lib.rs", "old_text": "old_name", "new_text": "new_name"}),
        )
        .await;
        assert!(!output.is_error, "{}", output.content);
        assert_eq!(
            std::fs::read_to_string(workspace.root.join("src/lib.rs")).unwrap(),
            "pub fn old_name() {}\n"
        );
        let read = call(&toolbox, READ_FILE, json!({"path": "src/lib.rs"})).await;
        assert!(
            read.content.contains("pub fn new_name() {}"),
            "{}",
            read.content
        );
        let search = call(&toolbox, SEARCH_WORKSPACE, json!({"pattern": "new_name"})).await;
        assert!(
            search.content.contains("src/lib.rs:1"),
            "{}",
            search.content
        );
        let files = staging.files();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].shown, "src/lib.rs");
        assert_eq!(
            files[0].base,
            Base::Disk {
                text: "pub fn old_name() {}\n".into()
            }
        );
        assert_eq!(files[0].text, "pub fn new_name() {}\n");
    }

    #[tokio::test]
    async fn text_found_zero_or_several_times_is_refused() {
        let (_workspace, staging, toolbox) = setup();
        let output = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "src/lib.rs", "old_text": "missing", "new_text": "x"}),
        )
        .await;
        assert!(output.is_error);
        assert!(
            output.content.starts_with("not found"),
            "{}",
            output.content
        );
        let output = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "src/main.rs", "old_text": "old_name()", "new_text": "x"}),
        )
        .await;
        assert!(output.is_error);
        assert!(
            output.content.starts_with("found 2 times"),
            "{}",
            output.content
        );
        let output = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "src/main.rs", "old_text": "", "new_text": "x"}),
        )
        .await;
        assert!(output.is_error);
        assert!(staging.is_empty());
    }

    #[tokio::test]
    async fn the_sandbox_refuses_secrets_escapes_git_and_binary_files() {
        let (workspace, staging, toolbox) = setup();
        std::fs::write(workspace.root.parent().unwrap().join("outside.rs"), "x\n").unwrap();
        for (tool, args, expected) in [
            (
                EDIT_FILE,
                json!({"path": ".env", "old_text": "KEY", "new_text": "K"}),
                "secrets",
            ),
            (
                EDIT_FILE,
                json!({"path": "../outside.rs", "old_text": "x", "new_text": "y"}),
                "outside the workspace",
            ),
            (
                EDIT_FILE,
                json!({"path": ".git/config", "old_text": "core", "new_text": "x"}),
                "secrets",
            ),
            (
                EDIT_FILE,
                json!({"path": "bin.dat", "old_text": "a", "new_text": "b"}),
                "binary",
            ),
            (
                CREATE_FILE,
                json!({"path": ".git/hooks/pre-commit", "content": "x"}),
                "secrets",
            ),
            (
                CREATE_FILE,
                json!({"path": "../new.rs", "content": "x"}),
                "outside the workspace",
            ),
            (
                CREATE_FILE,
                json!({"path": "config/.env", "content": "x"}),
                "secrets",
            ),
            (
                CREATE_FILE,
                json!({"path": "src/lib.rs", "content": "x"}),
                "already exists",
            ),
            (
                CREATE_FILE,
                json!({"path": "src/nul.rs", "content": "a\u{0}b"}),
                "NUL",
            ),
        ] {
            let output = call(&toolbox, tool, args.clone()).await;
            assert!(output.is_error, "{args}: {}", output.content);
            assert!(
                output.content.contains(expected),
                "{args}: {}",
                output.content
            );
        }
        assert!(staging.is_empty());
        assert!(!workspace.root.join("config").exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn links_out_are_refused_for_edits_and_new_files() {
        let (workspace, staging, toolbox) = setup();
        let outside = workspace.root.parent().unwrap().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("x.rs"), "x\n").unwrap();
        std::os::unix::fs::symlink(&outside, workspace.root.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("x.rs"), workspace.root.join("link.rs")).unwrap();
        std::os::unix::fs::symlink(outside.join("gone.rs"), workspace.root.join("dangling.rs"))
            .unwrap();
        for (tool, args) in [
            (
                EDIT_FILE,
                json!({"path": "link.rs", "old_text": "x", "new_text": "y"}),
            ),
            (
                EDIT_FILE,
                json!({"path": "out/x.rs", "old_text": "x", "new_text": "y"}),
            ),
            (CREATE_FILE, json!({"path": "out/new.rs", "content": "y"})),
            (CREATE_FILE, json!({"path": "dangling.rs", "content": "y"})),
        ] {
            let output = call(&toolbox, tool, args.clone()).await;
            assert!(output.is_error, "{args}: {}", output.content);
        }
        assert!(staging.is_empty());
        assert!(!outside.join("new.rs").exists());
        assert!(!outside.join("gone.rs").exists());
    }

    #[tokio::test]
    async fn a_created_file_is_listed_searched_read_and_edited() {
        let (workspace, staging, toolbox) = setup();
        let output = call(
            &toolbox,
            CREATE_FILE,
            json!({"path": "tests/new_test.rs", "content": "fn test_new() {}\n"}),
        )
        .await;
        assert!(!output.is_error, "{}", output.content);
        assert!(!workspace.root.join("tests").exists());
        let list = call(&toolbox, LIST_FILES, json!({})).await;
        assert!(
            list.content.contains("tests/new_test.rs"),
            "{}",
            list.content
        );
        let search = call(&toolbox, SEARCH_WORKSPACE, json!({"pattern": "test_new"})).await;
        assert!(
            search.content.contains("tests/new_test.rs:1"),
            "{}",
            search.content
        );
        let read = call(&toolbox, READ_FILE, json!({"path": "tests/new_test.rs"})).await;
        assert!(
            read.content.contains("fn test_new() {}"),
            "{}",
            read.content
        );
        let edit = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "tests/new_test.rs", "old_text": "test_new", "new_text": "test_renamed"}),
        )
        .await;
        assert!(!edit.is_error, "{}", edit.content);
        let again = call(
            &toolbox,
            CREATE_FILE,
            json!({"path": "tests/new_test.rs", "content": "x"}),
        )
        .await;
        assert!(again.is_error);
        assert!(
            again.content.contains("already created"),
            "{}",
            again.content
        );
        let files = staging.files();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].base, Base::New);
        assert_eq!(files[0].text, "fn test_renamed() {}\n");
    }

    #[tokio::test]
    async fn lf_quoted_text_matches_a_crlf_file_and_keeps_its_line_ends() {
        let workspace = Workspace::new();
        workspace.write("win.rs", "fn a() {\r\n    1\r\n}\r\n");
        let staging = Arc::new(Staging::new(20));
        let toolbox = workspace
            .toolbox(Limits::default())
            .with_staging(Arc::clone(&staging));
        let output = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "win.rs", "old_text": "fn a() {\n    1\n", "new_text": "fn a() {\n    2\n"}),
        )
        .await;
        assert!(!output.is_error, "{}", output.content);
        assert_eq!(staging.files()[0].text, "fn a() {\r\n    2\r\n}\r\n");
    }

    #[tokio::test]
    async fn the_file_and_size_caps_hold() {
        let workspace = Workspace::new();
        workspace.write("a.rs", "a\n");
        workspace.write("b.rs", "b\n");
        workspace.write("big.rs", "x".repeat(MAX_STAGED_BYTES + 1));
        let staging = Arc::new(Staging::new(1));
        let toolbox = workspace
            .toolbox(Limits::default())
            .with_staging(Arc::clone(&staging));
        let first = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "a.rs", "old_text": "a", "new_text": "A"}),
        )
        .await;
        assert!(!first.is_error, "{}", first.content);
        let same = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "a.rs", "old_text": "A", "new_text": "AA"}),
        )
        .await;
        assert!(!same.is_error, "{}", same.content);
        let second = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "b.rs", "old_text": "b", "new_text": "B"}),
        )
        .await;
        assert!(second.is_error);
        assert!(
            second.content.contains("change.maxFiles"),
            "{}",
            second.content
        );
        let created = call(
            &toolbox,
            CREATE_FILE,
            json!({"path": "c.rs", "content": "c"}),
        )
        .await;
        assert!(
            created.content.contains("change.maxFiles"),
            "{}",
            created.content
        );

        let staging = Arc::new(Staging::new(20));
        let toolbox = workspace
            .toolbox(Limits::default())
            .with_staging(Arc::clone(&staging));
        let big = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "big.rs", "old_text": "xx", "new_text": "y"}),
        )
        .await;
        assert!(big.is_error);
        assert!(big.content.contains("larger than"), "{}", big.content);
        let huge = call(
            &toolbox,
            CREATE_FILE,
            json!({"path": "huge.rs", "content": "y".repeat(MAX_STAGED_BYTES + 1)}),
        )
        .await;
        assert!(huge.content.contains("larger than"), "{}", huge.content);
        assert!(staging.is_empty());
    }

    #[tokio::test]
    async fn an_open_buffer_is_the_base_with_its_version() {
        let (workspace, staging, toolbox) = setup();
        let path = workspace.root.join("src/lib.rs");
        workspace
            .view
            .buffers
            .lock()
            .unwrap()
            .insert(path, "pub fn old_name() { /* unsaved */ }\n".into());
        let output = call(
            &toolbox,
            EDIT_FILE,
            json!({"path": "src/lib.rs", "old_text": "old_name", "new_text": "new_name"}),
        )
        .await;
        assert!(!output.is_error, "{}", output.content);
        let files = staging.files();
        assert_eq!(files[0].text, "pub fn new_name() { /* unsaved */ }\n");
        assert!(matches!(files[0].base, Base::Buffer { .. }));
    }

    #[test]
    fn typing_on_an_edited_line_refuses_and_typing_elsewhere_moves_the_edit() {
        use crate::text::{Position, PositionEncoding, Range, TextChange};
        let base = "fn a() {}\nfn b() {}\nfn c() {}\n";
        let staged = base.replace("fn b()", "fn bee()");
        let edits = crate::answer::edits::minimal_edits(base, &staged);
        let typed = |line: u32, character: u32| {
            let mut document = Document::new(base, 1, "rust");
            let at = Position { line, character };
            document
                .apply_changes(
                    2,
                    &[TextChange {
                        range: Some(Range { start: at, end: at }),
                        text: "x".into(),
                    }],
                    PositionEncoding::Utf16,
                )
                .unwrap();
            let placed = place_on(&document, 1, base, &edits);
            (document, placed)
        };
        let (document, placed) = typed(0, 0);
        let placed = placed.unwrap();
        assert_eq!(
            crate::answer::edits::apply_edits(&document.contents(), &placed),
            format!("x{staged}")
        );
        let (_, placed) = typed(1, 9);
        assert_eq!(placed, Err("you typed in an edited line"));
        let (document, placed) = typed(2, 3);
        assert_eq!(
            crate::answer::edits::apply_edits(&document.contents(), &placed.unwrap()),
            staged.replace("fn c", "fn xc")
        );
    }

    #[test]
    fn the_diff_names_every_file_and_new_files_come_from_nothing() {
        let files = vec![
            StagedFile {
                path: "/ws/a.rs".into(),
                shown: "a.rs".into(),
                base: Base::Disk {
                    text: "old\n".into(),
                },
                text: "new\n".into(),
            },
            StagedFile {
                path: "/ws/b.rs".into(),
                shown: "b.rs".into(),
                base: Base::New,
                text: "fresh\n".into(),
            },
        ];
        let diff = unified_diff(&files);
        assert!(diff.contains("--- a/a.rs\n+++ b/a.rs\n"), "{diff}");
        assert!(diff.contains("-old\n+new\n"), "{diff}");
        assert!(diff.contains("--- /dev/null\n+++ b/b.rs\n"), "{diff}");
        assert!(diff.contains("+fresh\n"), "{diff}");
    }

    #[tokio::test]
    async fn without_staging_the_write_tools_are_unknown() {
        let workspace = Workspace::new();
        workspace.write("a.rs", "a\n");
        let toolbox = workspace.toolbox(Limits::default());
        let output = run(
            &toolbox,
            EDIT_FILE,
            json!({"path": "a.rs", "old_text": "a", "new_text": "b"}),
        )
        .await;
        assert!(output.is_error);
        assert!(
            output.content.contains("unknown tool"),
            "{}",
            output.content
        );
        assert_eq!(
            std::fs::read_to_string(workspace.root.join("a.rs")).unwrap(),
            "a\n"
        );
    }
}

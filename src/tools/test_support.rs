//! Helpers shared by the tools' unit tests: a populated workspace, tool calls and refusals.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;

#[derive(Default)]
pub(crate) struct FakeView {
    pub(crate) buffers: Mutex<HashMap<PathBuf, String>>,
    pub(crate) diagnostics: Mutex<Vec<FileDiagnostic>>,
}

impl WorkspaceView for FakeView {
    fn open_buffer(&self, path: &Path) -> Option<String> {
        self.buffers.lock().unwrap().get(path).cloned()
    }

    fn diagnostics(&self, path: Option<&Path>) -> Vec<FileDiagnostic> {
        self.diagnostics
            .lock()
            .unwrap()
            .iter()
            .filter(|d| path.is_none_or(|p| d.path == p))
            .cloned()
            .collect()
    }
}

pub(crate) struct Workspace {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) view: Arc<FakeView>,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("ws");
        std::fs::create_dir_all(&root).unwrap();
        Workspace {
            _dir: dir,
            root,
            view: Arc::new(FakeView::default()),
        }
    }

    pub(crate) fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub(crate) fn toolbox(&self, limits: Limits) -> ToolBox {
        self.toolbox_with_denies(limits, &[])
    }

    pub(crate) fn toolbox_with_denies(&self, limits: Limits, denies: &[String]) -> ToolBox {
        let sandbox = Sandbox::new(vec![self.root.clone()], denies);
        ToolBox::new(sandbox, self.view.clone(), limits)
    }
}

/// Runs a call with a timeout so a bug can't hang the test run.
pub(crate) async fn run(toolbox: &ToolBox, name: &str, arguments: Value) -> ToolOutput {
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        toolbox.run(name, &arguments.to_string()),
    )
    .await
    .expect("tool call timed out")
}

/// A `search_workspace` call.
pub(crate) async fn search(toolbox: &ToolBox, arguments: Value) -> ToolOutput {
    run(toolbox, SEARCH_WORKSPACE, arguments).await
}

/// A named pipe at `path` (a file no tool may block on).
pub(crate) fn make_fifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

//! Workspace roots and paths before any rule: a folder checked as a root, the real path the
//! system would open, `.` and `..` collapsed, the system directories. It never reads a
//! file's contents and knows nothing of deny rules beyond secret directories.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::secrets;

/// Directories whose contents are never workspace files, even when a root sits above them.
const SYSTEM_DIRS: &[&str] = &["/proc", "/sys", "/dev"];

/// The path the system would open for `path` (absolute): canonical where it exists, and
/// for a part that does not exist yet, `.` and `..` collapsed over the real directories
/// above it. `ws/nothere/../../outside/x` is `outside/x`, not a path inside `ws`.
pub fn real_path(path: &Path) -> PathBuf {
    if let Ok(canonical) = fs::canonicalize(path) {
        return canonical;
    }
    collapse(path, |out| {
        if fs::symlink_metadata(&*out).is_ok()
            && let Ok(canonical) = fs::canonicalize(&*out)
        {
            *out = canonical;
        }
    })
}

/// Why a workspace folder is not used as a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootProblem {
    /// Refused on purpose (the whole file system, a system or secret directory); the
    /// sentence says why, for the user and the model.
    Refused(String),
    /// Missing, not a directory, or unreadable.
    Unusable(String),
}

/// The canonical path of a workspace folder, or why the tools must not read it: `/` (the
/// whole file system), /proc, /sys, /dev, and any folder that is or sits inside a secret
/// directory (`.git`, `.ssh`, `.aws`, ...: the secret rules only look below a root).
pub fn check_root(root: &Path) -> Result<PathBuf, RootProblem> {
    let shown = crate::tools::escape::escape_name(&root.to_string_lossy());
    let canonical = fs::canonicalize(root)
        .map_err(|error| RootProblem::Unusable(format!("`{shown}` cannot be opened: {error}")))?;
    let shown = crate::tools::escape::escape_name(&canonical.to_string_lossy());
    if canonical.parent().is_none() {
        return Err(RootProblem::Refused(format!(
            "the workspace folder `{shown}` is the whole file system; open a project folder instead"
        )));
    }
    if is_system_path(&canonical) {
        return Err(RootProblem::Refused(format!(
            "the workspace folder `{shown}` is a system directory"
        )));
    }
    if let Some(secret) = canonical
        .components()
        .find_map(|component| match component {
            Component::Normal(name) if secrets::is_secret_dir(&name.to_string_lossy()) => {
                Some(name.to_string_lossy().into_owned())
            }
            _ => None,
        })
    {
        return Err(RootProblem::Refused(format!(
            "the workspace folder `{shown}` is inside `{}`, whose files may hold secrets",
            crate::tools::escape::escape_name(&secret)
        )));
    }
    if !canonical.is_dir() {
        return Err(RootProblem::Unusable(format!(
            "`{shown}` is not a directory"
        )));
    }
    Ok(canonical)
}

/// Collapses `.` and `..` without touching the filesystem (`..` never climbs above `/`).
pub(super) fn normalize(path: &Path) -> PathBuf {
    collapse(path, |_| {})
}

/// `path` rebuilt component by component: `.` dropped, `..` taking the last name off (never
/// above `/`); `after_name` sees the path each time a name was added.
fn collapse(path: &Path, mut after_name: impl FnMut(&mut PathBuf)) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                after_name(&mut out);
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(super) fn is_system_path(path: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|dir| path.starts_with(dir))
}

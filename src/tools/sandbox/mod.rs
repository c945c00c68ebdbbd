//! The sandbox that confines every tool to the workspace roots: paths are normalised and
//! canonicalised (symlinks followed) and must stay inside a root; system directories,
//! special files and secrets (`.env`, keys, `.git/`, ... see `secrets.rs`) are refused with a
//! sentence the model can read. What was checked is then opened through `open.rs`, without
//! following links or blocking, so a path swapped after the check is refused, not read.
//! Workspace folders that are the whole file system or sit inside a secret directory are
//! refused as roots.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

mod create;
pub mod open;
mod roots;
pub mod secrets;
mod send;

use self::open::{Kind, OpenError};
pub use self::roots::{RootProblem, check_root, real_path};
use self::roots::{is_system_path, normalize};
use super::escape::{escape_name, one_line};

/// Longest requested path quoted back in a refusal, in characters.
const MAX_QUOTED_PATH: usize = 200;

/// Why a path was refused; `Display` is a sentence the model can read and act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("refused: there is no workspace folder to read from")]
    NoWorkspace,
    #[error("refused: there is no workspace folder to read from ({reason})")]
    RootsRefused { reason: String },
    #[error("refused: the path contains a NUL byte")]
    NulByte,
    #[error("refused: `{path}` is outside the workspace")]
    Outside { path: String },
    #[error("refused: `{path}` is a symbolic link that points outside the workspace")]
    SymlinkOutside { path: String },
    #[error("refused: `{path}` is a system path (/proc, /sys and /dev are never read)")]
    SystemPath { path: String },
    #[error("refused: `{path}` may contain secrets, so it is never read or listed")]
    Secret { path: String },
    #[error("refused: `{path}` matches the deny pattern `{pattern}` of the configuration")]
    Denied { path: String, pattern: String },
    #[error("not found: `{path}` does not exist in the workspace")]
    NotFound { path: String },
    #[error("refused: `{path}` is not a regular file or directory (device, fifo or socket)")]
    NotRegular { path: String },
    #[error(
        "refused: `{path}` changed while it was being opened (a link, FIFO or device was swapped in), so it was not read"
    )]
    Changed { path: String },
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("refused: `{path}` already exists; use edit_file to change it")]
    Exists { path: String },
}

/// A path opened through the sandbox: a regular file to read from its descriptor, or a
/// directory.
#[derive(Debug)]
pub enum Opened {
    File { file: fs::File, len: u64 },
    Dir,
}

/// The workspace roots plus the deny rules; cheap to clone, shared by every tool call.
#[derive(Clone, Debug)]
pub struct Sandbox {
    roots: Vec<PathBuf>,
    /// Workspace folders refused as roots, with the reason, for the model's refusals.
    refused_roots: Vec<String>,
    extra: GlobSet,
    extra_patterns: Vec<String>,
}

impl Sandbox {
    /// Roots are canonicalised; roots that don't exist are skipped, and so are roots that
    /// `check_root` refuses (`/`, system directories, folders inside `.git`, `.ssh`, ...).
    /// Invalid extra globs are skipped with a warning rather than failing the whole server.
    /// Extra globs match in any letter case, like the built-in secret names.
    pub fn new(roots: Vec<PathBuf>, extra_deny_globs: &[String]) -> Self {
        let mut canonical_roots: Vec<PathBuf> = Vec::new();
        let mut refused_roots: Vec<String> = Vec::new();
        for root in roots {
            match check_root(&root) {
                Ok(path) => {
                    if !canonical_roots.contains(&path) {
                        canonical_roots.push(path);
                    }
                }
                Err(RootProblem::Refused(reason)) => {
                    tracing::warn!(root = %root.display(), %reason, "workspace root refused");
                    refused_roots.push(reason);
                }
                Err(RootProblem::Unusable(reason)) => {
                    tracing::warn!(root = %root.display(), %reason, "workspace root skipped");
                }
            }
        }

        let mut extra = GlobSetBuilder::new();
        let mut extra_patterns = Vec::new();
        for pattern in extra_deny_globs {
            let trimmed = pattern.trim().trim_end_matches('/');
            if trimmed.is_empty() {
                continue;
            }
            match GlobBuilder::new(trimmed)
                .literal_separator(false)
                .case_insensitive(true)
                .build()
            {
                Ok(glob) => {
                    extra.add(glob);
                    extra_patterns.push(pattern.clone());
                }
                Err(error) => tracing::warn!(%pattern, %error, "invalid deny glob skipped"),
            }
        }

        Sandbox {
            roots: canonical_roots,
            refused_roots,
            extra: extra.build().unwrap_or_else(|_| GlobSet::empty()),
            extra_patterns,
        }
    }

    /// The canonical workspace roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The refusal for a tool call when there is no usable root.
    pub fn no_workspace(&self) -> Refusal {
        if self.refused_roots.is_empty() {
            Refusal::NoWorkspace
        } else {
            Refusal::RootsRefused {
                reason: self.refused_roots.join("; "),
            }
        }
    }

    /// Opens a path inside a root (as `resolve` returned it, or as a walk inside a root
    /// found it) without following links and without blocking, and checks what was opened:
    /// a regular file or a directory at exactly that path. Read only from the descriptor.
    pub fn open(&self, abs: &Path) -> Result<Opened, Refusal> {
        let shown = self.display(abs);
        let Some(root) = self.root_of(abs) else {
            return Err(Refusal::Outside { path: shown });
        };
        self.check_denied(abs, &shown)?;
        let relative = abs.strip_prefix(root).unwrap_or(abs);
        match open::open_beneath(root, relative) {
            Ok(opened) => match opened.kind {
                Kind::File => Ok(Opened::File {
                    file: opened.file,
                    len: opened.len,
                }),
                Kind::Dir => Ok(Opened::Dir),
                Kind::Other => Err(Refusal::NotRegular { path: shown }),
            },
            Err(OpenError::NotFound) => Err(Refusal::NotFound { path: shown }),
            Err(OpenError::Link | OpenError::Moved) => Err(Refusal::Changed { path: shown }),
            Err(OpenError::Io(error)) => Err(Refusal::Unreadable {
                path: shown,
                reason: error.to_string(),
            }),
        }
    }

    /// True when an entry a directory walk reported (with the inode it read) is really at
    /// its path inside a root, reached through real directories only, and not denied.
    pub(crate) fn entry_is_inside(&self, abs: &Path, inode: Option<u64>) -> bool {
        let Some(root) = self.root_of(abs) else {
            return false;
        };
        let Ok(relative) = abs.strip_prefix(root) else {
            return false;
        };
        !self.is_denied(abs) && open::entry_is_beneath(root, relative, inode)
    }

    /// Resolves a path the model asked for (workspace-relative, or absolute inside a root)
    /// to the canonical path of an existing regular file or directory inside a root.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, Refusal> {
        let result = self.resolve_inner(requested);
        if let Err(refusal) = &result {
            tracing::debug!(requested = %quote(requested), %refusal, "sandbox refused a path");
        }
        result
    }

    /// What every requested path is checked for first (no NUL byte, a root to look in), then
    /// the path as quoted back to the model and without its surrounding white space.
    fn requested<'a>(&self, requested: &'a str) -> Result<(String, &'a str), Refusal> {
        if requested.contains('\0') {
            return Err(Refusal::NulByte);
        }
        if self.roots.is_empty() {
            return Err(self.no_workspace());
        }
        Ok((quote(requested), requested.trim()))
    }

    fn resolve_inner(&self, requested: &str) -> Result<PathBuf, Refusal> {
        let (shown, trimmed) = self.requested(requested)?;
        let requested_path = Path::new(if trimmed.is_empty() { "." } else { trimmed });

        let candidates = self.candidates(requested_path);
        // The first candidate that exists, else the first one (for the error message).
        let lexical = candidates
            .iter()
            .find(|candidate| fs::symlink_metadata(candidate).is_ok())
            .or(candidates.first())
            .cloned()
            .unwrap_or_else(|| requested_path.to_path_buf());

        if is_system_path(&lexical) {
            return Err(Refusal::SystemPath { path: shown });
        }
        let lexically_inside = self.root_of(&lexical).is_some();
        if lexically_inside {
            self.check_denied(&lexical, &shown)?;
        }

        let canonical = match fs::canonicalize(&lexical) {
            Ok(path) => path,
            Err(_) if !lexically_inside => return Err(Refusal::Outside { path: shown }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // A dangling symlink whose target is outside is still an escape attempt.
                if fs::symlink_metadata(&lexical).is_ok_and(|meta| meta.file_type().is_symlink())
                    && fs::read_link(&lexical).is_ok_and(|target| {
                        let joined = lexical.parent().unwrap_or(Path::new("/")).join(target);
                        self.root_of(&normalize(&joined)).is_none()
                    })
                {
                    return Err(Refusal::SymlinkOutside { path: shown });
                }
                return Err(Refusal::NotFound { path: shown });
            }
            Err(error) => {
                return Err(Refusal::Unreadable {
                    path: shown,
                    reason: error.to_string(),
                });
            }
        };

        if is_system_path(&canonical) {
            return Err(Refusal::SystemPath { path: shown });
        }
        if self.root_of(&canonical).is_none() {
            return Err(if lexically_inside {
                Refusal::SymlinkOutside { path: shown }
            } else {
                Refusal::Outside { path: shown }
            });
        }
        self.check_denied(&canonical, &shown)?;

        match fs::metadata(&canonical) {
            Ok(meta) if meta.is_file() || meta.is_dir() => Ok(canonical),
            Ok(_) => Err(Refusal::NotRegular { path: shown }),
            Err(error) => Err(Refusal::Unreadable {
                path: shown,
                reason: error.to_string(),
            }),
        }
    }

    /// Absolute, lexically normalised paths the request could mean, most likely first.
    fn candidates(&self, requested: &Path) -> Vec<PathBuf> {
        if requested.is_absolute() {
            return vec![normalize(requested)];
        }
        let mut candidates: Vec<PathBuf> = self
            .roots
            .iter()
            .map(|root| normalize(&root.join(requested)))
            .collect();
        // With several roots, `rootname/rest` names a file of that root.
        if self.roots.len() > 1 {
            let mut components = requested.components();
            if let Some(Component::Normal(first)) = components.next() {
                for root in &self.roots {
                    if root.file_name() == Some(first) {
                        candidates.push(normalize(&root.join(components.as_path())));
                    }
                }
            }
        }
        candidates
    }

    /// The root that contains `abs` (the deepest one when roots nest).
    pub fn root_of(&self, abs: &Path) -> Option<&Path> {
        self.roots
            .iter()
            .filter(|root| abs.starts_with(root))
            .max_by_key(|root| root.components().count())
            .map(PathBuf::as_path)
    }

    /// Workspace-relative path with `/` separators, for messages and tool output. With
    /// several roots the root's folder name comes first; `.` stands for the (only) root.
    /// Control characters are escaped (`\n`), so a file name cannot forge an output line.
    pub fn display(&self, abs: &Path) -> String {
        escape_name(&self.display_raw(abs))
    }

    fn display_raw(&self, abs: &Path) -> String {
        let Some(root) = self.root_of(abs) else {
            return abs.to_string_lossy().replace('\\', "/");
        };
        let relative = abs.strip_prefix(root).unwrap_or(abs);
        let mut parts: Vec<String> = Vec::new();
        if self.roots.len() > 1
            && let Some(name) = root.file_name()
        {
            parts.push(name.to_string_lossy().into_owned());
        }
        parts.extend(
            relative
                .components()
                .map(|component| component.as_os_str().to_string_lossy().into_owned()),
        );
        if parts.is_empty() {
            ".".to_owned()
        } else {
            parts.join("/")
        }
    }

    /// True when a file or directory name alone marks a secret (`.env`, `id_rsa`, `.git`).
    pub fn is_secret_name(&self, name: &OsStr) -> bool {
        secrets::is_secret_name(&name.to_string_lossy())
    }

    /// True when a path inside a root is a secret or denied by the configuration: every
    /// component of it relative to its root is checked. Paths outside every root are denied.
    pub fn is_denied(&self, abs: &Path) -> bool {
        self.denial(abs).is_some()
    }

    /// True when there are deny globs from the configuration (walkers then check whole
    /// relative paths, not just names).
    pub(crate) fn has_extra_denies(&self) -> bool {
        !self.extra.is_empty()
    }

    /// The name-only part of the deny rules, for walkers that see one new component at a
    /// time (their parents were checked when they were entered).
    pub(crate) fn is_denied_entry(&self, abs: &Path) -> bool {
        match abs.file_name() {
            Some(name) if self.is_secret_name(name) => true,
            _ => self.has_extra_denies() && self.is_denied(abs),
        }
    }

    fn check_denied(&self, abs: &Path, shown: &str) -> Result<(), Refusal> {
        match self.denial(abs) {
            None => Ok(()),
            Some(None) => Err(Refusal::Secret {
                path: shown.to_owned(),
            }),
            Some(Some(pattern)) => Err(Refusal::Denied {
                path: shown.to_owned(),
                pattern,
            }),
        }
    }

    /// `None` when allowed, `Some(None)` for a secret, `Some(Some(pattern))` for a
    /// configured deny glob. A path must pass the rules relative to every root that holds
    /// it: a nested workspace folder (`ws/private` beside `ws`) does not lift a rule of the
    /// outer one (`private/**`).
    fn denial(&self, abs: &Path) -> Option<Option<String>> {
        let mut holding = self
            .roots
            .iter()
            .filter(|root| abs.starts_with(root))
            .peekable();
        if holding.peek().is_none() {
            return Some(None);
        }
        holding.find_map(|root| self.denial_below(root, abs))
    }

    /// The rules for `abs` relative to one root that holds it.
    fn denial_below(&self, root: &Path, abs: &Path) -> Option<Option<String>> {
        let relative = abs.strip_prefix(root).unwrap_or(abs);
        let mut prefix = PathBuf::new();
        for component in relative.components() {
            let name = component.as_os_str();
            if self.is_secret_name(name) {
                return Some(None);
            }
            prefix.push(name);
            if !self.extra.is_empty() {
                let hits = self.extra.matches(Path::new(name));
                let hits = if hits.is_empty() {
                    self.extra.matches(&prefix)
                } else {
                    hits
                };
                if let Some(index) = hits.first() {
                    return Some(Some(
                        self.extra_patterns.get(*index).cloned().unwrap_or_default(),
                    ));
                }
            }
        }
        None
    }
}

/// Where an open document lives, as far as the rules on what may be sent care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A `file:` document, or an unsaved (`untitled:`) one that names the path it will be
    /// saved to: the path as [`real_path`] resolves it.
    Path(PathBuf),
    /// An unsaved buffer with only a name (`untitled:Untitled-1`).
    Name(String),
    /// Another scheme (`vscode-vfs:`, `git:`, ...), with its decoded path: not a file here.
    Elsewhere(String),
}

/// The requested path as quoted back to the model: one line, bounded length.
fn quote(requested: &str) -> String {
    one_line(requested, MAX_QUOTED_PATH)
}

#[cfg(test)]
mod tests;

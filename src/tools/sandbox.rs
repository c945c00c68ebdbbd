//! The sandbox that confines every tool to the workspace roots: paths are normalised and
//! canonicalised (symlinks followed) and must stay inside a root; system directories,
//! special files and secrets (`.env`, keys, `.git/`, ...) are refused with a sentence the
//! model can read.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// File and directory names that may hold secrets; matched (case-insensitively) against
/// every component of a path relative to its root.
const SECRET_NAMES: &[&str] = &[
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    ".ssh",
    ".git",
    ".aws",
    "credentials*",
    "*.p12",
    "*.pfx",
    ".netrc",
    ".npmrc",
    ".pypirc",
];

/// Directories whose contents are never workspace files, even when a root sits above them.
const SYSTEM_DIRS: &[&str] = &["/proc", "/sys", "/dev"];

/// Longest requested path quoted back in a refusal, in characters.
const MAX_QUOTED_PATH: usize = 200;

/// Why a path was refused; `Display` is a sentence the model can read and act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("refused: there is no workspace folder to read from")]
    NoWorkspace,
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
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
}

/// The workspace roots plus the deny rules; cheap to clone, shared by every tool call.
#[derive(Clone, Debug)]
pub struct Sandbox {
    roots: Vec<PathBuf>,
    secrets: GlobSet,
    extra: GlobSet,
    extra_patterns: Vec<String>,
}

impl Sandbox {
    /// Roots are canonicalised; roots that don't exist are skipped. Invalid extra globs are
    /// skipped with a warning rather than failing the whole server.
    pub fn new(roots: Vec<PathBuf>, extra_deny_globs: &[String]) -> Self {
        let mut canonical_roots: Vec<PathBuf> = Vec::new();
        for root in roots {
            match fs::canonicalize(&root) {
                Ok(path) if path.is_dir() => {
                    if !canonical_roots.contains(&path) {
                        canonical_roots.push(path);
                    }
                }
                Ok(path) => {
                    tracing::warn!(root = %path.display(), "workspace root is not a directory, skipped")
                }
                Err(error) => {
                    tracing::warn!(root = %root.display(), %error, "workspace root cannot be opened, skipped")
                }
            }
        }

        let mut secrets = GlobSetBuilder::new();
        for pattern in SECRET_NAMES {
            // The patterns are constants and known to be valid globs. They are matched
            // against lowercased names: case-sensitive globs keep globset's fast paths.
            if let Ok(glob) = GlobBuilder::new(pattern).build() {
                secrets.add(glob);
            }
        }

        let mut extra = GlobSetBuilder::new();
        let mut extra_patterns = Vec::new();
        for pattern in extra_deny_globs {
            let trimmed = pattern.trim().trim_end_matches('/');
            if trimmed.is_empty() {
                continue;
            }
            match GlobBuilder::new(trimmed).literal_separator(false).build() {
                Ok(glob) => {
                    extra.add(glob);
                    extra_patterns.push(pattern.clone());
                }
                Err(error) => tracing::warn!(%pattern, %error, "invalid deny glob skipped"),
            }
        }

        Sandbox {
            roots: canonical_roots,
            secrets: secrets.build().unwrap_or_else(|_| GlobSet::empty()),
            extra: extra.build().unwrap_or_else(|_| GlobSet::empty()),
            extra_patterns,
        }
    }

    /// The canonical workspace roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
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

    fn resolve_inner(&self, requested: &str) -> Result<PathBuf, Refusal> {
        if requested.contains('\0') {
            return Err(Refusal::NulByte);
        }
        if self.roots.is_empty() {
            return Err(Refusal::NoWorkspace);
        }
        let shown = quote(requested);
        let trimmed = requested.trim();
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
    pub fn display(&self, abs: &Path) -> String {
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
        let name = name.to_string_lossy();
        if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
            self.secrets.is_match(name.to_ascii_lowercase())
        } else {
            self.secrets.is_match(&*name)
        }
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
    /// configured deny glob.
    fn denial(&self, abs: &Path) -> Option<Option<String>> {
        let Some(root) = self.root_of(abs) else {
            return Some(None);
        };
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

/// Collapses `.` and `..` without touching the filesystem (`..` never climbs above `/`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn is_system_path(path: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|dir| path.starts_with(dir))
}

/// The requested path as quoted back to the model: one line, bounded length.
fn quote(requested: &str) -> String {
    super::one_line(requested, MAX_QUOTED_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        ws: PathBuf,
        outside: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let ws = base.join("ws");
        let outside = base.join("outside");
        fs::create_dir_all(ws.join("src")).unwrap();
        fs::create_dir_all(ws.join("sub/.ssh")).unwrap();
        fs::create_dir_all(ws.join(".git")).unwrap();
        fs::create_dir_all(ws.join("private")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(ws.join("src/lib.rs"), "fn main() {}\n").unwrap();
        fs::write(ws.join(".env"), "API_KEY=sk-secret\n").unwrap();
        fs::write(ws.join(".env.local"), "API_KEY=sk-secret\n").unwrap();
        fs::write(ws.join(".git/config"), "[core]\n").unwrap();
        fs::write(ws.join("sub/.ssh/id_rsa"), "KEY").unwrap();
        fs::write(ws.join("server.pem"), "PEM").unwrap();
        fs::write(ws.join("private/notes.txt"), "private").unwrap();
        fs::write(outside.join("secret.txt"), "outside secret").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.txt"), ws.join("link_file")).unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("link_dir")).unwrap();
        std::os::unix::fs::symlink(ws.join("src/lib.rs"), ws.join("inner_link")).unwrap();
        std::os::unix::fs::symlink(ws.join(".env"), ws.join("innocent.txt")).unwrap();
        Fixture {
            _dir: dir,
            ws,
            outside,
        }
    }

    fn sandbox(fixture: &Fixture) -> Sandbox {
        Sandbox::new(vec![fixture.ws.clone()], &["private/**".to_owned()])
    }

    #[test]
    fn resolves_relative_absolute_and_inner_symlinks() {
        let fixture = fixture();
        let sandbox = sandbox(&fixture);
        let lib = fixture.ws.join("src/lib.rs");
        assert_eq!(sandbox.resolve("src/lib.rs"), Ok(lib.clone()));
        assert_eq!(sandbox.resolve("./src/../src/lib.rs"), Ok(lib.clone()));
        assert_eq!(sandbox.resolve(lib.to_str().unwrap()), Ok(lib.clone()));
        assert_eq!(sandbox.resolve("inner_link"), Ok(lib.clone()));
        assert_eq!(sandbox.resolve(""), Ok(fixture.ws.clone()));
        assert_eq!(sandbox.resolve("."), Ok(fixture.ws.clone()));
        assert_eq!(sandbox.display(&lib), "src/lib.rs");
        assert_eq!(sandbox.display(&fixture.ws), ".");
    }

    #[test]
    fn attack_table_is_refused_with_readable_messages() {
        let fixture = fixture();
        let sandbox = sandbox(&fixture);
        let fifo = fixture.ws.join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let sibling = fixture.outside.join("secret.txt");
        let sibling = sibling.to_str().unwrap();
        let cases: Vec<(&str, Refusal)> = vec![
            (
                "../outside/secret.txt",
                Refusal::Outside {
                    path: "../outside/secret.txt".into(),
                },
            ),
            (
                "/etc/passwd",
                Refusal::Outside {
                    path: "/etc/passwd".into(),
                },
            ),
            (
                sibling,
                Refusal::Outside {
                    path: sibling.into(),
                },
            ),
            (
                "link_file",
                Refusal::SymlinkOutside {
                    path: "link_file".into(),
                },
            ),
            (
                "link_dir",
                Refusal::SymlinkOutside {
                    path: "link_dir".into(),
                },
            ),
            (
                "link_dir/secret.txt",
                Refusal::SymlinkOutside {
                    path: "link_dir/secret.txt".into(),
                },
            ),
            (
                "/proc/self/environ",
                Refusal::SystemPath {
                    path: "/proc/self/environ".into(),
                },
            ),
            (
                ".env",
                Refusal::Secret {
                    path: ".env".into(),
                },
            ),
            (
                ".env.local",
                Refusal::Secret {
                    path: ".env.local".into(),
                },
            ),
            (
                ".git/config",
                Refusal::Secret {
                    path: ".git/config".into(),
                },
            ),
            (
                "sub/.ssh/id_rsa",
                Refusal::Secret {
                    path: "sub/.ssh/id_rsa".into(),
                },
            ),
            (
                "server.pem",
                Refusal::Secret {
                    path: "server.pem".into(),
                },
            ),
            (
                "innocent.txt",
                Refusal::Secret {
                    path: "innocent.txt".into(),
                },
            ),
            (
                "pipe",
                Refusal::NotRegular {
                    path: "pipe".into(),
                },
            ),
            ("src/lib.rs\0", Refusal::NulByte),
            (
                "private/notes.txt",
                Refusal::Denied {
                    path: "private/notes.txt".into(),
                    pattern: "private/**".into(),
                },
            ),
            (
                "missing.rs",
                Refusal::NotFound {
                    path: "missing.rs".into(),
                },
            ),
            (
                "../outside/missing.rs",
                Refusal::Outside {
                    path: "../outside/missing.rs".into(),
                },
            ),
        ];
        for (requested, expected) in cases {
            let refusal = sandbox.resolve(requested).unwrap_err();
            assert_eq!(refusal, expected, "for {requested:?}");
            let message = refusal.to_string();
            assert!(!message.ends_with('.'), "{message}");
            assert!(!message.contains("outside secret"), "{message}");
        }
        assert_eq!(
            sandbox.resolve("../x").unwrap_err().to_string(),
            "refused: `../x` is outside the workspace"
        );
    }

    #[test]
    fn secrets_and_denies_are_checked_per_component() {
        let fixture = fixture();
        let sandbox = sandbox(&fixture);
        assert!(sandbox.is_denied(&fixture.ws.join(".git/HEAD")));
        assert!(sandbox.is_denied(&fixture.ws.join("a/b/credentials.json")));
        assert!(sandbox.is_denied(&fixture.ws.join("deploy/TLS.KEY")));
        assert!(sandbox.is_denied(&fixture.ws.join("private/x/y.txt")));
        assert!(sandbox.is_denied(&fixture.outside.join("secret.txt")));
        assert!(!sandbox.is_denied(&fixture.ws.join("src/keyboard.rs")));
        assert!(!sandbox.is_denied(&fixture.ws.join("src/environment.rs")));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn any_requested_path_resolves_inside_a_root_or_is_refused(
            requested in "(\\.\\./|\\./|/|src/|link_dir/|\\.env|\\.git/|[a-z.]{1,6}|\\PC{0,4}){0,6}"
        ) {
            let fixture = fixture();
            let sandbox = sandbox(&fixture);
            if let Ok(path) = sandbox.resolve(&requested) {
                proptest::prop_assert!(path.starts_with(&fixture.ws), "{path:?}");
                proptest::prop_assert!(!sandbox.is_denied(&path), "{path:?}");
            }
        }
    }

    #[test]
    fn missing_roots_are_skipped_and_several_roots_are_prefixed() {
        let fixture = fixture();
        let other = fixture.outside.clone();
        let sandbox = Sandbox::new(
            vec![
                fixture.ws.clone(),
                PathBuf::from("/definitely/not/here"),
                other.clone(),
            ],
            &[],
        );
        assert_eq!(sandbox.roots(), &[fixture.ws.clone(), other.clone()]);
        let secret = other.join("secret.txt");
        assert_eq!(sandbox.display(&secret), "outside/secret.txt");
        assert_eq!(sandbox.resolve("outside/secret.txt"), Ok(secret.clone()));
        assert_eq!(sandbox.resolve("secret.txt"), Ok(secret));
        let empty = Sandbox::new(vec![], &[]);
        assert_eq!(empty.resolve("x"), Err(Refusal::NoWorkspace));
    }
}

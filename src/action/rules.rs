//! Project rules (`rules.enabled`): the instructions a project writes for AI tools —
//! `AGENTS.md`, `CLAUDE.md` and `.github/copilot-instructions.md` at each workspace root, and
//! the nearest `AGENTS.md` between the file's folder and its root — sent in the system
//! message after the constant prompt, as "Project rules from <path>: …".
//!
//! Every file is found and read through the sandbox, like a tool's read: a rules file that is
//! a link out of the workspace, a secret, a path `tools.deny` names, a FIFO or a binary file
//! is not read. The order is fixed (the roots in order, each root's three files in the order
//! above, then the nested `AGENTS.md`), so every request about the same file carries the same
//! bytes, and every request of the workspace the same bytes up to the nested file: the
//! gateway's cached prefix holds. At most [`MAX_BYTES`] in all, cut with a note.
//!
//! What was read is kept per canonical path with the file's size, modification time and
//! inode; a request re-checks each path through the sandbox (a few `stat` calls) and reads a
//! file again only when that stamp changed, so an edit to a rules file, in the editor or not,
//! reaches the next request.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::tools::sandbox::{Opened, Refusal, Sandbox, real_path};

/// The most bytes of rules sent in all (headers included); the rest is cut with a note.
pub const MAX_BYTES: usize = 16 * 1024;

/// The files read at each root, in this order.
pub const ROOT_FILES: [&str; 3] = ["AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md"];

/// The file looked for between a file's folder and its root.
pub const NESTED_FILE: &str = "AGENTS.md";

/// Paths remembered at most; past that the cache starts again (roots come and go).
const MAX_REMEMBERED: usize = 256;

/// One rules file as sent: its workspace-relative path and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFile {
    pub shown: String,
    pub text: Arc<str>,
}

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// A file as it was read: the stamp it had and its text (`None`: not rules text, such as a
/// binary file).
type ReadFile = (Stamp, Option<Arc<str>>);

/// The rules files read so far in one workspace (the server's session, or one `chatls ask`).
#[derive(Debug, Default)]
pub struct RulesCache {
    /// Canonical path → what was read there.
    read: Mutex<HashMap<PathBuf, ReadFile>>,
}

impl RulesCache {
    /// The part of the system message after the constant prompt for a request about `file`
    /// (empty when there are no rules): a few `stat` calls, and a read when a file changed.
    pub fn system_part(&self, sandbox: &Sandbox, file: Option<&Path>) -> String {
        render(&self.gather(sandbox, file))
    }

    /// The rules files for a request about `file`, in the order they are sent.
    pub fn gather(&self, sandbox: &Sandbox, file: Option<&Path>) -> Vec<RuleFile> {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut files = Vec::new();
        for candidate in candidates(sandbox, file) {
            // Most candidates do not exist: one `lstat` says so before the sandbox's walk
            // through every component (a broken link exists here, and the sandbox refuses it).
            if std::fs::symlink_metadata(&candidate).is_err() {
                continue;
            }
            let canonical = match sandbox.resolve(&candidate.to_string_lossy()) {
                Ok(canonical) => canonical,
                Err(Refusal::NotFound { .. }) => continue,
                Err(refusal) => {
                    tracing::info!(%refusal, "a project rules file was not read");
                    continue;
                }
            };
            // CLAUDE.md is often a link to AGENTS.md: the same file is sent once.
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical.clone());
            if let Some(text) = self.text_of(sandbox, &canonical) {
                files.push(RuleFile {
                    shown: sandbox.display(&candidate),
                    text,
                });
            }
        }
        files
    }

    /// The text of a rules file the sandbox resolved: from the cache while its stamp holds.
    fn text_of(&self, sandbox: &Sandbox, canonical: &Path) -> Option<Arc<str>> {
        let stamp = std::fs::metadata(canonical)
            .ok()
            .map(|meta| Stamp::of(&meta))?;
        if let Ok(read) = self.read.lock()
            && let Some((known, text)) = read.get(canonical)
            && *known == stamp
        {
            return text.clone();
        }
        let text = read_rules(sandbox, canonical);
        if let Ok(mut read) = self.read.lock() {
            if read.len() >= MAX_REMEMBERED {
                read.clear();
            }
            read.insert(canonical.to_owned(), (stamp, text.clone()));
        }
        text
    }
}

/// The paths that may hold rules for a request about `file`, in the order they are sent:
/// each root's files, then the nearest `AGENTS.md` below the file's root.
fn candidates(sandbox: &Sandbox, file: Option<&Path>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for root in sandbox.roots() {
        paths.extend(ROOT_FILES.iter().map(|name| root.join(name)));
    }
    let Some(file) = file else {
        return paths;
    };
    let file = real_path(file);
    let Some(root) = sandbox.root_of(&file) else {
        return paths;
    };
    let mut dir = file.parent();
    while let Some(folder) = dir {
        if folder == root || !folder.starts_with(root) {
            break;
        }
        let nested = folder.join(NESTED_FILE);
        if std::fs::symlink_metadata(&nested).is_ok() {
            paths.push(nested);
            break;
        }
        dir = folder.parent();
    }
    paths
}

/// Reads a resolved rules file from what the sandbox opened: at most what can be sent;
/// `None` for a directory, a refusal or a file that is not text.
fn read_rules(sandbox: &Sandbox, canonical: &Path) -> Option<Arc<str>> {
    let file = match sandbox.open(canonical) {
        Ok(Opened::File { file, .. }) => file,
        Ok(Opened::Dir) => return None,
        Err(refusal) => {
            tracing::info!(%refusal, "a project rules file was not read");
            return None;
        }
    };
    let mut bytes = Vec::new();
    // A few bytes over the limit, so a character cut by the read is told from a bad one.
    let limit = MAX_BYTES + 4;
    if let Err(error) = file.take(limit as u64).read_to_end(&mut bytes) {
        tracing::info!(%error, "a project rules file could not be read");
        return None;
    }
    text(&bytes, bytes.len() >= limit).map(Arc::from)
}

/// The bytes of a rules file as text: `None` when they are not text (a NUL byte, or not
/// UTF-8 — apart from a character cut at the end of a partial read).
fn text(bytes: &[u8], partial: bool) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text.to_owned()),
        Err(error) if partial && error.error_len().is_none() => {
            Some(String::from_utf8_lossy(&bytes[..error.valid_up_to()]).into_owned())
        }
        Err(_) => None,
    }
}

/// The rules as they follow the constant system prompt: nothing without rules; else each
/// file as "Project rules from <path>:" and its text, at most [`MAX_BYTES`] in all, then a
/// note naming what was cut. Pure: the same files give the same bytes.
pub fn render(files: &[RuleFile]) -> String {
    let mut out = String::new();
    // Where each file's part starts in `out`, to name what a cut leaves out.
    let mut starts: Vec<(usize, &str)> = Vec::new();
    for file in files {
        let text = file.text.trim_matches(|c| c == '\n' || c == '\r');
        if text.trim().is_empty() {
            continue;
        }
        starts.push((out.len(), &file.shown));
        out.push_str("\n\nProject rules from ");
        out.push_str(&file.shown);
        out.push_str(":\n");
        out.push_str(text);
    }
    if out.len() <= MAX_BYTES {
        return out;
    }
    let cut = cut_point(&out, MAX_BYTES);
    let mut left_out: Vec<String> = Vec::new();
    for (index, (start, shown)) in starts.iter().enumerate() {
        let end = starts.get(index + 1).map_or(out.len(), |(next, _)| *next);
        if *start >= cut {
            left_out.push(format!("all of {shown}"));
        } else if end > cut {
            left_out.push(format!("the end of {shown}"));
        }
    }
    out.truncate(cut);
    out.push_str(&format!(
        "\n\n[chatls cut the project rules here: they are limited to {} KB in all; left out: {}.]",
        MAX_BYTES / 1024,
        left_out.join(", ")
    ));
    out
}

/// Where to cut `text` to keep at most `limit` bytes: after the last whole line when that
/// keeps at least half, else at the last character boundary.
fn cut_point(text: &str, limit: usize) -> usize {
    let mut cut = limit.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    match text[..cut].rfind('\n') {
        Some(line_end) if line_end >= limit / 2 => line_end,
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(shown: &str, text: &str) -> RuleFile {
        RuleFile {
            shown: shown.to_owned(),
            text: Arc::from(text),
        }
    }

    #[test]
    fn rules_follow_in_order_with_their_paths() {
        assert_eq!(render(&[]), "");
        let rendered = render(&[
            file("AGENTS.md", "Use tabs.\n"),
            file("CLAUDE.md", "\n"),
            file("src/AGENTS.md", "No unwrap.\r\n"),
        ]);
        assert_eq!(
            rendered,
            "\n\nProject rules from AGENTS.md:\nUse tabs.\n\nProject rules from src/AGENTS.md:\nNo unwrap."
        );
    }

    #[test]
    fn past_the_limit_the_rules_are_cut_with_a_note_naming_what_was_left_out() {
        let line = "Write small functions and test each one.\n";
        let big = line.repeat(MAX_BYTES / line.len() + 10);
        let rendered = render(&[
            file("AGENTS.md", &big),
            file("CLAUDE.md", "Never push."),
            file("src/AGENTS.md", "ü".repeat(10).as_str()),
        ]);
        let (rules, note) = rendered.split_once("\n\n[chatls cut").unwrap();
        assert!(rules.len() <= MAX_BYTES, "{}", rules.len());
        assert!(rules.len() > MAX_BYTES - line.len(), "cut at a whole line");
        assert!(
            rules.ends_with("each one."),
            "{:?}",
            &rules[rules.len() - 20..]
        );
        assert!(note.contains("16 KB"), "{note}");
        assert!(note.contains("the end of AGENTS.md"), "{note}");
        assert!(note.contains("all of CLAUDE.md"), "{note}");
        assert!(note.contains("all of src/AGENTS.md"), "{note}");
        // A text with no line breaks is cut at a character boundary.
        let rendered = render(&[file("AGENTS.md", &"ü".repeat(MAX_BYTES))]);
        let (rules, _) = rendered.split_once("\n\n[chatls cut").unwrap();
        assert!(rules.len() <= MAX_BYTES);
    }

    #[test]
    fn binary_bytes_are_not_rules() {
        assert_eq!(text(b"Use tabs.\n", false).as_deref(), Some("Use tabs.\n"));
        assert_eq!(text(b"a\0b", false), None);
        assert_eq!(text(b"a\xffb", false), None);
        // A character cut by a partial read is dropped, not a reason to refuse the file.
        assert_eq!(
            text("aü".as_bytes()[..2].as_ref(), true).as_deref(),
            Some("a")
        );
        assert_eq!(text("aü".as_bytes()[..2].as_ref(), false), None);
    }
}

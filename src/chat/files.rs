//! Transcripts on disk: one markdown file per conversation under the user's cache directory
//! (the explanations directory), opened beside the code with `window/showDocument` (a real
//! `file:` path, since Helix opens no other scheme).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

use crate::action::ActionInput;

/// How many explanation files are kept; older ones are removed when a new one is written.
pub const KEEP_FILES: usize = 200;

/// `$XDG_CACHE_HOME/chatls/explanations` (or the platform's cache dir).
pub fn default_dir() -> io::Result<PathBuf> {
    dirs::cache_dir()
        .map(|cache| cache.join("chatls").join("explanations"))
        .ok_or_else(|| io::Error::other("no cache directory is known for this user"))
}

/// A one-off markdown file for an answer that is not part of a transcript (an edit's answer
/// that was not applied, say); returns its path. Prunes like the transcripts.
pub fn write(dir: &Path, input: &ActionInput, answer: &str) -> io::Result<PathBuf> {
    let (first, last) = input.selected_lines();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let path = dir.join(format!("answer-{stamp}-{:08x}.md", rand::random::<u32>()));
    let text = format!(
        "# {} — lines {}-{}\n\n{}\n",
        input.display_path,
        first + 1,
        last + 1,
        answer.trim()
    );
    save(&path, &text)?;
    Ok(path)
}

/// The code file's name made safe for a file name of chatls's own (transcripts, review
/// diffs): letters, digits, `.`, `-` and `_` kept, anything else `_`.
pub fn file_stem(display_path: &str) -> String {
    Path::new(display_path)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "selection".to_owned())
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The transcript file of a conversation: named after the code's file and the
/// conversation id, so each conversation has one file and a reset starts another.
pub fn transcript_path(dir: &Path, display_path: &str, conversation_id: &str) -> PathBuf {
    let stem = file_stem(display_path);
    let short: String = conversation_id.chars().take(12).collect();
    dir.join(format!("{stem}-{short}.md"))
}

/// The transcript's text on disk; empty when it does not exist yet.
pub fn read(path: &Path) -> io::Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(error),
    }
}

/// Writes a transcript whole (through a temporary file, so a reader never sees half of it)
/// and prunes the oldest files beyond [`KEEP_FILES`].
pub fn save(path: &Path, text: &str) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a transcript path needs a directory"))?;
    fs::create_dir_all(dir)?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{stamp}-{:08x}.tmp", rand::random::<u32>()));
    fs::write(&temporary, text)?;
    if let Err(error) = fs::rename(&temporary, path) {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    prune(dir, KEEP_FILES);
    Ok(())
}

fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "md"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - keep] {
        let _ = fs::remove_file(path);
    }
}

/// One answer at a time per transcript: its text is read, appended to and written whole, so
/// two answers finishing together would otherwise each write the text without the other's.
#[derive(Default)]
pub struct TranscriptLocks {
    by_path: DashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>,
}

impl TranscriptLocks {
    /// Waits until no other answer is being added to the transcript at `path`.
    pub async fn lock(&self, path: &Path) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = Arc::clone(
            self.by_path
                .entry(transcript_file(path))
                .or_default()
                .value(),
        );
        lock.lock_owned().await
    }
}

/// The transcript's file, the same however it was spelled (its directory resolved).
pub fn transcript_file(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .join(name),
        _ => path.to_path_buf(),
    }
}

/// The key its transcript gives a conversation: the file, not the URI the editor opened it
/// under, so closing and reopening it (under any spelling) leads to the same conversation.
pub fn conversation_key(path: &Path) -> String {
    format!("transcript:{}", transcript_file(path).display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_per_conversation_written_whole_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = transcript_path(dir.path(), "src/my lib.rs", "0123456789abcdef0123");
        assert_eq!(path.file_name().unwrap(), "my_lib.rs-0123456789ab.md");
        assert_eq!(read(&path).unwrap(), "");
        save(&path, "one").unwrap();
        save(&path, "two").unwrap();
        assert_eq!(read(&path).unwrap(), "two");
        for index in 0..5 {
            save(&dir.path().join(format!("{index}.md")), "x").unwrap();
        }
        prune(dir.path(), 3);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}

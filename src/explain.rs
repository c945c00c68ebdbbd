//! Explanations on disk: markdown files under the user's cache directory, opened beside the
//! code with `window/showDocument` (a real `file:` path, since Helix opens no other scheme).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::action::ActionInput;

/// How many explanation files are kept; older ones are removed when a new one is written.
pub const KEEP_FILES: usize = 200;

/// `$XDG_CACHE_HOME/chatls/explanations` (or the platform's cache dir).
pub fn default_dir() -> io::Result<PathBuf> {
    dirs::cache_dir()
        .map(|cache| cache.join("chatls").join("explanations"))
        .ok_or_else(|| io::Error::other("no cache directory is known for this user"))
}

/// The markdown document written for an explanation.
pub fn render(input: &ActionInput, answer: &str) -> String {
    let (first, last) = input.selected_lines();
    format!(
        "# {} — lines {}-{}\n\n{}\n",
        input.display_path,
        first + 1,
        last + 1,
        answer.trim()
    )
}

/// Writes the explanation and returns its path; prunes the oldest files beyond [`KEEP_FILES`].
pub fn write(dir: &Path, input: &ActionInput, answer: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let (first, last) = input.selected_lines();
    let stem: String = Path::new(&input.display_path)
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
        .collect();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    let path = dir.join(format!(
        "{stem}-L{}-{}-{stamp}-{nonce:08x}.md",
        first + 1,
        last + 1
    ));
    fs::write(&path, render(input, answer))?;
    prune(dir, KEEP_FILES);
    Ok(path)
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

#[cfg(test)]
mod tests {
    use ropey::Rope;

    use super::*;
    use crate::action::ActionKind;

    #[test]
    fn writes_markdown_with_a_heading_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let input = ActionInput {
            kind: ActionKind::Explain,
            uri: "file:///w/src/my lib.rs".into(),
            path: None,
            display_path: "src/my lib.rs".into(),
            language_id: "rust".into(),
            text: Rope::from_str("a\nb\nc\n"),
            version: 0,
            selection: 2..6,
            instruction: None,
            diagnostics: Vec::new(),
        };
        let path = write(dir.path(), &input, "  It adds.  ").unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("my_lib.rs-L2-3-"), "{name}");
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# src/my lib.rs — lines 2-3\n\nIt adds.\n");
        for _ in 0..5 {
            write(dir.path(), &input, "x").unwrap();
        }
        prune(dir.path(), 3);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}

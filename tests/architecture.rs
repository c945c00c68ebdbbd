//! The code map in ARCHITECTURE.md is kept true: every source file opens with a `//!` line
//! saying what it is, and every file is named in the map under its folder's heading, so a
//! newcomer who reads the map finds every file and a moved or added file fails here until
//! the map says where it went.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // Unit tests moved out of a module (`tests.rs`, `test_support.rs`, a `tests/` folder)
            // live beside it; they are not in the map.
            if path.file_name().is_some_and(|name| name == "tests") {
                continue;
            }
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs")
            && path
                .file_name()
                .is_some_and(|name| name != "tests.rs" && name != "test_support.rs")
        {
            out.push(path);
        }
    }
}

/// The map's text for one folder: from its `**`src/…/`**` heading to the next heading.
fn section<'a>(map: &'a str, folder: &str) -> Option<&'a str> {
    let heading = format!("**`{folder}`**");
    let start = map.find(&heading)?;
    let rest = &map[start + heading.len()..];
    let end = rest.find("\n**`").unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn every_source_file_is_described_and_in_the_code_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut missing = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).expect("readable");
        if !text.starts_with("//!") {
            missing.push(format!("{relative}: does not open with a //! line"));
        }
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Top-level files (main.rs, lib.rs, display.rs) are named by their whole path.
        let folder = relative
            .rsplit_once('/')
            .map(|(folder, _)| folder)
            .unwrap_or("");
        if folder == "src" {
            if !map.contains(&format!("`{relative}`")) && !map.contains(&format!("`{name}`")) {
                missing.push(format!("{relative}: not named in ARCHITECTURE.md"));
            }
            continue;
        }
        // The nearest folder with a heading of its own describes the file: a sub-folder
        // without one is listed in its parent's text as `name/`, with its files under it.
        let mut heading = folder;
        let section = loop {
            if let Some(section) = section(&map, &format!("{heading}/")) {
                break Some(section);
            }
            match heading.rsplit_once('/') {
                Some((parent, _)) => heading = parent,
                None => break None,
            }
        };
        let Some(section) = section else {
            missing.push(format!(
                "{relative}: no heading for {folder}/ or a folder above it"
            ));
            continue;
        };
        let own_folder = folder.rsplit('/').next().unwrap_or(folder);
        let named = if name == "mod.rs" {
            // A folder's mod.rs is its heading's own text, or its `name/` line.
            heading == folder || section.contains(&format!("`{own_folder}/`"))
        } else {
            section.contains(&format!("`{name}`"))
        };
        if !named {
            missing.push(format!(
                "{relative}: not named under **`{heading}/`** in ARCHITECTURE.md"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "the code map is out of date:\n{}",
        missing.join("\n")
    );
}

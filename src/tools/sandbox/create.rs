//! Where a file that does not exist yet would land (`create_file`): the read rules checked
//! on the nearest directory that exists. It never creates anything; staging writes, later.

use std::fs;
use std::path::{Path, PathBuf};

use super::roots::is_system_path;
use super::{Refusal, Sandbox};

impl Sandbox {
    /// Resolves a path for a file that does not exist yet (`create_file`): the same rules as
    /// [`Sandbox::resolve`] (inside a root, no system path, no secret, no deny glob), checked
    /// on the nearest directory that exists, canonicalised (a link out refuses), with the
    /// missing names appended. Anything already at the path, a dangling link included, is
    /// refused as [`Refusal::Exists`].
    pub fn resolve_new(&self, requested: &str) -> Result<PathBuf, Refusal> {
        let (shown, trimmed) = self.requested(requested)?;
        if trimmed.is_empty() || trimmed.ends_with('/') {
            return Err(Refusal::Unreadable {
                path: shown,
                reason: "a file path is needed, not a directory".to_owned(),
            });
        }
        let candidates = self.candidates(Path::new(trimmed));
        if candidates
            .iter()
            .any(|candidate| fs::symlink_metadata(candidate).is_ok())
        {
            return Err(Refusal::Exists { path: shown });
        }
        let Some(lexical) = candidates
            .iter()
            .find(|candidate| self.root_of(candidate).is_some())
            .cloned()
        else {
            return Err(Refusal::Outside { path: shown });
        };
        if is_system_path(&lexical) {
            return Err(Refusal::SystemPath { path: shown });
        }
        self.check_denied(&lexical, &shown)?;
        // The nearest ancestor that exists decides where the file would really land.
        let mut existing = lexical.clone();
        let mut missing: Vec<std::ffi::OsString> = Vec::new();
        while fs::symlink_metadata(&existing).is_err() {
            let Some(name) = existing.file_name() else {
                return Err(Refusal::Outside { path: shown });
            };
            missing.push(name.to_owned());
            if !existing.pop() {
                return Err(Refusal::Outside { path: shown });
            }
        }
        let canonical = fs::canonicalize(&existing).map_err(|error| Refusal::Unreadable {
            path: shown.clone(),
            reason: error.to_string(),
        })?;
        if is_system_path(&canonical) {
            return Err(Refusal::SystemPath { path: shown });
        }
        if self.root_of(&canonical).is_none() {
            return Err(Refusal::SymlinkOutside { path: shown });
        }
        if !canonical.is_dir() {
            return Err(Refusal::Unreadable {
                path: shown,
                reason: format!("`{}` is not a directory", self.display(&canonical)),
            });
        }
        let mut target = canonical;
        for name in missing.iter().rev() {
            target.push(name);
        }
        self.check_denied(&target, &shown)?;
        Ok(target)
    }
}

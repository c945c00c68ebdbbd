//! A change across files at the end of `chatls ask`: one unified diff of every file, and
//! with `--apply` every file written once none changed on disk since the model read it.

use std::io::Write;

use crate::tools::staging::{Base, StagedFile, read_disk_text, unified_diff};
use crate::tools::{Sandbox, Staging};

/// A change's end in the terminal: one unified diff of every file on stdout (ready for
/// `git apply`); with `--apply` every file written, once none of them changed on disk since
/// the model read it (else nothing is written).
pub(super) async fn finish_change(
    staging: &Staging,
    sandbox: &Sandbox,
    apply: bool,
    status: &dyn Fn(&str),
) -> Result<(), String> {
    let files = staging.files();
    if files.is_empty() {
        return Err("the model changed no file; nothing to show or write".to_owned());
    }
    print!("{}", crate::display::terminal(&unified_diff(&files)));
    let _ = std::io::stdout().flush();
    let names = files
        .iter()
        .map(|file| file.shown.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if !apply {
        status(&format!(
            "chatls: {} file(s) changed ({names}); not written (add --apply to write them)",
            files.len()
        ));
        return Ok(());
    }
    let sandbox = sandbox.clone();
    let written = files.clone();
    tokio::task::spawn_blocking(move || write_change(&sandbox, &written))
        .await
        .map_err(|_| "writing the change failed".to_owned())??;
    status(&format!("chatls: wrote {} file(s) ({names})", files.len()));
    Ok(())
}

/// Writes every file of a change, all checked first: a file changed on disk (or swapped for
/// a link) since the model read it, or a new file that appeared meanwhile, writes nothing.
fn write_change(sandbox: &Sandbox, files: &[StagedFile]) -> Result<(), String> {
    for file in files {
        let shown = &file.shown;
        match &file.base {
            Base::New => {
                if std::fs::symlink_metadata(&file.path).is_ok() {
                    return Err(format!(
                        "{shown} appeared while the model was working; nothing was written"
                    ));
                }
            }
            base => {
                let now = read_disk_text(sandbox, &file.path, shown)
                    .map_err(|reason| format!("{reason}; nothing was written"))?;
                if now != base.text() {
                    return Err(format!(
                        "{shown} changed on disk while the model was working; nothing was written"
                    ));
                }
            }
        }
    }
    for file in files {
        write_file(file).map_err(|error| {
            format!(
                "cannot write {}: {error} (the files before it in the diff were written)",
                file.shown
            )
        })?;
    }
    Ok(())
}

/// One file of a change: a new one created (never over something there), an existing one
/// rewritten without following a link.
fn write_file(file: &StagedFile) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if file.base == Base::New {
        if let Some(parent) = file.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        options.create_new(true);
    } else {
        options.truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
    }
    options.open(&file.path)?.write_all(file.text.as_bytes())
}

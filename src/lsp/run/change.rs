//! Delivering a change across files (a `workspace` row): the files the model staged
//! (`tools::staging`) become one `workspace/applyEdit`, all or nothing. Reviewed first unless
//! the row says `review: "apply"`: clients with change annotations get one annotation per
//! file with `needsConfirmation` (VS Code's refactor preview), others the diff of every file
//! and an Apply/Discard question (`review::question`). Then each file is placed on what it
//! is now: an open document's edits are moved through what the person typed (typing on an
//! edited line refuses the whole change, naming the file), a closed file must be on disk as
//! it was staged (read again through the sandbox: a link swapped in refuses), a new file
//! must still not exist. Cancel, checked last with no `.await` before the send, applies
//! nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{self as lsp, ChangeAnnotation};

use crate::action::ActionInput;
use crate::action::table::RowReview;
use crate::answer::edits::minimal_edits;
use crate::tools::Sandbox;
use crate::tools::staging::{Base, StagedFile, Staging, place_on, read_disk_text, unified_diff};

use super::review::Cleared;
use super::workspace_edit::{DeliveryError, EditBuilder, FileEdit, send};
use crate::lsp::client_facts::ClientFacts;
use crate::lsp::convert;
use crate::lsp::session::{Session, Snapshot};

/// The staged change sent as one workspace edit; `Ok` is the summary for the person.
pub(in crate::lsp) async fn deliver(
    session: &Session,
    client: &Client,
    snapshot: &Snapshot,
    input: &ActionInput,
    staging: &Arc<Staging>,
    sandbox: &Sandbox,
    cancel: &CancellationToken,
) -> Result<String, String> {
    let files = staging.files();
    if files.is_empty() {
        return Err("the model changed no file, so nothing was applied".to_owned());
    }
    if cancel.is_cancelled() {
        return Err(DeliveryError::Cancelled.to_string());
    }
    let facts = snapshot.facts;
    let confirm = input.action.review != Some(RowReview::Apply);
    let annotate = confirm && facts.change_annotations && facts.document_changes;
    let names = names(&files);
    if confirm && !annotate {
        let subject = format!(
            "{}: review the change to {} file{} ({names})",
            input.action.title,
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        match super::review::question(
            session,
            client,
            input,
            &subject,
            &unified_diff(&files),
            facts.show_document,
            cancel,
        )
        .await?
        {
            Cleared::Plain | Cleared::Annotated(_) => {}
        }
    }
    // Files not open in the editor are read again (blocking I/O, off the runtime): each must
    // be as the change found it.
    let closed: Vec<StagedFile> = files
        .iter()
        .filter(|file| !matches!(file.base, Base::New) && session.open_uri(&file.path).is_none())
        .cloned()
        .collect();
    let checker = sandbox.clone();
    let problems = tokio::task::spawn_blocking(move || {
        closed
            .iter()
            .find_map(|file| still_as_staged(&checker, file).err())
    })
    .await
    .unwrap_or_else(|_| {
        Some(DeliveryError::Rpc(
            "the check of the files failed".to_owned(),
        ))
    });
    if let Some(problem) = problems {
        return Err(problem.to_string());
    }
    // A client without versioned edits (Neovim, which holds `didChange` back) gets the edit
    // only in each open document's turn, once what the person typed there has arrived; the
    // turns are taken in URI order, so two changes never wait on each other.
    let mut turns = Vec::new();
    if !facts.document_changes {
        let mut open: Vec<String> = files
            .iter()
            .filter_map(|file| session.open_uri(&file.path))
            .collect();
        open.sort();
        open.dedup();
        for uri in open {
            let turn = session
                .edit_order
                .turn(&uri, cancel)
                .await
                .map_err(|reason| reason.to_string())?;
            turns.push((uri, turn));
        }
    }

    // From here to the send: no `.await`, so nothing the person types slips in between.
    if cancel.is_cancelled() {
        return Err(DeliveryError::Cancelled.to_string());
    }
    let mut builder = EditBuilder::new();
    let description = input
        .instruction
        .as_deref()
        .map(str::trim)
        .filter(|instruction| !instruction.is_empty())
        .map(crate::display::label);
    for (index, file) in files.iter().enumerate() {
        let annotation = annotate.then(|| {
            let id = format!("chatls.change.{index}");
            builder.annotation(
                id.clone(),
                ChangeAnnotation {
                    label: format!("{}: {}", input.action.title, file.shown),
                    needs_confirmation: Some(true),
                    description: description.clone(),
                },
            );
            id
        });
        let mut edit = place(session, facts, file).map_err(|reason| reason.to_string())?;
        edit.annotation = annotation;
        builder.file(edit);
    }
    let count = builder.edit_count();
    let edit = builder.build(&facts).map_err(|reason| reason.to_string())?;
    let seen: Vec<u64> = turns
        .iter()
        .map(|(uri, _)| session.edit_order.change_count(uri))
        .collect();
    send(client, input.action.label(), edit)
        .await
        .map_err(|reason| reason.to_string())?;
    for ((_, turn), seen) in turns.into_iter().zip(seen) {
        turn.applied(seen);
    }
    Ok(format!(
        "applied {count} edit{} to {} file{} ({names})",
        if count == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    ))
}

/// "a.rs, b.rs, new c.rs": the files of a change, for messages and the transcript.
pub(in crate::lsp) fn names(files: &[StagedFile]) -> String {
    files
        .iter()
        .map(|file| match file.base {
            Base::New => format!("new {}", file.shown),
            _ => file.shown.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A closed file is on disk as it was staged; a new file is still not there.
fn still_as_staged(sandbox: &Sandbox, file: &StagedFile) -> Result<(), DeliveryError> {
    let changed = |why: String| DeliveryError::FileChanged {
        file: file.shown.clone(),
        why,
    };
    match read_disk_text(sandbox, &file.path, &file.shown) {
        Ok(text) if text == file.base.text() => Ok(()),
        Ok(_) => Err(changed("it changed on disk".to_owned())),
        Err(reason) => Err(changed(reason)),
    }
}

/// One staged file's edits on what it is now (see the module).
fn place(
    session: &Session,
    facts: ClientFacts,
    file: &StagedFile,
) -> Result<FileEdit, DeliveryError> {
    let changed = |why: &str| DeliveryError::FileChanged {
        file: file.shown.clone(),
        why: why.to_owned(),
    };
    let edits = minimal_edits(file.base.text(), &file.text);
    let open = session.open_uri(&file.path);
    if let Base::New = file.base {
        if std::fs::symlink_metadata(&file.path).is_ok() || open.is_some() {
            return Err(changed("a file of that name appeared meanwhile"));
        }
        let uri = convert::file_uri(&file.path)
            .and_then(|uri| convert::parse_uri(&uri))
            .ok_or_else(|| DeliveryError::BadUri(file.shown.clone()))?;
        // Without documentChanges (Neovim) the text goes into a new, empty buffer, whose one
        // empty line already ends the file: its last line break would write a blank line more.
        let text = if facts.document_changes {
            file.text.as_str()
        } else {
            file.text
                .strip_suffix("\r\n")
                .or_else(|| file.text.strip_suffix('\n'))
                .unwrap_or(&file.text)
        };
        return Ok(FileEdit {
            uri,
            version: None,
            edits: vec![lsp::TextEdit {
                range: lsp::Range::default(),
                new_text: text.to_owned(),
            }],
            create: true,
            annotation: None,
        });
    }
    let Some(open) = open else {
        if let Base::Buffer { .. } = file.base {
            return Err(changed(
                "it was closed without saving the text the change was made on",
            ));
        }
        let uri = convert::file_uri(&file.path)
            .and_then(|uri| convert::parse_uri(&uri))
            .ok_or_else(|| DeliveryError::BadUri(file.shown.clone()))?;
        let rope = ropey::Rope::from_str(file.base.text());
        return Ok(FileEdit {
            uri,
            version: None,
            edits: convert::text_edits(&rope, &edits, facts.encoding),
            create: false,
            annotation: None,
        });
    };
    let uri = convert::parse_uri(&open).ok_or_else(|| DeliveryError::BadUri(open.clone()))?;
    session
        .documents
        .with_document(&open, |document| {
            let placed = match &file.base {
                Base::Buffer {
                    version: Some(version),
                    ..
                } => place_on(document, *version, file.base.text(), &edits).map_err(changed)?,
                // Staged from disk (or without a version): the buffer must hold that text.
                _ if document.contents() == file.base.text() => edits.clone(),
                _ => {
                    return Err(changed(
                        "its open buffer differs from the text the change was made on",
                    ));
                }
            };
            Ok(FileEdit {
                uri,
                version: Some(document.version),
                edits: convert::text_edits(document.text(), &placed, facts.encoding),
                create: false,
                annotation: None,
            })
        })
        .unwrap_or(Err(DeliveryError::DocumentClosed))
}

/// The transcript's record of a change: the model's closing words and the files.
pub(in crate::lsp) fn record(
    answer: &str,
    files: &[StagedFile],
    result: &Result<String, String>,
) -> String {
    let mut text = answer.trim().to_owned();
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    let listed: BTreeSet<String> = files
        .iter()
        .map(|file| match file.base {
            Base::New => format!("- `{}` (new)", file.shown),
            _ => format!("- `{}`", file.shown),
        })
        .collect();
    text.push_str("Files in this change:\n");
    for line in listed {
        text.push_str(&line);
        text.push('\n');
    }
    match result {
        Ok(summary) => text.push_str(&format!("\n_{summary}._\n")),
        Err(problem) => text.push_str(&format!("\n_Not applied: {problem}._\n")),
    }
    text
}

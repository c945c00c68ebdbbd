//! Delivering an edit action's result to the editor: the replacement as a versioned
//! `workspace/applyEdit`, computed on the document as it is now, after the editor settles.
//! (Answers go to the conversation's transcript: see `transcript`.)

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    self as lsp, AnnotatedTextEdit, ApplyWorkspaceEditParams, DocumentChanges, OneOf,
    OptionalVersionedTextDocumentIdentifier, TextDocumentEdit, WorkspaceEdit,
};

use crate::action::ActionInput;
use crate::apply::{NotApplied, place, prepare};

use super::convert;
use super::review::{ANNOTATION_ID, Cleared};
use super::session::Session;

/// Applies a refactor/fix answer as a workspace edit; the text says what happened. An
/// answer with nothing to apply is shown to the person (see [`show_unapplied`]).
///
/// A client with `documentChanges` gets the edit with the version it was computed for (a
/// stale one is refused by the client). One without gets it only in its document's turn
/// (see `settle`). Cancellation is checked after every wait, right before the edit is placed
/// and sent, with no `.await` between the check and the send.
pub(super) async fn apply_answer(
    session: &Session,
    client: &Client,
    input: &ActionInput,
    answer: &str,
    truncated: bool,
    cancel: &CancellationToken,
) -> std::result::Result<String, String> {
    // The diffing happens here, before the document is locked: a didChange never waits on it.
    let prepared = match prepare(input, answer, truncated) {
        Ok(prepared) => prepared,
        Err(reason) => {
            if reason.shows_answer() && !cancel.is_cancelled() {
                show_unapplied(session, client, input, answer).await;
            }
            return Err(reason.to_string());
        }
    };
    let cleared = super::review::clear(session, client, input, &prepared, cancel).await?;
    let facts = session.facts();
    let turn = if facts.document_changes {
        None
    } else {
        Some(
            session
                .edit_order
                .turn(&input.uri, cancel)
                .await
                .map_err(|reason| reason.to_string())?,
        )
    };
    if cancel.is_cancelled() {
        return Err(NotApplied::Cancelled.to_string());
    }
    let changes_seen = session.edit_order.change_count(&input.uri);
    let planned = session
        .documents
        .with_document(&input.uri, |document| {
            place(document, input, &prepared).map(|plan| {
                (
                    plan.version,
                    convert::text_edits(document.text(), &plan.edits, facts.encoding),
                )
            })
        })
        .ok_or(NotApplied::DocumentClosed)
        .and_then(|planned| planned)
        .map_err(|reason| reason.to_string())?;
    let (version, edits) = planned;
    let uri =
        convert::parse_uri(&input.uri).ok_or_else(|| format!("cannot address {}", input.uri))?;
    let count = edits.len();
    let edit = if facts.document_changes {
        WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri,
                    version: Some(version),
                },
                edits: edits
                    .into_iter()
                    .map(|edit| match &cleared {
                        Cleared::Plain => OneOf::Left(edit),
                        Cleared::Annotated(_) => OneOf::Right(AnnotatedTextEdit {
                            text_edit: edit,
                            annotation_id: ANNOTATION_ID.to_owned(),
                        }),
                    })
                    .collect(),
            }])),
            change_annotations: match cleared {
                Cleared::Plain => None,
                Cleared::Annotated(annotation) => {
                    Some(HashMap::from([(ANNOTATION_ID.to_owned(), annotation)]))
                }
            },
            ..WorkspaceEdit::default()
        }
    } else {
        WorkspaceEdit {
            changes: Some(HashMap::from([(uri, edits)])),
            ..WorkspaceEdit::default()
        }
    };
    let response = client
        .send_request::<lsp::request::ApplyWorkspaceEdit>(ApplyWorkspaceEditParams {
            label: Some(input.action.label()),
            edit,
        })
        .await
        .map_err(|error| format!("the editor could not apply the edit: {}", error.message))?;
    if response.applied {
        if let Some(turn) = turn {
            turn.applied(changes_seen);
        }
        Ok(format!(
            "applied {count} edit{}",
            if count == 1 { "" } else { "s" }
        ))
    } else {
        let reason = response
            .failure_reason
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        Err(format!(
            "the editor refused the edit{reason}; the document probably changed meanwhile — run the action again"
        ))
    }
}

/// The longest answer shown in a message; a longer one is saved to a file, named in it.
const SHOWN_ANSWER_CHARS: usize = 4000;

/// Shows an answer that was not applied, so nothing the model wrote is lost: in a message,
/// and, when it is too long for one, saved whole beside the explanations.
pub(super) async fn show_unapplied(
    session: &Session,
    client: &Client,
    input: &ActionInput,
    answer: &str,
) {
    let trimmed = answer.trim();
    let mut message = format!(
        "{}: the model's answer (not applied):\n\n",
        input.action.label()
    );
    if trimmed.chars().count() > SHOWN_ANSWER_CHARS {
        message.extend(trimmed.chars().take(SHOWN_ANSWER_CHARS));
        message.push_str(" …");
        match session
            .explain_dir()
            .and_then(|dir| crate::explain::write(&dir, input, answer))
        {
            Ok(path) => message.push_str(&format!(
                "\n\n(the whole answer is saved in {})",
                path.display()
            )),
            Err(error) => tracing::warn!(%error, "could not save an unapplied answer"),
        }
    } else {
        message.push_str(trimmed);
    }
    client
        .show_message(tower_lsp_server::ls_types::MessageType::INFO, message)
        .await;
}

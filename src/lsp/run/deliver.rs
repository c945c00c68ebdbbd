//! Delivering an edit action's result to the editor: the replacement as a versioned
//! `workspace/applyEdit`, computed on the document as it is now, after the editor settles.
//! (Answers go to the conversation's transcript: see `transcript`.)

use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;

use crate::action::ActionInput;
use crate::answer::apply::{place, prepare};

use super::review::{ANNOTATION_ID, Cleared};
use super::workspace_edit::{DeliveryError, EditBuilder, FileEdit, send};
use crate::lsp::convert;
use crate::lsp::session::{Session, Snapshot};

/// Applies a refactor/fix answer as a workspace edit; the text says what happened. An
/// answer with nothing to apply is shown to the person (see [`show_unapplied`]).
///
/// A client with `documentChanges` gets the edit with the version it was computed for (a
/// stale one is refused by the client). One without gets it only in its document's turn
/// (see `settle`). Cancellation is checked after every wait, right before the edit is placed
/// and sent, with no `.await` between the check and the send.
pub(in crate::lsp) async fn apply_answer(
    session: &Session,
    client: &Client,
    snapshot: &Snapshot,
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
    let cleared = super::review::clear(session, client, snapshot, input, &prepared, cancel).await?;
    let facts = snapshot.facts;
    let turn = session
        .edit_order
        .turn_unless_versioned(facts.document_changes, &input.uri, cancel)
        .await
        .map_err(|reason| reason.to_string())?;
    if cancel.is_cancelled() {
        return Err(DeliveryError::Cancelled.to_string());
    }
    let changes_seen = session.edit_order.change_count(&input.uri);
    let planned = session
        .documents
        .with_document(&input.uri, |document| {
            place(document, input, &prepared)
                .map(|plan| {
                    (
                        plan.version,
                        convert::text_edits(document.text(), &plan.edits, facts.encoding),
                    )
                })
                .map_err(DeliveryError::from)
        })
        .unwrap_or(Err(DeliveryError::DocumentClosed))
        .map_err(|reason| reason.to_string())?;
    let (version, edits) = planned;
    let uri = convert::parse_uri(&input.uri)
        .ok_or_else(|| DeliveryError::BadUri(input.uri.clone()).to_string())?;
    let count = edits.len();
    let mut builder = EditBuilder::new();
    let annotation = match cleared {
        Cleared::Plain => None,
        Cleared::Annotated(annotation) => {
            builder.annotation(ANNOTATION_ID, annotation);
            Some(ANNOTATION_ID.to_owned())
        }
    };
    builder.file(FileEdit {
        uri,
        version: Some(version),
        edits,
        create: false,
        annotation,
    });
    let edit = builder.build(&facts).map_err(|reason| reason.to_string())?;
    match send(client, input.action.label(), edit).await {
        Ok(()) => {
            if let Some(turn) = turn {
                turn.applied(changes_seen);
            }
            Ok(format!(
                "applied {count} edit{}",
                if count == 1 { "" } else { "s" }
            ))
        }
        Err(reason) => Err(reason.to_string()),
    }
}

/// The longest answer shown in a message; a longer one is saved to a file, named in it.
const SHOWN_ANSWER_CHARS: usize = 4000;

/// Shows an answer that was not applied, so nothing the model wrote is lost: in a message,
/// and, when it is too long for one, saved whole beside the explanations.
pub(in crate::lsp) async fn show_unapplied(
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
            .and_then(|dir| crate::chat::files::write(&dir, input, answer))
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

//! Review before apply in the editor (`edits.review: "confirm"`). A client that declares
//! `workspaceEdit.changeAnnotationSupport` (and `documentChanges`) gets the edit annotated
//! with `needsConfirmation`, so its own preview asks. Any other client gets the diff opened
//! as a document and a `window/showMessageRequest` with Apply and Discard; only Apply lets
//! the edit go on to `deliver`, which places it on the document as it is then (moved through
//! what the user typed, or refused when the selection itself changed).

use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    ChangeAnnotation, MessageActionItem, MessageType, ShowDocumentParams,
};

use crate::action::ActionInput;
use crate::answer::apply::{Prepared, place};
use crate::chat::pending_review::{unified_diff, write_diff};
use crate::config::ReviewMode;

use super::workspace_edit::DeliveryError;
use crate::lsp::convert;
use crate::lsp::session::{Session, Snapshot};

/// The one annotation id chatls uses; it is always in the edit's `changeAnnotations` map.
pub const ANNOTATION_ID: &str = "chatls.review";
pub const APPLY: &str = "Apply";
pub const DISCARD: &str = "Discard";

/// How an edit goes out after review.
pub(in crate::lsp) enum Cleared {
    /// As a plain edit (no review, or the user chose Apply).
    Plain,
    /// Annotated: the client's preview asks the user.
    Annotated(ChangeAnnotation),
}

/// Decides whether and how the prepared edit may be sent. `Err` is the sentence for the user
/// when it must not be (discarded, dismissed, replaced, or it no longer fits).
pub(in crate::lsp) async fn clear(
    session: &Session,
    client: &Client,
    snapshot: &Snapshot,
    input: &ActionInput,
    prepared: &Prepared,
    cancel: &CancellationToken,
) -> Result<Cleared, String> {
    let settings = &snapshot.settings;
    let confirm = input
        .action
        .confirms(settings.edits_review == ReviewMode::Confirm);
    if !confirm {
        return Ok(Cleared::Plain);
    }
    let facts = snapshot.facts;
    if facts.change_annotations && facts.document_changes {
        let description = match input.instruction.as_deref().map(str::trim) {
            Some(instruction) if !instruction.is_empty() => {
                format!("{instruction} (model {})", snapshot.model)
            }
            _ => format!("model {}", snapshot.model),
        };
        return Ok(Cleared::Annotated(ChangeAnnotation {
            label: input.action.title.clone(),
            needs_confirmation: Some(true),
            description: Some(description),
        }));
    }
    ask(
        session,
        client,
        input,
        prepared,
        facts.show_document,
        cancel,
    )
    .await
}

/// The diff document and the Apply/Discard question.
async fn ask(
    session: &Session,
    client: &Client,
    input: &ActionInput,
    prepared: &Prepared,
    show_document: bool,
    cancel: &CancellationToken,
) -> Result<Cleared, String> {
    let diff = session
        .documents
        .with_document(&input.uri, |document| {
            place(document, input, prepared)
                .map_err(DeliveryError::from)
                .map(|plan| {
                    unified_diff(
                        &input.display_path,
                        &document.text().to_string(),
                        &plan.edits,
                    )
                })
        })
        .unwrap_or(Err(DeliveryError::DocumentClosed))
        .map_err(|reason| reason.to_string())?;
    let subject = format!(
        "{}: review the change to {}",
        &input.action.title, input.display_path
    );
    question(
        session,
        client,
        input,
        &subject,
        &diff,
        show_document,
        cancel,
    )
    .await
}

/// Shows a diff (opened as a document where the client can, else in the question itself)
/// and asks Apply or Discard; `Ok(Cleared::Plain)` only for Apply.
pub(super) async fn question(
    session: &Session,
    client: &Client,
    input: &ActionInput,
    subject: &str,
    diff: &str,
    show_document: bool,
    cancel: &CancellationToken,
) -> Result<Cleared, String> {
    // Registered before anything is shown: a newer action on the same code replaces this one.
    let ticket = session.reviews.begin(&input.uri, input.selection.clone());
    let written = session
        .explain_dir()
        .and_then(|dir| write_diff(&dir, &input.display_path, diff));
    let mut opened = false;
    if let (true, Ok(path)) = (show_document, &written)
        && let Some(uri) = convert::file_uri(path).and_then(|uri| convert::parse_uri(&uri))
    {
        opened = client
            .show_document(ShowDocumentParams {
                uri,
                external: Some(false),
                take_focus: Some(true),
                selection: None,
            })
            .await
            .unwrap_or(false);
    }
    let mut question = subject.to_owned();
    match &written {
        Ok(path) if opened => question.push_str(&format!(" (diff opened: {})", path.display())),
        _ => {
            // Nothing opened: the diff itself is the question, bounded.
            let shown: String = diff.chars().take(3000).collect();
            question.push_str(&format!(":\n{shown}"));
            if shown.len() < diff.len() {
                question.push_str(" …");
            }
            if let Ok(path) = &written {
                question.push_str(&format!("\n(saved to {})", path.display()));
            }
        }
    }
    let item = |title: &str| MessageActionItem {
        title: title.to_owned(),
        properties: Default::default(),
    };
    let choice = tokio::select! {
        choice = client.show_message_request(
            MessageType::INFO,
            question,
            Some(vec![item(APPLY), item(DISCARD)]),
        ) => choice,
        () = ticket.replaced.cancelled() => {
            return Err("replaced by a newer action on the same code; nothing was changed".to_owned());
        }
        () = cancel.cancelled() => return Err(DeliveryError::Cancelled.to_string()),
    };
    match choice {
        Ok(Some(item)) if item.title == APPLY => Ok(Cleared::Plain),
        Ok(Some(item)) if item.title == DISCARD => Err("discarded; nothing was changed".to_owned()),
        _ => Err("the review was dismissed; nothing was changed".to_owned()),
    }
}

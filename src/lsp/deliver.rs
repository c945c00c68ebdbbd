//! Delivering an action's result to the editor: a refactor/fix as a versioned
//! `workspace/applyEdit` (computed on the document as it is now, after the editor settles),
//! an explanation as a markdown file opened with `window/showDocument` or as a message.

use std::collections::HashMap;

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    self as lsp, ApplyWorkspaceEditParams, DocumentChanges, MessageType, OneOf,
    OptionalVersionedTextDocumentIdentifier, ShowDocumentParams, TextDocumentEdit, WorkspaceEdit,
};

use crate::action::ActionInput;
use crate::apply::{NotApplied, place, prepare};
use crate::config::ExplainOutput;
use crate::explain;

use super::actions::title;
use super::convert;
use super::session::Session;

/// Applies a refactor/fix answer as a versioned edit; the text says what happened.
pub(super) async fn apply_answer(
    session: &Session,
    client: &Client,
    input: &ActionInput,
    answer: &str,
    truncated: bool,
) -> std::result::Result<String, String> {
    // The diffing happens here, before the document is locked: a didChange never waits on it.
    let prepared = prepare(input, answer, truncated).map_err(|reason| reason.to_string())?;
    let facts = session.facts();
    if !facts.document_changes {
        settle(session, &input.uri).await;
    }
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
                edits: edits.into_iter().map(OneOf::Left).collect(),
            }])),
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
            label: Some(title(input.kind).to_owned()),
            edit,
        })
        .await
        .map_err(|error| format!("the editor could not apply the edit: {}", error.message))?;
    if response.applied {
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

/// How long the editor must have been quiet before an unversioned edit is computed.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// Clients without `documentChanges` (Neovim) cannot refuse a stale edit, and Neovim
/// debounces `didChange` by ~150 ms: while the user is typing, wait (bounded) until the
/// document has been quiet for [`SETTLE`], so the edit is computed on the text the editor has.
async fn settle(session: &Session, uri: &str) {
    for _ in 0..10 {
        match session.since_last_change(uri) {
            Some(since) if since < SETTLE => tokio::time::sleep(SETTLE - since).await,
            _ => return,
        }
    }
}

/// Writes the explanation and opens it, or shows it as a message.
pub(super) async fn explanation(
    session: &Session,
    client: &Client,
    output: &ExplainOutput,
    show_document: bool,
    input: &ActionInput,
    answer: &str,
) -> std::result::Result<String, String> {
    let as_message = |text: &str| {
        let mut text = text.trim().to_owned();
        if text.chars().count() > 4000 {
            text = text.chars().take(4000).collect::<String>() + " …";
        }
        text
    };
    let written = session
        .explain_dir()
        .and_then(|dir| explain::write(&dir, input, answer));
    if *output == ExplainOutput::Message || !show_document {
        let mut message = as_message(answer);
        if let Ok(path) = &written {
            message.push_str(&format!("\n\n(saved to {})", path.display()));
        }
        client.show_message(MessageType::INFO, message).await;
        return Ok("explanation shown".to_owned());
    }
    let path = written.map_err(|error| format!("could not write the explanation file: {error}"))?;
    let uri = convert::file_uri(&path)
        .and_then(|uri| convert::parse_uri(&uri))
        .ok_or_else(|| format!("cannot address {}", path.display()))?;
    let shown = client
        .show_document(ShowDocumentParams {
            uri,
            external: Some(false),
            take_focus: Some(true),
            selection: None,
        })
        .await;
    match shown {
        Ok(true) => Ok(format!("explanation opened ({})", path.display())),
        _ => {
            client
                .show_message(MessageType::INFO, as_message(answer))
                .await;
            Ok(format!("explanation saved to {}", path.display()))
        }
    }
}

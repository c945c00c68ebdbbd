//! `textDocument/inlineCompletion` (ghost text) and `textDocument/completion` (one item for
//! clients without inline completion): convert in, ask [`crate::completion::Completer`],
//! convert out. A failure the user has not been told about yet becomes one
//! `window/showMessage`.

use std::sync::Arc;

use ropey::Rope;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    self as lsp, CompletionItem, CompletionItemKind, CompletionList, CompletionParams,
    CompletionResponse, CompletionTextEdit, Documentation, InlineCompletionItem,
    InlineCompletionParams, InlineCompletionResponse, InsertTextFormat, MarkupContent, MarkupKind,
    MessageType, TextEdit,
};

use crate::completion::{Outcome, Request};
use crate::config::CompletionPopup;
use crate::text::{PositionEncoding, char_to_position, position_to_char};

use super::convert;
use super::session::Session;

/// The longest label of a completion item, in characters.
const MAX_LABEL_CHARS: usize = 80;

/// A suggestion with what is needed to place it.
struct Placed {
    text: String,
    rope: Rope,
    cursor: usize,
    encoding: PositionEncoding,
    language: String,
}

/// Whether to offer `completionProvider` to this client.
pub fn offer_popup(popup: CompletionPopup, client_has_inline: bool) -> bool {
    match popup {
        CompletionPopup::Always => true,
        CompletionPopup::Never => false,
        CompletionPopup::Auto => !client_has_inline,
    }
}

pub async fn inline_completion(
    session: &Arc<Session>,
    client: &Client,
    params: InlineCompletionParams,
) -> Result<Option<InlineCompletionResponse>> {
    let position = params.text_document_position;
    let Some(placed) = suggest(
        session,
        client,
        &position.text_document.uri,
        position.position,
    )
    .await
    else {
        return Ok(Some(InlineCompletionResponse::Array(Vec::new())));
    };
    let at = convert::to_lsp_position(char_to_position(
        &placed.rope,
        placed.cursor,
        placed.encoding,
    ));
    Ok(Some(InlineCompletionResponse::Array(vec![
        InlineCompletionItem {
            insert_text: placed.text,
            filter_text: None,
            range: Some(lsp::Range { start: at, end: at }),
            command: None,
            insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
        },
    ])))
}

pub async fn completion(
    session: &Arc<Session>,
    client: &Client,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    let position = params.text_document_position;
    let items = match suggest(
        session,
        client,
        &position.text_document.uri,
        position.position,
    )
    .await
    {
        Some(placed) => vec![completion_item(&placed)],
        None => Vec::new(),
    };
    Ok(Some(CompletionResponse::List(CompletionList {
        is_incomplete: false,
        items,
    })))
}

/// One item that replaces the word before the cursor with that word and the suggestion,
/// so the client's filter (which matches the typed word) keeps it.
fn completion_item(placed: &Placed) -> CompletionItem {
    let line_start = placed
        .rope
        .line_to_char(placed.rope.char_to_line(placed.cursor));
    let mut word_start = placed.cursor;
    while word_start > line_start {
        let c = placed.rope.char(word_start - 1);
        if !(c.is_alphanumeric() || c == '_') {
            break;
        }
        word_start -= 1;
    }
    let word = placed.rope.slice(word_start..placed.cursor).to_string();
    let new_text = format!("{word}{}", placed.text);
    let first_line = new_text.lines().next().unwrap_or_default();
    let mut label: String = first_line.trim().chars().take(MAX_LABEL_CHARS).collect();
    if new_text.contains('\n') || first_line.trim().chars().count() > MAX_LABEL_CHARS {
        label.push('…');
    }
    let range = lsp::Range {
        start: convert::to_lsp_position(char_to_position(
            &placed.rope,
            word_start,
            placed.encoding,
        )),
        end: convert::to_lsp_position(char_to_position(
            &placed.rope,
            placed.cursor,
            placed.encoding,
        )),
    };
    CompletionItem {
        label,
        kind: Some(CompletionItemKind::TEXT),
        detail: Some("chatls".to_owned()),
        documentation: Some(Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!("```{}\n{new_text}\n```", placed.language),
        })),
        filter_text: Some(first_line.to_owned()),
        insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text })),
        ..CompletionItem::default()
    }
}

/// The suggestion for a position of an open document, or `None` (the reason is logged).
/// The work runs in a task of its own, off the message loop (reading and judging a stream
/// is CPU work); when the editor stops waiting (`$/cancelRequest` drops this future), the
/// task is told and closes its upstream connection.
async fn suggest(
    session: &Arc<Session>,
    client: &Client,
    uri: &lsp::Uri,
    position: lsp::Position,
) -> Option<Placed> {
    let arrival = session.completer.arrive();
    let abandoned = CancellationToken::new();
    let _abandon_when_dropped = abandoned.clone().drop_guard();
    let task = tokio::spawn(suggest_detached(
        Arc::clone(session),
        client.clone(),
        uri.as_str().to_owned(),
        position,
        (abandoned, arrival),
    ));
    match task.await {
        Ok(placed) => placed,
        Err(error) => {
            tracing::error!(%error, "a completion task failed");
            None
        }
    }
}

async fn suggest_detached(
    session: Arc<Session>,
    client: Client,
    uri: String,
    position: lsp::Position,
    (abandoned, arrival): (CancellationToken, u64),
) -> Option<Placed> {
    let session = &session;
    let uri = uri.as_str();
    let settings = session.settings();
    if !settings.completion.enabled {
        return None;
    }
    let Some(snapshot) = session.documents.snapshot(uri) else {
        tracing::debug!(uri, "completion for a document that is not open");
        return None;
    };
    let path = Session::canonical_path(uri);
    let sandbox = session
        .completer
        .sandbox(session.roots(), &settings.tools_deny);
    // A file must lie inside a root and pass the secret and deny rules; so must the path
    // an unsaved buffer will be saved to. Other schemes are not sent.
    if let Err(refusal) = sandbox.may_complete(&convert::document_place(uri)) {
        tracing::debug!(uri, %refusal, "completion not sent");
        return None;
    }
    let encoding = session.facts().encoding;
    let cursor = position_to_char(&snapshot.text, convert::position(position), encoding);
    let display_path = session.display_path(uri, path.as_deref());
    let request = Request {
        uri,
        display_path: &display_path,
        language: &snapshot.language_id,
        text: snapshot.text.clone(),
        cursor,
        abandoned,
        arrival,
    };
    match session.completer.complete(request, &settings).await {
        Outcome::Suggest { text, .. } => Some(Placed {
            text,
            rope: snapshot.text,
            cursor,
            encoding,
            language: snapshot.language_id,
        }),
        Outcome::Nothing => None,
        Outcome::Failed(message) => {
            client.show_message(MessageType::WARNING, message).await;
            None
        }
    }
}

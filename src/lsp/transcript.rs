//! An answer reaches the person: appended to the conversation's markdown transcript (on disk,
//! and in the editor's buffer when the transcript is open there, with one
//! `workspace/applyEdit` at its end), then opened with `window/showDocument` — or shown as a
//! message when the client cannot open documents or `explain.output` is `"message"`.

use std::collections::HashMap;
use std::path::PathBuf;

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    self as lsp, ApplyWorkspaceEditParams, DocumentChanges, MessageType, OneOf,
    OptionalVersionedTextDocumentIdentifier, ShowDocumentParams, TextDocumentEdit, TextEdit,
    WorkspaceEdit,
};

use crate::action::ActionInput;
use crate::config::ExplainOutput;
use crate::conversation::ConversationTurn;
use crate::text::char_to_position;
use crate::{explain, transcript};

use super::convert;
use super::session::Session;

/// What one answer adds to a transcript.
pub(super) struct Answer<'a> {
    /// The key of the conversation (the code's URI, or the transcript's for a follow-up).
    pub key: &'a str,
    pub conversation: &'a ConversationTurn,
    pub input: &'a ActionInput,
    pub model: &'a str,
    pub text: &'a str,
    /// The person's turn as the transcript shows it; `None` for a follow-up.
    pub you: Option<String>,
}

/// The `path:line` link and the action or question of a turn. The link is relative to the
/// transcripts' directory when there is one (VS Code's preview opens no `file:` link), else
/// the code's `file:` URI.
pub(super) fn you_turn(session: &Session, input: &ActionInput, what: &str) -> String {
    let (first, last) = input.selected_lines();
    let lines = if first == last {
        format!("{}", first + 1)
    } else {
        format!("{}-{}", first + 1, last + 1)
    };
    let relative = match (&input.path, session.explain_dir()) {
        (Some(path), Ok(dir)) => transcript::selection_link(&dir, path, first + 1),
        _ => None,
    };
    let target = match (relative, &input.path) {
        (Some(link), _) => link,
        (None, Some(path)) => convert::file_uri(path)
            .map(|uri| format!("{uri}#L{}", first + 1))
            .unwrap_or_else(|| input.uri.clone()),
        (None, None) => input.uri.clone(),
    };
    transcript::you(&format!("{}:{lines}", input.display_path), &target, what)
}

/// Where this conversation's transcript lives.
fn transcript_path(session: &Session, answer: &Answer<'_>) -> Result<PathBuf, String> {
    if let Some(path) = &answer.conversation.transcript {
        return Ok(path.clone());
    }
    if session.is_transcript(&answer.input.uri)
        && let Some(path) = convert::uri_path(&answer.input.uri)
    {
        return Ok(path);
    }
    let dir = session
        .explain_dir()
        .map_err(|error| format!("no directory for transcripts: {error}"))?;
    Ok(explain::transcript_path(
        &dir,
        &answer.input.display_path,
        &answer.conversation.id,
    ))
}

/// Appends the answer to the transcript and shows it; the text says what happened.
pub(super) async fn deliver(
    session: &Session,
    client: &Client,
    answer: Answer<'_>,
) -> Result<String, String> {
    let settings = session.settings();
    let facts = session.facts();
    let path = transcript_path(session, &answer)?;
    let uri =
        convert::file_uri(&path).ok_or_else(|| format!("cannot address {}", path.display()))?;
    session
        .conversations
        .set_transcript(answer.key, &answer.conversation.id, path.clone(), &uri);

    // The editor's buffer wins over the disk: it holds whatever the person typed.
    let mut appended = false;
    for _ in 0..3 {
        let open = session.open_uri(&path).and_then(|open_uri| {
            session.documents.with_document(&open_uri, |document| {
                (open_uri.clone(), document.contents(), document.version)
            })
        });
        let current = match &open {
            Some((_, text, _)) => text.clone(),
            None => explain::read(&path)
                .map_err(|error| format!("could not read {}: {error}", path.display()))?,
        };
        let addition = transcript::addition(
            &current,
            &answer.input.display_path,
            answer.you.as_deref(),
            answer.model,
            answer.text,
        );
        let whole = format!("{current}{addition}");
        explain::save(&path, &whole).map_err(|error| {
            format!("could not write the transcript {}: {error}", path.display())
        })?;
        let Some((open_uri, _, version)) = open else {
            appended = true;
            break;
        };
        // Into the open buffer as one edit at its end: one undo step, nothing overwritten.
        if append_in_editor(session, client, &open_uri, &current, version, &addition).await {
            appended = true;
            break;
        }
    }
    if !appended {
        tracing::warn!(path = %path.display(), "the editor kept refusing the transcript edit");
    }

    let as_message = || {
        let mut text = answer.text.trim().to_owned();
        if text.chars().count() > 4000 {
            text = text.chars().take(4000).collect::<String>() + " …";
        }
        format!("{text}\n\n(transcript: {})", path.display())
    };
    if settings.explain_output == ExplainOutput::Message || !facts.show_document {
        client.show_message(MessageType::INFO, as_message()).await;
        return Ok(format!("explanation shown (transcript {})", path.display()));
    }
    let Some(target) = convert::parse_uri(&uri) else {
        return Err(format!("cannot address {}", path.display()));
    };
    let shown = client
        .show_document(ShowDocumentParams {
            uri: target,
            external: Some(false),
            take_focus: Some(true),
            selection: None,
        })
        .await;
    match shown {
        Ok(true) => Ok(format!("explanation opened ({})", path.display())),
        _ => {
            client.show_message(MessageType::INFO, as_message()).await;
            Ok(format!("explanation saved to {}", path.display()))
        }
    }
}

/// Inserts `addition` at the end of the open transcript; false when the editor refused it
/// (the person typed meanwhile: the caller reads the buffer again and retries).
async fn append_in_editor(
    session: &Session,
    client: &Client,
    uri: &str,
    current: &str,
    version: i32,
    addition: &str,
) -> bool {
    let facts = session.facts();
    let rope = ropey::Rope::from_str(current);
    let end = convert::to_lsp_position(char_to_position(&rope, rope.len_chars(), facts.encoding));
    let Some(target) = convert::parse_uri(uri) else {
        return false;
    };
    let edit = TextEdit {
        range: lsp::Range { start: end, end },
        new_text: addition.to_owned(),
    };
    let edit = if facts.document_changes {
        WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: target,
                    version: Some(version),
                },
                edits: vec![OneOf::Left(edit)],
            }])),
            ..WorkspaceEdit::default()
        }
    } else {
        WorkspaceEdit {
            changes: Some(HashMap::from([(target, vec![edit])])),
            ..WorkspaceEdit::default()
        }
    };
    match client
        .send_request::<lsp::request::ApplyWorkspaceEdit>(ApplyWorkspaceEditParams {
            label: Some("chatls: answer".to_owned()),
            edit,
        })
        .await
    {
        Ok(response) => response.applied,
        Err(error) => {
            tracing::debug!(%error, "applyEdit for the transcript failed");
            // The file on disk has the answer; the editor can reload it.
            true
        }
    }
}

//! An answer reaches the person: appended to the conversation's markdown transcript (on disk,
//! and in the editor's buffer when the transcript is open there, with one
//! `workspace/applyEdit` at its end), then opened with `window/showDocument` — or shown as a
//! message when the client cannot open documents or `explain.output` is `"message"`.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{self as lsp, MessageType, ShowDocumentParams, TextEdit};

use crate::action::ActionInput;
use crate::chat::conversation::ConversationTurn;
use crate::chat::files::conversation_key;
use crate::chat::{files, transcript};
use crate::config::ExplainOutput;
use crate::text::char_to_position;

use crate::lsp::client_facts::ClientFacts;
use crate::lsp::convert;
use crate::lsp::session::{Session, Snapshot};

/// What one answer adds to a transcript.
pub(in crate::lsp) struct Answer<'a> {
    /// The key of the conversation (the code's URI, or the transcript's for a follow-up).
    pub key: &'a str,
    pub conversation: &'a ConversationTurn,
    pub input: &'a ActionInput,
    pub model: &'a str,
    pub text: String,
    /// The person's turn as the transcript shows it; `None` for a follow-up.
    pub you: Option<String>,
}

/// The `path:line` link and the action or question of a turn. The link is relative to the
/// transcripts' directory when there is one (VS Code's preview opens no `file:` link), else
/// the code's `file:` URI.
pub(in crate::lsp) fn you_turn(session: &Session, input: &ActionInput, what: &str) -> String {
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
    Ok(files::transcript_path(
        &dir,
        &answer.input.display_path,
        &answer.conversation.id,
    ))
}

/// Appends the answer to the transcript and shows it; the text says what happened.
pub(in crate::lsp) async fn deliver(
    session: &Session,
    client: &Client,
    snapshot: &Snapshot,
    answer: Answer<'_>,
    cancel: &CancellationToken,
) -> Result<String, String> {
    let (settings, facts) = (&snapshot.settings, snapshot.facts);
    let path = transcript_path(session, &answer)?;
    let uri =
        convert::file_uri(&path).ok_or_else(|| format!("cannot address {}", path.display()))?;
    session.conversations.set_transcript(
        answer.key,
        &answer.conversation.id,
        path.clone(),
        &conversation_key(&path),
    );

    let as_message = || {
        let mut text = answer.text.trim().to_owned();
        if text.chars().count() > 4000 {
            text = text.chars().take(4000).collect::<String>() + " …";
        }
        format!("{text}\n\n(transcript: {})", path.display())
    };
    {
        let _appending = session.transcript_locks.lock(&path).await;
        if let Err(problem) = append(session, client, facts, &answer, &path, cancel).await {
            if !cancel.is_cancelled() {
                // Nothing the model wrote is lost: it is shown instead.
                client.show_message(MessageType::INFO, as_message()).await;
            }
            return Err(problem);
        }
    }

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

/// Adds the answer at the end of the transcript: in the editor's buffer when it is open
/// there (it holds whatever the person typed, and wins over the disk), and on disk.
async fn append(
    session: &Session,
    client: &Client,
    facts: ClientFacts,
    answer: &Answer<'_>,
    path: &Path,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let save = |current: &str| {
        let addition = transcript::addition(
            current,
            &answer.input.display_path,
            answer.you.as_deref(),
            answer.model,
            &answer.text,
        );
        files::save(path, &format!("{current}{addition}"))
            .map_err(|error| format!("could not write the transcript {}: {error}", path.display()))
            .map(|()| addition)
    };
    for _ in 0..3 {
        let Some(open_uri) = session.open_uri(path) else {
            let current = files::read(path)
                .map_err(|error| format!("could not read {}: {error}", path.display()))?;
            save(&current)?;
            return Ok(());
        };
        // An edit without a version lands wherever the client's buffer is by then: it waits
        // for its turn and a quiet buffer, as code edits do (see `settle`), so the end it is
        // computed for is the end the person sees.
        let turn = session
            .edit_order
            .turn_unless_versioned(facts.document_changes, &open_uri, cancel)
            .await
            .map_err(|reason| format!("the answer was not added to the transcript: {reason}"))?;
        let changes_seen = session.edit_order.change_count(&open_uri);
        let Some((current, version)) = session.documents.with_document(&open_uri, |document| {
            (document.contents(), document.version)
        }) else {
            // Closed meanwhile: the disk is the transcript again.
            continue;
        };
        let addition = save(&current)?;
        // Into the open buffer as one edit at its end: one undo step, nothing overwritten.
        if append_in_editor(client, facts, &open_uri, &current, version, &addition).await {
            if let Some(turn) = turn {
                turn.applied(changes_seen);
            }
            return Ok(());
        }
    }
    tracing::warn!(path = %path.display(), "the editor kept refusing the transcript edit");
    Ok(())
}

/// Inserts `addition` at the end of the open transcript; false when the editor refused it
/// (the person typed meanwhile: the caller reads the buffer again and retries).
async fn append_in_editor(
    client: &Client,
    facts: ClientFacts,
    uri: &str,
    current: &str,
    version: i32,
    addition: &str,
) -> bool {
    let rope = ropey::Rope::from_str(current);
    let end = convert::to_lsp_position(char_to_position(&rope, rope.len_chars(), facts.encoding));
    let Some(target) = convert::parse_uri(uri) else {
        return false;
    };
    let edit = TextEdit {
        range: lsp::Range { start: end, end },
        new_text: addition.to_owned(),
    };
    let edit = match super::workspace_edit::single(target, Some(version), vec![edit]).build(&facts)
    {
        Ok(edit) => edit,
        Err(error) => {
            tracing::debug!(%error, "no edit for the transcript");
            return true;
        }
    };
    match super::workspace_edit::send(client, "chatls: answer".to_owned(), edit).await {
        Ok(()) => true,
        Err(super::workspace_edit::DeliveryError::Refused(_)) => false,
        Err(error) => {
            tracing::debug!(%error, "applyEdit for the transcript failed");
            // The file on disk has the answer; the editor can reload it.
            true
        }
    }
}

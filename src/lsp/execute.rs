//! `workspace/executeCommand`: the arguments of each command read and checked, the action's
//! input taken from the open document, and the action registered and started in the
//! background (the command answers at once with its progress token). What the action then
//! does is `run`'s.

use std::sync::Arc;

use futures::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{self as lsp, MessageType};

use crate::action::engine::check_ready;
use crate::action::request::selection_from_range;
use crate::action::{ActionInput, ActionRow, RowKind};
use crate::config::Settings;
use crate::text::{Range, range_to_chars};

use super::code_actions::list_actions;
use super::command::{Command, advertised};
use super::run::transcript;
use super::session::{Running, Session};
use super::{convert, model_picker};

#[derive(Deserialize)]
struct FollowUpArguments {
    uri: String,
    action: Option<String>,
}

#[derive(Deserialize)]
struct RunArguments {
    uri: String,
    range: Option<lsp::Range>,
    action: Option<String>,
    instruction: Option<String>,
    diagnostics: Option<Vec<lsp::Diagnostic>>,
}

#[derive(Deserialize)]
struct AskArguments {
    uri: String,
    range: Option<lsp::Range>,
    question: Option<String>,
}

#[derive(Deserialize)]
struct DocumentArguments {
    uri: String,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_params(message.into())
}

fn argument<T: for<'de> Deserialize<'de>>(
    command: &str,
    arguments: &[Value],
    shape: &str,
) -> Result<T> {
    let first = arguments
        .first()
        .ok_or_else(|| invalid(format!("{command} needs one argument {shape}")))?;
    serde_json::from_value(first.clone())
        .map_err(|error| invalid(format!("{command} needs one argument {shape}: {error}")))
}

/// `workspace/executeCommand`. Action commands answer as soon as the action has started.
pub async fn execute(
    session: &Arc<Session>,
    client: &Client,
    command: &str,
    arguments: Vec<Value>,
) -> Result<Option<Value>> {
    let Some(parsed) = Command::parse(command)
        .filter(|parsed| *parsed != Command::DebugPanic || session.test_hooks())
    else {
        return Err(invalid(format!(
            "unknown command {command:?}; chatls knows {}",
            advertised().join(", ")
        )));
    };
    // One settings snapshot for the whole command: the row it names, the checks before it
    // starts and the action itself all see the same settings.
    let settings = session.settings();
    match parsed {
        // Without an argument (Helix's `:lsp-workspace-command chatls.cancel`), cancel and reset
        // act on every document.
        Command::Cancel => {
            if arguments.is_empty() {
                return Ok(Some(json!({ "cancelled": session.cancel_all() })));
            }
            let args: DocumentArguments = argument(command, &arguments, "{\"uri\"}")?;
            let cancelled = session.cancel_document(&args.uri);
            return Ok(Some(json!({ "cancelled": cancelled })));
        }
        Command::Usage => {
            return Ok(Some(session.engine.usage().report()));
        }
        Command::ListModels => {
            return Ok(Some(model_picker::list(session).await));
        }
        Command::ListActions => {
            return Ok(Some(list_actions(&settings.actions)));
        }
        Command::Reset => {
            if arguments.is_empty() {
                return Ok(Some(json!({ "reset": session.conversations.reset_all() })));
            }
            let args: DocumentArguments = argument(command, &arguments, "{\"uri\"}")?;
            let reset = session
                .conversations
                .reset(&session.conversation_key(&args.uri));
            return Ok(Some(json!({ "reset": reset })));
        }
        Command::DebugPanic => {
            if arguments
                .first()
                .is_some_and(|first| first["in"] == "action")
            {
                let (id, running) = session.start_action("chatls:debug", "debug");
                let (hook_client, token) = (client.clone(), running.token.clone());
                let supported = session.facts().work_done_progress;
                spawn_action(session, client, &running, id, async move {
                    let _progress = super::run::progress::ActionProgress::begin(
                        &hook_client,
                        supported,
                        &token,
                        "chatls: debug",
                        "about to panic",
                    )
                    .await;
                    panic!("{} in an action (test hook)", Command::DebugPanic.name());
                });
                return Ok(Some(json!({ "started": true, "token": running.token })));
            }
            panic!("{command} (test hook)");
        }
        Command::SelectModel => {
            return model_picker::select(session, client, arguments.first()).await;
        }
        Command::FollowUp => {
            let args: FollowUpArguments = argument(command, &arguments, "{\"uri\", \"action\"?}")?;
            let mut input = follow_up_input(session, &args.uri).map_err(invalid)?;
            if let Some(id) = &args.action {
                // Sent as a change: the text under "## You" is the instruction.
                let row = settings
                    .actions
                    .get(id)
                    .filter(|row| row.kind == RowKind::Workspace)
                    .cloned()
                    .ok_or_else(|| {
                        invalid(format!(
                            "{command}: {id:?} is not a change action (a row of kind \"workspace\")"
                        ))
                    })?;
                input.action = row;
            }
            let key = session.conversation_key(&args.uri);
            return start(session, client, settings, input, key, None).await;
        }
        Command::Ask => {
            let args: AskArguments =
                argument(command, &arguments, "{\"uri\", \"range\", \"question\"}")?;
            let question = args
                .question
                .as_deref()
                .map(str::trim)
                .filter(|question| !question.is_empty())
                .ok_or_else(|| invalid(format!("{command} needs a non-empty \"question\"")))?
                .to_owned();
            let run = RunArguments {
                uri: args.uri,
                range: args.range,
                action: None,
                instruction: Some(question.clone()),
                diagnostics: None,
            };
            let input = action_input(session, ActionRow::ask(), run).map_err(invalid)?;
            let key = session.conversation_key(&input.uri);
            let you = transcript::you_turn(session, &input, &question);
            return start(session, client, settings, input, key, Some(you)).await;
        }
        Command::Run | Command::Alias { .. } => {}
    }
    let alias = match parsed {
        Command::Alias { row, .. } => Some(row),
        _ => None,
    };
    let args: RunArguments = argument(
        command,
        &arguments,
        "{\"uri\", \"range\", \"action\", \"instruction\"?}",
    )?;
    let id = match (alias, args.action.as_deref()) {
        (Some(id), _) => id.to_owned(),
        (None, Some(id)) => id.to_owned(),
        (None, None) => {
            return Err(invalid(format!(
                "{command} needs \"action\": one of {}",
                settings.actions.ids()
            )));
        }
    };
    let Some(row) = settings.actions.get(&id).cloned() else {
        return Err(invalid(format!(
            "there is no enabled action {id:?}; the actions are {}",
            settings.actions.ids()
        )));
    };
    if row.kind == RowKind::Workspace
        && args
            .instruction
            .as_deref()
            .is_none_or(|instruction| instruction.trim().is_empty())
    {
        let message = format!(
            "chatls: {} needs an instruction (what to change); VS Code asks for one, and in Helix or Neovim you write it under \"## You\" in a transcript and pick \"Send to AI as a change\"",
            row.title
        );
        client.show_message(MessageType::ERROR, &message).await;
        return Err(invalid(message));
    }
    let input = action_input(session, row, args).map_err(invalid)?;
    let key = session.conversation_key(&input.uri);
    let you = match input.action.kind {
        RowKind::Answer => Some(transcript::you_turn(session, &input, &input.action.title)),
        RowKind::Workspace => Some(transcript::you_turn(
            session,
            &input,
            input.instruction.as_deref().unwrap_or_default(),
        )),
        RowKind::Edit => None,
    };
    start(session, client, settings, input, key, you).await
}

/// Checks that the action can run, registers it and starts it in the background; answers at
/// once with its progress token.
async fn start(
    session: &Arc<Session>,
    client: &Client,
    settings: Arc<Settings>,
    input: ActionInput,
    key: String,
    you: Option<String>,
) -> Result<Option<Value>> {
    // The document is sent whole as context: the secret and deny rules of the tools apply
    // to it too (a transcript is chatls's own file).
    let refused = if session.is_transcript(&input.uri) {
        Ok(())
    } else {
        session
            .completer
            .sandbox(session.roots(), &settings.tools_deny)
            .may_act_on(&convert::document_place(&input.uri))
    };
    let not_ready = refused
        .map_err(|refusal| refusal.to_string())
        .and_then(|()| check_ready(&settings).map_err(|error| error.to_string()));
    if let Err(refusal) = not_ready {
        let message = format!("chatls: {} not started: {refusal}", input.action.title);
        client.show_message(MessageType::ERROR, &message).await;
        return Err(Error {
            code: tower_lsp_server::jsonrpc::ErrorCode::InvalidRequest,
            message: message.into(),
            data: None,
        });
    }
    let snapshot = session.snapshot(settings, &input.action);
    let (id, running) = session.start_action(&input.uri, &input.action.title);
    let token = running.token.clone();
    let task_session = Arc::clone(session);
    let task_client = client.clone();
    let task_running = running.clone();
    spawn_action(session, client, &running, id, async move {
        super::run::run(
            &task_session,
            &task_client,
            snapshot,
            input,
            &task_running,
            &key,
            you,
        )
        .await;
    });
    Ok(Some(json!({ "started": true, "token": token })))
}

/// The follow-up written under the last `## You` heading of an open transcript.
fn follow_up_input(session: &Session, uri: &str) -> std::result::Result<ActionInput, String> {
    if !session.is_transcript(uri) {
        return Err(format!(
            "{uri} is not a chatls transcript; Send to AI works in the transcript an answer opened"
        ));
    }
    let document = session.documents.snapshot(uri).ok_or_else(|| {
        format!("{uri} is not open in the editor; open the transcript and try again")
    })?;
    let text = document.text.to_string();
    let question = crate::chat::transcript::pending_question(&text).ok_or_else(|| {
        "write your follow-up under the last \"## You\" heading of the transcript, then Send to AI again".to_owned()
    })?;
    let path = convert::uri_path(uri);
    // A transcript of an earlier session (the server has no conversation for it): the turns
    // it records become the history, so the follow-up continues what the person reads.
    if let Some(path) = &path {
        session
            .conversations
            .resume(&session.conversation_key(uri), path.clone(), || {
                crate::chat::transcript::recorded_turns(&text)
            });
    }
    let question_text = ropey::Rope::from_str(&question);
    Ok(ActionInput {
        action: ActionRow::follow_up(),
        uri: uri.to_owned(),
        display_path: session.display_path(uri, path.as_deref()),
        path,
        language_id: "markdown".to_owned(),
        selection: 0..question_text.len_chars(),
        text: question_text,
        version: document.version,
        instruction: Some(question),
        diagnostics: Vec::new(),
        with_context: false,
    })
}

/// Runs an action's work in the background; a panic in it is caught, logged and shown, its
/// progress is ended (it would otherwise spin in the editor forever), and the action is
/// unregistered either way.
fn spawn_action(
    session: &Arc<Session>,
    client: &Client,
    running: &Running,
    id: u64,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let session = Arc::clone(session);
    let client = client.clone();
    let (title, token) = (running.title.clone(), running.token.clone());
    tokio::spawn(async move {
        let outcome = std::panic::AssertUnwindSafe(work).catch_unwind().await;
        if outcome.is_err() {
            tracing::error!("an action panicked; the server keeps running");
            let message = format!(
                "chatls: {title} failed with an internal error (see the log); the document was not changed"
            );
            if session.facts().work_done_progress {
                super::run::progress::ActionProgress::existing(&client, &token)
                    .end(&message)
                    .await;
            }
            client.show_message(MessageType::ERROR, message).await;
        }
        session.finish_action(id);
    });
}

/// The action's input from the open document as it is now. Errors are messages for the user.
fn action_input(
    session: &Session,
    action: ActionRow,
    args: RunArguments,
) -> std::result::Result<ActionInput, String> {
    let facts = session.facts();
    let document = session.documents.snapshot(&args.uri).ok_or_else(|| {
        format!(
            "{} is not open in the editor; open it and try again",
            args.uri
        )
    })?;
    let selection = match args.range {
        None => 0..document.text.len_chars(),
        Some(range) => {
            let range: Range = convert::range(range);
            let chars = range_to_chars(&document.text, range, facts.encoding)
                .map_err(|error| format!("bad range: {error}"))?;
            selection_from_range(&document.text, chars)
        }
    };
    let path = convert::uri_path(&args.uri);
    let display_path = session.display_path(&args.uri, path.as_deref());
    let diagnostics_path = Session::canonical_path(&args.uri).unwrap_or_default();
    let mut input = ActionInput {
        action,
        uri: args.uri,
        path,
        display_path,
        language_id: document.language_id,
        text: document.text,
        version: document.version,
        selection,
        instruction: args.instruction,
        diagnostics: Vec::new(),
        with_context: true,
    };
    {
        // The selection's own lines: one ending at column 0 does not take in the next line.
        let (first, last) = input.selected_lines();
        input.diagnostics = args
            .diagnostics
            .unwrap_or_default()
            .iter()
            .filter(|diagnostic| {
                diagnostic.range.end.line as usize >= first
                    && diagnostic.range.start.line as usize <= last
            })
            .map(|diagnostic| convert::diagnostic(&diagnostics_path, diagnostic))
            .collect();
    }
    Ok(input)
}

//! Code actions and commands, read from the action table: a code action per row for a range
//! ("Send to AI" in a transcript), and `chatls.run` (with its aliases), `chatls.ask`,
//! `chatls.followUp`, which start an action in the background (the command answers at once)
//! that streams progress and hands its result to `deliver` (edits) or `transcript` (answers).

use std::sync::Arc;

use futures::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{self as lsp, CodeActionParams, MessageType};

use crate::action::engine::{ActionError, EngineEvent, check_ready};
use crate::action::table::{ActionTable, DEFAULT_ANSWER_KIND, DEFAULT_EDIT_KIND, QUICKFIX_KIND};
use crate::action::{ActionInput, ActionRow, RowKind};
use crate::llm::error::LlmError;
use crate::text::{Range, range_to_chars};
use crate::tools::Staging;

use super::command::{Command, advertised};
use super::run::{stream, transcript};
use super::session::{Running, Session};
use super::{convert, model_picker};

/// The code-action kind of "Send to AI" in a transcript.
pub const FOLLOW_UP_KIND: &str = "chatls.followUp";
/// The LSP 3.18 code-action tag `LLMGenerated`, carried by every chatls code action.
pub const LLM_GENERATED_TAG: u32 = 1;
/// The code-action kinds to advertise: the table's, and the defaults later rows may get.
pub fn code_action_kinds(table: &ActionTable) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    let defaults = [
        DEFAULT_EDIT_KIND,
        QUICKFIX_KIND,
        DEFAULT_ANSWER_KIND,
        FOLLOW_UP_KIND,
    ];
    for kind in table
        .rows()
        .iter()
        .map(|row| row.code_action_kind.as_str())
        .chain(defaults)
    {
        if !kinds.iter().any(|known| known == kind) {
            kinds.push(kind.to_owned());
        }
    }
    kinds
}

/// Whether a code action of `kind` passes the client's `only` filter.
fn wanted(only: Option<&Vec<lsp::CodeActionKind>>, kind: &str) -> bool {
    only.is_none_or(|only| {
        only.iter().any(|wanted| {
            kind == wanted.as_str() || kind.starts_with(&format!("{}.", wanted.as_str()))
        })
    })
}

/// The code actions for a range of an open document (one per row of the table; "Send to AI"
/// in a transcript), as JSON with the `LLMGenerated` tag; nothing for an unknown document.
pub fn code_actions(session: &Session, params: CodeActionParams) -> Option<Value> {
    let uri = params.text_document.uri.as_str().to_owned();
    session.documents.with_document(&uri, |_| ())?;
    // Canonical, like every path the tools see, so get_diagnostics can match them.
    let path = Session::canonical_path(&uri).unwrap_or_default();
    let remembered = params
        .context
        .diagnostics
        .iter()
        .map(|diagnostic| convert::diagnostic(&path, diagnostic))
        .collect();
    session.remember_diagnostics(&uri, remembered);
    let only = params.context.only.as_ref();
    if session.is_transcript(&uri) {
        if !wanted(only, FOLLOW_UP_KIND) {
            return Some(Value::Array(Vec::new()));
        }
        let mut actions = vec![json!({
            "title": "Send to AI",
            "kind": FOLLOW_UP_KIND,
            "tags": [LLM_GENERATED_TAG],
            "command": {"title": "Send to AI", "command": Command::FollowUp.name(), "arguments": [{"uri": uri}]},
        })];
        // The way to give a change its instruction in an editor without an input box: write
        // it under "## You", then send it as a change.
        if let Some(row) = session
            .settings()
            .actions
            .rows()
            .iter()
            .find(|row| row.kind == RowKind::Workspace)
        {
            let title = format!("Send to AI as a change ({})", row.title);
            actions.push(json!({
                "title": title,
                "kind": FOLLOW_UP_KIND,
                "tags": [LLM_GENERATED_TAG],
                "command": {"title": title, "command": Command::FollowUp.name(), "arguments": [{"uri": uri, "action": row.id}]},
            }));
        }
        return Some(Value::Array(actions));
    }
    // A quick-fix row is a quick fix only where the editor reports a problem: VS Code
    // preselects the first quick fix on Ctrl+., so a Fix offered everywhere ran when Refactor
    // was meant. Without diagnostics it is a rewrite, in its place after Refactor.
    let diagnostics = &params.context.diagnostics;
    let settings = session.settings();
    let rows = settings.actions.rows();
    let mut actions = Vec::new();
    for row in rows {
        let kind = if row.is_quickfix() && diagnostics.is_empty() {
            DEFAULT_EDIT_KIND
        } else {
            row.code_action_kind.as_str()
        };
        if !wanted(only, kind) {
            continue;
        }
        let mut argument = json!({"uri": uri, "range": params.range, "action": row.id});
        let mut action = json!({"title": row.title, "kind": kind, "tags": [LLM_GENERATED_TAG]});
        if !diagnostics.is_empty() {
            argument["diagnostics"] = json!(diagnostics);
            if row.is_quickfix() {
                action["diagnostics"] = json!(diagnostics);
            }
        }
        action["command"] =
            json!({"title": row.title, "command": Command::Run.name(), "arguments": [argument]});
        actions.push(action);
    }
    Some(Value::Array(actions))
}

/// What `chatls.listActions` answers: `{"actions": [{"id", "title", "kind", "codeActionKind",
/// "model"?}]}`, the enabled rows in the order their code actions are offered.
fn list_actions(table: &ActionTable) -> Value {
    let rows: Vec<Value> = table
        .rows()
        .iter()
        .map(|row| {
            let mut entry = json!({
                "id": row.id,
                "title": row.title,
                "kind": row.kind.as_str(),
                "codeActionKind": row.code_action_kind,
            });
            if let Some(model) = &row.model {
                entry["model"] = json!(model);
            }
            entry
        })
        .collect();
    json!({ "actions": rows })
}

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
            return Ok(Some(list_actions(&session.settings().actions)));
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
                let row = session
                    .settings()
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
            return start(session, client, input, key, None).await;
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
            let input = snapshot(session, ActionRow::ask(), run).map_err(invalid)?;
            let key = session.conversation_key(&input.uri);
            let you = transcript::you_turn(session, &input, &question);
            return start(session, client, input, key, Some(you)).await;
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
    let settings = session.settings();
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
    let input = snapshot(session, row, args).map_err(invalid)?;
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
    start(session, client, input, key, you).await
}

/// Checks that the action can run, registers it and starts it in the background; answers at
/// once with its progress token.
async fn start(
    session: &Arc<Session>,
    client: &Client,
    input: ActionInput,
    key: String,
    you: Option<String>,
) -> Result<Option<Value>> {
    let settings = session.settings();
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
    let (id, running) = session.start_action(&input.uri, &input.action.title);
    let token = running.token.clone();
    let task_session = Arc::clone(session);
    let task_client = client.clone();
    let task_running = running.clone();
    spawn_action(session, client, &running, id, async move {
        run(&task_session, &task_client, input, &task_running, &key, you).await;
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

/// Builds the action's snapshot from the open document. Errors are messages for the user.
fn snapshot(
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
            if chars.is_empty() {
                // An empty range means the current line, without its line break.
                let line = document.text.char_to_line(chars.start);
                let start = document.text.line_to_char(line);
                let content = document.text.line(line);
                let trimmed = content
                    .to_string()
                    .trim_end_matches(['\n', '\r'])
                    .chars()
                    .count();
                start..start + trimmed
            } else {
                include_leading_indent(&document.text, chars)
            }
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

/// A selection that starts inside its line's indentation (a charwise selection from the
/// first non-blank column, say) is widened to the line start, so the replacement is
/// re-indented from the real base indent and keeps its inner lines where they belong.
fn include_leading_indent(
    text: &ropey::Rope,
    chars: std::ops::Range<usize>,
) -> std::ops::Range<usize> {
    let line_start = text.line_to_char(text.char_to_line(chars.start));
    let only_indent = text
        .slice(line_start..chars.start)
        .chars()
        .all(|c| c == ' ' || c == '\t');
    if only_indent {
        line_start..chars.end
    } else {
        chars
    }
}

/// The last `max` chars of `text` on one line, for progress messages.
/// Only the end of `text` is looked at, so calling it on every token of a long answer costs
/// O(max) each time, not O(answer).
fn tail(text: &str, max: usize) -> String {
    let cut = match max.checked_sub(1) {
        Some(last) => text.char_indices().rev().nth(last).map(|(index, _)| index),
        None => Some(text.len()),
    };
    let kept = &text[cut.unwrap_or(0)..];
    let flat: String = kept
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match cut {
        Some(index) if index > 0 => format!("…{flat}"),
        _ => flat,
    }
}

/// One action, in the background, from request to delivered result.
async fn run(
    session: &Arc<Session>,
    client: &Client,
    input: ActionInput,
    running: &Running,
    key: &str,
    you: Option<String>,
) {
    let settings = session.settings();
    let facts = session.facts();
    // The row's model wins, then the one picked with chatls.selectModel, then the setting.
    let model = session.model_for(&settings, &input.action);
    let title = input.action.label();
    let (status, reporter) = super::run::progress::ActionProgress::start(
        client,
        facts.work_done_progress,
        &running.token,
        &input.action.progress_title(&model),
        &format!("asking {}", crate::display::label(&model)),
    );
    let conversation = session.conversations.begin(key);
    let mut workspace = session.workspace(&settings);
    // A change across files stages the model's edits in an overlay the tools share.
    let staging = (input.action.kind == RowKind::Workspace).then(|| {
        let staging = Arc::new(Staging::new(settings.change_max_files as usize));
        workspace.toolbox = workspace.toolbox.with_staging(Arc::clone(&staging));
        staging
    });
    let mut retries = 0u32;
    let streaming = stream::Stream::start(
        session,
        client,
        &input,
        input.action.streams(settings.edits_stream),
        &running.cancel,
    );
    let changes_files = staging.is_some();
    let result = {
        let mut answer_so_far = String::new();
        // A change's calls of one round are reported together (reports are throttled), so
        // progress names every file being staged.
        let mut round_tools: Vec<String> = Vec::new();
        let mut on_event = |event: EngineEvent<'_>| {
            let line = match event {
                EngineEvent::Requesting { round: 0 } => return,
                EngineEvent::Requesting { round } => {
                    round_tools.clear();
                    streaming.restart();
                    format!("thinking (tool round {round})")
                }
                EngineEvent::Retrying {
                    attempt,
                    delay,
                    reason,
                } => {
                    retries = attempt;
                    streaming.restart();
                    format!(
                        "{}; retrying in {:.1} s (attempt {attempt})",
                        crate::display::line(reason),
                        delay.as_secs_f64()
                    )
                }
                EngineEvent::Token(text) => {
                    streaming.token(text);
                    // Only the end is ever shown: keep a bounded tail, not a second copy of
                    // the whole answer.
                    answer_so_far.push_str(text);
                    if answer_so_far.len() > 4096 {
                        let keep_from = answer_so_far.len() - 1024;
                        let cut = (keep_from..answer_so_far.len())
                            .find(|index| answer_so_far.is_char_boundary(*index))
                            .unwrap_or(answer_so_far.len());
                        answer_so_far.drain(..cut);
                    }
                    format!("writing: {}", tail(&answer_so_far, 60))
                }
                EngineEvent::Tool(label) if changes_files => {
                    round_tools.push(crate::display::label(label));
                    round_tools.join("; ")
                }
                EngineEvent::Tool(label) => crate::display::label(label),
                EngineEvent::Note(note) => crate::display::line(note),
            };
            let _ = status.send(line);
        };
        session
            .engine
            .run(
                &settings,
                &model,
                &conversation,
                &input,
                Some(&workspace),
                &running.cancel,
                &mut on_event,
            )
            .await
    };
    drop(status);
    let mut streamed = streaming.finish().await;
    let progress = match reporter.await {
        Ok(progress) => progress,
        Err(_) => super::run::progress::ActionProgress::hidden(client),
    };
    // A failed or cancelled action that streamed into the buffer puts the original back
    // first; `restored` says how that went.
    let restored = match &result {
        Ok(_) if !running.cancel.is_cancelled() => None,
        _ => streamed.restore(session, client, &input).await,
    };
    let restored = restored.map(|note| format!("; {note}")).unwrap_or_default();

    let outcome = match result {
        Err(error) if error.is_cancelled() => {
            if restored.is_empty() {
                progress.end("cancelled; nothing was changed").await;
            } else {
                progress.end(&format!("cancelled{restored}")).await;
            }
            return;
        }
        Err(error) => {
            // Progress reports are throttled, so the end itself says how hard chatls tried.
            let tried = match retries {
                0 => String::new(),
                1 => " (gave up after 1 retry)".to_owned(),
                n => format!(" (gave up after {n} retries)"),
            };
            let message = format!(
                "{title} failed: {}{tried}{restored}",
                crate::display::line(&explain_error(&error, &model))
            );
            progress.end(&message).await;
            client.show_message(MessageType::ERROR, message).await;
            return;
        }
        Ok(outcome) => outcome,
    };
    session.conversations.record(
        key,
        &conversation.id,
        outcome.user_turn.clone(),
        crate::llm::types::Message::assistant(outcome.answer.clone()),
    );
    if running.cancel.is_cancelled() {
        let restored = streamed
            .restore(session, client, &input)
            .await
            .map(|note| format!("; {note}"))
            .unwrap_or_default();
        if restored.is_empty() {
            progress.end("cancelled; nothing was changed").await;
        } else {
            progress.end(&format!("cancelled{restored}")).await;
        }
        return;
    }
    let delivered = match input.action.kind {
        RowKind::Answer => {
            let answer = if outcome.truncated {
                format!(
                    "{}\n\n_(The answer stopped at the token limit; raise `maxTokens` for more.)_",
                    outcome.answer
                )
            } else {
                outcome.answer.clone()
            };
            let answer = transcript::Answer {
                key,
                conversation: &conversation,
                input: &input,
                model: &model,
                text: &answer,
                you,
            };
            transcript::deliver(session, client, answer, &running.cancel).await
        }
        RowKind::Workspace => {
            let staging = staging.unwrap_or_else(|| Arc::new(Staging::new(1)));
            let delivered = super::run::change::deliver(
                session,
                client,
                &input,
                &staging,
                &workspace.sandbox,
                &running.cancel,
            )
            .await;
            let record = super::run::change::record(&outcome.answer, &staging.files(), &delivered);
            let answer = transcript::Answer {
                key,
                conversation: &conversation,
                input: &input,
                model: &model,
                text: &record,
                you,
            };
            if !running.cancel.is_cancelled()
                && let Err(problem) =
                    transcript::deliver(session, client, answer, &running.cancel).await
            {
                tracing::warn!(%problem, "the change could not be recorded in the transcript");
            }
            delivered
        }
        RowKind::Edit => {
            streamed
                .deliver(
                    session,
                    client,
                    &input,
                    &outcome.answer,
                    outcome.truncated,
                    &running.cancel,
                )
                .await
        }
    };
    // What the action cost, when the upstream said.
    let summary_cost = if outcome.usage == crate::llm::types::Usage::default() {
        String::new()
    } else {
        format!(" ({})", crate::chat::usage::describe(&outcome.usage))
    };
    match delivered {
        Ok(summary) => {
            let summary = format!("{summary}{summary_cost}");
            progress.end(&summary).await;
            if !progress.is_shown() {
                client
                    .show_message(MessageType::INFO, format!("{title}: {summary}"))
                    .await;
            }
        }
        Err(problem) => {
            let message = format!("{title}: {problem}");
            progress.end(&format!("{problem}{summary_cost}")).await;
            // A cancel is the person's own doing: the progress end says it, no message.
            if !running.cancel.is_cancelled() {
                client.show_message(MessageType::WARNING, message).await;
            }
        }
    }
}

/// An action's failure as a sentence; a 404 names the model and how to pick another.
fn explain_error(error: &ActionError, model: &str) -> String {
    match error {
        ActionError::Upstream(LlmError::NotFound { url, upstream }) => format!(
            "unknown model \"{model}\" (404){}: pick another with the command chatls.selectModel (VS Code: \"chatls: Select Model\", Neovim: :ChatlsModel, Helix: :lsp-workspace-command chatls.selectModel) or the `model` setting; if the model is right, check `baseUrl` ({url})",
            upstream
                .as_deref()
                .map(|said| format!(" (upstream said: {said})"))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_chars_on_one_line() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("exactly10!", 10), "exactly10!");
        assert_eq!(tail("a\nb\tc", 10), "a b c");
        assert_eq!(tail("0123456789abc", 3), "…abc");
        assert_eq!(tail("ééééé😀", 2), "…é😀");
        assert_eq!(tail("abc", 0), "…");
        assert_eq!(tail("", 0), "");
        // Linear, not quadratic: 2,000 calls on a text growing to 8 MB.
        let mut text = String::new();
        for _ in 0..2_000 {
            text.push_str(&"x".repeat(4096));
            assert_eq!(tail(&text, 60).chars().count(), 61);
        }
    }
}

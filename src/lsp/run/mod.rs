//! One action after it started, as a pipeline: [`run`], on the snapshot `execute` took, asks
//! the model (progress and, for a streamed edit, the buffer follow the answer), puts a
//! streamed selection back when the action fails or is cancelled, delivers the result by
//! the row's kind (an edit reviewed, settled and applied as a versioned
//! `workspace/applyEdit`; a change across files as one workspace edit; an answer appended
//! to its transcript) and ends the progress with what happened. The only place that sends
//! an action's result to the editor; decides nothing about what the answer means (that is
//! `answer`).

pub mod change;
pub mod deliver;
pub mod progress;
pub mod review;
pub mod settle;
pub mod stream;
pub mod transcript;
pub mod workspace_edit;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::MessageType;

use crate::action::engine::{ActionError, EngineEvent, Outcome as ActionOutcome, Workspace};
use crate::action::request::{explain_error, stage_changes};
use crate::action::{ActionInput, RowKind};
use crate::chat::conversation::ConversationTurn;
use crate::tools::Staging;

use super::session::{Running, Session, Snapshot};
use progress::ActionProgress;
use stream::{Stream, Streamed};

/// How a 404's message tells an editor user to pick another model.
const PICK_MODEL: &str = "the command chatls.selectModel (VS Code: \"chatls: Select Model\", Neovim: :ChatlsModel, Helix: :lsp-workspace-command chatls.selectModel) or the `model` setting";

/// One action, in the background, from request to delivered result.
pub(in crate::lsp) async fn run(
    session: &Arc<Session>,
    client: &Client,
    snapshot: Snapshot,
    input: ActionInput,
    running: &Running,
    key: &str,
    you: Option<String>,
) {
    let conversation = session.conversations.begin(key);
    let mut workspace = session.workspace(&snapshot.settings);
    // A change across files stages the model's edits in an overlay the tools share.
    let staging = stage_changes(
        &mut workspace,
        &input.action,
        snapshot.settings.change_max_files,
    );
    let asked = ask(
        session,
        client,
        &snapshot,
        &input,
        running,
        &conversation,
        &workspace,
        staging.is_some(),
    )
    .await;
    let Asked {
        result,
        mut streamed,
        progress,
        retries,
    } = asked;
    let cancel = &running.cancel;
    let outcome = match result {
        Ok(outcome) => {
            // The answer is part of the conversation even when the person cancelled at
            // its very end.
            session.conversations.record(
                key,
                &conversation.id,
                outcome.user_turn.clone(),
                crate::llm::types::Message::assistant(outcome.answer.clone()),
            );
            outcome
        }
        Err(error) if !error.is_cancelled() => {
            let restored = restore(&mut streamed, session, client, &input).await;
            // Progress reports are throttled, so the end itself says how hard chatls tried.
            let tried = match retries {
                0 => String::new(),
                1 => " (gave up after 1 retry)".to_owned(),
                n => format!(" (gave up after {n} retries)"),
            };
            let message = format!(
                "{} failed: {}{tried}{restored}",
                input.action.label(),
                crate::display::line(&explain_error(&error, &snapshot.model, PICK_MODEL))
            );
            progress.end(&message).await;
            client.show_message(MessageType::ERROR, message).await;
            return;
        }
        Err(_) => return end_cancelled(&mut streamed, session, client, &input, &progress).await,
    };
    if cancel.is_cancelled() {
        return end_cancelled(&mut streamed, session, client, &input, &progress).await;
    }
    let answer = |text: &str| transcript::Answer {
        key,
        conversation: &conversation,
        input: &input,
        model: &snapshot.model,
        text: text.to_owned(),
        you: you.clone(),
    };
    let delivered = match input.action.kind {
        RowKind::Answer => {
            let text = if outcome.truncated {
                format!(
                    "{}\n\n_(The answer stopped at the token limit; raise `maxTokens` for more.)_",
                    outcome.answer
                )
            } else {
                outcome.answer.clone()
            };
            transcript::deliver(session, client, &snapshot, answer(&text), cancel).await
        }
        RowKind::Workspace => {
            let staging = staging.unwrap_or_else(|| Arc::new(Staging::new(1)));
            let delivered = change::deliver(
                session,
                client,
                &snapshot,
                &input,
                &staging,
                &workspace.sandbox,
                cancel,
            )
            .await;
            let record = change::record(&outcome.answer, &staging.files(), &delivered);
            if !cancel.is_cancelled()
                && let Err(problem) =
                    transcript::deliver(session, client, &snapshot, answer(&record), cancel).await
            {
                tracing::warn!(%problem, "the change could not be recorded in the transcript");
            }
            delivered
        }
        RowKind::Edit => {
            streamed
                .deliver(session, client, &snapshot, &input, &outcome, cancel)
                .await
        }
    };
    report(client, &input, &outcome, delivered, &progress, cancel).await;
}

/// What asking the model left: its result, what was streamed into the buffer meanwhile,
/// the progress to end and how often a request was retried.
struct Asked {
    result: Result<ActionOutcome, ActionError>,
    streamed: Streamed,
    progress: ActionProgress,
    retries: u32,
}

/// Runs the engine with the action's progress (each token, tool and retry reported,
/// throttled) and, for a streamed edit, the complete lines sent into the selection.
#[allow(clippy::too_many_arguments)]
async fn ask(
    session: &Arc<Session>,
    client: &Client,
    snapshot: &Snapshot,
    input: &ActionInput,
    running: &Running,
    conversation: &ConversationTurn,
    workspace: &Workspace,
    changes_files: bool,
) -> Asked {
    let model = &snapshot.model;
    let (status, reporter) = ActionProgress::start(
        client,
        snapshot.facts.work_done_progress,
        &running.token,
        &input.action.progress_title(model),
        &format!("asking {}", crate::display::label(model)),
    );
    let streaming = Stream::start(
        session,
        client,
        snapshot,
        input,
        input.action.streams(snapshot.settings.edits_stream),
        &running.cancel,
    );
    let mut retries = 0u32;
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
                    format!("writing: {}", progress::tail(&answer_so_far, 60))
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
                &snapshot.settings,
                model,
                conversation,
                input,
                Some(workspace),
                &running.cancel,
                &mut on_event,
            )
            .await
    };
    drop(status);
    let streamed = streaming.finish().await;
    let progress = match reporter.await {
        Ok(progress) => progress,
        Err(_) => ActionProgress::hidden(client),
    };
    Asked {
        result,
        streamed,
        progress,
        retries,
    }
}

/// Puts back what was streamed into the selection; "; …" says how that went, empty when
/// nothing was streamed.
async fn restore(
    streamed: &mut Streamed,
    session: &Session,
    client: &Client,
    input: &ActionInput,
) -> String {
    streamed
        .restore(session, client, input)
        .await
        .map(|note| format!("; {note}"))
        .unwrap_or_default()
}

/// A cancelled action: the selection restored if it was streamed into, and the progress
/// ended saying so.
async fn end_cancelled(
    streamed: &mut Streamed,
    session: &Session,
    client: &Client,
    input: &ActionInput,
    progress: &ActionProgress,
) {
    let restored = restore(streamed, session, client, input).await;
    if restored.is_empty() {
        progress.end("cancelled; nothing was changed").await;
    } else {
        progress.end(&format!("cancelled{restored}")).await;
    }
}

/// Ends the progress with what the delivery did and what it cost; a message too when the
/// client shows no progress, or when the result could not be delivered (unless cancelled:
/// that is the person's own doing and the progress end says it).
async fn report(
    client: &Client,
    input: &ActionInput,
    outcome: &ActionOutcome,
    delivered: Result<String, String>,
    progress: &ActionProgress,
    cancel: &CancellationToken,
) {
    let title = input.action.label();
    let cost = if outcome.usage == crate::llm::types::Usage::default() {
        String::new()
    } else {
        format!(" ({})", crate::chat::usage::describe(&outcome.usage))
    };
    match delivered {
        Ok(summary) => {
            let summary = format!("{summary}{cost}");
            progress.end(&summary).await;
            if !progress.is_shown() {
                client
                    .show_message(MessageType::INFO, format!("{title}: {summary}"))
                    .await;
            }
        }
        Err(problem) => {
            progress.end(&format!("{problem}{cost}")).await;
            if !cancel.is_cancelled() {
                client
                    .show_message(MessageType::WARNING, format!("{title}: {problem}"))
                    .await;
            }
        }
    }
}

//! The engine: one action from snapshot to answer. Builds the request (tools → system →
//! history → new turn), runs the tool loop against the upstream, and reports progress through
//! a callback. Shared by the language server and `chatls ask`; knows nothing of LSP.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::action::prompt::{SYSTEM_PROMPT, user_turn};
use crate::action::rules::RulesCache;
use crate::action::{ActionInput, RowKind};
use crate::chat::conversation::ConversationTurn;
use crate::chat::usage::{UsageKind, UsageLedger};
use crate::config::{Settings, is_loopback};
use crate::llm::client::{Endpoint, LlmClient, StreamEvent};
use crate::llm::error::LlmError;
use crate::llm::types::{
    ChatRequest, ContentPart, ImageUrl, Message, StreamOptions, ToolCall, Usage,
};
use crate::tools::images::{Image, data_url, find_references, load_images};
use crate::tools::{Limits, Sandbox, ToolBox, change_definitions, definitions, label};

/// What the engine tells its caller while it works.
#[derive(Debug)]
pub enum EngineEvent<'a> {
    /// The request is on its way (round counts tool rounds, from 0).
    Requesting { round: u32 },
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: &'a str,
    },
    /// A fragment of the answer text.
    Token(&'a str),
    /// A tool is about to run; the label says what it does ("reading src/lib.rs:10-80").
    Tool(&'a str),
    /// Something the user should know that is not an error ("skipped big.png: larger than 5 MB").
    Note(&'a str),
}

/// A finished action.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub answer: String,
    /// The user turn as sent, to be recorded in the conversation history.
    pub user_turn: Message,
    pub usage: Usage,
    pub tool_rounds: u32,
    /// The upstream stopped at the token limit (`finish_reason: "length"`): the answer is cut.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error(
        "no API key is set: set CHATLS_API_KEY (or OPENAI_API_KEY) in the environment the editor starts chatls from, or the `apiKey` setting"
    )]
    MissingKey,
    #[error("{0}")]
    Upstream(LlmError),
    #[error("the model returned an empty answer")]
    EmptyAnswer,
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    PromptTooLarge(crate::action::prompt::PromptTooLarge),
}

impl ActionError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ActionError::Cancelled)
            || matches!(self, ActionError::Upstream(error) if error.is_cancelled())
    }
}

/// The workspace as the engine sees it: the sandbox for images in the selection and the
/// tools the model may call.
pub struct Workspace {
    pub sandbox: Sandbox,
    pub toolbox: ToolBox,
    pub limits: Limits,
    /// The project rules read so far in this workspace (see `rules`).
    pub rules: Arc<RulesCache>,
}

#[derive(Clone, Default)]
pub struct Engine {
    client: LlmClient,
    usage: UsageLedger,
}

impl Engine {
    /// The upstream client this engine talks through (shared connection pool).
    pub fn client(&self) -> &LlmClient {
        &self.client
    }
}

/// Fails early, before anything is sent, when the settings cannot work.
pub fn check_ready(settings: &Settings) -> Result<(), ActionError> {
    if settings.api_key.is_none() && !is_loopback(&settings.base_url) {
        return Err(ActionError::MissingKey);
    }
    Ok(())
}

/// The endpoint for these settings, with the environment's timing overrides applied.
pub fn endpoint(settings: &Settings) -> Endpoint {
    let mut endpoint = Endpoint::new(settings.base_url.clone(), settings.api_key.clone());
    endpoint.network = settings.network.clone();
    let tuning = settings.tuning;
    if let Some(ms) = tuning.first_byte_timeout_ms {
        endpoint.timeouts.first_byte = Duration::from_millis(ms);
    }
    if let Some(ms) = tuning.first_content_timeout_ms {
        endpoint.timeouts.first_content = Duration::from_millis(ms);
    }
    if let Some(ms) = tuning.idle_timeout_ms {
        endpoint.timeouts.idle = Duration::from_millis(ms);
    }
    if let Some(ms) = tuning.retry_base_ms {
        endpoint.retry.base_delay = Duration::from_millis(ms);
    }
    endpoint
}

/// The request body for one round; `messages` already holds system, history and new turns.
pub fn build_request(
    settings: &Settings,
    model: &str,
    messages: Vec<Message>,
    tools_allowed: bool,
) -> ChatRequest {
    let offer_tools = settings.tools_enabled;
    ChatRequest {
        model: model.to_owned(),
        messages,
        temperature: settings.temperature,
        top_p: settings.top_p,
        max_tokens: settings.max_tokens,
        reasoning_effort: settings.reasoning_effort.clone(),
        stream: settings.stream,
        stream_options: settings.stream.then_some(StreamOptions {
            include_usage: true,
        }),
        // The tools array stays in every request of a conversation (it heads the cache
        // prefix); once the rounds are used up, tool_choice "none" asks for the answer.
        tools: offer_tools.then(definitions),
        tool_choice: offer_tools.then(|| if tools_allowed { "auto" } else { "none" }.to_owned()),
    }
}

/// The system message: the constant prompt, then the project rules (the same bytes for
/// every request about the same file, see `rules`).
///
/// Done in place: a few `stat` calls per rules path (what building the sandbox on this same
/// path already costs) and a read of at most 16 KB only when a rules file changed; handing
/// it to a blocking thread cost more than that, and let progress reports of the first round
/// run ahead of the request.
fn system_message(
    settings: &Settings,
    workspace: Option<&Workspace>,
    input: &ActionInput,
) -> String {
    let Some(workspace) = workspace.filter(|_| settings.rules_enabled) else {
        return SYSTEM_PROMPT.to_owned();
    };
    let part = workspace
        .rules
        .system_part(&workspace.sandbox, input.path.as_deref());
    format!("{SYSTEM_PROMPT}{part}")
}

/// The text sent when the rounds are used up.
pub const ROUNDS_EXHAUSTED: &str = "You have used all tool calls available for this request. Answer now with what you have, without calling tools.";

impl Engine {
    /// The session's token totals (every request through this engine counts itself; the
    /// completion code records its own with [`UsageLedger::record_completion`]).
    pub fn usage(&self) -> &UsageLedger {
        &self.usage
    }

    /// Runs one action to its answer with `model` (the row's, the picked one or the
    /// setting's: the caller decides), the rest from the request's settings snapshot.
    #[allow(clippy::too_many_arguments)]
    pub async fn run(
        &self,
        settings: &Settings,
        model: &str,
        conversation: &ConversationTurn,
        input: &ActionInput,
        workspace: Option<&Workspace>,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(EngineEvent<'_>) + Send),
    ) -> Result<Outcome, ActionError> {
        check_ready(settings)?;
        let endpoint = endpoint(settings);

        crate::action::prompt::check_size(input).map_err(ActionError::PromptTooLarge)?;
        let user_text = user_turn(input);
        let images = match (workspace, &input.path) {
            (Some(workspace), Some(path)) => {
                let references = find_references(&input.selected_text());
                if references.is_empty() {
                    Vec::new()
                } else {
                    // Reading up to a few megabytes of images is blocking I/O: off the runtime.
                    let base_dir = path.parent().map(ToOwned::to_owned).unwrap_or_default();
                    let (sandbox, limits) = (workspace.sandbox.clone(), workspace.limits.clone());
                    let (images, notes) = tokio::task::spawn_blocking(move || {
                        load_images(&sandbox, &base_dir, &references, &limits)
                    })
                    .await
                    .unwrap_or_else(|_| {
                        (
                            Vec::new(),
                            vec!["images in the selection could not be read".to_owned()],
                        )
                    });
                    for note in &notes {
                        on_event(EngineEvent::Note(note));
                    }
                    images
                }
            }
            _ => Vec::new(),
        };
        let user_message = if images.is_empty() {
            Message::user(user_text)
        } else {
            Message::user_parts(with_images(user_text, &images))
        };

        let mut messages = Vec::with_capacity(conversation.history.len() + 2);
        messages.push(Message::system(system_message(settings, workspace, input)));
        messages.extend(conversation.history.iter().cloned());
        messages.push(user_message.clone());

        // A change across files is made with tools: they are offered even with tools.enabled off.
        let changes_files = input.action.kind == RowKind::Workspace;
        let tools_enabled = (settings.tools_enabled || changes_files) && workspace.is_some();
        let max_rounds = if tools_enabled {
            settings.tools_max_rounds
        } else {
            0
        };
        let mut usage = Usage::default();
        let mut round = 0u32;
        loop {
            let tools_allowed = tools_enabled && round < max_rounds;
            let mut request = build_request(settings, model, messages.clone(), tools_allowed);
            if !tools_enabled {
                request.tools = None;
                request.tool_choice = None;
            } else if changes_files {
                request.tools = Some(change_definitions());
                request.tool_choice = Some(if tools_allowed { "auto" } else { "none" }.to_owned());
            }
            on_event(EngineEvent::Requesting { round });
            let completion = {
                let mut forward = |event: StreamEvent<'_>| match event {
                    StreamEvent::Content(text) => on_event(EngineEvent::Token(text)),
                    StreamEvent::Retrying {
                        attempt,
                        delay,
                        reason,
                    } => on_event(EngineEvent::Retrying {
                        attempt,
                        delay,
                        reason,
                    }),
                    _ => {}
                };
                self.client
                    .chat(&endpoint, &request, &conversation.id, cancel, &mut forward)
                    .await
                    .map_err(|error| {
                        if error.is_cancelled() {
                            ActionError::Cancelled
                        } else {
                            ActionError::Upstream(error)
                        }
                    })?
            };
            if let Some(used) = &completion.usage {
                usage.add(used);
                self.usage.record(UsageKind::Actions, &request.model, used);
            }

            let workspace = match workspace {
                Some(workspace) if tools_allowed && !completion.tool_calls.is_empty() => workspace,
                _ => {
                    // A change may end without closing words: its result is the staged files.
                    if completion.content.trim().is_empty() && !changes_files {
                        return Err(ActionError::EmptyAnswer);
                    }
                    return Ok(Outcome {
                        answer: completion.content,
                        user_turn: user_message,
                        usage,
                        tool_rounds: round,
                        truncated: completion.finish_reason.as_deref() == Some("length"),
                    });
                }
            };

            round += 1;
            let calls = completion.tool_calls;
            let content = (!completion.content.is_empty()).then_some(completion.content);
            messages.push(Message::assistant_tool_calls(content, calls.clone()));
            let results = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ActionError::Cancelled),
                results = run_tools(&workspace.toolbox, &calls, on_event) => results,
            };
            let mut requested_images = Vec::new();
            for (call, output) in calls.iter().zip(results) {
                messages.push(Message::tool_result(call.id.clone(), output.content));
                requested_images.extend(output.images);
            }
            if !requested_images.is_empty() {
                // A tool message carries text only, so images go up in a user message.
                requested_images.truncate(workspace.limits.max_images);
                let names = requested_images
                    .iter()
                    .map(|image| image.source.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                messages.push(Message::user_parts(with_images(
                    format!("The images you asked for with read_file: {names}"),
                    &requested_images,
                )));
            }
            if round >= max_rounds {
                messages.push(Message::user(ROUNDS_EXHAUSTED));
            }
        }
    }
}

async fn run_tools(
    toolbox: &ToolBox,
    calls: &[ToolCall],
    on_event: &mut (dyn FnMut(EngineEvent<'_>) + Send),
) -> Vec<crate::tools::ToolOutput> {
    for call in calls {
        let text = crate::display::label(&label(&call.function.name, &call.function.arguments));
        on_event(EngineEvent::Tool(&text));
    }
    join_all(
        calls
            .iter()
            .map(|call| toolbox.run(&call.function.name, &call.function.arguments)),
    )
    .await
}

fn with_images(text: String, images: &[Image]) -> Vec<ContentPart> {
    let mut parts = vec![ContentPart::Text { text }];
    parts.extend(images.iter().map(|image| ContentPart::ImageUrl {
        image_url: ImageUrl {
            url: data_url(image),
        },
    }));
    parts
}

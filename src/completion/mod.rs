//! Completion while typing, beside the engine (not a branch of the action path): one short
//! streamed request per pause in typing, for ghost text (`textDocument/inlineCompletion`)
//! or a completion item (`textDocument/completion`). Knows nothing of LSP: the edge hands
//! it a document snapshot and a cursor and gets plain text back.
//!
//! `prompt` lays the request out for the prefix cache, `answer` turns the stream into the
//! text to insert (and says when it is complete, so reading stops), `cache` answers typing
//! through a shown suggestion, `state` keeps the latest request per document (a newer one
//! supersedes the older at once) and the quiet gate for failures.

pub mod answer;
pub mod brackets;
pub mod cache;
pub mod prompt;
pub mod state;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ropey::Rope;
use tokio_util::sync::CancellationToken;

use crate::action::engine::{check_ready, endpoint};
use crate::chat::usage::{Estimate, UsageLedger};
use crate::config::Settings;
use crate::llm::client::{LlmClient, StreamEvent};
use crate::llm::types::{ChatRequest, Message, StreamOptions};
use crate::tools::Sandbox;

use self::answer::Surroundings;
use self::cache::{MadeBy, Shown};
use self::prompt::FileInfo;
use self::state::{Documents, QuietGate};

/// The longest wait for the first byte of a completion: a suggestion that late is useless.
const FIRST_BYTE_CAP: Duration = Duration::from_secs(20);

/// The largest completion response body: [`answer::MAX_READ_BYTES`] of text streamed in the
/// smallest pieces, with the SSE and JSON around each, stays far below it.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One completion request, detached from the editor.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub uri: &'a str,
    /// Workspace-relative path (or the URI) for the prompt.
    pub display_path: &'a str,
    pub language: &'a str,
    pub text: Rope,
    /// Char offset of the cursor in `text`.
    pub cursor: usize,
    /// Cancelled when the editor no longer waits for the answer (`$/cancelRequest`, or the
    /// request's handler dropped): the upstream connection closes at once.
    pub abandoned: CancellationToken,
    /// From [`Completer::arrive`] when the editor's request arrived: the newest wins.
    pub arrival: u64,
}

/// What came of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Text to insert at the cursor; `cached` when typing through a shown suggestion.
    Suggest { text: String, cached: bool },
    /// Nothing to show: disabled, superseded, cancelled, refused, or an empty answer.
    Nothing,
    /// The upstream failed and the user has not been told yet (later failures of the same
    /// streak come back as `Nothing`); the text says why.
    Failed(String),
}

/// The completion service: talks through the session's one pooled HTTP client (the
/// engine's), so actions and completions share connections and the cold-start gate, and
/// counts every request in the session's usage ledger.
pub struct Completer {
    client: LlmClient,
    usage: UsageLedger,
    documents: Documents,
    gate: QuietGate<Settings>,
    /// The sandbox of the last roots and deny globs: building one compiles its globs, which
    /// costs more than the rest of a typed-through answer.
    sandbox: Mutex<Option<SandboxFor>>,
}

type SandboxFor = (Vec<PathBuf>, Vec<String>, Arc<Sandbox>);

/// The request body for a completion: the completion model and token cap, streaming, no tools.
pub fn chat_request(settings: &Settings, messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: settings.completion.model.clone(),
        messages,
        temperature: None,
        top_p: None,
        max_tokens: Some(settings.completion.max_tokens),
        reasoning_effort: None,
        stream: true,
        stream_options: Some(StreamOptions {
            include_usage: true,
        }),
        tools: None,
        tool_choice: None,
    }
}

impl Completer {
    /// A completer over the session's client and usage ledger.
    pub fn new(client: LlmClient, usage: UsageLedger) -> Self {
        Completer {
            client,
            usage,
            documents: Documents::default(),
            gate: QuietGate::default(),
            sandbox: Mutex::default(),
        }
    }

    /// Answers one request: from the shown suggestion when the user typed through it, else
    /// after the debounce from the upstream, unless a newer request for the document came.
    pub async fn complete(&self, request: Request<'_>, settings: &Settings) -> Outcome {
        let options = &settings.completion;
        if !options.enabled {
            return Outcome::Nothing;
        }
        let Some(ticket) = self.documents.begin(request.uri, request.arrival) else {
            return Outcome::Nothing;
        };
        let made_by = MadeBy::of(settings);
        if let Some(shown) = self.documents.shown(request.uri, &made_by)
            && let Some(rest) = shown.rest(&request.text, request.cursor)
        {
            tracing::debug!(
                uri = request.uri,
                "completion typed through, no upstream request"
            );
            return Outcome::Suggest {
                text: rest.to_owned(),
                cached: true,
            };
        }
        if options.debounce_ms > 0 {
            tokio::select! {
                biased;
                _ = ticket.cancel.cancelled() => return Outcome::Nothing,
                _ = request.abandoned.cancelled() => return Outcome::Nothing,
                _ = tokio::time::sleep(Duration::from_millis(options.debounce_ms)) => {}
            }
        }
        if let Err(error) = check_ready(settings) {
            return self.failure(settings, request.uri, &error.to_string());
        }

        let text = &request.text;
        let window = prompt::window(text, request.cursor);
        let file = FileInfo {
            path: request.display_path,
            language: request.language,
        };
        let body = chat_request(settings, prompt::messages(&file, text, window));
        let sent_chars = body.messages.iter().map(Message::text_len).sum::<usize>() as u64;
        let line_start = text.line_to_char(text.char_to_line(window.cursor));
        let line_before = text.slice(line_start..window.cursor).to_string();
        let after = text.slice(window.cursor..window.end).to_string();
        let around = Surroundings::new(&line_before, &after, request.language);
        let mut upstream = endpoint(settings);
        upstream.retry.max_retries = 0;
        upstream.timeouts.first_byte = upstream.timeouts.first_byte.min(FIRST_BYTE_CAP);
        upstream.max_response_bytes = upstream.max_response_bytes.min(MAX_RESPONSE_BYTES);

        // Cancelled when the suggestion is complete or long enough (stop reading), or when
        // superseded. Completeness is asked only when a piece ends a line or may close a
        // fence, over at most MAX_READ_BYTES: a long stream costs a bounded amount of work.
        let stop = ticket.cancel.child_token();
        let mut streamed = String::new();
        let mut complete = false;
        let mut capped = false;
        let mut on_event = |event: StreamEvent<'_>| {
            if let StreamEvent::Content(piece) = event
                && !complete
            {
                streamed.push_str(piece);
                if streamed.len() >= answer::MAX_READ_BYTES {
                    complete = true;
                    capped = true;
                    stop.cancel();
                } else if answer::may_complete(piece) && answer::is_complete(&streamed, around) {
                    complete = true;
                    stop.cancel();
                }
            }
        };
        let chat = self.client.chat(
            &upstream,
            &body,
            &ticket.conversation_id,
            &stop,
            &mut on_event,
        );
        let result = tokio::select! {
            biased;
            _ = request.abandoned.cancelled() => {
                stop.cancel();
                self.usage.record_completion(&body.model, None, Estimate { sent_chars, received_chars: 0 });
                return Outcome::Nothing;
            }
            result = chat => result,
        };
        // Every request that reached the upstream costs tokens, finished or not.
        let received_chars = match &result {
            Ok(done) => done.content.chars().count(),
            Err(_) => streamed.chars().count(),
        } as u64;
        let measured = result.as_ref().ok().and_then(|done| done.usage.as_ref());
        self.usage.record_completion(
            &body.model,
            measured,
            Estimate {
                sent_chars,
                received_chars,
            },
        );
        let (raw, truncated) = match result {
            Ok(done) => {
                if let Some(usage) = done.usage {
                    tracing::info!(
                        uri = request.uri,
                        prompt_tokens = usage.prompt_tokens,
                        completion_tokens = usage.completion_tokens,
                        "completion usage"
                    );
                }
                let truncated = done.finish_reason.as_deref() == Some("length");
                (done.content, truncated)
            }
            Err(error) if error.is_cancelled() && complete && !ticket.cancel.is_cancelled() => {
                (streamed, capped)
            }
            Err(error) if error.is_cancelled() => return Outcome::Nothing,
            Err(error) => return self.failure(settings, request.uri, &error.to_string()),
        };
        self.gate.succeeded();
        let suggestion = answer::finish(&raw, around, truncated);
        let shown = suggestion
            .as_deref()
            .map(|text| Shown::new(&request.text, request.cursor, text));
        self.documents
            .remember(request.uri, &ticket, made_by, shown);
        if !self.documents.is_current(request.uri, &ticket) {
            return Outcome::Nothing;
        }
        match suggestion {
            Some(text) => Outcome::Suggest {
                text,
                cached: false,
            },
            None => Outcome::Nothing,
        }
    }

    fn failure(&self, settings: &Settings, uri: &str, why: &str) -> Outcome {
        tracing::warn!(uri, error = why, "completion failed");
        if self.gate.failed(settings.clone()) {
            Outcome::Failed(format!(
                "chatls: completion failed: {why}. Completion stays quiet until a request succeeds again or the settings change."
            ))
        } else {
            Outcome::Nothing
        }
    }

    /// The sandbox for these roots and deny globs, built once per change of either.
    pub fn sandbox(&self, roots: Vec<PathBuf>, deny: &[String]) -> Arc<Sandbox> {
        let mut slot = self
            .sandbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached_roots, cached_deny, sandbox)) = slot.as_ref()
            && *cached_roots == roots
            && cached_deny.as_slice() == deny
        {
            return Arc::clone(sandbox);
        }
        let sandbox = Arc::new(Sandbox::new(roots.clone(), deny));
        *slot = Some((roots, deny.to_vec(), Arc::clone(&sandbox)));
        sandbox
    }

    /// Numbers a request as it arrives, before its work is scheduled.
    pub fn arrive(&self) -> u64 {
        self.documents.arrive()
    }

    /// The document closed: its request stops and its state goes.
    pub fn forget(&self, uri: &str) {
        self.documents.forget(uri);
    }

    /// Stops every running completion (shutdown, end of input).
    pub fn cancel_all(&self) {
        self.documents.cancel_all();
    }
}

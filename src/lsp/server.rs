//! The `LanguageServer` implementation: each method only delegates to a handler, under the
//! panic guard.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionParams, CompletionParams, CompletionResponse, DidChangeConfigurationParams,
    DidChangeTextDocumentParams, DidChangeWorkspaceFoldersParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, ExecuteCommandParams, InitializeParams, InitializeResult,
    InitializedParams, InlineCompletionParams, InlineCompletionResponse, LSPAny, MessageType,
    WorkDoneProgressCancelParams,
};
use tower_lsp_server::{Client, LanguageServer};

use super::session::Session;
use super::{code_actions, completion, execute, guard, handlers};

/// What the input guard says about a message it could not pass on.
#[derive(Debug, serde::Deserialize)]
pub struct InvalidMessage {
    pub reason: String,
}

pub struct Server {
    pub(crate) client: Client,
    pub(crate) session: Arc<Session>,
    /// A settings problem found during `initialize`, shown once the client is ready.
    init_warning: std::sync::Mutex<Option<String>>,
}

impl Server {
    pub fn new(client: Client, session: Arc<Session>) -> Self {
        Server {
            client,
            session,
            init_warning: std::sync::Mutex::new(None),
        }
    }

    /// `textDocument/codeAction`, as the input guard hands it on (see
    /// [`super::input::CODE_ACTION_METHOD`]): the actions as JSON, each tagged `LLMGenerated`.
    pub async fn code_action_tagged(&self, params: CodeActionParams) -> Result<Option<Value>> {
        guard::request("textDocument/codeAction", async {
            Ok(code_actions::code_actions(&self.session, params))
        })
        .await
    }

    /// `chatls/invalidRequest`: a message with an id that was not valid JSON-RPC (see
    /// [`super::input`]); the client gets an error for that id instead of waiting forever.
    pub async fn invalid_request(&self, params: InvalidMessage) -> Result<()> {
        tracing::warn!(reason = %params.reason, "answered an invalid request with an error");
        Err(tower_lsp_server::jsonrpc::Error {
            code: tower_lsp_server::jsonrpc::ErrorCode::InvalidRequest,
            message: format!(
                "chatls: not a valid JSON-RPC 2.0 request: {}",
                params.reason
            )
            .into(),
            data: None,
        })
    }

    /// `chatls/invalidMessage`: input that was not a valid message and cannot be answered;
    /// logged and reported to the client's log.
    pub async fn invalid_message(&self, params: InvalidMessage) {
        tracing::warn!(reason = %params.reason, "ignored an invalid message");
        self.client
            .log_message(
                MessageType::WARNING,
                format!(
                    "chatls: ignored a message that is not valid JSON-RPC 2.0: {}",
                    params.reason
                ),
            )
            .await;
    }

    /// `window/workDoneProgress/cancel` (not part of the trait; routed as a custom method).
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        guard::notification("window/workDoneProgress/cancel", async {
            handlers::work_done_progress_cancel(&self.session, params);
        })
        .await;
    }

    /// `textDocument/inlineCompletion` (LSP 3.18, not part of the trait; a custom method).
    pub async fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> Result<Option<InlineCompletionResponse>> {
        guard::request(
            "textDocument/inlineCompletion",
            completion::inline_completion(&self.session, &self.client, params),
        )
        .await
    }
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        guard::request("initialize", async {
            let (result, warning) = handlers::initialize(&self.session, params);
            if let Ok(mut slot) = self.init_warning.lock() {
                *slot = warning;
            }
            Ok(result)
        })
        .await
    }

    async fn initialized(&self, _: InitializedParams) {
        guard::notification("initialized", async {
            let warning = self
                .init_warning
                .lock()
                .ok()
                .and_then(|mut slot| slot.take());
            if let Some(warning) = warning {
                self.client.show_message(MessageType::ERROR, warning).await;
            }
            handlers::pull_configuration(&self.session, &self.client);
        })
        .await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.session.mark_shut_down();
        let _ = self.session.cancel_all();
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        guard::notification("textDocument/didOpen", async {
            handlers::did_open(&self.session, params);
        })
        .await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        guard::notification("textDocument/didChange", async {
            if let Some(problem) = handlers::did_change(&self.session, params) {
                self.client.log_message(MessageType::WARNING, problem).await;
            }
        })
        .await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        guard::notification("textDocument/didClose", async {
            handlers::did_close(&self.session, params);
        })
        .await;
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        guard::notification("workspace/didChangeConfiguration", async {
            handlers::did_change_configuration(&self.session, &self.client, params).await;
        })
        .await;
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        guard::notification("workspace/didChangeWorkspaceFolders", async {
            for refused in handlers::did_change_workspace_folders(&self.session, params) {
                self.client
                    .show_message(MessageType::WARNING, refused)
                    .await;
            }
        })
        .await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        guard::request(
            "textDocument/completion",
            completion::completion(&self.session, &self.client, params),
        )
        .await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        guard::request("workspace/executeCommand", async {
            let arguments: Vec<Value> = params.arguments;
            execute::execute(&self.session, &self.client, &params.command, arguments).await
        })
        .await
    }
}

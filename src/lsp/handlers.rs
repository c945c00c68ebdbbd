//! Lifecycle, document sync and settings handlers: convert in, update the session, convert
//! out. Document changes are applied synchronously, before any `.await`.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions,
    ConfigurationItem, DidChangeConfigurationParams, DidChangeTextDocumentParams,
    DidChangeWorkspaceFoldersParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    ExecuteCommandOptions, InitializeParams, InitializeResult, MessageType, OneOf,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, WorkDoneProgressCancelParams, WorkspaceFoldersServerCapabilities,
    WorkspaceServerCapabilities,
};

use crate::config::{describe_errors, says_nothing};

use super::code_actions::code_action_kinds;
use super::command::advertised;
use super::pull::PULL_TIMEOUT;
use super::session::Session;
use super::{completion, convert};

pub fn initialize(
    session: &Session,
    params: InitializeParams,
) -> (InitializeResult, Option<String>) {
    // The capabilities as the client sent them are logged (debug, `chatls::client`) by
    // `input::pump`: these typed ones have lost the fields lsp-types does not know.
    let mut facts = convert::client_facts(&params.capabilities);
    // Helix (25.07) handles window/showDocument for file: URIs but does not advertise it.
    if params
        .client_info
        .as_ref()
        .is_some_and(|info| info.name.eq_ignore_ascii_case("helix"))
    {
        facts.show_document = true;
    }
    session.set_facts(facts);
    let roots = convert::roots(&params);
    let refused_roots = Session::root_refusals(&roots);
    session.set_roots(roots);
    let warning = params
        .initialization_options
        .and_then(|options| session.set_init_options(options).err())
        .map(|errors| describe_errors(&errors));
    let warning = join_warnings(warning, refused_roots);
    let capabilities = ServerCapabilities {
        position_encoding: Some(convert::encoding_kind(facts.encoding)),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                ..TextDocumentSyncOptions::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(
                code_action_kinds(&session.settings().actions)
                    .into_iter()
                    .map(CodeActionKind::from)
                    .collect(),
            ),
            resolve_provider: Some(false),
            ..CodeActionOptions::default()
        })),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: advertised(),
            ..ExecuteCommandOptions::default()
        }),
        inline_completion_provider: Some(OneOf::Left(true)),
        completion_provider: completion::offer_popup(
            session.settings().completion.popup,
            facts.inline_completion,
        )
        .then(|| CompletionOptions {
            trigger_characters: Some(vec![".".to_owned(), "(".to_owned()]),
            ..CompletionOptions::default()
        }),
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
        ..ServerCapabilities::default()
    };
    let result = InitializeResult {
        capabilities,
        server_info: Some(ServerInfo {
            name: "chatls".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
        offset_encoding: None,
    };
    (result, warning)
}

/// Pulls `workspace/configuration` for the `chatls` section when the client supports it, in
/// a task of its own (see [`super::pull`]): the message loop never waits for the client. An
/// answer without chatls settings (Neovim answers `null` when only `init_options` are set)
/// keeps the settings in force.
pub fn pull_configuration(session: &Arc<Session>, client: &Client) {
    if !session.facts().configuration || !session.pulls.begin() {
        return;
    }
    let (session, client) = (Arc::clone(session), client.clone());
    tokio::spawn(async move {
        loop {
            pull_once(&session, &client).await;
            if !session.pulls.end() {
                break;
            }
        }
    });
}

async fn pull_once(session: &Session, client: &Client) {
    let items = vec![ConfigurationItem {
        scope_uri: None,
        section: Some("chatls".to_owned()),
    }];
    let Ok(answer) = tokio::time::timeout(PULL_TIMEOUT, client.configuration(items)).await else {
        tracing::warn!(
            "the client did not answer workspace/configuration within {} s; the settings in force stay",
            PULL_TIMEOUT.as_secs()
        );
        return;
    };
    match answer {
        Ok(values) => {
            if let Some(value) = values
                .into_iter()
                .next()
                .filter(|value| !says_nothing(value))
            {
                apply_configuration(session, client, value).await;
            }
        }
        Err(error) => tracing::debug!(%error, "workspace/configuration failed"),
    }
}

async fn apply_configuration(session: &Session, client: &Client, value: Value) {
    match session.set_configuration(value) {
        Ok(()) => tracing::info!(settings = ?session.settings(), "settings updated"),
        Err(errors) => {
            client
                .show_message(MessageType::ERROR, describe_errors(&errors))
                .await;
        }
    }
}

/// A pushed update replaces the settings in force whole (see `config::says_nothing` for the
/// payloads that only mean "settings changed, ask me").
pub async fn did_change_configuration(
    session: &Arc<Session>,
    client: &Client,
    params: DidChangeConfigurationParams,
) {
    if says_nothing(&params.settings) {
        pull_configuration(session, client);
    } else {
        apply_configuration(session, client, params.settings).await;
    }
}

pub fn did_open(session: &Session, params: DidOpenTextDocumentParams) {
    let document = params.text_document;
    session.documents.open(
        document.uri.as_str(),
        &document.text,
        document.version,
        &document.language_id,
    );
    session.index_document(document.uri.as_str());
}

/// Applied synchronously and in order; an error leaves the buffer as it was and is logged
/// (a client out of sync should reopen the document).
pub fn did_change(session: &Session, params: DidChangeTextDocumentParams) -> Option<String> {
    let uri = params.text_document.uri.as_str().to_owned();
    let changes: Vec<_> = params
        .content_changes
        .into_iter()
        .map(convert::text_change)
        .collect();
    let encoding = session.facts().encoding;
    match session
        .documents
        .change(&uri, params.text_document.version, &changes, encoding)
    {
        Ok(()) => {
            session.touch(&uri);
            None
        }
        Err(error) => {
            tracing::warn!(%uri, %error, "didChange not applied");
            Some(format!(
                "chatls: a change to {uri} was not applied: {error}"
            ))
        }
    }
}

pub fn did_close(session: &Session, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri.as_str();
    session.documents.close(uri);
    session.forget_document(uri);
}

/// The settings warning and the refused workspace folders, as one message.
fn join_warnings(warning: Option<String>, more: Vec<String>) -> Option<String> {
    let all: Vec<String> = warning.into_iter().chain(more).collect();
    (!all.is_empty()).then(|| all.join("\n"))
}

/// Updates the roots; returns a sentence for each added folder the tools refuse to read.
pub fn did_change_workspace_folders(
    session: &Session,
    params: DidChangeWorkspaceFoldersParams,
) -> Vec<String> {
    let mut roots = session.roots();
    for removed in &params.event.removed {
        if let Some(path) = convert::file_path(&removed.uri) {
            roots.retain(|root| *root != path);
        }
    }
    let added: Vec<_> = params
        .event
        .added
        .iter()
        .filter_map(|added| convert::file_path(&added.uri))
        .collect();
    for path in &added {
        if !roots.contains(path) {
            roots.push(path.clone());
        }
    }
    session.set_roots(roots);
    Session::root_refusals(&added)
}

pub fn work_done_progress_cancel(session: &Arc<Session>, params: WorkDoneProgressCancelParams) {
    let token = match params.token {
        tower_lsp_server::ls_types::NumberOrString::String(token) => token,
        tower_lsp_server::ls_types::NumberOrString::Number(number) => number.to_string(),
    };
    if !session.cancel_token(&token) {
        tracing::debug!(%token, "cancel for an unknown or finished action");
    }
}

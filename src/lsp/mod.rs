//! The LSP edge: the only module that knows LSP types and JSON-RPC. `server` delegates each
//! method to `handlers` (lifecycle, sync, settings) or `actions` (code actions, commands);
//! `convert` translates types; `session` holds the state; `progress` talks work-done progress.

pub mod client_facts;
pub mod code_actions;
pub mod command;
pub mod completion;
pub mod convert;
pub mod execute;
pub mod guard;
pub mod handlers;
pub mod input;
pub mod model_picker;
pub mod pull;
pub mod run;
pub mod server;
pub mod session;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{ClientSocket, LspService};

use crate::config::EnvSettings;

pub use server::Server;
pub use session::Session;

/// The service and its client socket over a session. Every message reaches it through
/// [`input::pump`], which renames `textDocument/codeAction` requests to the tagged method.
fn service_for(session: Arc<Session>) -> (LspService<Server>, ClientSocket) {
    LspService::build(move |client| Server::new(client, session))
        .custom_method(
            "window/workDoneProgress/cancel",
            Server::work_done_progress_cancel,
        )
        .custom_method("textDocument/inlineCompletion", Server::inline_completion)
        .custom_method(input::CODE_ACTION_METHOD, Server::code_action_tagged)
        .custom_method(input::INVALID_REQUEST_METHOD, Server::invalid_request)
        .custom_method(input::INVALID_MESSAGE_METHOD, Server::invalid_message)
        .finish()
}

/// Serves LSP over the given streams until `exit` or end of input; true when the client
/// asked for `shutdown` first (the process then exits 0, else 1, as the spec says). The input goes through
/// [`input::pump`] first, so a malformed message is answered or logged instead of ending the
/// server.
pub async fn serve<I, O>(input: I, output: O, env: EnvSettings) -> bool
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite,
{
    let session = Arc::new(Session::new(env));
    let (service, socket) = service_for(Arc::clone(&session));
    let (checked, to_checked) = tokio::io::duplex(64 * 1024);
    let pump = tokio::spawn(input::pump(input, to_checked));
    tower_lsp_server::Server::new(checked, output, socket)
        .concurrency_level(16)
        .serve(service)
        .await;
    pump.abort();
    // Whatever ended the session, nothing may keep streaming behind it.
    session.cancel_all();
    session.was_shut_down()
}

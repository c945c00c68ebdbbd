//! Every handler runs under `catch_unwind`: a bug answers one request with an error (or drops
//! one notification) and is logged, instead of killing the server and the user's session.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_owned()
    }
}

pub async fn request<T>(method: &str, handler: impl Future<Output = Result<T>>) -> Result<T> {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let text = panic_text(payload.as_ref());
            tracing::error!(method, panic = %text, "handler panicked");
            Err(Error {
                code: ErrorCode::InternalError,
                message: format!(
                    "chatls hit an internal error in {method} ({text}); the server keeps running"
                )
                .into(),
                data: None,
            })
        }
    }
}

pub async fn notification(method: &str, handler: impl Future<Output = ()>) {
    if let Err(payload) = AssertUnwindSafe(handler).catch_unwind().await {
        let text = panic_text(payload.as_ref());
        tracing::error!(method, panic = %text, "notification handler panicked");
    }
}

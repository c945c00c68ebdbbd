//! `chatls.selectModel`: with `{"model"}` it switches at once; without, it asks with
//! `window/showMessageRequest` (Helix shows a picker, Neovim `vim.ui.select`), listing the
//! seed's models and what `GET {baseUrl}/models` returns within 2 s (cached per base URL,
//! failures ignored), the current model marked. The command answers at once: the person may
//! take longer to pick than Helix waits for a request.

use std::sync::Arc;

use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageActionItem, MessageType};

use crate::action::engine::endpoint;
use crate::config::models::{LIST_TIMEOUT, choices, from_choice};

use super::session::Session;

pub(super) async fn select(
    session: &Arc<Session>,
    client: &Client,
    argument: Option<&Value>,
) -> Result<Option<Value>> {
    if let Some(argument) = argument.filter(|argument| !argument.is_null()) {
        let model = argument
            .get("model")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|model| crate::display::is_label(model))
            .ok_or_else(|| {
                Error::invalid_params(
                    "chatls.selectModel takes no argument (to pick from a list) or {\"model\": NAME} (one line of at most 200 characters, no control characters)",
                )
            })?;
        use_model(session, client, model).await;
        return Ok(Some(json!({ "model": model })));
    }
    let (session, client) = (Arc::clone(session), client.clone());
    tokio::spawn(async move { pick(&session, &client).await });
    Ok(Some(json!({ "started": true })))
}

/// What `chatls.listModels` answers: `{"current": MODEL, "models": [...]}` (the seed's
/// models, the listed ones, the current one; unmarked).
pub async fn list(session: &Session) -> Value {
    let settings = session.settings();
    let current = session.model(&settings);
    let models = crate::config::models::merged(&listed(session).await, &current);
    json!({ "current": current, "models": models })
}

/// The models to offer: the cached `/models` list, else a fresh one within [`LIST_TIMEOUT`].
pub async fn listed(session: &Session) -> Vec<String> {
    let settings = session.settings();
    if let Some(models) = session.listed_models(&settings.base_url) {
        return models;
    }
    match session
        .engine
        .client()
        .models(&endpoint(&settings), LIST_TIMEOUT)
        .await
    {
        Ok(models) => {
            session.remember_listed_models(&settings.base_url, models.clone());
            models
        }
        Err(error) => {
            tracing::debug!(%error, "GET /models failed; offering the known models");
            Vec::new()
        }
    }
}

async fn pick(session: &Session, client: &Client) {
    let settings = session.settings();
    let current = session.model(&settings);
    let entries = choices(&listed(session).await, &current);
    let answer = client
        .show_message_request(
            MessageType::INFO,
            format!(
                "chatls: pick a model (now {})",
                crate::display::label(&current)
            ),
            Some(
                entries
                    .iter()
                    .map(|title| MessageActionItem {
                        title: title.clone(),
                        properties: Default::default(),
                    })
                    .collect(),
            ),
        )
        .await;
    match answer {
        Ok(Some(item)) => {
            let model = from_choice(&item.title);
            if model.is_empty() {
                return;
            }
            use_model(session, client, model).await;
        }
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "the model picker was not answered"),
    }
}

/// Makes `model` the session's model for actions and tells the person so.
async fn use_model(session: &Session, client: &Client, model: &str) {
    session.select_model(model);
    client
        .show_message(
            MessageType::INFO,
            format!("chatls: using the model {model}"),
        )
        .await;
}

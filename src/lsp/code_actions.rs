//! The code actions chatls offers for a range: one per enabled row of the action table
//! (a quick-fix row only where the editor reports a problem), "Send to AI" in a transcript,
//! and the kinds advertised at `initialize`. Builds the offers only: running one is
//! `execute`'s.

use serde_json::{Value, json};
use tower_lsp_server::ls_types::{self as lsp, CodeActionParams};

use crate::action::RowKind;
use crate::action::table::{ActionTable, DEFAULT_ANSWER_KIND, DEFAULT_EDIT_KIND, QUICKFIX_KIND};

use super::command::Command;
use super::convert;
use super::session::Session;

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
pub(super) fn list_actions(table: &ActionTable) -> Value {
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

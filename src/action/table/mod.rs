//! The action table: the one place where chatls's actions are defined. Each row (id, title,
//! kind, prompt template, model, code-action kind) drives the code action offered for a
//! range, the `chatls.run` command (and its aliases `chatls.explain` / `.refactor` / `.fix`),
//! the prompt sent upstream and the progress title. The built-in rows are the default table;
//! the `actions` setting adds rows, replaces a built-in (same id) or removes one
//! (`"enabled": false`). The table is validated once, where settings are read: the rest of
//! the code sees only valid rows. Pure: no I/O.

use serde_json::{Map, Value};

use crate::action::template::{PLACEHOLDERS, placeholders};

/// What happens to a row's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowKind {
    /// The answer's code replaces the selection, as a versioned workspace edit.
    Edit,
    /// The answer is markdown for the person, written to the conversation's transcript.
    Answer,
    /// The model may change any files of the workspace (`edit_file`, `create_file`); the
    /// staged change goes out as one workspace edit, reviewed by default.
    Workspace,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Edit => "edit",
            RowKind::Answer => "answer",
            RowKind::Workspace => "workspace",
        }
    }
}

/// A row's own `review`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowReview {
    Apply,
    Confirm,
}

/// The code-action kind a row gets when it names none: edits are rewrites; answers get a
/// kind of chatls's own (shown under "More Actions…" in VS Code, listed in Neovim and Helix).
pub const DEFAULT_EDIT_KIND: &str = "refactor.rewrite";
pub const DEFAULT_ANSWER_KIND: &str = "chatls.answer";
/// A row of this code-action kind is a quick fix only where the editor reports diagnostics
/// in the range; elsewhere it is offered as a rewrite, after the other rewrites.
pub const QUICKFIX_KIND: &str = "quickfix";

/// One action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRow {
    /// Lowercase letters, digits, `-` and `_`: `explain`, `write-tests`.
    pub id: String,
    /// The code action's title: "Explain with AI".
    pub title: String,
    pub kind: RowKind,
    /// The task, a template with `{selection}`, `{language}`, `{path}`, `{instruction}`,
    /// `{diagnostics}` (see [`crate::action::prompt::render`]).
    pub prompt: String,
    /// The model for this row; `None` uses the session's model.
    pub model: Option<String>,
    /// The LSP code-action kind.
    pub code_action_kind: String,
    /// `stream` on an edit row: write its answer into the buffer as it streams
    /// (`lsp::stream`); `None` follows the `edits.stream` setting.
    pub stream: Option<bool>,
    /// `review`: whether the person sees the change before it lands; `None` leaves it to
    /// `edits.review` for edit rows and means "confirm" for workspace rows.
    pub review: Option<RowReview>,
}

impl ActionRow {
    /// Whether the row works on the diagnostics of the range (a quick fix where there are some).
    pub fn is_quickfix(&self) -> bool {
        self.code_action_kind == QUICKFIX_KIND
    }

    /// Whether an answer of this row is written into the buffer as it streams, given the
    /// `edits.stream` setting: the row's `stream` wins; only edit rows stream.
    pub fn streams(&self, edits_stream: bool) -> bool {
        self.kind == RowKind::Edit && self.stream.unwrap_or(edits_stream)
    }

    /// Whether an edit row's change is shown for confirmation first, given whether
    /// `edits.review` is "confirm": the row's `review` wins.
    pub fn confirms(&self, edits_confirm: bool) -> bool {
        match self.review {
            Some(RowReview::Confirm) => true,
            Some(RowReview::Apply) => false,
            None => edits_confirm,
        }
    }

    /// "chatls: Explain with AI" — the label of its edits and the head of its progress title.
    pub fn label(&self) -> String {
        format!("chatls: {}", crate::display::label(&self.title))
    }

    /// The progress title: the action and the model that answers it.
    pub fn progress_title(&self, model: &str) -> String {
        format!(
            "chatls: {} ({})",
            crate::display::label(&self.title),
            crate::display::label(model)
        )
    }

    /// The question asked with `chatls.ask`: an answer row of its own, never in the table
    /// (it needs the person's words, which a code action cannot ask for).
    pub fn ask() -> ActionRow {
        ActionRow {
            id: "ask".to_owned(),
            title: "Ask AI".to_owned(),
            kind: RowKind::Answer,
            prompt: "Answer this question about the selected code: {instruction}\n\nSelected code:\n{selection}".to_owned(),
            model: None,
            code_action_kind: DEFAULT_ANSWER_KIND.to_owned(),
            stream: None,
            review: None,
        }
    }

    /// A follow-up written in a transcript: the person's text is the whole task.
    pub fn follow_up() -> ActionRow {
        ActionRow {
            id: "followUp".to_owned(),
            title: "Follow-up".to_owned(),
            kind: RowKind::Answer,
            prompt: "{instruction}".to_owned(),
            model: None,
            code_action_kind: DEFAULT_ANSWER_KIND.to_owned(),
            stream: None,
            review: None,
        }
    }
}

/// The built-in rows, in the order their code actions are offered.
pub fn builtin_rows() -> Vec<ActionRow> {
    let row =
        |id: &str, title: &str, kind: RowKind, code_action_kind: &str, prompt: &str| ActionRow {
            id: id.to_owned(),
            title: title.to_owned(),
            kind,
            prompt: prompt.to_owned(),
            model: None,
            code_action_kind: code_action_kind.to_owned(),
            stream: None,
            review: None,
        };
    vec![
        row(
            "explain",
            "Explain with AI",
            RowKind::Answer,
            "chatls.explain",
            "Explain the selected code.\nInstruction: {instruction}\n\nSelected code:\n{selection}",
        ),
        row(
            "refactor",
            "Refactor with AI",
            RowKind::Edit,
            DEFAULT_EDIT_KIND,
            "Refactor the selected code. Keep its behaviour identical unless the instruction says otherwise.\nInstruction: {instruction}\n\nSelected code:\n{selection}",
        ),
        row(
            "fix",
            "Fix with AI",
            RowKind::Edit,
            QUICKFIX_KIND,
            "Fix the selected code: repair the reported diagnostics and any clear bug in it; change no behaviour beyond that.\nInstruction: {instruction}\n\nDiagnostics in the selection:\n{diagnostics}\n\nSelected code:\n{selection}",
        ),
        row(
            "document",
            "Document with AI",
            RowKind::Edit,
            DEFAULT_EDIT_KIND,
            "Add documentation comments to the selected code, in the style this {language} code base uses (doc comments on each function, type and public item; no changes to the code itself).\nInstruction: {instruction}\n\nSelected code:\n{selection}",
        ),
        row(
            "change",
            "Change with AI",
            RowKind::Workspace,
            DEFAULT_EDIT_KIND,
            "Change the workspace as the instruction says, across every file it needs (callers, tests, docs): {instruction}\n\nThe selected code in {path}, for context:\n{selection}",
        ),
    ]
}

/// The built-in ids that keep a command of their own (`chatls.<id>`), besides `chatls.run`.
pub const ALIASES: [(&str, &str); 3] = [
    ("chatls.explain", "explain"),
    ("chatls.refactor", "refactor"),
    ("chatls.fix", "fix"),
];

/// The enabled rows, validated, in order: the built-ins first (as replaced), then added rows
/// in the order the setting lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionTable {
    rows: Vec<ActionRow>,
}

impl Default for ActionTable {
    fn default() -> Self {
        ActionTable {
            rows: builtin_rows(),
        }
    }
}

/// A refused `actions` setting: which row, which key, why. Displayed as one sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    /// 0-based position in the list.
    pub index: usize,
    pub id: Option<String>,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(
                f,
                "row {} (\"{id}\"): `{}` {}",
                self.index + 1,
                self.key,
                self.message
            ),
            None => write!(f, "row {}: `{}` {}", self.index + 1, self.key, self.message),
        }
    }
}

/// The keys of a row, each with its JSON Schema: the one list the settings schema (and so
/// VS Code's package.json) and the README's row description are made from or checked against.
pub const ROW_KEYS: [(&str, &str); 9] = [
    (
        "id",
        r#"{"type": "string", "pattern": "^[a-z0-9_-]+$", "description": "Lowercase letters, digits, - and _; a built-in id replaces that row."}"#,
    ),
    (
        "title",
        r#"{"type": "string", "description": "The code action's title."}"#,
    ),
    (
        "kind",
        r#"{"type": "string", "enum": ["edit", "answer", "workspace"], "description": "edit: the answer's code replaces the selection; answer: the answer goes to the transcript; workspace: the model may edit and create files, sent as one reviewed workspace edit."}"#,
    ),
    (
        "prompt",
        r#"{"type": "string", "description": "The task, with {selection}, {language}, {path}, {instruction}, {diagnostics}."}"#,
    ),
    (
        "model",
        r#"{"type": "string", "description": "The model for this row."}"#,
    ),
    (
        "codeActionKind",
        r#"{"type": "string", "description": "The LSP code-action kind."}"#,
    ),
    (
        "stream",
        r#"{"type": "boolean", "description": "edit rows: true writes the answer into the buffer as it streams, false never does; left out, edits.stream decides. Not with review \"confirm\" (the row's or edits.review)."}"#,
    ),
    (
        "review",
        r#"{"type": "string", "enum": ["apply", "confirm"], "description": "confirm: you see the change first and apply or discard it; apply: it lands at once. Left out: edits.review for edit rows, confirm for workspace rows."}"#,
    ),
    (
        "enabled",
        r#"{"type": "boolean", "description": "false removes the row."}"#,
    ),
];

fn is_key(key: &str) -> bool {
    ROW_KEYS.iter().any(|(name, _)| *name == key)
}

fn key_names() -> String {
    ROW_KEYS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ActionTable {
    /// The built-ins with the `actions` setting (a list of rows) applied.
    pub fn from_setting(value: &Value) -> Result<ActionTable, TableError> {
        let mut rows = builtin_rows();
        let items = value.as_array().ok_or_else(|| TableError {
            index: 0,
            id: None,
            key: "actions".to_owned(),
            message: format!("must be a list of action objects (got {value})"),
        })?;
        let mut seen: Vec<String> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let error = |id: Option<&str>, key: &str, message: String| TableError {
                index,
                id: id.map(str::to_owned),
                key: key.to_owned(),
                message,
            };
            let object = item.as_object().ok_or_else(|| {
                error(
                    None,
                    "actions",
                    format!("must be an object with id, title, kind and prompt (got {item})"),
                )
            })?;
            let id = match object.get("id") {
                Some(Value::String(id)) if valid_id(id) => id.clone(),
                Some(other) => {
                    return Err(error(
                        None,
                        "id",
                        format!(
                            "must be lowercase letters, digits, - or _, starting with a letter (got {other})"
                        ),
                    ));
                }
                None => return Err(error(None, "id", "is required".to_owned())),
            };
            let fail = |key: &str, message: String| error(Some(&id), key, message);
            if seen.contains(&id) {
                return Err(fail("id", "appears twice in the list".to_owned()));
            }
            seen.push(id.clone());
            if let Some(unknown) = object.keys().find(|key| !is_key(key)) {
                return Err(fail(
                    unknown,
                    format!("is not a key of an action; the keys are {}", key_names()),
                ));
            }
            let enabled = match object.get("enabled") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(enabled)) => *enabled,
                Some(other) => {
                    return Err(fail(
                        "enabled",
                        format!("must be true or false (got {other})"),
                    ));
                }
            };
            let existing = rows.iter().position(|row| row.id == id);
            if !enabled {
                // Removing a row needs nothing else; removing an unknown one is a typo.
                match existing {
                    Some(position) => {
                        rows.remove(position);
                        continue;
                    }
                    None if object.len() == 2 => {
                        return Err(fail(
                            "id",
                            format!(
                                "names no action to disable; the built-ins are {}",
                                builtin_ids()
                            ),
                        ));
                    }
                    // A whole row kept for later, switched off.
                    None => {}
                }
            }
            let row = parse_row(&id, object, existing.map(|position| &rows[position]))
                .map_err(|(key, message)| fail(key, message))?;
            match existing {
                _ if !enabled => {}
                Some(position) => rows[position] = row,
                None => rows.push(row),
            }
        }
        Ok(ActionTable { rows })
    }

    pub fn rows(&self) -> &[ActionRow] {
        &self.rows
    }

    /// The first edit row that would both stream and wait for confirmation, where the row
    /// itself says one of them (both from the settings is the settings' own conflict).
    pub fn streamed_and_confirmed(
        &self,
        edits_stream: bool,
        edits_confirm: bool,
    ) -> Option<&ActionRow> {
        self.rows.iter().find(|row| {
            (row.stream.is_some() || row.review.is_some())
                && row.streams(edits_stream)
                && row.confirms(edits_confirm)
        })
    }

    pub fn get(&self, id: &str) -> Option<&ActionRow> {
        self.rows.iter().find(|row| row.id == id)
    }

    /// The ids, for messages ("chatls knows explain, refactor, …").
    pub fn ids(&self) -> String {
        self.rows
            .iter()
            .map(|row| row.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn builtin_ids() -> String {
    builtin_rows()
        .iter()
        .map(|row| row.id.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_id(id: &str) -> bool {
    id.len() <= 64
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// One row from its object; a replaced built-in keeps what the object leaves out.
fn parse_row(
    id: &str,
    object: &Map<String, Value>,
    base: Option<&ActionRow>,
) -> Result<ActionRow, (&'static str, String)> {
    let text = |key: &'static str| -> Result<Option<String>, (&'static str, String)> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
            Some(other) => Err((key, format!("must be a non-empty string (got {other})"))),
        }
    };
    let kind = match object.get("kind") {
        None | Some(Value::Null) => base.map(|row| row.kind),
        Some(Value::String(kind)) if kind == "edit" => Some(RowKind::Edit),
        Some(Value::String(kind)) if kind == "answer" => Some(RowKind::Answer),
        Some(Value::String(kind)) if kind == "workspace" => Some(RowKind::Workspace),
        Some(other) => {
            return Err((
                "kind",
                format!("must be \"edit\", \"answer\" or \"workspace\" (got {other})"),
            ));
        }
    }
    .ok_or((
        "kind",
        "is required: \"edit\", \"answer\" or \"workspace\"".to_owned(),
    ))?;
    let title = text("title")?
        .map(|title| crate::display::label(&title))
        .or_else(|| base.map(|row| row.title.clone()))
        .ok_or(("title", "is required (the code action's name)".to_owned()))?;
    let prompt = text("prompt")?
        .or_else(|| base.map(|row| row.prompt.clone()))
        .ok_or((
            "prompt",
            "is required (a template such as \"Write tests for {selection}\")".to_owned(),
        ))?;
    if let Some(unknown) = placeholders(&prompt).find(|name| !PLACEHOLDERS.contains(name)) {
        return Err((
            "prompt",
            format!(
                "has an unknown placeholder {{{unknown}}}; the placeholders are {}",
                PLACEHOLDERS
                    .iter()
                    .map(|name| format!("{{{name}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let model = match text("model")? {
        Some(model) => Some(model.trim().to_owned()),
        None => base.and_then(|row| row.model.clone()),
    };
    let code_action_kind = match text("codeActionKind")? {
        Some(kind) => {
            let kind = kind.trim().to_owned();
            if !kind.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }) {
                return Err((
                    "codeActionKind",
                    format!("must be dotted words such as \"refactor.rewrite\" (got {kind:?})"),
                ));
            }
            kind
        }
        None => match base {
            // A replaced built-in that changes kind gets the default kind of its new kind.
            Some(row) if row.kind == kind => row.code_action_kind.clone(),
            _ => match kind {
                RowKind::Edit | RowKind::Workspace => DEFAULT_EDIT_KIND.to_owned(),
                RowKind::Answer => DEFAULT_ANSWER_KIND.to_owned(),
            },
        },
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) => base.and_then(|row| row.stream),
        Some(Value::Bool(stream)) => Some(*stream),
        Some(other) => return Err(("stream", format!("must be true or false (got {other})"))),
    };
    if stream.is_some() && kind != RowKind::Edit {
        return Err((
            "stream",
            "is for edit rows only: an answer goes to the transcript, not into the buffer"
                .to_owned(),
        ));
    }
    let review = match object.get("review") {
        None | Some(Value::Null) => base.and_then(|row| row.review),
        Some(Value::String(review)) if review == "apply" => Some(RowReview::Apply),
        Some(Value::String(review)) if review == "confirm" => Some(RowReview::Confirm),
        Some(other) => {
            return Err((
                "review",
                format!("must be \"apply\" or \"confirm\" (got {other})"),
            ));
        }
    };
    if review.is_some() && kind == RowKind::Answer {
        return Err((
            "review",
            "is for edit and workspace rows only: an answer changes no code".to_owned(),
        ));
    }
    Ok(ActionRow {
        id: id.to_owned(),
        title,
        kind,
        prompt,
        model,
        code_action_kind,
        stream,
        review,
    })
}

#[cfg(test)]
mod tests;

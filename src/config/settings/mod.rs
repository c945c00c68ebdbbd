//! Settings: the table in DESIGN.md. The effective settings are defaults < environment < one
//! settings object: `initializationOptions` until the first runtime update, then the latest
//! update, whole (a key it leaves out or sets to `null` goes back to its environment value or
//! default). Pure: parsing and validation only, no I/O besides reading the environment in
//! [`EnvSettings::from_process`].

use std::fmt;

use serde_json::{Map, Value};

use crate::llm::network::{CaFile, Network, ProxySetting};
use crate::llm::secret::ApiKey;

use super::table::{DEFAULT_BASE_URL, DEFAULT_COMPLETION_MODEL, DEFAULT_MODEL};

/// When `textDocument/completion` is offered (`completion.popup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionPopup {
    /// Only to clients that do not declare inline completion.
    Auto,
    Always,
    Never,
}

/// The `completion.*` settings: completion while typing.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionSettings {
    pub enabled: bool,
    pub model: String,
    pub debounce_ms: u64,
    pub max_tokens: u32,
    pub popup: CompletionPopup,
}

impl Default for CompletionSettings {
    fn default() -> Self {
        CompletionSettings {
            enabled: true,
            model: DEFAULT_COMPLETION_MODEL.to_owned(),
            debounce_ms: 200,
            max_tokens: 256,
            popup: CompletionPopup::Auto,
        }
    }
}

/// Where an explanation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainOutput {
    /// A markdown file under the cache dir, opened with `window/showDocument`.
    Document,
    /// A `window/showMessage` with the text.
    Message,
}

/// What happens to a refactor/fix answer (`edits.review`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReviewMode {
    /// Applied as soon as the answer is complete.
    #[default]
    Apply,
    /// Shown first; applied only once the user confirms (see `lsp::run::review`).
    Confirm,
}

/// Effective settings, after layering and validation. `Debug` is derived: the key's own
/// `Debug` prints `<redacted>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    /// `None` means the field is omitted (the setting `none` maps here too).
    pub reasoning_effort: Option<String>,
    pub stream: bool,
    pub tools_enabled: bool,
    pub tools_max_rounds: u32,
    /// `rules.enabled`: send the project's rules files (see `rules`).
    pub rules_enabled: bool,
    /// Extra globs the tools must never read, on top of the built-in secret list.
    pub tools_deny: Vec<String>,
    pub explain_output: ExplainOutput,
    pub edits_review: ReviewMode,
    /// `edits.stream`: write the replacement into the buffer as it streams (`lsp::run::stream`).
    pub edits_stream: bool,
    /// `change.maxFiles`: the most files one change across files may touch.
    pub change_max_files: u32,
    pub completion: CompletionSettings,
    /// The action table: the built-ins with the `actions` setting applied (see `action::table`).
    pub actions: crate::action::table::ActionTable,
    /// Timeouts and backoff from the environment only.
    pub tuning: UpstreamTuning,
    /// `caFile` (env `CHATLS_CA_FILE`) and `proxy`.
    pub network: Network,
}

/// Upstream timing that only the environment can change (for tests and unusual networks),
/// not a user setting: `CHATLS_FIRST_BYTE_TIMEOUT_MS`, `CHATLS_FIRST_CONTENT_TIMEOUT_MS`,
/// `CHATLS_IDLE_TIMEOUT_MS`, `CHATLS_RETRY_BASE_MS`. `None` keeps the client's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpstreamTuning {
    /// From sending the request to the response headers.
    pub first_byte_timeout_ms: Option<u64>,
    /// From sending the request to the first piece of the answer.
    pub first_content_timeout_ms: Option<u64>,
    /// The longest gap between two pieces of a response body.
    pub idle_timeout_ms: Option<u64>,
    /// The first retry's backoff (later ones double it, with jitter).
    pub retry_base_ms: Option<u64>,
}

/// The environment fallbacks (`CHATLS_BASE_URL`, `CHATLS_MODEL`, `CHATLS_API_KEY`, `OPENAI_API_KEY`).
#[derive(Clone, Default)]
pub struct EnvSettings {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<ApiKey>,
    /// Where explanations are written (`CHATLS_EXPLAIN_DIR`, else the user's cache dir).
    pub explain_dir: Option<std::path::PathBuf>,
    pub tuning: UpstreamTuning,
    /// `CHATLS_CA_FILE`: extra root certificates.
    pub ca_file: Option<std::path::PathBuf>,
    /// `CHATLS_TEST_HOOKS=1`: enables hidden commands the reliability tests use (never
    /// advertised), such as `chatls.debug.panic`.
    pub test_hooks: bool,
}

impl EnvSettings {
    pub fn from_process() -> Self {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        EnvSettings {
            base_url: read("CHATLS_BASE_URL"),
            model: read("CHATLS_MODEL"),
            api_key: read("CHATLS_API_KEY")
                .or_else(|| read("OPENAI_API_KEY"))
                .map(ApiKey::new),
            explain_dir: read("CHATLS_EXPLAIN_DIR").map(std::path::PathBuf::from),
            tuning: UpstreamTuning {
                first_byte_timeout_ms: millis(read("CHATLS_FIRST_BYTE_TIMEOUT_MS")),
                first_content_timeout_ms: millis(read("CHATLS_FIRST_CONTENT_TIMEOUT_MS")),
                idle_timeout_ms: millis(read("CHATLS_IDLE_TIMEOUT_MS")),
                retry_base_ms: millis(read("CHATLS_RETRY_BASE_MS")),
            },
            ca_file: read("CHATLS_CA_FILE").map(std::path::PathBuf::from),
            test_hooks: read("CHATLS_TEST_HOOKS").is_some_and(|value| value == "1"),
        }
    }
}

/// A positive whole number of milliseconds; anything else is ignored.
fn millis(value: Option<String>) -> Option<u64> {
    value
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
}

/// A rejected setting: names the key and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting `{}` {}", self.key, self.message)
    }
}

/// All errors of one settings object, joined for a single message to the user.
pub fn describe_errors(errors: &[SettingError]) -> String {
    let joined = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    format!("chatls: invalid settings, keeping the previous ones: {joined}")
}

impl Settings {
    /// Built-in defaults with the environment applied.
    pub fn from_env(env: &EnvSettings) -> Self {
        Settings {
            base_url: env
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            model: env
                .model
                .clone()
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            api_key: env.api_key.clone(),
            temperature: None,
            top_p: None,
            max_tokens: None,
            reasoning_effort: None,
            stream: true,
            tools_enabled: true,
            tools_max_rounds: 8,
            change_max_files: 20,
            rules_enabled: true,
            tools_deny: Vec::new(),
            explain_output: ExplainOutput::Document,
            edits_review: ReviewMode::Apply,
            edits_stream: false,
            completion: CompletionSettings::default(),
            actions: crate::action::table::ActionTable::default(),
            tuning: env.tuning,
            network: Network {
                ca_file: env.ca_file.clone().map(|path| CaFile {
                    path,
                    source: "CHATLS_CA_FILE",
                }),
                proxy: ProxySetting::FromEnvironment,
            },
        }
    }

    /// `base` with a client settings object applied on top. Accepts `{"chatls": {...}}` or the
    /// bare object, nested (`{"tools": {"enabled": false}}`) or dotted (`{"tools.enabled": false}`)
    /// keys; `null` (and an empty `apiKey`) means "not set": the value of `base` stays. Every
    /// invalid value is reported; on any error nothing changes. The session passes the
    /// environment's settings as `base`, so one object is always read whole.
    pub fn layered(base: &Settings, options: &Value) -> Result<Settings, Vec<SettingError>> {
        let mut settings = base.clone();
        let object = match section(options) {
            Some(object) => object,
            None if options.is_null() || options.get("chatls").is_some_and(Value::is_null) => {
                return Ok(settings);
            }
            None => {
                return Err(vec![SettingError {
                    key: "chatls".to_owned(),
                    message: "must be an object".to_owned(),
                }]);
            }
        };
        let flat = flatten(object);
        let mut errors = Vec::new();
        for (key, value) in &flat {
            if value.is_null() {
                continue;
            }
            // The settings table is the one list of keys: anything else is not a setting.
            if crate::config::table::find(key).is_none() {
                tracing::debug!(key, "ignoring unknown setting");
                continue;
            }
            if let Err(message) = settings.apply(key, value) {
                errors.push(SettingError {
                    key: key.clone(),
                    message,
                });
            }
        }
        if settings.edits_stream && settings.edits_review == ReviewMode::Confirm {
            errors.push(SettingError {
                key: "edits.stream".to_owned(),
                message: "cannot be combined with edits.review \"confirm\": a streamed edit is in the buffer before there is anything to confirm; turn one of them off".to_owned(),
            });
        }
        let confirm = settings.edits_review == ReviewMode::Confirm;
        if let Some(row) = settings
            .actions
            .streamed_and_confirmed(settings.edits_stream, confirm)
        {
            let stream = if row.stream.is_some() {
                "its `stream`: true"
            } else {
                "edits.stream"
            };
            let review = if row.review.is_some() {
                "its `review`: \"confirm\""
            } else {
                "edits.review \"confirm\""
            };
            errors.push(SettingError {
                key: "actions".to_owned(),
                message: format!(
                    "row \"{}\": {stream} cannot be combined with {review}: a streamed edit is in the buffer before there is anything to confirm; turn one of them off",
                    row.id
                ),
            });
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }

    /// Sets one flattened key. `Ok(false)`: not a chatls setting (ignored).
    fn apply(&mut self, key: &str, value: &Value) -> Result<bool, String> {
        match key {
            "baseUrl" => {
                let url = string(value)?;
                let trimmed = url.trim();
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                    return Err(format!(
                        "must be an http:// or https:// URL (got {trimmed:?})"
                    ));
                }
                self.base_url = trimmed.trim_end_matches('/').to_owned();
            }
            "model" => {
                let model = string(value)?;
                if model.trim().is_empty() {
                    return Err("must not be empty".to_owned());
                }
                self.model = model.trim().to_owned();
            }
            "apiKey" => {
                // The value is not echoed: whatever its shape, it may hold the key.
                let key = value
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "must be a string (the value is not shown)".to_owned())?;
                // Empty ("Set API Key" with nothing typed) clears the setting: the
                // environment's key, if any, is used again.
                if !key.trim().is_empty() {
                    self.api_key = Some(ApiKey::new(key.trim()));
                }
            }
            "temperature" => self.temperature = Some(number_in(value, 0.0, 2.0)?),
            "topP" => self.top_p = Some(number_in(value, 0.0, 1.0)?),
            "maxTokens" => {
                let tokens = value
                    .as_u64()
                    .filter(|tokens| (1..=1_000_000).contains(tokens))
                    .ok_or_else(|| {
                        format!("must be a whole number from 1 to 1000000 (got {value})")
                    })?;
                self.max_tokens = Some(tokens as u32);
            }
            "reasoningEffort" => {
                let effort = string(value)?;
                self.reasoning_effort = match effort.as_str() {
                    "none" => None,
                    "low" | "medium" | "high" => Some(effort),
                    _ => {
                        return Err(format!(
                            "must be one of none, low, medium, high (got {effort:?})"
                        ));
                    }
                };
            }
            "stream" => self.stream = boolean(value)?,
            "tools.enabled" => self.tools_enabled = boolean(value)?,
            "rules.enabled" => self.rules_enabled = boolean(value)?,
            "tools.maxRounds" => {
                let rounds = value
                    .as_u64()
                    .filter(|rounds| *rounds <= 50)
                    .ok_or_else(|| format!("must be a whole number from 0 to 50 (got {value})"))?;
                self.tools_max_rounds = rounds as u32;
            }
            "change.maxFiles" => {
                let files = value
                    .as_u64()
                    .filter(|files| (1..=200).contains(files))
                    .ok_or_else(|| format!("must be a whole number from 1 to 200 (got {value})"))?;
                self.change_max_files = files as u32;
            }
            "tools.deny" => {
                let globs = value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|item| item.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| format!("must be a list of glob strings (got {value})"))?;
                for glob in &globs {
                    globset::Glob::new(glob)
                        .map_err(|error| format!("has an invalid glob {glob:?}: {error}"))?;
                }
                self.tools_deny = globs;
            }
            "explain.output" => {
                self.explain_output = match value.as_str() {
                    Some("document") => ExplainOutput::Document,
                    Some("message") => ExplainOutput::Message,
                    _ => return Err(format!("must be \"document\" or \"message\" (got {value})")),
                }
            }
            "edits.review" => {
                self.edits_review = match value.as_str() {
                    Some("apply") => ReviewMode::Apply,
                    Some("confirm") => ReviewMode::Confirm,
                    _ => return Err(format!("must be \"apply\" or \"confirm\" (got {value})")),
                }
            }
            "edits.stream" => self.edits_stream = boolean(value)?,
            key if key.starts_with("completion.") => return self.completion.apply(key, value),
            "caFile" => {
                let path = string(value)?;
                let path = path.trim();
                if path.is_empty() {
                    return Err("must be the path of a PEM file of root certificates".to_owned());
                }
                self.network.ca_file = Some(CaFile {
                    path: expand_home(path),
                    source: "the `caFile` setting",
                });
            }
            "proxy" => {
                // Not echoed: a proxy URL may carry a password.
                let text = value.as_str().ok_or_else(|| {
                    "must be \"none\" or a proxy URL string (the value is not shown)".to_owned()
                })?;
                self.network.proxy = ProxySetting::parse(text)?;
            }
            "actions" => {
                self.actions = crate::action::table::ActionTable::from_setting(value)
                    .map_err(|error| error.to_string())?;
            }
            _ => {
                // Unknown keys are ignored so newer editor configs keep working; logged for users.
                tracing::debug!(key, "ignoring unknown setting");
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl CompletionSettings {
    /// Sets one `completion.*` key. `Ok(false)`: not a setting (ignored).
    fn apply(&mut self, key: &str, value: &Value) -> Result<bool, String> {
        match key {
            "completion.enabled" => self.enabled = boolean(value)?,
            "completion.model" => {
                let model = string(value)?;
                if model.trim().is_empty() {
                    return Err("must not be empty".to_owned());
                }
                self.model = model.trim().to_owned();
            }
            "completion.debounceMs" => {
                self.debounce_ms = value.as_u64().filter(|ms| *ms <= 2000).ok_or_else(|| {
                    format!("must be a whole number from 0 to 2000 (got {value})")
                })?;
            }
            "completion.maxTokens" => {
                let tokens = value
                    .as_u64()
                    .filter(|tokens| (1..=4096).contains(tokens))
                    .ok_or_else(|| {
                        format!("must be a whole number from 1 to 4096 (got {value})")
                    })?;
                self.max_tokens = tokens as u32;
            }
            "completion.popup" => {
                self.popup = match value.as_str() {
                    Some("auto") => CompletionPopup::Auto,
                    Some("always") => CompletionPopup::Always,
                    Some("never") => CompletionPopup::Never,
                    _ => {
                        return Err(format!(
                            "must be \"auto\", \"always\" or \"never\" (got {value})"
                        ));
                    }
                }
            }
            _ => {
                tracing::debug!(key, "ignoring unknown setting");
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// True when a pushed or pulled payload carries no chatls settings at all, so it must not
/// replace the ones in force: `null`, a bare `{}` (Eglot sends it when nothing is configured),
/// or a bare object about other servers only (`{"pylsp": {...}}`). `{"chatls": {}}` and
/// `{"model": null}` do say something: every setting back to its default.
pub fn says_nothing(options: &Value) -> bool {
    let Some(object) = options.as_object() else {
        return options.is_null();
    };
    if object.contains_key("chatls") {
        return false;
    }
    let mut probe = Settings::from_env(&EnvSettings::default());
    let names_a_setting = object.keys().any(|key| is_group(key))
        || flatten(object)
            .iter()
            .any(|(key, _)| !matches!(probe.apply(key, &Value::Null), Ok(false)));
    !names_a_setting
}

/// The chatls section of a settings payload: `{"chatls": {...}}` or the bare object.
/// `{"chatls": "..."}` (a section that is not an object) is no section at all.
fn section(options: &Value) -> Option<&Map<String, Value>> {
    let object = options.as_object()?;
    match object.get("chatls") {
        Some(Value::Object(inner)) => Some(inner),
        None => Some(object),
        // `{"chatls": null}` is an empty section (see `layered`); any other shape is an error.
        Some(_) => None,
    }
}

/// True for a key whose object value holds nested settings: the head of a dotted key of the
/// settings table (`tools` of `tools.enabled`), so a new group needs no second list.
fn is_group(key: &str) -> bool {
    crate::config::table::SETTINGS.iter().any(|setting| {
        setting
            .key
            .split_once('.')
            .is_some_and(|(group, _)| group == key)
    })
}

/// `{"tools": {"enabled": false}}` and `{"tools.enabled": false}` both become `tools.enabled`.
fn flatten(object: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut flat = Vec::new();
    for (key, value) in object {
        match value {
            Value::Object(inner) if is_group(key) => {
                for (inner_key, inner_value) in inner {
                    flat.push((format!("{key}.{inner_key}"), inner_value.clone()));
                }
            }
            _ => flat.push((key.clone(), value.clone())),
        }
    }
    flat
}

fn string(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("must be a string (got {value})"))
}

fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("must be true or false (got {value})"))
}

fn number_in(value: &Value, low: f64, high: f64) -> Result<f64, String> {
    value
        .as_f64()
        .filter(|number| (low..=high).contains(number))
        .ok_or_else(|| format!("must be a number from {low} to {high} (got {value})"))
}

/// `~/x` is `x` in the home directory; anything else is taken as it is.
fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

/// True when the base URL points at this machine, where a local server needs no key.
pub fn is_loopback(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests;

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
mod tests {
    use serde_json::json;

    use super::*;

    fn base() -> Settings {
        Settings::from_env(&EnvSettings::default())
    }

    #[test]
    fn edits_stream_is_off_by_default_and_not_with_confirm() {
        assert!(!base().edits_stream);
        let settings = Settings::layered(&base(), &json!({"edits": {"stream": true}})).unwrap();
        assert!(settings.edits_stream);
        let errors = Settings::layered(
            &base(),
            &json!({"edits.stream": true, "edits.review": "confirm"}),
        )
        .unwrap_err();
        assert_eq!(errors[0].key, "edits.stream");
        assert!(errors[0].message.contains("edits.review"), "{}", errors[0]);
        assert!(Settings::layered(&base(), &json!({"edits": {"stream": "yes"}})).is_err());
        // A row that streams is refused beside confirm too; one that does not stream is not.
        let row = |stream: bool| json!({"id": "tidy", "title": "Tidy", "kind": "edit", "prompt": "x", "stream": stream});
        let errors = Settings::layered(
            &base(),
            &json!({"edits.review": "confirm", "actions": [row(true)]}),
        )
        .unwrap_err();
        assert_eq!(errors[0].key, "actions");
        assert!(errors[0].message.contains("`stream`"), "{}", errors[0]);
        assert!(errors[0].message.contains("\"tidy\""), "{}", errors[0]);
        assert!(errors[0].message.contains("edits.review"), "{}", errors[0]);
        // The row's own review "confirm" beside its stream, or beside edits.stream.
        let errors = Settings::layered(
            &base(),
            &json!({"actions": [{"id": "tidy", "title": "Tidy", "kind": "edit", "prompt": "x", "stream": true, "review": "confirm"}]}),
        )
        .unwrap_err();
        assert!(errors[0].message.contains("`stream`"), "{}", errors[0]);
        assert!(errors[0].message.contains("`review`"), "{}", errors[0]);
        let errors = Settings::layered(
            &base(),
            &json!({"edits.stream": true, "actions": [{"id": "fix", "review": "confirm"}]}),
        )
        .unwrap_err();
        assert!(errors[0].message.contains("edits.stream"), "{}", errors[0]);
        assert!(errors[0].message.contains("`review`"), "{}", errors[0]);
        // A row that streams and says review "apply" is fine beside edits.review "confirm".
        assert!(
            Settings::layered(
                &base(),
                &json!({"edits.review": "confirm", "actions": [{"id": "fix", "stream": true, "review": "apply"}]})
            )
            .is_ok()
        );
        assert!(
            Settings::layered(
                &base(),
                &json!({"edits.review": "confirm", "actions": [row(false)]})
            )
            .is_ok()
        );
    }

    #[test]
    fn edits_review_is_apply_or_confirm() {
        assert_eq!(base().edits_review, ReviewMode::Apply);
        for form in [
            json!({"edits": {"review": "confirm"}}),
            json!({"edits.review": "confirm"}),
        ] {
            let settings = Settings::layered(&base(), &form).unwrap();
            assert_eq!(settings.edits_review, ReviewMode::Confirm, "{form}");
        }
        let errors = Settings::layered(&base(), &json!({"edits": {"review": "ask"}})).unwrap_err();
        assert_eq!(errors[0].key, "edits.review");
        assert!(
            errors[0].message.contains("\"confirm\""),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn defaults_match_the_design_table() {
        let settings = base();
        assert_eq!(settings.base_url, DEFAULT_BASE_URL);
        assert_eq!(settings.model, DEFAULT_MODEL);
        assert!(settings.api_key.is_none());
        assert!(settings.stream && settings.tools_enabled);
        assert_eq!(settings.tools_max_rounds, 8);
        assert_eq!(settings.change_max_files, 20);
        assert_eq!(settings.explain_output, ExplainOutput::Document);
    }

    #[test]
    fn environment_is_the_fallback_and_settings_win() {
        let env = EnvSettings {
            base_url: Some("http://127.0.0.1:9/v1".into()),
            model: Some("env-model".into()),
            api_key: Some(ApiKey::new("env-key")),
            ..EnvSettings::default()
        };
        let from_env = Settings::from_env(&env);
        assert_eq!(from_env.model, "env-model");
        let layered = Settings::layered(&from_env, &json!({"model": "set-model"})).unwrap();
        assert_eq!(layered.model, "set-model");
        assert_eq!(layered.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(
            layered.api_key.as_ref().map(ApiKey::expose),
            Some("env-key")
        );
    }

    #[test]
    fn wrapped_bare_nested_and_dotted_forms_are_the_same() {
        let forms = [
            json!({"chatls": {"tools": {"enabled": false, "maxRounds": 3}, "explain": {"output": "message"}}}),
            json!({"tools": {"enabled": false, "maxRounds": 3}, "explain": {"output": "message"}}),
            json!({"tools.enabled": false, "tools.maxRounds": 3, "explain.output": "message"}),
        ];
        for form in forms {
            let settings = Settings::layered(&base(), &form).unwrap();
            assert!(!settings.tools_enabled, "{form}");
            assert_eq!(settings.tools_max_rounds, 3, "{form}");
            assert_eq!(settings.explain_output, ExplainOutput::Message, "{form}");
        }
    }

    #[test]
    fn out_of_range_values_name_the_key_and_change_nothing() {
        let cases = [
            (json!({"temperature": 2.5}), "temperature", "from 0 to 2"),
            (json!({"topP": -0.1}), "topP", "from 0 to 1"),
            (json!({"maxTokens": 0}), "maxTokens", "from 1"),
            (
                json!({"reasoningEffort": "max"}),
                "reasoningEffort",
                "none, low, medium, high",
            ),
            (json!({"stream": "yes"}), "stream", "true or false"),
            (json!({"baseUrl": "ftp://x"}), "baseUrl", "http"),
            (
                json!({"tools": {"maxRounds": 99}}),
                "tools.maxRounds",
                "0 to 50",
            ),
            (
                json!({"explain.output": "popup"}),
                "explain.output",
                "document",
            ),
            (json!({"tools.deny": ["a{"]}), "tools.deny", "invalid glob"),
            (
                json!({"change": {"maxFiles": 0}}),
                "change.maxFiles",
                "1 to 200",
            ),
        ];
        for (options, key, allowed) in cases {
            let errors = Settings::layered(&base(), &options).unwrap_err();
            assert_eq!(errors.len(), 1, "{options}");
            assert_eq!(errors[0].key, key);
            let text = describe_errors(&errors);
            assert!(text.contains(key) && text.contains(allowed), "{text}");
        }
        // One bad key among good ones keeps every previous value.
        let errors =
            Settings::layered(&base(), &json!({"model": "x", "temperature": 9})).unwrap_err();
        assert_eq!(errors[0].key, "temperature");
    }

    #[test]
    fn none_reasoning_effort_omits_the_field_and_null_is_unset() {
        let settings = Settings::layered(
            &base(),
            &json!({"reasoningEffort": "none", "temperature": null, "topP": 0.5}),
        )
        .unwrap();
        assert_eq!(settings.reasoning_effort, None);
        assert_eq!(settings.temperature, None);
        assert_eq!(settings.top_p, Some(0.5));
        assert!(Settings::layered(&base(), &Value::Null).is_ok());
        assert!(Settings::layered(&base(), &json!([1])).is_err());
        // A chatls section that is not an object was silently ignored.
        let errors = Settings::layered(&base(), &json!({"chatls": "fast"})).unwrap_err();
        assert_eq!(errors[0].key, "chatls");
        assert!(Settings::layered(&base(), &json!({"chatls": null})).is_ok());
    }

    #[test]
    fn an_empty_or_null_key_falls_back_to_the_environment() {
        let env = EnvSettings {
            api_key: Some(ApiKey::new("env-key")),
            ..EnvSettings::default()
        };
        let from_env = Settings::from_env(&env);
        for cleared in [
            json!({"apiKey": ""}),
            json!({"apiKey": "  "}),
            json!({"apiKey": null}),
        ] {
            let settings = Settings::layered(&from_env, &cleared).unwrap();
            assert_eq!(
                settings.api_key.as_ref().map(ApiKey::expose),
                Some("env-key"),
                "{cleared}"
            );
        }
        let without_env = Settings::layered(&base(), &json!({"apiKey": ""})).unwrap();
        assert!(without_env.api_key.is_none());
    }

    #[test]
    fn payloads_that_say_nothing_about_chatls() {
        for silent in [
            Value::Null,
            json!({}),
            json!({"pylsp": {"plugins": {}}}),
            json!({"rust-analyzer.check.command": "clippy"}),
        ] {
            assert!(says_nothing(&silent), "{silent}");
        }
        for update in [
            json!({"chatls": {}}),
            json!({"chatls": null}),
            json!({"chatls": {"model": "m"}}),
            json!({"model": null}),
            json!({"tools": {}}),
            json!({"tools.enabled": false}),
            json!({"pylsp": {}, "temperature": 0.2}),
            json!(42),
        ] {
            assert!(!says_nothing(&update), "{update}");
        }
        // An empty section is an update that sets nothing.
        assert_eq!(
            Settings::layered(&base(), &json!({"chatls": null})).unwrap(),
            base()
        );
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let settings = Settings::layered(&base(), &json!({"apiKey": "sk-canary-123"})).unwrap();
        assert!(!format!("{settings:?}").contains("sk-canary-123"));
        // A key of the wrong shape was echoed in the error shown to the user.
        for wrong in [json!(["sk-canary-123"]), json!({"key": "sk-canary-123"})] {
            let errors = Settings::layered(&base(), &json!({"apiKey": wrong})).unwrap_err();
            let text = describe_errors(&errors);
            assert!(text.contains("`apiKey` must be a string"), "{text}");
            assert!(!text.contains("sk-canary-123"), "{text}");
        }
    }

    #[test]
    fn timing_overrides_are_positive_millis_and_reach_the_endpoint() {
        assert_eq!(millis(Some("250".into())), Some(250));
        assert_eq!(millis(Some("0".into())), None);
        assert_eq!(millis(Some("soon".into())), None);
        assert_eq!(millis(None), None);
        let env = EnvSettings {
            tuning: UpstreamTuning {
                first_byte_timeout_ms: Some(400),
                first_content_timeout_ms: Some(700),
                idle_timeout_ms: Some(300),
                retry_base_ms: Some(5),
            },
            ..EnvSettings::default()
        };
        let endpoint = crate::action::engine::endpoint(&Settings::from_env(&env));
        assert_eq!(endpoint.timeouts.first_byte.as_millis(), 400);
        assert_eq!(endpoint.timeouts.first_content.as_millis(), 700);
        assert_eq!(endpoint.timeouts.idle.as_millis(), 300);
        assert_eq!(endpoint.retry.base_delay.as_millis(), 5);
        let defaults = crate::action::engine::endpoint(&base());
        let expected = crate::llm::client::Endpoint::new("x", None);
        assert_eq!(defaults.timeouts.idle, expected.timeouts.idle);
        assert_eq!(defaults.timeouts.first_byte, expected.timeouts.first_byte);
        assert_eq!(
            defaults.timeouts.first_content,
            expected.timeouts.first_content
        );
        assert!(expected.timeouts.first_content > expected.timeouts.first_byte);
        assert!(expected.timeouts.first_content > expected.timeouts.idle);
        assert_eq!(defaults.retry.base_delay, expected.retry.base_delay);
    }

    #[test]
    fn completion_settings_default_validate_and_nest() {
        let defaults = base().completion;
        assert_eq!(defaults, CompletionSettings::default());
        assert_eq!(defaults.model, DEFAULT_COMPLETION_MODEL);
        assert_eq!((defaults.debounce_ms, defaults.max_tokens), (200, 256));
        for form in [
            json!({"completion": {"enabled": false, "debounceMs": 0, "maxTokens": 64, "popup": "always", "model": "m"}}),
            json!({"completion.enabled": false, "completion.debounceMs": 0, "completion.maxTokens": 64, "completion.popup": "always", "completion.model": "m"}),
        ] {
            let settings = Settings::layered(&base(), &form).unwrap().completion;
            assert!(!settings.enabled, "{form}");
            assert_eq!((settings.debounce_ms, settings.max_tokens), (0, 64));
            assert_eq!(settings.popup, CompletionPopup::Always);
            assert_eq!(settings.model, "m");
        }
        let cases = [
            (
                json!({"completion.debounceMs": 2001}),
                "completion.debounceMs",
                "0 to 2000",
            ),
            (
                json!({"completion": {"maxTokens": 0}}),
                "completion.maxTokens",
                "1 to 4096",
            ),
            (
                json!({"completion.maxTokens": 5000}),
                "completion.maxTokens",
                "1 to 4096",
            ),
            (
                json!({"completion.popup": "sometimes"}),
                "completion.popup",
                "\"never\"",
            ),
            (
                json!({"completion.model": " "}),
                "completion.model",
                "empty",
            ),
            (
                json!({"completion.enabled": 1}),
                "completion.enabled",
                "true or false",
            ),
        ];
        for (options, key, allowed) in cases {
            let errors = Settings::layered(&base(), &options).unwrap_err();
            assert_eq!(errors[0].key, key, "{options}");
            assert!(describe_errors(&errors).contains(allowed), "{options}");
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://[::1]:1/v1"));
        assert!(!is_loopback(DEFAULT_BASE_URL));
        assert!(!is_loopback("not a url"));
    }
}

//! The settings table: every key chatls accepts, with its type, default, range and a
//! one-line description. It is the one source: `config` reads only the keys listed here,
//! `chatls settings-schema` prints it as JSON Schema, and the VS Code extension's
//! `contributes.configuration` and the README's settings table are checked against it.
//! Pure: no I/O.

use serde_json::{Map, Value, json};

pub const DEFAULT_BASE_URL: &str = "https://gateway.theturbo.ai/v1";
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-6";
/// The fastest of the seed's models, for completion while typing.
pub const DEFAULT_COMPLETION_MODEL: &str = "claude-haiku-4-5-20251001";

/// The shape of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SettingType {
    /// A string; `empty` is what leaving it empty means.
    Text,
    Bool,
    /// A number within an inclusive range.
    Number {
        min: f64,
        max: f64,
    },
    /// A whole number within an inclusive range.
    Integer {
        min: u64,
        max: u64,
    },
    /// One of a few strings.
    Choice(&'static [&'static str]),
    /// A list of glob strings.
    Globs,
    /// A list of action rows (see `action::table`).
    Rows,
}

/// One setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setting {
    /// The key as chatls reads it, dotted for grouped keys: `tools.enabled`.
    pub key: &'static str,
    pub kind: SettingType,
    /// The default as JSON; `null` when the default comes from the environment or the
    /// upstream (what that is, the description says).
    pub default: DefaultValue,
    /// The environment variables it falls back to, if any.
    pub env: &'static [&'static str],
    /// One line, markdown.
    pub description: &'static str,
    /// A secret: editors should keep it out of settings files (VS Code keeps it in its secret
    /// storage and sends it itself).
    pub secret: bool,
}

/// A default, written so the table can be a `const`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DefaultValue {
    /// Not set: the environment or the upstream decides.
    Unset,
    Text(&'static str),
    Bool(bool),
    Integer(u64),
    EmptyList,
}

impl DefaultValue {
    pub fn to_json(self) -> Value {
        match self {
            DefaultValue::Unset => Value::Null,
            DefaultValue::Text(text) => json!(text),
            DefaultValue::Bool(value) => json!(value),
            DefaultValue::Integer(value) => json!(value),
            DefaultValue::EmptyList => json!([]),
        }
    }
}

const fn setting(
    key: &'static str,
    kind: SettingType,
    default: DefaultValue,
    description: &'static str,
) -> Setting {
    Setting {
        key,
        kind,
        default,
        env: &[],
        description,
        secret: false,
    }
}

/// Every setting, in the order the README and the Settings UI list them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        env: &["CHATLS_BASE_URL"],
        ..setting(
            "baseUrl",
            SettingType::Text,
            DefaultValue::Unset,
            "Base URL of the OpenAI-compatible chat-completions API (http or https). Not set: `CHATLS_BASE_URL`, else the gateway `https://gateway.theturbo.ai/v1`.",
        )
    },
    Setting {
        env: &["CHATLS_MODEL"],
        ..setting(
            "model",
            SettingType::Text,
            DefaultValue::Unset,
            "The model for actions and questions. Not set: `CHATLS_MODEL`, else `claude-sonnet-4-6`.",
        )
    },
    Setting {
        env: &["CHATLS_API_KEY", "OPENAI_API_KEY"],
        secret: true,
        ..setting(
            "apiKey",
            SettingType::Text,
            DefaultValue::Unset,
            "The upstream's API key (better kept out of files). Not set: `CHATLS_API_KEY`, then `OPENAI_API_KEY`; a loopback `baseUrl` needs none.",
        )
    },
    setting(
        "temperature",
        SettingType::Number { min: 0.0, max: 2.0 },
        DefaultValue::Unset,
        "Sampling temperature, 0 to 2. Not set: the upstream's default.",
    ),
    setting(
        "topP",
        SettingType::Number { min: 0.0, max: 1.0 },
        DefaultValue::Unset,
        "Nucleus sampling `top_p`, 0 to 1. Not set: the upstream's default.",
    ),
    setting(
        "maxTokens",
        SettingType::Integer {
            min: 1,
            max: 1_000_000,
        },
        DefaultValue::Unset,
        "Most tokens the model may write per answer, 1 to 1000000. Not set: the upstream's default.",
    ),
    setting(
        "reasoningEffort",
        SettingType::Choice(&["none", "low", "medium", "high"]),
        DefaultValue::Text("none"),
        "`reasoning_effort` sent upstream; `none` leaves the field out.",
    ),
    setting(
        "stream",
        SettingType::Bool,
        DefaultValue::Bool(true),
        "Stream the answer (shown as progress while it arrives).",
    ),
    setting(
        "tools.enabled",
        SettingType::Bool,
        DefaultValue::Bool(true),
        "Let the model read the workspace (`read_file`, `list_files`, `search_workspace`) through function calling.",
    ),
    setting(
        "tools.maxRounds",
        SettingType::Integer { min: 0, max: 50 },
        DefaultValue::Integer(8),
        "Most rounds of tool calls per action, 0 to 50.",
    ),
    setting(
        "tools.deny",
        SettingType::Globs,
        DefaultValue::EmptyList,
        "Extra globs the tools must never read (secrets such as `.env` and keys are always refused).",
    ),
    setting(
        "explain.output",
        SettingType::Choice(&["document", "message"]),
        DefaultValue::Text("document"),
        "Where answers go: `document` (the transcript, opened beside the code) or `message`.",
    ),
    setting(
        "edits.review",
        SettingType::Choice(&["apply", "confirm"]),
        DefaultValue::Text("apply"),
        "`apply`: a refactor or fix lands as soon as it is complete; `confirm`: you see the change first and apply or discard it.",
    ),
    setting(
        "edits.stream",
        SettingType::Bool,
        DefaultValue::Bool(false),
        "Write a refactor or fix into the buffer as it streams, whole lines; the original comes back on cancel or failure. Editors with versioned edits only (not Neovim); not with `edits.review: \"confirm\"`.",
    ),
    setting(
        "change.maxFiles",
        SettingType::Integer { min: 1, max: 200 },
        DefaultValue::Integer(20),
        "Most files one \"Change with AI\" may edit or create, 1 to 200.",
    ),
    setting(
        "rules.enabled",
        SettingType::Bool,
        DefaultValue::Bool(true),
        "Send the project's rules files (`AGENTS.md` at each root and the nearest one above the file, `CLAUDE.md`, `.github/copilot-instructions.md`) with every action and question, 16 KB at most; not with completions.",
    ),
    setting(
        "completion.enabled",
        SettingType::Bool,
        DefaultValue::Bool(true),
        "Completion while typing.",
    ),
    setting(
        "completion.model",
        SettingType::Text,
        DefaultValue::Text(DEFAULT_COMPLETION_MODEL),
        "The model for completions while typing.",
    ),
    setting(
        "completion.debounceMs",
        SettingType::Integer { min: 0, max: 2000 },
        DefaultValue::Integer(200),
        "The pause in typing, in milliseconds (0 to 2000), before a completion is asked for.",
    ),
    setting(
        "completion.maxTokens",
        SettingType::Integer { min: 1, max: 4096 },
        DefaultValue::Integer(256),
        "Most tokens of one completion, 1 to 4096.",
    ),
    setting(
        "completion.popup",
        SettingType::Choice(&["auto", "always", "never"]),
        DefaultValue::Text("auto"),
        "When completions come as items of the completion menu: `auto` (only for editors without inline completion), `always`, `never`; read at start-up.",
    ),
    Setting {
        env: &["CHATLS_CA_FILE"],
        ..setting(
            "caFile",
            SettingType::Text,
            DefaultValue::Unset,
            "Path of a PEM file of extra root certificates (`~/` is the home directory). Not set: `CHATLS_CA_FILE`, else none.",
        )
    },
    Setting {
        env: &["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"],
        ..setting(
            "proxy",
            SettingType::Text,
            DefaultValue::Unset,
            "A proxy URL (`http://`, `https://`, `socks5://`, `socks5h://`), or `none`. Not set: the proxy environment variables.",
        )
    },
    setting(
        "actions",
        SettingType::Rows,
        DefaultValue::EmptyList,
        "Rows added to the action table, or replacing a built-in row (same `id`), or removing one (`\"enabled\": false`).",
    ),
];

/// The setting of a (flattened) key.
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

/// The JSON Schema of one setting's value (with its default and description).
pub fn property(setting: &Setting) -> Value {
    let mut schema = Map::new();
    let nullable = setting.default == DefaultValue::Unset;
    let typed = |name: &str| {
        if nullable {
            json!([name, "null"])
        } else {
            json!(name)
        }
    };
    match setting.kind {
        SettingType::Text => {
            schema.insert("type".into(), typed("string"));
        }
        SettingType::Bool => {
            schema.insert("type".into(), typed("boolean"));
        }
        SettingType::Number { min, max } => {
            schema.insert("type".into(), typed("number"));
            schema.insert("minimum".into(), number(min));
            schema.insert("maximum".into(), number(max));
        }
        SettingType::Integer { min, max } => {
            schema.insert("type".into(), typed("integer"));
            schema.insert("minimum".into(), json!(min));
            schema.insert("maximum".into(), json!(max));
        }
        SettingType::Choice(choices) => {
            schema.insert("type".into(), typed("string"));
            schema.insert("enum".into(), json!(choices));
        }
        SettingType::Globs => {
            schema.insert("type".into(), json!("array"));
            schema.insert("items".into(), json!({"type": "string"}));
        }
        SettingType::Rows => {
            schema.insert("type".into(), json!("array"));
            schema.insert("items".into(), row_schema());
        }
    }
    schema.insert("default".into(), setting.default.to_json());
    schema.insert("markdownDescription".into(), json!(setting.description));
    Value::Object(schema)
}

/// A bound as JSON: whole numbers without a fraction (`2`, not `2.0`), as JavaScript writes them.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// One row of the `actions` setting, from the action table's list of row keys.
pub fn row_schema() -> Value {
    let properties: Map<String, Value> = crate::action::table::ROW_KEYS
        .iter()
        .map(|(key, schema)| {
            let schema = serde_json::from_str(schema).unwrap_or_else(|_| json!({}));
            ((*key).to_owned(), schema)
        })
        .collect();
    json!({
        "type": "object",
        "required": ["id"],
        "additionalProperties": false,
        "properties": properties,
    })
}

/// The whole table as JSON Schema (draft 2020-12): an object whose properties are the
/// dotted keys chatls accepts (it also accepts them nested: `{"tools": {"enabled": …}}`).
pub fn schema() -> Value {
    let properties: Map<String, Value> = SETTINGS
        .iter()
        .map(|setting| {
            let mut property = property(setting);
            if !setting.env.is_empty() {
                property["x-chatls-env"] = json!(setting.env);
            }
            if setting.secret {
                property["x-chatls-secret"] = json!(true);
            }
            (setting.key.to_owned(), property)
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "chatls settings",
        "description": format!("The settings chatls reads from initializationOptions and workspace/didChangeConfiguration (bare or as {{\"chatls\": …}}, nested or dotted keys). Defaults: baseUrl {DEFAULT_BASE_URL}, model {DEFAULT_MODEL}."),
        "type": "object",
        "properties": properties,
    })
}

/// The table as VS Code's `contributes.configuration.properties` (`chatls.<key>`), which
/// `editors/vscode/build.sh` writes into the extension's package.json: secrets are left out
/// (the extension keeps the API key in its secret storage), and a text setting that is not
/// set is an empty string (the Settings UI edits no `string | null`; the extension sends no
/// empty string).
pub fn vscode_properties() -> Value {
    let properties: Map<String, Value> = SETTINGS
        .iter()
        .filter(|setting| !setting.secret)
        .enumerate()
        .map(|(order, setting)| {
            let mut property = property(setting);
            if setting.kind == SettingType::Text && setting.default == DefaultValue::Unset {
                property["type"] = json!("string");
                property["default"] = json!("");
            }
            property["order"] = json!(order);
            (format!("chatls.{}", setting.key), property)
        })
        .collect();
    Value::Object(properties)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EnvSettings, Settings};

    /// A value of the right type for each key (its default, or a sample when the default is
    /// "not set").
    fn sample(setting: &Setting) -> Value {
        match (setting.default, setting.kind) {
            (DefaultValue::Unset, SettingType::Text) => match setting.key {
                "baseUrl" => json!("http://127.0.0.1:9/v1"),
                "proxy" => json!("none"),
                _ => json!("something"),
            },
            (DefaultValue::Unset, SettingType::Number { min, .. }) => json!(min),
            (DefaultValue::Unset, SettingType::Integer { min, .. }) => json!(min),
            (default, _) => default.to_json(),
        }
    }

    #[test]
    fn every_key_of_the_table_is_read_and_its_default_is_the_servers() {
        let base = Settings::from_env(&EnvSettings::default());
        for setting in SETTINGS {
            let layered = Settings::layered(&base, &json!({ setting.key: sample(setting) }));
            assert!(layered.is_ok(), "{}: {layered:?}", setting.key);
            if setting.default != DefaultValue::Unset {
                // Setting the default explicitly changes nothing.
                let explicit =
                    Settings::layered(&base, &json!({ setting.key: setting.default.to_json() }))
                        .unwrap();
                assert_eq!(explicit, base, "{}", setting.key);
            }
        }
    }

    #[test]
    fn a_key_outside_the_table_is_ignored() {
        let base = Settings::from_env(&EnvSettings::default());
        let layered = Settings::layered(
            &base,
            &json!({"serverPath": "/x", "trace": {"server": "off"}}),
        );
        assert_eq!(layered.unwrap(), base);
    }

    #[test]
    fn ranges_and_choices_in_the_schema_are_the_ones_enforced() {
        let base = Settings::from_env(&EnvSettings::default());
        for setting in SETTINGS {
            let outside = match setting.kind {
                SettingType::Number { max, .. } => json!(max + 0.5),
                SettingType::Integer { max, .. } => json!(max + 1),
                SettingType::Choice(_) => json!("not-a-choice"),
                _ => continue,
            };
            assert!(
                Settings::layered(&base, &json!({ setting.key: outside })).is_err(),
                "{} accepted {outside}",
                setting.key
            );
        }
        let schema = schema();
        assert_eq!(
            schema["properties"]["tools.maxRounds"]["maximum"],
            json!(50)
        );
        assert_eq!(schema["properties"]["actions"]["type"], json!("array"));
        assert_eq!(
            schema["properties"]["tools.deny"]["items"]["type"],
            json!("string")
        );
    }
}

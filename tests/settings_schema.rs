//! The settings table is the one source: `chatls settings-schema` prints it, the VS Code
//! extension's package.json carries it (written by editors/vscode/build.sh), and the README's
//! settings table lists every key of it. These tests fail when one of them falls behind.

use std::process::Command;

use serde_json::{Map, Value};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn schema_from_the_binary(extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_chatls"))
        .arg("settings-schema")
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_binary_prints_every_key_with_type_default_and_description() {
    let schema = schema_from_the_binary(&[]);
    let properties = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = chatls::config::table::SETTINGS
        .iter()
        .map(|setting| setting.key)
        .collect();
    assert_eq!(properties.len(), keys.len());
    for key in keys {
        let property = &properties[key];
        assert!(property.get("type").is_some(), "{key}: {property}");
        assert!(property.get("default").is_some(), "{key}: {property}");
        assert!(
            property["markdownDescription"]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "{key}"
        );
    }
    for key in [
        "completion.model",
        "edits.review",
        "caFile",
        "proxy",
        "actions",
        "tools.deny",
    ] {
        assert!(properties.contains_key(key), "{key}");
    }
    assert_eq!(properties["completion.debounceMs"]["maximum"], 2000);
    assert_eq!(properties["apiKey"]["x-chatls-secret"], true);
}

#[test]
fn vscode_package_json_carries_the_servers_settings() {
    let manifest = read_json("editors/vscode/package.json");
    let in_package = manifest["contributes"]["configuration"]["properties"]
        .as_object()
        .unwrap()
        .clone();
    let mut wanted: Map<String, Value> = read_json("editors/vscode/vscode-settings.json")
        .as_object()
        .unwrap()
        .clone();
    let from_server = schema_from_the_binary(&["--vscode"]);
    wanted.extend(from_server.as_object().unwrap().clone());
    for (key, property) in &wanted {
        assert_eq!(
            in_package.get(key),
            Some(property),
            "{key} in editors/vscode/package.json differs from the server's table: run editors/vscode/build.sh"
        );
    }
    for key in in_package.keys() {
        assert!(
            wanted.contains_key(key),
            "{key} is in package.json but not in the server's table"
        );
    }
    // Every setting the server takes from a settings file is there, the key aside (secret
    // storage); arrays stay arrays.
    for setting in chatls::config::table::SETTINGS {
        let key = format!("chatls.{}", setting.key);
        assert_eq!(in_package.contains_key(&key), !setting.secret, "{key}");
    }
    assert_eq!(in_package["chatls.actions"]["type"], "array");
    assert_eq!(in_package["chatls.tools.deny"]["type"], "array");
}

#[test]
fn the_readme_settings_table_lists_every_key() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Settings\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let mut listed = Vec::new();
    for line in section.lines().filter(|line| line.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for (index, part) in first.split('`').enumerate() {
            if index % 2 == 1 {
                listed.push(part.to_owned());
            }
        }
    }
    for setting in chatls::config::table::SETTINGS {
        assert!(
            listed.iter().any(|key| key == setting.key),
            "README's settings table does not list `{}` (it lists {listed:?})",
            setting.key
        );
    }
}

/// An action row's keys are one list (`action_table::ROW_KEYS`): the schema's row (and so
/// package.json's) is made from it, and the README's description of a row names each key.
#[test]
fn every_row_key_is_in_the_schema_and_the_readme() {
    let schema = schema_from_the_binary(&[]);
    let row = &schema["properties"]["actions"]["items"]["properties"];
    let manifest = read_json("editors/vscode/package.json");
    let in_package = &manifest["contributes"]["configuration"]["properties"]["chatls.actions"]["items"]
        ["properties"];
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let described = readme
        .split("A row\nis `{")
        .nth(1)
        .and_then(|rest| rest.split("}`").next())
        .expect("README describes a row as `{\"id\", …}`");
    for (key, _) in chatls::action::table::ROW_KEYS {
        assert!(row.get(key).is_some(), "{key} not in the schema's row");
        assert!(
            in_package.get(key).is_some(),
            "{key} not in package.json's row"
        );
        assert!(
            described.contains(&format!("\"{key}\"")),
            "README's row description does not name {key}: {described}"
        );
    }
    assert_eq!(row["stream"]["type"], "boolean");
}

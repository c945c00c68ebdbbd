//! The shipped editor configurations, checked against the real server: the Helix snippet
//! parses, names the binary Cargo builds, keeps each language's own servers next to chatls,
//! and its settings table is accepted as `initializationOptions` without a complaint.

mod support;

use chatls_fake_upstream::Reply;
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture};
use support::range;

fn helix_toml() -> toml::Table {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/editors/helix/languages.toml"
    ))
    .expect("editors/helix/languages.toml");
    text.parse::<toml::Table>().expect("languages.toml parses")
}

#[test]
fn helix_snippet_names_the_binary_and_keeps_each_languages_own_servers() {
    let table = helix_toml();
    let server = &table["language-server"]["chatls"];
    assert_eq!(server["command"].as_str(), Some("chatls"));
    // The binary Cargo builds is the one the snippet starts.
    let manifest: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let bins: Vec<&str> = manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|bin| bin["name"].as_str())
        .collect();
    assert!(bins.contains(&"chatls"));
    assert_eq!(
        env!("CARGO_BIN_EXE_chatls").rsplit('/').next(),
        Some("chatls")
    );

    let languages = table["language"].as_array().expect("[[language]] blocks");
    assert!(languages.len() >= 5);
    for language in languages {
        let name = language["name"].as_str().unwrap();
        let servers: Vec<&str> = language["language-servers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|server| server.as_str())
            .collect();
        assert!(servers.contains(&"chatls"), "{name} does not list chatls");
        assert!(
            servers.len() >= 2,
            "{name} lists only chatls: Helix would drop the language's own server"
        );
    }
}

#[tokio::test]
async fn helix_settings_table_is_accepted_by_the_server() {
    let table = helix_toml();
    let config: Value =
        serde_json::to_value(&table["language-server"]["chatls"]["config"]).unwrap();
    let s = Fixture::new()
        .client(Editor::Helix)
        .key(Some("sk-helix-test"))
        .settings(config.clone())
        .file("a.py", "print(1)\n")
        .open("a.py")
        .reply(Reply::text(&["fine"]))
        .start()
        .await;
    let (client, uri, fake) = (&s.client, &s.uri, &s.fake);
    // Helix sends the table as initializationOptions and again as didChangeConfiguration.
    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({ "settings": config }),
        )
        .await;
    let token = client
        .run_action(
            "chatls.explain",
            json!({"uri": uri, "range": range(0, 0, 0, 8)}),
        )
        .await;
    client.wait_progress_end(&token).await;
    assert!(
        client
            .shown_messages()
            .iter()
            .all(|message| !message.contains("invalid settings")),
        "{:?}",
        client.shown_messages()
    );
    assert_eq!(fake.requests().len(), 1);
}

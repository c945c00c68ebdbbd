use serde_json::json;

use super::*;

fn ids(table: &ActionTable) -> Vec<&str> {
    table.rows().iter().map(|row| row.id.as_str()).collect()
}

#[test]
fn the_builtins_are_the_default_table() {
    let table = ActionTable::default();
    assert_eq!(
        ids(&table),
        ["explain", "refactor", "fix", "document", "change"]
    );
    assert_eq!(table.get("change").unwrap().kind, RowKind::Workspace);
    assert_eq!(table.get("explain").unwrap().kind, RowKind::Answer);
    assert!(table.get("fix").unwrap().is_quickfix());
    assert_eq!(table.get("document").unwrap().kind, RowKind::Edit);
    for row in table.rows() {
        assert!(
            placeholders(&row.prompt).all(|name| PLACEHOLDERS.contains(&name)),
            "{}",
            row.id
        );
    }
}

#[test]
fn rows_are_added_replaced_and_disabled() {
    let table = ActionTable::from_setting(&json!([
            {"id": "write-tests", "title": "Write tests", "kind": "answer", "prompt": "Write tests for {selection} in {language}", "model": "claude-opus-4-7"},
            {"id": "fix", "enabled": false},
            {"id": "refactor", "prompt": "Make it shorter: {selection}"},
            {"id": "later", "title": "Later", "kind": "edit", "prompt": "x", "enabled": false},
        ]))
        .unwrap();
    assert_eq!(
        ids(&table),
        ["explain", "refactor", "document", "change", "write-tests"]
    );
    let tests = table.get("write-tests").unwrap();
    assert_eq!(tests.code_action_kind, DEFAULT_ANSWER_KIND);
    assert_eq!(tests.model.as_deref(), Some("claude-opus-4-7"));
    let refactor = table.get("refactor").unwrap();
    assert_eq!(
        refactor.title, "Refactor with AI",
        "the built-in's title is kept"
    );
    assert_eq!(refactor.prompt, "Make it shorter: {selection}");
    assert_eq!(refactor.code_action_kind, DEFAULT_EDIT_KIND);
    assert_eq!(
        ActionTable::from_setting(&json!([])).unwrap(),
        ActionTable::default()
    );
}

#[test]
fn a_row_may_stream_or_not_and_left_out_follows_the_setting() {
    let table = ActionTable::from_setting(&json!([
            {"id": "tidy", "title": "Tidy", "kind": "edit", "prompt": "Tidy {selection}", "stream": true},
            {"id": "refactor", "stream": false},
            {"id": "fix", "prompt": "Fix {selection}"},
        ]))
        .unwrap();
    assert_eq!(table.get("tidy").unwrap().stream, Some(true));
    assert_eq!(table.get("refactor").unwrap().stream, Some(false));
    assert_eq!(table.get("fix").unwrap().stream, None);
    assert!(table.get("tidy").unwrap().streams(false));
    assert!(!table.get("refactor").unwrap().streams(true));
    assert!(table.get("fix").unwrap().streams(true));
    assert!(!table.get("explain").unwrap().streams(true));
    // A row that streams beside confirmation, either of them its own.
    assert_eq!(
        table
            .streamed_and_confirmed(false, true)
            .map(|row| row.id.as_str()),
        Some("tidy")
    );
    assert_eq!(table.streamed_and_confirmed(false, false), None);
    let confirming =
        ActionTable::from_setting(&json!([{"id": "fix", "review": "confirm"}])).unwrap();
    assert_eq!(
        confirming
            .streamed_and_confirmed(true, false)
            .map(|row| row.id.as_str()),
        Some("fix")
    );
    // Both from the settings is the settings' conflict, not a row's.
    assert_eq!(
        ActionTable::default().streamed_and_confirmed(true, true),
        None
    );
    // Every row key has a schema with a description.
    for (key, schema) in ROW_KEYS {
        let schema: Value = serde_json::from_str(schema).unwrap();
        assert!(schema["description"].is_string(), "{key}");
    }
}

#[test]
fn workspace_rows_and_review_are_read_and_checked() {
    let table = ActionTable::from_setting(&json!([
            {"id": "migrate", "title": "Migrate", "kind": "workspace", "prompt": "Migrate: {instruction}", "review": "apply"},
            {"id": "refactor", "review": "confirm"},
        ]))
        .unwrap();
    let migrate = table.get("migrate").unwrap();
    assert_eq!(migrate.kind, RowKind::Workspace);
    assert_eq!(migrate.code_action_kind, DEFAULT_EDIT_KIND);
    assert_eq!(migrate.review, Some(RowReview::Apply));
    assert_eq!(
        table.get("refactor").unwrap().review,
        Some(RowReview::Confirm)
    );
    assert_eq!(table.get("change").unwrap().review, None);
    for (row, key) in [
        (json!({"id": "explain", "review": "confirm"}), "review"),
        (json!({"id": "refactor", "review": "later"}), "review"),
    ] {
        let error = ActionTable::from_setting(&json!([row])).unwrap_err();
        assert_eq!(error.key, key, "{error}");
    }
}

#[test]
fn a_bad_row_names_the_row_and_the_key() {
    let cases = [
        (json!({"actions": 1}), "actions", "list"),
        (json!([{"title": "x"}]), "id", "required"),
        (json!([{"id": "Bad Id", "title": "x"}]), "id", "lowercase"),
        (
            json!([{"id": "t", "title": "T", "kind": "answer", "prompt": "Use {code}"}]),
            "prompt",
            "{code}",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "reply", "prompt": "x"}]),
            "kind",
            "\"edit\", \"answer\" or \"workspace\"",
        ),
        (
            json!([{"id": "t", "kind": "edit", "prompt": "x"}]),
            "title",
            "required",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "edit"}]),
            "prompt",
            "required",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "edit", "prompt": "x", "modle": "m"}]),
            "modle",
            "not a key",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "edit", "prompt": "x", "enabled": "no"}]),
            "enabled",
            "true or false",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "edit", "prompt": "x", "codeActionKind": "a..b"}]),
            "codeActionKind",
            "dotted",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "edit", "prompt": "x", "stream": "yes"}]),
            "stream",
            "true or false",
        ),
        (
            json!([{"id": "explain", "stream": true}]),
            "stream",
            "edit rows only",
        ),
        (
            json!([{"id": "fixx", "enabled": false}]),
            "id",
            "names no action",
        ),
        (
            json!([{"id": "t", "title": "T", "kind": "edit", "prompt": "x"}, {"id": "t", "title": "T", "kind": "edit", "prompt": "y"}]),
            "id",
            "twice",
        ),
    ];
    for (value, key, words) in cases {
        let error = ActionTable::from_setting(&value).unwrap_err();
        assert_eq!(error.key, key, "{value}");
        let text = error.to_string();
        assert!(text.contains(words), "{text}");
        assert!(text.starts_with("row "), "{text}");
    }
    let error = ActionTable::from_setting(&json!([{"id": "ok", "title": "T", "kind": "edit", "prompt": "x"}, {"id": "t2", "title": "T", "kind": "edit", "prompt": "{oops}"}])).unwrap_err();
    assert_eq!(
        error.to_string().split(':').next().unwrap(),
        "row 2 (\"t2\")"
    );
}

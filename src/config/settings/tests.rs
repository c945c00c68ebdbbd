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
    let errors = Settings::layered(&base(), &json!({"model": "x", "temperature": 9})).unwrap_err();
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

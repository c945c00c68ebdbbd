use super::escape::escape_name;
use super::test_support::*;
use super::*;

#[test]
fn definitions_are_byte_identical_and_ordered() {
    let first = serde_json::to_string(&definitions()).unwrap();
    let second = serde_json::to_string(&definitions()).unwrap();
    assert_eq!(first, second);
    let names: Vec<String> = definitions()
        .into_iter()
        .map(|def| def.function.name)
        .collect();
    assert_eq!(
        names,
        vec![READ_FILE, LIST_FILES, SEARCH_WORKSPACE, GET_DIAGNOSTICS]
    );
    for def in definitions() {
        assert_eq!(def.kind, "function");
        assert_eq!(def.function.parameters["type"], "object");
        assert_eq!(def.function.parameters["additionalProperties"], false);
        assert!(!def.function.description.is_empty());
    }
}

#[test]
fn labels_before_running() {
    assert_eq!(
        label(
            READ_FILE,
            r#"{"path":"src/lib.rs","startLine":10,"endLine":80}"#
        ),
        "reading src/lib.rs:10-80"
    );
    assert_eq!(
        label(READ_FILE, r#"{"path":"src/lib.rs"}"#),
        "reading src/lib.rs"
    );
    assert_eq!(label(LIST_FILES, r#"{"path":"src"}"#), "listing src/");
    assert_eq!(label(LIST_FILES, "{}"), "listing the workspace");
    assert_eq!(
        label(SEARCH_WORKSPACE, r#"{"pattern":"foo"}"#),
        "searching for `foo`"
    );
    assert_eq!(label(GET_DIAGNOSTICS, ""), "checking diagnostics");
    assert_eq!(label(READ_FILE, "{not json"), "reading a file");
    assert_eq!(label("frobnicate", "{"), "running frobnicate");
}

#[tokio::test]
async fn malformed_arguments_and_unknown_tools_are_errors() {
    let workspace = Workspace::new();
    workspace.write("a.txt", "hello\n");
    let toolbox = workspace.toolbox(Limits::default());
    let call = |name: &'static str, args: &'static str| {
        let toolbox = &toolbox;
        async move {
            tokio::time::timeout(std::time::Duration::from_secs(30), toolbox.run(name, args))
                .await
                .unwrap()
        }
    };

    let output = call(READ_FILE, "{\"path\": ").await;
    assert!(output.is_error);
    assert!(
        output
            .content
            .starts_with("invalid arguments for read_file")
    );

    let output = call(READ_FILE, "{}").await;
    assert!(output.is_error);
    assert!(
        output.content.contains("missing field `path`"),
        "{}",
        output.content
    );

    let output = call(READ_FILE, r#"{"path": 12}"#).await;
    assert!(output.is_error);

    let output = call("delete_everything", "{}").await;
    assert!(output.is_error);
    assert!(output.content.contains("unknown tool `delete_everything`"));

    let output = call(READ_FILE, r#"{"path":"a.txt","startLine":"1"}"#).await;
    assert!(!output.is_error, "{}", output.content);
    assert!(output.content.contains("1| hello"));

    let output = call(LIST_FILES, "").await;
    assert!(!output.is_error, "{}", output.content);
}

#[tokio::test]
async fn a_call_that_outlives_its_time_bound_is_answered_with_a_timeout() {
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        bounded(SEARCH_WORKSPACE, Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5));
            ToolOutput::text("too late")
        }),
    )
    .await
    .expect("the bound holds");
    assert!(output.is_error);
    assert_eq!(
        output.content,
        "search_workspace did not finish within 50 ms and was stopped; try a narrower path, glob or pattern"
    );
    // Slots are given back: later calls still run.
    for _ in 0..MAX_CONCURRENT_CALLS * 2 {
        let output = bounded(READ_FILE, Duration::from_secs(20), || {
            ToolOutput::text("ok")
        })
        .await;
        assert_eq!(output.content, "ok");
    }
}

#[test]
fn results_are_cut_to_the_cap_on_a_character_boundary() {
    let output = cap_output(ToolOutput::text("é".repeat(40_000)), 30_000);
    assert!(output.content.len() <= 30_000);
    assert!(
        output
            .content
            .ends_with("[output cut at the tool result size limit]\n")
    );
    let short = cap_output(ToolOutput::text("short"), 30_000);
    assert_eq!(short.content, "short");
}

#[test]
fn names_are_escaped_only_where_needed() {
    assert_eq!(escape_name("src/main.rs"), "src/main.rs");
    assert_eq!(escape_name("a\nb\tc\r"), "a\\nb\\tc\\r");
    assert_eq!(escape_name("x\u{2028}y\u{202e}"), "x\\u{2028}y\\u{202e}");
}

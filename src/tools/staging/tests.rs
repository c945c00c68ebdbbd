use std::sync::Arc;

use serde_json::json;

use super::super::test_support::*;
use super::super::{CREATE_FILE, EDIT_FILE, LIST_FILES, Limits, READ_FILE, SEARCH_WORKSPACE};
use super::*;

fn setup() -> (Workspace, Arc<Staging>, super::super::ToolBox) {
    let workspace = Workspace::new();
    workspace.write("src/lib.rs", "pub fn old_name() {}\n");
    workspace.write("src/main.rs", "fn main() { old_name(); old_name(); }\n");
    workspace.write(".env", "KEY=secret\n");
    workspace.write(".git/config", "[core]\n");
    workspace.write("bin.dat", b"\x00\x01\x02");
    let staging = Arc::new(Staging::new(20));
    let toolbox = workspace
        .toolbox(Limits::default())
        .with_staging(Arc::clone(&staging));
    (workspace, staging, toolbox)
}

async fn call(toolbox: &super::super::ToolBox, name: &str, args: serde_json::Value) -> ToolOutput {
    run(toolbox, name, args).await
}

/// An `edit_file` call: `old_text` replaced by `new_text` in `path`.
async fn edit(toolbox: &super::super::ToolBox, path: &str, old: &str, new: &str) -> ToolOutput {
    call(
        toolbox,
        EDIT_FILE,
        json!({"path": path, "old_text": old, "new_text": new}),
    )
    .await
}

/// A `create_file` call.
async fn create(toolbox: &super::super::ToolBox, path: &str, content: &str) -> ToolOutput {
    call(
        toolbox,
        CREATE_FILE,
        json!({"path": path, "content": content}),
    )
    .await
}

/// The call was refused, and the refusal says `expected`.
fn assert_refused(output: &ToolOutput, expected: &str) {
    assert!(output.is_error, "{}", output.content);
    assert!(output.content.contains(expected), "{}", output.content);
}

#[tokio::test]
async fn an_edit_is_staged_not_written_and_later_reads_see_it() {
    let (workspace, staging, toolbox) = setup();
    let output = edit(&toolbox, "src/lib.rs", "old_name", "new_name").await;
    assert!(!output.is_error, "{}", output.content);
    assert_eq!(
        std::fs::read_to_string(workspace.root.join("src/lib.rs")).unwrap(),
        "pub fn old_name() {}\n"
    );
    let read = call(&toolbox, READ_FILE, json!({"path": "src/lib.rs"})).await;
    assert!(
        read.content.contains("pub fn new_name() {}"),
        "{}",
        read.content
    );
    let search = call(&toolbox, SEARCH_WORKSPACE, json!({"pattern": "new_name"})).await;
    assert!(
        search.content.contains("src/lib.rs:1"),
        "{}",
        search.content
    );
    let files = staging.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].shown, "src/lib.rs");
    assert_eq!(
        files[0].base,
        Base::Disk {
            text: "pub fn old_name() {}\n".into()
        }
    );
    assert_eq!(files[0].text, "pub fn new_name() {}\n");
}

#[tokio::test]
async fn text_found_zero_or_several_times_is_refused() {
    let (_workspace, staging, toolbox) = setup();
    let output = edit(&toolbox, "src/lib.rs", "missing", "x").await;
    assert!(output.is_error);
    assert!(
        output.content.starts_with("not found"),
        "{}",
        output.content
    );
    let output = edit(&toolbox, "src/main.rs", "old_name()", "x").await;
    assert!(output.is_error);
    assert!(
        output.content.starts_with("found 2 times"),
        "{}",
        output.content
    );
    let output = edit(&toolbox, "src/main.rs", "", "x").await;
    assert!(output.is_error);
    assert!(staging.is_empty());
}

#[tokio::test]
async fn the_sandbox_refuses_secrets_escapes_git_and_binary_files() {
    let (workspace, staging, toolbox) = setup();
    std::fs::write(workspace.root.parent().unwrap().join("outside.rs"), "x\n").unwrap();
    for (tool, args, expected) in [
        (
            EDIT_FILE,
            json!({"path": ".env", "old_text": "KEY", "new_text": "K"}),
            "secrets",
        ),
        (
            EDIT_FILE,
            json!({"path": "../outside.rs", "old_text": "x", "new_text": "y"}),
            "outside the workspace",
        ),
        (
            EDIT_FILE,
            json!({"path": ".git/config", "old_text": "core", "new_text": "x"}),
            "secrets",
        ),
        (
            EDIT_FILE,
            json!({"path": "bin.dat", "old_text": "a", "new_text": "b"}),
            "binary",
        ),
        (
            CREATE_FILE,
            json!({"path": ".git/hooks/pre-commit", "content": "x"}),
            "secrets",
        ),
        (
            CREATE_FILE,
            json!({"path": "../new.rs", "content": "x"}),
            "outside the workspace",
        ),
        (
            CREATE_FILE,
            json!({"path": "config/.env", "content": "x"}),
            "secrets",
        ),
        (
            CREATE_FILE,
            json!({"path": "src/lib.rs", "content": "x"}),
            "already exists",
        ),
        (
            CREATE_FILE,
            json!({"path": "src/nul.rs", "content": "a\u{0}b"}),
            "NUL",
        ),
    ] {
        let output = call(&toolbox, tool, args.clone()).await;
        assert!(output.is_error, "{args}: {}", output.content);
        assert!(
            output.content.contains(expected),
            "{args}: {}",
            output.content
        );
    }
    assert!(staging.is_empty());
    assert!(!workspace.root.join("config").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn links_out_are_refused_for_edits_and_new_files() {
    let (workspace, staging, toolbox) = setup();
    let outside = workspace.root.parent().unwrap().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("x.rs"), "x\n").unwrap();
    std::os::unix::fs::symlink(&outside, workspace.root.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("x.rs"), workspace.root.join("link.rs")).unwrap();
    std::os::unix::fs::symlink(outside.join("gone.rs"), workspace.root.join("dangling.rs"))
        .unwrap();
    for (tool, args) in [
        (
            EDIT_FILE,
            json!({"path": "link.rs", "old_text": "x", "new_text": "y"}),
        ),
        (
            EDIT_FILE,
            json!({"path": "out/x.rs", "old_text": "x", "new_text": "y"}),
        ),
        (CREATE_FILE, json!({"path": "out/new.rs", "content": "y"})),
        (CREATE_FILE, json!({"path": "dangling.rs", "content": "y"})),
    ] {
        let output = call(&toolbox, tool, args.clone()).await;
        assert!(output.is_error, "{args}: {}", output.content);
    }
    assert!(staging.is_empty());
    assert!(!outside.join("new.rs").exists());
    assert!(!outside.join("gone.rs").exists());
}

#[tokio::test]
async fn a_created_file_is_listed_searched_read_and_edited() {
    let (workspace, staging, toolbox) = setup();
    let output = create(&toolbox, "tests/new_test.rs", "fn test_new() {}\n").await;
    assert!(!output.is_error, "{}", output.content);
    assert!(!workspace.root.join("tests").exists());
    let list = call(&toolbox, LIST_FILES, json!({})).await;
    assert!(
        list.content.contains("tests/new_test.rs"),
        "{}",
        list.content
    );
    let search = call(&toolbox, SEARCH_WORKSPACE, json!({"pattern": "test_new"})).await;
    assert!(
        search.content.contains("tests/new_test.rs:1"),
        "{}",
        search.content
    );
    let read = call(&toolbox, READ_FILE, json!({"path": "tests/new_test.rs"})).await;
    assert!(
        read.content.contains("fn test_new() {}"),
        "{}",
        read.content
    );
    let edit = edit(&toolbox, "tests/new_test.rs", "test_new", "test_renamed").await;
    assert!(!edit.is_error, "{}", edit.content);
    let again = create(&toolbox, "tests/new_test.rs", "x").await;
    assert_refused(&again, "already created");
    let files = staging.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].base, Base::New);
    assert_eq!(files[0].text, "fn test_renamed() {}\n");
}

#[tokio::test]
async fn lf_quoted_text_matches_a_crlf_file_and_keeps_its_line_ends() {
    let workspace = Workspace::new();
    workspace.write("win.rs", "fn a() {\r\n    1\r\n}\r\n");
    let staging = Arc::new(Staging::new(20));
    let toolbox = workspace
        .toolbox(Limits::default())
        .with_staging(Arc::clone(&staging));
    let output = edit(&toolbox, "win.rs", "fn a() {\n    1\n", "fn a() {\n    2\n").await;
    assert!(!output.is_error, "{}", output.content);
    assert_eq!(staging.files()[0].text, "fn a() {\r\n    2\r\n}\r\n");
}

#[tokio::test]
async fn the_file_and_size_caps_hold() {
    let workspace = Workspace::new();
    workspace.write("a.rs", "a\n");
    workspace.write("b.rs", "b\n");
    workspace.write("big.rs", "x".repeat(MAX_STAGED_BYTES + 1));
    let staging = Arc::new(Staging::new(1));
    let toolbox = workspace
        .toolbox(Limits::default())
        .with_staging(Arc::clone(&staging));
    let first = edit(&toolbox, "a.rs", "a", "A").await;
    assert!(!first.is_error, "{}", first.content);
    let same = edit(&toolbox, "a.rs", "A", "AA").await;
    assert!(!same.is_error, "{}", same.content);
    let second = edit(&toolbox, "b.rs", "b", "B").await;
    assert_refused(&second, "change.maxFiles");
    let created = create(&toolbox, "c.rs", "c").await;
    assert!(
        created.content.contains("change.maxFiles"),
        "{}",
        created.content
    );

    let staging = Arc::new(Staging::new(20));
    let toolbox = workspace
        .toolbox(Limits::default())
        .with_staging(Arc::clone(&staging));
    let big = edit(&toolbox, "big.rs", "xx", "y").await;
    assert_refused(&big, "larger than");
    let huge = call(
        &toolbox,
        CREATE_FILE,
        json!({"path": "huge.rs", "content": "y".repeat(MAX_STAGED_BYTES + 1)}),
    )
    .await;
    assert!(huge.content.contains("larger than"), "{}", huge.content);
    assert!(staging.is_empty());
}

#[tokio::test]
async fn an_open_buffer_is_the_base_with_its_version() {
    let (workspace, staging, toolbox) = setup();
    let path = workspace.root.join("src/lib.rs");
    workspace
        .view
        .buffers
        .lock()
        .unwrap()
        .insert(path, "pub fn old_name() { /* unsaved */ }\n".into());
    let output = edit(&toolbox, "src/lib.rs", "old_name", "new_name").await;
    assert!(!output.is_error, "{}", output.content);
    let files = staging.files();
    assert_eq!(files[0].text, "pub fn new_name() { /* unsaved */ }\n");
    assert!(matches!(files[0].base, Base::Buffer { .. }));
}

#[test]
fn typing_on_an_edited_line_refuses_and_typing_elsewhere_moves_the_edit() {
    use crate::text::{Position, PositionEncoding, Range, TextChange};
    let base = "fn a() {}\nfn b() {}\nfn c() {}\n";
    let staged = base.replace("fn b()", "fn bee()");
    let edits = crate::answer::edits::minimal_edits(base, &staged);
    let typed = |line: u32, character: u32| {
        let mut document = Document::new(base, 1, "rust");
        let at = Position { line, character };
        document
            .apply_changes(
                2,
                &[TextChange {
                    range: Some(Range { start: at, end: at }),
                    text: "x".into(),
                }],
                PositionEncoding::Utf16,
            )
            .unwrap();
        let placed = place_on(&document, 1, base, &edits);
        (document, placed)
    };
    let (document, placed) = typed(0, 0);
    let placed = placed.unwrap();
    assert_eq!(
        crate::answer::edits::apply_edits(&document.contents(), &placed),
        format!("x{staged}")
    );
    let (_, placed) = typed(1, 9);
    assert_eq!(placed, Err("you typed in an edited line"));
    let (document, placed) = typed(2, 3);
    assert_eq!(
        crate::answer::edits::apply_edits(&document.contents(), &placed.unwrap()),
        staged.replace("fn c", "fn xc")
    );
}

#[test]
fn the_diff_names_every_file_and_new_files_come_from_nothing() {
    let files = vec![
        StagedFile {
            path: "/ws/a.rs".into(),
            shown: "a.rs".into(),
            base: Base::Disk {
                text: "old\n".into(),
            },
            text: "new\n".into(),
        },
        StagedFile {
            path: "/ws/b.rs".into(),
            shown: "b.rs".into(),
            base: Base::New,
            text: "fresh\n".into(),
        },
    ];
    let diff = unified_diff(&files);
    assert!(diff.contains("--- a/a.rs\n+++ b/a.rs\n"), "{diff}");
    assert!(diff.contains("-old\n+new\n"), "{diff}");
    assert!(diff.contains("--- /dev/null\n+++ b/b.rs\n"), "{diff}");
    assert!(diff.contains("+fresh\n"), "{diff}");
}

#[tokio::test]
async fn without_staging_the_write_tools_are_unknown() {
    let workspace = Workspace::new();
    workspace.write("a.rs", "a\n");
    let toolbox = workspace.toolbox(Limits::default());
    let output = edit(&toolbox, "a.rs", "a", "b").await;
    assert_refused(&output, "unknown tool");
    assert_eq!(
        std::fs::read_to_string(workspace.root.join("a.rs")).unwrap(),
        "a\n"
    );
}

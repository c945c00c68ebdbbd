//! What happens to the person's code when an edit action's answer comes back: through the
//! real server (in-process over pipes) against the scripted fake upstream over real HTTP.
//! Answers that hold no code, diffs, nested fences, Neovim's held-back `didChange`, cancel
//! while the edit waits, and the document's indentation style.

mod support;

use std::time::Duration;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use support::{Client, capabilities, env, file_uri, range, workspace};

const KEY: &str = "sk-test-edits-5b1e";

struct Setup {
    fake: FakeUpstream,
    client: Client,
    _dir: tempfile::TempDir,
    _explain_dir: tempfile::TempDir,
    explain_path: std::path::PathBuf,
    uri: String,
}

/// How the editor under test syncs documents.
#[derive(Clone, Copy, PartialEq)]
enum Editor {
    /// `documentChanges`, `didChange` at once (VS Code, Helix).
    Versioned,
    /// No `documentChanges`, `didChange` held back as Neovim does.
    Neovim,
}

async fn setup(
    editor: Editor,
    file: &str,
    language: &str,
    text: &str,
    replies: Vec<Reply>,
) -> Setup {
    let fake = FakeUpstream::start(replies).await.expect("fake upstream");
    let dir = workspace(&[(file, text)]);
    let explain_dir = tempfile::tempdir().unwrap();
    let client = Client::in_process(env(&fake.base_url(), Some(KEY), explain_dir.path()));
    let caps = capabilities(&["utf-16"], editor == Editor::Versioned);
    client.initialize(caps, Value::Null, Some(dir.path())).await;
    if editor == Editor::Neovim {
        client.set_neovim_like(Duration::from_millis(150));
    }
    let uri = file_uri(&dir.path().join(file));
    client.open(&uri, language, text).await;
    Setup {
        fake,
        client,
        explain_path: explain_dir.path().to_path_buf(),
        _dir: dir,
        _explain_dir: explain_dir,
        uri,
    }
}

/// Runs an action on lines `first..=last` (whole lines) and returns its progress end.
async fn run(s: &Setup, command: &str, first: u32, last: u32) -> String {
    let token = s
        .client
        .run_action(
            command,
            json!({"uri": s.uri, "range": range(first, 0, last + 1, 0)}),
        )
        .await;
    s.client.wait_progress_end(&token).await
}

fn shown(s: &Setup) -> String {
    s.client.shown_messages().join("\n---\n")
}

const PYTHON: &str = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n\n\ndef main():\n    print(total([1, 2, 3]))\n";

/// An answer that is not code for the selection applies nothing, says why, and shows the
/// answer: a refusal, prose, a shell command, a usage example after "no changes needed".
#[tokio::test]
async fn an_answer_without_code_for_the_selection_applies_nothing_and_is_shown() {
    let cases: &[(&str, &str)] = &[
        (
            "This code looks correct to me; no changes are needed.",
            "needs no change",
        ),
        (
            "The function adds every value to the result and returns it.\nIt handles empty lists, since the result starts at zero.",
            "prose, not code",
        ),
        (
            "Here is a simpler version:\ndef total(values):\n    return sum(values)",
            "prose, not code",
        ),
        (
            "The code is fine. To check it, run the tests:\n\n```sh\npython -m pytest -q\n```",
            "needs no change",
        ),
        (
            "Run this first:\n\n```sh\npip install numpy\n```",
            "`sh` block",
        ),
        (
            "No changes are needed. You can call it like this:\n\n```python\nprint(total([4, 5]))\n```",
            "needs no change",
        ),
        (
            "You can call it like this:\n\n```python\nprint(total([4, 5]))\n```",
            "does not look like a replacement",
        ),
        ("I can't help with rewriting this code.", "needs no change"),
    ];
    for editor in [Editor::Versioned, Editor::Neovim] {
        for (answer, reason) in cases {
            let s = setup(
                editor,
                "m.py",
                "python",
                PYTHON,
                vec![Reply::text(&[answer])],
            )
            .await;
            let end = run(&s, "chatls.fix", 0, 4).await;
            assert!(end.contains(reason), "{answer:?}: the end says {end:?}");
            assert!(end.contains("nothing was changed"), "{end}");
            assert!(
                s.client.server_requests("workspace/applyEdit").is_empty(),
                "{answer:?} was applied"
            );
            assert_eq!(s.client.doc(&s.uri).text, PYTHON);
            let messages = shown(&s);
            assert!(
                messages.contains(answer.trim()),
                "{answer:?}: the answer is not shown: {messages}"
            );
            assert!(messages.contains(reason), "{messages}");
        }
    }
}

/// The prompt asks for one fenced block; a model that quotes the selection first, or leads
/// with a shell block, still gets its replacement applied, and a fence-less answer that is
/// plainly code is applied too.
#[tokio::test]
async fn the_replacement_is_found_among_other_blocks_and_without_a_fence() {
    let simpler = "def total(values):\n    return sum(values)\n";
    let expected = PYTHON.replace(
        "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n",
        simpler,
    );
    let answers = [
        format!(
            "Before:\n```python\n{}```\nAfter:\n```python\n{simpler}```\n",
            &PYTHON[..PYTHON.find("\n\n").unwrap() + 1]
        ),
        format!("No install needed:\n```sh\npython m.py\n```\nThe code:\n```py\n{simpler}```"),
        simpler.to_owned(),
    ];
    for answer in answers {
        let s = setup(
            Editor::Versioned,
            "m.py",
            "python",
            PYTHON,
            vec![Reply::text(&[&answer])],
        )
        .await;
        let end = run(&s, "chatls.refactor", 0, 4).await;
        assert!(end.starts_with("applied"), "{answer:?}: {end}");
        assert_eq!(s.client.doc(&s.uri).text, expected, "{answer:?}");
    }
}

/// A ```diff answer is applied as a diff of the selection (placed by its content, whatever
/// its line numbers say), never inserted as text; a diff that does not match is refused
/// and shown.
#[tokio::test]
async fn a_diff_answer_is_applied_as_a_diff_or_refused() {
    let applies = "Change the loop:\n\n```diff\n--- a/m.py\n+++ b/m.py\n@@ -120,4 +120,3 @@\n     result = 0\n-    for value in values:\n-        result += value\n+    result += sum(values)\n     return result\n```\n";
    for editor in [Editor::Versioned, Editor::Neovim] {
        let s = setup(
            editor,
            "m.py",
            "python",
            PYTHON,
            vec![Reply::text(&[applies])],
        )
        .await;
        let end = run(&s, "chatls.refactor", 0, 4).await;
        assert!(end.starts_with("applied"), "{end}");
        assert_eq!(
            s.client.doc(&s.uri).text,
            PYTHON.replace(
                "    for value in values:\n        result += value\n",
                "    result += sum(values)\n"
            )
        );
    }

    let stale = "```diff\n-    for item in items:\n+    for item in list(items):\n```";
    let s = setup(
        Editor::Versioned,
        "m.py",
        "python",
        PYTHON,
        vec![Reply::text(&[stale])],
    )
    .await;
    let end = run(&s, "chatls.refactor", 0, 4).await;
    assert!(end.contains("diff that does not apply"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(s.client.doc(&s.uri).text, PYTHON);
    assert!(
        shown(&s).contains("for item in list(items)"),
        "{}",
        shown(&s)
    );
}

const README: &str = "# Tool\n\n## Install\n\nRun the installer.\n\n## Use\n\nCall it.\n";

/// A markdown refactor whose answer wraps a shell block in an outer fence keeps the inner
/// fence and the text after it, for a longer outer fence and for one of the same length.
#[tokio::test]
async fn nested_fences_keep_the_inner_block_and_what_follows() {
    let section = "## Install\n\n```sh\nmake install\n```\n\nThen run `tool --help`.\n";
    for answer in [
        format!("Here is the section:\n\n````markdown\n{section}````\n\nI added the command."),
        format!("Here is the section:\n\n```markdown\n{section}```\n\nI added the command."),
        format!("```md\n{section}```"),
    ] {
        let s = setup(
            Editor::Versioned,
            "README.md",
            "markdown",
            README,
            vec![Reply::text(&[&answer])],
        )
        .await;
        // "## Install" .. "Run the installer."
        let end = run(&s, "chatls.refactor", 2, 4).await;
        assert!(end.starts_with("applied"), "{answer:?}: {end}");
        assert_eq!(
            s.client.doc(&s.uri).text,
            README.replace("## Install\n\nRun the installer.\n", section),
            "{answer:?}"
        );
    }
}

const TWO_FUNCTIONS: &str = "def a():\n    return 1\n\ndef b():\n    return 2\n";

/// Neovim holds back `didChange`: two refactors finishing 60 ms apart must not put the
/// second edit a line off (it waits for Neovim's report of the first). With the default
/// 150 ms, and with a `debounce_text_changes` of 600 ms, which leaves no doubt that the
/// second answer arrives before the report of the first edit.
#[tokio::test]
async fn neovim_two_edits_finishing_together_land_on_their_own_lines() {
    for debounce in [150, 600] {
        let s = setup(
            Editor::Neovim,
            "two.py",
            "python",
            TWO_FUNCTIONS,
            vec![
                Reply::text_with_delay(&["```python\n# one\nreturn 1\n```"], 300),
                Reply::text_with_delay(&["```python\n# two\nreturn 2\n```"], 360),
            ],
        )
        .await;
        s.client.set_neovim_like(Duration::from_millis(debounce));
        let first = s
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": s.uri, "range": range(1, 0, 2, 0)}),
            )
            .await;
        // The replies go out in the order the requests come in.
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        let second = s
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": s.uri, "range": range(4, 0, 5, 0)}),
            )
            .await;
        let first_end = s.client.wait_progress_end(&first).await;
        let second_end = s.client.wait_progress_end(&second).await;
        assert!(
            first_end.starts_with("applied"),
            "{debounce} ms: {first_end}"
        );
        assert!(
            second_end.starts_with("applied"),
            "{debounce} ms: {second_end}"
        );
        assert_eq!(
            s.client.doc(&s.uri).text,
            "def a():\n    # one\n    return 1\n\ndef b():\n    # two\n    return 2\n",
            "{debounce} ms"
        );
    }
}

/// A Neovim with a longer `debounce_text_changes` (600 ms): the first edit shows how long
/// it holds changes back, and typing not yet reported when the next answer ends is waited
/// for that long.
#[tokio::test]
async fn neovim_a_longer_debounce_is_learned_from_the_first_edit() {
    let s = setup(
        Editor::Neovim,
        "two.py",
        "python",
        TWO_FUNCTIONS,
        vec![
            Reply::text(&["```python\n# one\nreturn 1\n```"]),
            Reply::text_with_delay(&["```python\n# two\nreturn 2\n```"], 500),
        ],
    )
    .await;
    s.client.set_neovim_like(Duration::from_millis(600));
    let end = run(&s, "chatls.refactor", 1, 1).await;
    assert!(end.starts_with("applied"), "{end}");
    // Let the report of that edit go out (600 ms after it), and Neovim's interval pass.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let token = s
        .client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": range(5, 0, 6, 0)}),
        )
        .await;
    s.fake.wait_for_requests(2, Duration::from_secs(10)).await;
    // Typed 50 ms before the answer ends; the first change after a quiet spell goes out at
    // once, so type twice: the second is held back the whole interval.
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.client
        .type_text(&s.uri, range(0, 0, 0, 0), "# top\n")
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.client.type_text(&s.uri, range(0, 0, 0, 0), "\n").await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        "\n# top\ndef a():\n    # one\n    return 1\n\ndef b():\n    # two\n    return 2\n"
    );
}

/// Enter pressed at the top of the file 50 ms before the answer ends: Neovim sends it 150 ms
/// later, and the edit must still land on the selected line, moved down by one.
#[tokio::test]
async fn neovim_typing_not_yet_reported_does_not_move_the_edit_onto_other_text() {
    let s = setup(
        Editor::Neovim,
        "two.py",
        "python",
        TWO_FUNCTIONS,
        vec![Reply::text_with_delay(
            &["```python\n# two\nreturn 2\n```"],
            500,
        )],
    )
    .await;
    let token = s
        .client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": range(4, 0, 5, 0)}),
        )
        .await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    s.client.type_text(&s.uri, range(0, 0, 0, 0), "\n").await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        "\ndef a():\n    return 1\n\ndef b():\n    # two\n    return 2\n"
    );
}

/// A person typing while the answer streams, in Neovim: below the selection the edit
/// lands; inside it nothing is applied and the typing is kept.
#[tokio::test]
async fn neovim_typing_while_the_answer_streams() {
    let answer = || Reply::text_with_delay(&["```python\n# one\nreturn 1\n```"], 400);
    let s = setup(
        Editor::Neovim,
        "two.py",
        "python",
        TWO_FUNCTIONS,
        vec![answer()],
    )
    .await;
    let token = s
        .client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": range(1, 0, 2, 0)}),
        )
        .await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    for (at, text) in [(4, "    # below\n"), (5, "# end\n")] {
        tokio::time::sleep(Duration::from_millis(120)).await;
        s.client.type_text(&s.uri, range(at, 0, at, 0), text).await;
    }
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        "def a():\n    # one\n    return 1\n\ndef b():\n    # below\n# end\n    return 2\n"
    );

    let s = setup(
        Editor::Neovim,
        "two.py",
        "python",
        TWO_FUNCTIONS,
        vec![answer()],
    )
    .await;
    let token = s
        .client
        .run_action(
            "chatls.refactor",
            json!({"uri": s.uri, "range": range(1, 0, 2, 0)}),
        )
        .await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    s.client.type_text(&s.uri, range(1, 12, 1, 12), "0").await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("selected code changed"), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        TWO_FUNCTIONS.replace("return 1", "return 10")
    );
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
}

/// A client that sends the whole text with every change (full sync; allowed with
/// incremental sync too): typing above and below the selection while the answer streams
/// keeps the edit, in an LF and a CRLF file, with an emoji before the selection (UTF-16
/// positions); typing inside the selection still refuses and keeps the typing.
#[tokio::test]
async fn a_whole_document_change_elsewhere_keeps_the_edit() {
    let answer = || Reply::text_with_delay(&["```python\n# one\nreturn 1\n```"], 500);
    for eol in ["\n", "\r\n"] {
        let text = TWO_FUNCTIONS.replace('\n', eol);
        let s = setup(Editor::Versioned, "two.py", "python", &text, vec![answer()]).await;
        let token = s
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": s.uri, "range": range(1, 0, 2, 0)}),
            )
            .await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        let above = text.replacen("def a():", "def a():  # 😀 a", 1);
        s.client.change_full(&s.uri, &above).await;
        let below = above.replacen("return 2", "return 2 + 0", 1);
        s.client.change_full(&s.uri, &below).await;
        let end = s.client.wait_progress_end(&token).await;
        assert!(end.starts_with("applied"), "{eol:?}: {end}");
        let expected = "def a():  # 😀 a\n    # one\n    return 1\n\ndef b():\n    return 2 + 0\n"
            .replace('\n', eol);
        assert_eq!(s.client.doc(&s.uri).text, expected, "{eol:?}");

        // Inside the selection: nothing is applied, the typing stays.
        let s = setup(Editor::Versioned, "two.py", "python", &text, vec![answer()]).await;
        let token = s
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": s.uri, "range": range(1, 0, 2, 0)}),
            )
            .await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        let inside = text.replacen("return 1", "return 10", 1);
        s.client.change_full(&s.uri, &inside).await;
        let end = s.client.wait_progress_end(&token).await;
        assert!(end.contains("selected code changed"), "{eol:?}: {end}");
        assert_eq!(s.client.doc(&s.uri).text, inside);
        assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    }
}

/// `chatls.cancel`, or `shutdown`, while an unversioned edit waits for the document to
/// settle: nothing is applied.
#[tokio::test]
async fn cancel_or_shutdown_while_the_edit_waits_applies_nothing() {
    for how in ["chatls.cancel", "shutdown"] {
        let s = setup(
            Editor::Neovim,
            "two.py",
            "python",
            TWO_FUNCTIONS,
            vec![Reply::text_with_delay(
                &["```python\n# one\nreturn 1\n```"],
                300,
            )],
        )
        .await;
        let token = s
            .client
            .run_action(
                "chatls.refactor",
                json!({"uri": s.uri, "range": range(1, 0, 2, 0)}),
            )
            .await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        // A change the server hears at once, just before the answer ends, so even a settle
        // that counts only from the last change is still waiting when the cancel comes.
        tokio::time::sleep(Duration::from_millis(250)).await;
        s.client.change(&s.uri, range(5, 0, 5, 0), "# end\n").await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        if how == "shutdown" {
            let response = s.client.request("shutdown", Value::Null).await;
            assert!(response.get("error").is_none(), "{response}");
        } else {
            let response = s
                .client
                .request(
                    "workspace/executeCommand",
                    json!({"command": "chatls.cancel", "arguments": [{"uri": s.uri}]}),
                )
                .await;
            assert_eq!(response["result"]["cancelled"], 1, "{response}");
            let end = s.client.wait_progress_end(&token).await;
            assert!(end.contains("cancelled"), "{end}");
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(
            s.client.server_requests("workspace/applyEdit").is_empty(),
            "{how}: the edit was applied after the cancel"
        );
        assert_eq!(s.client.doc(&s.uri).text, format!("{TWO_FUNCTIONS}# end\n"));
        assert!(
            !shown(&s).contains("cancelled"),
            "{how}: a cancel needs no message: {}",
            shown(&s)
        );
    }
}

const GO: &str = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n\nfunc helper() {}\n";

/// A one-line selection in a tab-indented Go file, expanded by the model with spaces, gets
/// the file's tabs.
#[tokio::test]
async fn a_tab_indented_file_gets_tabs_for_a_one_line_selection() {
    let answer = "```go\nfunc helper() {\n    for i := 0; i < 3; i++ {\n        fmt.Println(i)\n    }\n}\n```";
    let s = setup(
        Editor::Versioned,
        "main.go",
        "go",
        GO,
        vec![Reply::text(&[answer])],
    )
    .await;
    let end = run(&s, "chatls.refactor", 8, 8).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_eq!(
        s.client.doc(&s.uri).text,
        GO.replace(
            "func helper() {}\n",
            "func helper() {\n\tfor i := 0; i < 3; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n"
        )
    );
}

/// An answer too long for a message is saved whole, and the message says where.
#[tokio::test]
async fn a_long_unapplied_answer_is_saved_whole() {
    let sentence = "The function is correct and needs nothing more than what it already does. ";
    let answer = format!("No changes are needed. {}", sentence.repeat(80));
    let s = setup(
        Editor::Versioned,
        "m.py",
        "python",
        PYTHON,
        vec![Reply::text(&[&answer])],
    )
    .await;
    let end = run(&s, "chatls.fix", 0, 4).await;
    assert!(end.contains("needs no change"), "{end}");
    let messages = shown(&s);
    let saved: Vec<_> = std::fs::read_dir(&s.explain_path)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(saved.len(), 1, "{messages}");
    let path = saved[0].path();
    assert!(messages.contains(&path.display().to_string()), "{messages}");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains(answer.trim())
    );
    assert_eq!(s.client.doc(&s.uri).text, PYTHON);
}

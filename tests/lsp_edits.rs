//! What happens to the person's code when an edit action's answer comes back: through the
//! real server (in-process over pipes) against the scripted fake upstream over real HTTP.
//! Answers that hold no code, diffs, nested fences, Neovim's held-back `didChange`, cancel
//! while the edit waits, and the document's indentation style.
//!
//! Each case is written as text: the document with the selection marked (`«`…`»`, see
//! `support::marked`), the model's answer, and the document expected after it.

mod support;

use std::time::Duration;

use chatls_fake_upstream::Reply;
use serde_json::{Value, json};

use support::fixture::{Editor, Fixture, Session};
use support::marked::{Marked, assert_text, marked};

/// Starts `editor` on `file` holding `before`'s text, opened, with the upstream answering
/// `replies` in turn.
async fn start(editor: Editor, file: &str, before: &Marked, replies: Vec<Reply>) -> Session {
    Fixture::new()
        .client(editor)
        .file(file, &before.text)
        .open(file)
        .replies(replies)
        .start()
        .await
}

/// Runs an action on the marked selection and returns its progress end.
async fn run(s: &Session, command: &str, selection: &Marked) -> String {
    let token = start_action(s, command, selection).await;
    s.client.wait_progress_end(&token).await
}

/// Starts an action on the marked selection; its progress token.
async fn start_action(s: &Session, command: &str, selection: &Marked) -> String {
    s.start_action(command, selection.range.clone()).await
}

/// The range of the cursor (`‸`) in a copy of the document, for typing there.
fn at(document: &str) -> Value {
    marked(document).range
}

fn shown(s: &Session) -> String {
    s.client.shown_messages().join("\n---\n")
}

/// The function `total` selected, with the code after it.
const PYTHON: &str = "\
«def total(values):
    result = 0
    for value in values:
        result += value
    return result
»

def main():
    print(total([1, 2, 3]))
";

/// The marks read from this file are what the `marked` tests below rely on.
#[test]
fn marks_are_a_range_and_leave_the_text() {
    let m = marked("a\n«bc\n»d");
    assert_eq!(m.text, "a\nbc\nd");
    assert_eq!(
        m.range,
        json!({"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}})
    );
    let m = marked("😀x‸y");
    assert_eq!(m.text, "😀xy");
    assert_eq!(m.range["start"], json!({"line": 0, "character": 3}));
    assert_eq!(m.range["start"], m.range["end"]);
}

/// An answer that is not code for the selection applies nothing, says why, and shows the
/// answer: a refusal, prose, a shell command, a usage example after "no changes needed".
#[tokio::test]
async fn an_answer_without_code_for_the_selection_applies_nothing_and_is_shown() {
    // The model's answer, and the reason the progress end and the message give.
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
    let before = marked(PYTHON);
    for editor in [Editor::VsCode, Editor::Neovim] {
        for (answer, reason) in cases {
            let s = start(editor, "m.py", &before, vec![Reply::text(&[answer])]).await;
            let end = run(&s, "chatls.fix", &before).await;
            assert!(end.contains(reason), "{answer:?}: the end says {end:?}");
            assert!(end.contains("nothing was changed"), "{end}");
            assert!(
                s.client.server_requests("workspace/applyEdit").is_empty(),
                "{answer:?} was applied"
            );
            assert_text(&s.client.doc(&s.uri).text, &before.text, answer);
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
    let before = marked(PYTHON);
    let after = "\
def total(values):
    return sum(values)


def main():
    print(total([1, 2, 3]))
";
    let simpler = "def total(values):\n    return sum(values)\n";
    let quoted = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n";
    let answers = [
        format!("Before:\n```python\n{quoted}```\nAfter:\n```python\n{simpler}```\n"),
        format!("No install needed:\n```sh\npython m.py\n```\nThe code:\n```py\n{simpler}```"),
        simpler.to_owned(),
    ];
    for answer in answers {
        let s = start(
            Editor::VsCode,
            "m.py",
            &before,
            vec![Reply::text(&[&answer])],
        )
        .await;
        let end = run(&s, "chatls.refactor", &before).await;
        assert!(end.starts_with("applied"), "{answer:?}: {end}");
        assert_text(&s.client.doc(&s.uri).text, after, &answer);
    }
}

/// A ```diff answer is applied as a diff of the selection (placed by its content, whatever
/// its line numbers say), never inserted as text; a diff that does not match is refused
/// and shown.
#[tokio::test]
async fn a_diff_answer_is_applied_as_a_diff_or_refused() {
    let before = marked(PYTHON);
    let applies = "\
Change the loop:

```diff
--- a/m.py
+++ b/m.py
@@ -120,4 +120,3 @@
     result = 0
-    for value in values:
-        result += value
+    result += sum(values)
     return result
```
";
    let after = "\
def total(values):
    result = 0
    result += sum(values)
    return result


def main():
    print(total([1, 2, 3]))
";
    for editor in [Editor::VsCode, Editor::Neovim] {
        let s = start(editor, "m.py", &before, vec![Reply::text(&[applies])]).await;
        let end = run(&s, "chatls.refactor", &before).await;
        assert!(end.starts_with("applied"), "{end}");
        assert_text(&s.client.doc(&s.uri).text, after, &format!("{editor:?}"));
    }

    let stale = "```diff\n-    for item in items:\n+    for item in list(items):\n```";
    let s = start(Editor::VsCode, "m.py", &before, vec![Reply::text(&[stale])]).await;
    let end = run(&s, "chatls.refactor", &before).await;
    assert!(end.contains("diff that does not apply"), "{end}");
    assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    assert_text(&s.client.doc(&s.uri).text, &before.text, "a stale diff");
    assert!(
        shown(&s).contains("for item in list(items)"),
        "{}",
        shown(&s)
    );
}

/// A markdown refactor whose answer wraps a shell block in an outer fence keeps the inner
/// fence and the text after it, for a longer outer fence and for one of the same length.
#[tokio::test]
async fn nested_fences_keep_the_inner_block_and_what_follows() {
    let before = marked(
        "\
# Tool

«## Install

Run the installer.
»
## Use

Call it.
",
    );
    let section = "## Install\n\n```sh\nmake install\n```\n\nThen run `tool --help`.\n";
    let after = "\
# Tool

## Install

```sh
make install
```

Then run `tool --help`.

## Use

Call it.
";
    for answer in [
        format!("Here is the section:\n\n````markdown\n{section}````\n\nI added the command."),
        format!("Here is the section:\n\n```markdown\n{section}```\n\nI added the command."),
        format!("```md\n{section}```"),
    ] {
        let s = start(
            Editor::VsCode,
            "README.md",
            &before,
            vec![Reply::text(&[&answer])],
        )
        .await;
        let end = run(&s, "chatls.refactor", &before).await;
        assert!(end.starts_with("applied"), "{answer:?}: {end}");
        assert_text(&s.client.doc(&s.uri).text, after, &answer);
    }
}

const TWO_FUNCTIONS: &str = "def a():\n    return 1\n\ndef b():\n    return 2\n";

/// `return 1` selected.
const FIRST_RETURN: &str = "def a():\n«    return 1\n»\ndef b():\n    return 2\n";

fn first_return() -> Marked {
    marked(FIRST_RETURN)
}

/// `return 2` selected.
fn second_return() -> Marked {
    marked("def a():\n    return 1\n\ndef b():\n«    return 2\n»")
}

/// The top of the file, for typing there.
fn top() -> Value {
    at("‸def a():\n")
}

/// Neovim holds back `didChange`: two refactors finishing 60 ms apart must not put the
/// second edit a line off (it waits for Neovim's report of the first). With the default
/// 150 ms, and with a `debounce_text_changes` of 600 ms, which leaves no doubt that the
/// second answer arrives before the report of the first edit.
#[tokio::test]
async fn neovim_two_edits_finishing_together_land_on_their_own_lines() {
    let after = "\
def a():
    # one
    return 1

def b():
    # two
    return 2
";
    for debounce in [150, 600] {
        let s = start(
            Editor::Neovim,
            "two.py",
            &first_return(),
            vec![
                Reply::text_with_delay(&["```python\n# one\nreturn 1\n```"], 300),
                Reply::text_with_delay(&["```python\n# two\nreturn 2\n```"], 360),
            ],
        )
        .await;
        s.client.set_neovim_like(Duration::from_millis(debounce));
        let first = start_action(&s, "chatls.refactor", &first_return()).await;
        // The replies go out in the order the requests come in.
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        let second = start_action(&s, "chatls.refactor", &second_return()).await;
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
        assert_text(&s.client.doc(&s.uri).text, after, &format!("{debounce} ms"));
    }
}

/// A Neovim with a longer `debounce_text_changes` (600 ms): the first edit shows how long
/// it holds changes back, and typing not yet reported when the next answer ends is waited
/// for that long.
#[tokio::test]
async fn neovim_a_longer_debounce_is_learned_from_the_first_edit() {
    let s = start(
        Editor::Neovim,
        "two.py",
        &first_return(),
        vec![
            Reply::text(&["```python\n# one\nreturn 1\n```"]),
            Reply::text_with_delay(&["```python\n# two\nreturn 2\n```"], 500),
        ],
    )
    .await;
    s.client.set_neovim_like(Duration::from_millis(600));
    let end = run(&s, "chatls.refactor", &first_return()).await;
    assert!(end.starts_with("applied"), "{end}");
    // Let the report of that edit go out (600 ms after it), and Neovim's interval pass.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = marked("def a():\n    # one\n    return 1\n\ndef b():\n«    return 2\n»");
    let token = start_action(&s, "chatls.refactor", &second).await;
    s.fake.wait_for_requests(2, Duration::from_secs(10)).await;
    // Typed 50 ms before the answer ends; the first change after a quiet spell goes out at
    // once, so type twice: the second is held back the whole interval.
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.client.type_text(&s.uri, top(), "# top\n").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.client.type_text(&s.uri, top(), "\n").await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    let after = "\n\
# top
def a():
    # one
    return 1

def b():
    # two
    return 2
";
    assert_text(&s.client.doc(&s.uri).text, after, "typed at the top");
}

/// Enter pressed at the top of the file 50 ms before the answer ends: Neovim sends it 150 ms
/// later, and the edit must still land on the selected line, moved down by one.
#[tokio::test]
async fn neovim_typing_not_yet_reported_does_not_move_the_edit_onto_other_text() {
    let s = start(
        Editor::Neovim,
        "two.py",
        &second_return(),
        vec![Reply::text_with_delay(
            &["```python\n# two\nreturn 2\n```"],
            500,
        )],
    )
    .await;
    let token = start_action(&s, "chatls.refactor", &second_return()).await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    s.client.type_text(&s.uri, top(), "\n").await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    let after = "\n\
def a():
    return 1

def b():
    # two
    return 2
";
    assert_text(&s.client.doc(&s.uri).text, after, "Enter at the top");
}

/// A person typing while the answer streams, in Neovim: below the selection the edit
/// lands; inside it nothing is applied and the typing is kept.
#[tokio::test]
async fn neovim_typing_while_the_answer_streams() {
    let answer = || Reply::text_with_delay(&["```python\n# one\nreturn 1\n```"], 400);
    let s = start(Editor::Neovim, "two.py", &first_return(), vec![answer()]).await;
    let token = start_action(&s, "chatls.refactor", &first_return()).await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    for (at_cursor, text) in [
        (
            "def a():\n    return 1\n\ndef b():\n‸    return 2\n",
            "    # below\n",
        ),
        (
            "def a():\n    return 1\n\ndef b():\n    # below\n‸    return 2\n",
            "# end\n",
        ),
    ] {
        tokio::time::sleep(Duration::from_millis(120)).await;
        s.client.type_text(&s.uri, at(at_cursor), text).await;
    }
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.starts_with("applied"), "{end}");
    let after = "\
def a():
    # one
    return 1

def b():
    # below
# end
    return 2
";
    assert_text(&s.client.doc(&s.uri).text, after, "typed below");

    let s = start(Editor::Neovim, "two.py", &first_return(), vec![answer()]).await;
    let token = start_action(&s, "chatls.refactor", &first_return()).await;
    s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    s.client
        .type_text(&s.uri, at("def a():\n    return 1‸\n"), "0")
        .await;
    let end = s.client.wait_progress_end(&token).await;
    assert!(end.contains("selected code changed"), "{end}");
    let after = "\
def a():
    return 10

def b():
    return 2
";
    assert_text(&s.client.doc(&s.uri).text, after, "typed inside");
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
        let before = marked(&FIRST_RETURN.replace('\n', eol));
        let text = before.text.clone();
        let s = start(Editor::VsCode, "two.py", &before, vec![answer()]).await;
        let token = start_action(&s, "chatls.refactor", &before).await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        let above = text.replacen("def a():", "def a():  # 😀 a", 1);
        s.client.change_full(&s.uri, &above).await;
        let below = above.replacen("return 2", "return 2 + 0", 1);
        s.client.change_full(&s.uri, &below).await;
        let end = s.client.wait_progress_end(&token).await;
        assert!(end.starts_with("applied"), "{eol:?}: {end}");
        let after = "\
def a():  # 😀 a
    # one
    return 1

def b():
    return 2 + 0
";
        assert_text(
            &s.client.doc(&s.uri).text,
            &after.replace('\n', eol),
            &format!("{eol:?}"),
        );

        // Inside the selection: nothing is applied, the typing stays.
        let s = start(Editor::VsCode, "two.py", &before, vec![answer()]).await;
        let token = start_action(&s, "chatls.refactor", &before).await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        let inside = text.replacen("return 1", "return 10", 1);
        s.client.change_full(&s.uri, &inside).await;
        let end = s.client.wait_progress_end(&token).await;
        assert!(end.contains("selected code changed"), "{eol:?}: {end}");
        assert_text(&s.client.doc(&s.uri).text, &inside, &format!("{eol:?}"));
        assert!(s.client.server_requests("workspace/applyEdit").is_empty());
    }
}

/// `chatls.cancel`, or `shutdown`, while an unversioned edit waits for the document to
/// settle: nothing is applied. The action's progress ends only once its delivery has given
/// up, so an edit sent after the cancel would come before that end: no sleep is needed to
/// see that none comes.
#[tokio::test]
async fn cancel_or_shutdown_while_the_edit_waits_applies_nothing() {
    for how in ["chatls.cancel", "shutdown"] {
        let s = start(
            Editor::Neovim,
            "two.py",
            &first_return(),
            vec![Reply::text_with_delay(
                &["```python\n# one\nreturn 1\n```"],
                300,
            )],
        )
        .await;
        let token = start_action(&s, "chatls.refactor", &first_return()).await;
        s.fake.wait_for_requests(1, Duration::from_secs(10)).await;
        // A change the server hears at once, just before the answer ends, so even a settle
        // that counts only from the last change is still waiting when the cancel comes.
        tokio::time::sleep(Duration::from_millis(250)).await;
        s.client
            .change(
                &s.uri,
                at("def a():\n    return 1\n\ndef b():\n    return 2\n‸"),
                "# end\n",
            )
            .await;
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
        }
        let end = s.client.wait_progress_end(&token).await;
        assert!(end.contains("cancelled"), "{how}: {end}");
        assert!(
            s.client.server_requests("workspace/applyEdit").is_empty(),
            "{how}: the edit was applied after the cancel"
        );
        assert_text(
            &s.client.doc(&s.uri).text,
            &format!("{TWO_FUNCTIONS}# end\n"),
            how,
        );
        assert!(
            !shown(&s).contains("cancelled"),
            "{how}: a cancel needs no message: {}",
            shown(&s)
        );
    }
}

/// A one-line selection in a tab-indented Go file, expanded by the model with spaces, gets
/// the file's tabs.
#[tokio::test]
async fn a_tab_indented_file_gets_tabs_for_a_one_line_selection() {
    let before = marked(
        "\
package main

import \"fmt\"

func main() {
\tfmt.Println(\"hi\")
}

«func helper() {}
»",
    );
    let answer = "```go\nfunc helper() {\n    for i := 0; i < 3; i++ {\n        fmt.Println(i)\n    }\n}\n```";
    let after = "\
package main

import \"fmt\"

func main() {
\tfmt.Println(\"hi\")
}

func helper() {
\tfor i := 0; i < 3; i++ {
\t\tfmt.Println(i)
\t}
}
";
    let s = start(
        Editor::VsCode,
        "main.go",
        &before,
        vec![Reply::text(&[answer])],
    )
    .await;
    let end = run(&s, "chatls.refactor", &before).await;
    assert!(end.starts_with("applied"), "{end}");
    assert_text(&s.client.doc(&s.uri).text, after, "tabs");
}

/// An answer too long for a message is saved whole, and the message says where.
#[tokio::test]
async fn a_long_unapplied_answer_is_saved_whole() {
    let before = marked(PYTHON);
    let sentence = "The function is correct and needs nothing more than what it already does. ";
    let answer = format!("No changes are needed. {}", sentence.repeat(80));
    let s = start(
        Editor::VsCode,
        "m.py",
        &before,
        vec![Reply::text(&[&answer])],
    )
    .await;
    let end = run(&s, "chatls.fix", &before).await;
    assert!(end.contains("needs no change"), "{end}");
    let messages = shown(&s);
    let saved: Vec<_> = std::fs::read_dir(s.explain_path())
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
    assert_text(&s.client.doc(&s.uri).text, &before.text, "unchanged");
}

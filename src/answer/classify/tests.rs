use super::*;

const FUNCTION: &str = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n";

fn code(text: &str) -> AnswerCode {
    AnswerCode::Code(text.to_owned())
}

#[test]
fn classify_table() {
    let cases: &[(&str, &str, AnswerCode)] = &[
        // a plain fenced answer
        (
            "Sure:\n```python\ndef total(values):\n    return sum(values)\n```\nShorter.",
            "python",
            code("def total(values):\n    return sum(values)"),
        ),
        // refusals, with and without a fence
        (
            "This code looks correct to me; no changes are needed.",
            "python",
            AnswerCode::None(NoCode::Refusal),
        ),
        (
            "The function is already correct, so I would leave it as is.",
            "python",
            AnswerCode::None(NoCode::Refusal),
        ),
        (
            "I can\u{2019}t help with that.",
            "python",
            AnswerCode::None(NoCode::Refusal),
        ),
        (
            "No changes are needed. You could call it like this:\n```python\nprint(total([1, 2]))\n```",
            "python",
            AnswerCode::None(NoCode::Refusal),
        ),
        // a fix whose prose says nothing else needs to change is still a fix
        (
            "```python\ndef total(values):\n    result = 0\n    for value in values:\n        result += value\n    return int(result)\n```\nNo other changes are needed.",
            "python",
            code(
                "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return int(result)",
            ),
        ),
        // prose with no fence
        (
            "The loop adds every value to the result and returns it at the end.\nIt works for lists and tuples alike.",
            "python",
            AnswerCode::None(NoCode::Prose),
        ),
        (
            "Here is the simplified version:\ndef total(values):\n    return sum(values)",
            "python",
            AnswerCode::None(NoCode::Prose),
        ),
        // fence-less code is code
        (
            "def total(values):\n    return sum(values)\n",
            "python",
            code("def total(values):\n    return sum(values)"),
        ),
        // a shell block is not code for a Python file
        (
            "Run the tests first:\n```sh\npytest -q\n```",
            "python",
            AnswerCode::None(NoCode::OtherLanguage("sh".into())),
        ),
        // the Python block after a shell block is
        (
            "```bash\npip install x\n```\n```py\ndef total(values):\n    return sum(values)\n```",
            "python",
            code("def total(values):\n    return sum(values)"),
        ),
        // a "before" quote gives way to the "after" block
        (
            &format!(
                "Before:\n```python\n{FUNCTION}```\nAfter:\n```python\ndef total(values):\n    return sum(values)\n```"
            ),
            "python",
            code("def total(values):\n    return sum(values)"),
        ),
        // a one-line usage example for a five-line function
        (
            "You can use it like this:\n```python\nprint(sum([1, 2]))\n```",
            "python",
            AnswerCode::None(NoCode::Unrelated),
        ),
        // diffs
        (
            "```diff\n-    return result\n+    return int(result)\n```",
            "python",
            AnswerCode::Diff("-    return result\n+    return int(result)".into()),
        ),
        (
            "--- a/x.py\n+++ b/x.py\n@@ -5 +5 @@\n-    return result\n+    return int(result)\n",
            "python",
            AnswerCode::Diff(
                "--- a/x.py\n+++ b/x.py\n@@ -5 +5 @@\n-    return result\n+    return int(result)"
                    .into(),
            ),
        ),
        // in a diff document a diff is code
        ("```diff\n-a\n+b\n```", "diff", code("-a\n+b")),
        // markdown documents take prose and any block
        (
            "A clearer paragraph about the setup, with every step in order.",
            "markdown",
            code("A clearer paragraph about the setup, with every step in order."),
        ),
        (
            "```python\ndef total(values):\n    return sum(values)\n```",
            "markdown",
            code("def total(values):\n    return sum(values)"),
        ),
        // empty
        ("  \n\n", "python", AnswerCode::None(NoCode::Empty)),
        // an unknown language tag or document language is not held against the block
        (
            "```hcl\ntotal = sum(values)\n```",
            "terraform",
            code("total = sum(values)"),
        ),
        (
            "```rust\nfn total(values: &[i32]) -> i32 { values.iter().sum() }\n```",
            "",
            code("fn total(values: &[i32]) -> i32 { values.iter().sum() }"),
        ),
        // js and ts are one family
        (
            "```js\nconst total = (values) => values.reduce((a, b) => a + b, 0);\n```",
            "typescript",
            code("const total = (values) => values.reduce((a, b) => a + b, 0);"),
        ),
    ];
    for (answer, language, expected) in cases {
        assert_eq!(
            classify(answer, FUNCTION, language),
            *expected,
            "answer {answer:?} in {language}"
        );
    }
}

#[test]
fn prose_lines_and_code_lines() {
    for prose in [
        "This code looks correct to me.",
        "- The loop is fine, but the name could be clearer.",
        "1. Rename the variable to something that says what it holds.",
        "It returns the `total` of the values, which is what the caller expects",
    ] {
        assert!(is_prose_line(prose), "{prose:?}");
    }
    for code in [
        "if x is not None and y in items:",
        "return a + b",
        "let total = values.iter().sum();",
        "// This function adds all the values together.",
        "# Return the total of all the given values.",
        "SELECT name FROM users WHERE id = 1",
        "Foo bar",
        "    result += value",
    ] {
        assert!(!is_prose_line(code), "{code:?}");
    }
}

#[test]
fn the_selections_names_decide_the_overlap() {
    assert_eq!(name_overlap("a b", "x"), 1.0);
    let overlap = name_overlap(FUNCTION, "def total(values):\n    return sum(values)");
    assert!(overlap > 0.3 && overlap < 0.7, "{overlap}");
    assert!(name_overlap(FUNCTION, "print(1)") < 0.2);
}

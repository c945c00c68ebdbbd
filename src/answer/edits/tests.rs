use super::*;

#[test]
fn extract_code_table() {
    let cases: &[(&str, &str)] = &[
        // plain fences, any info string
        ("```\nlet x = 1;\n```", "let x = 1;"),
        ("```rust\nlet x = 1;\n```\n", "let x = 1;"),
        ("~~~ python title=\"a b\"\nx = 1\n~~~", "x = 1"),
        // prose around the fence; the first block wins
        (
            "Here is the fix:\n\n```rust\nfn a() {}\n```\n\nAnd a test:\n```rust\nfn b() {}\n```",
            "fn a() {}",
        ),
        // a longer fence holds a shorter one inside
        ("````md\n```rust\nx\n```\n````\nafter", "```rust\nx\n```"),
        // a closing fence needs the same char and at least the same length
        ("```\na\n~~~\nb\n``\nc\n```", "a\n~~~\nb\n``\nc"),
        ("~~~~\na\n~~~\nb\n~~~~~\nafter", "a\n~~~\nb"),
        // a closing fence may not carry text
        ("```\na\n``` not a fence\nb\n```", "a\n``` not a fence\nb"),
        // unclosed: the rest of the answer
        (
            "Sure:\n```js\nconst a = 1;\nconst b = 2;\n",
            "const a = 1;\nconst b = 2;",
        ),
        ("```js\nconst a = 1;", "const a = 1;"),
        // empty block
        ("```\n```", ""),
        // indentation inside the block is kept
        ("```\n    if x:\n        y()\n```", "    if x:\n        y()"),
        // a fence indented in a list item: that indentation is removed from the body
        (
            "1. Do this:\n   ```py\n   def f():\n       pass\n   ```",
            "def f():\n    pass",
        ),
        // CRLF answer keeps CRLF inside, drops the final break
        ("```\r\na\r\nb\r\n```\r\n", "a\r\nb"),
        // inline triple backticks are not a fence
        ("Use ```x``` here\n  code\n", "Use ```x``` here\n  code"),
        // no fence: the whole answer without surrounding blank lines
        ("\n\n  fn a() {}\n\n", "  fn a() {}"),
        ("fn a() {}\n\tb();\n", "fn a() {}\n\tb();"),
        ("", ""),
        ("   \n\t\n", ""),
        ("``\nnot a fence\n``", "``\nnot a fence\n``"),
        // nested: a longer outer fence around a shorter inner block and text after it
        (
            "Here:\n````markdown\n# Setup\n\n```sh\nmake install\n```\n\nThen run it.\n````\nDone.",
            "# Setup\n\n```sh\nmake install\n```\n\nThen run it.",
        ),
        // nested with the same length: the inner opening carries an info string
        (
            "```markdown\n# Setup\n```sh\nmake install\n```\nThen run it.\n```\nDone.",
            "# Setup\n```sh\nmake install\n```\nThen run it.",
        ),
        // two levels deep, then prose after the outer block
        (
            "```md\nA\n```html\n<pre>\n```js\nx()\n```\n</pre>\n```\nB\n```\nafter",
            "A\n```html\n<pre>\n```js\nx()\n```\n</pre>\n```\nB",
        ),
        // a tilde block inside a backtick block neither opens nor closes it
        ("```md\n~~~sh\nls\n```\n~~~\n", "~~~sh\nls"),
    ];
    for (answer, expected) in cases {
        assert_eq!(extract_code(answer), *expected, "answer {answer:?}");
    }
}

#[test]
fn reindent_table() {
    // (code, original, expected)
    let cases: &[(&str, &str, &str)] = &[
        // the code's own indentation is replaced by the selection's
        (
            "fn a() {\n    b();\n}",
            "    fn x() {\n        y();\n    }\n",
            "    fn a() {\n        b();\n    }\n",
        ),
        ("        a\n        b", "  x\n  y", "  a\n  b"),
        // the base is the first non-blank line's indentation
        ("a\n  b", "\n\n\t\tx\n", "\t\ta\n\t\t\tb\n"),
        // blank lines carry no indentation
        ("a\n\n   \nb", "    x\n", "    a\n\n\n    b\n"),
        // CRLF selection: CRLF everywhere, final break kept
        ("a\nb\n", "  x\r\n  y\r\n", "  a\r\n  b\r\n"),
        ("a\r\nb", "x\r\ny", "a\r\nb"),
        // lone CR selection
        ("a\nb", "x\ry\r", "a\rb\r"),
        // no final break when the selection has none
        ("a\n", "x\ny", "a"),
        // tabs in the selection, spaces in the code: spaces become tabs
        (
            "if x {\n    y();\n        z();\n}",
            "\tif a {\n\t\tb();\n\t}\n",
            "\tif x {\n\t\ty();\n\t\t\tz();\n\t}\n",
        ),
        (
            "if x {\n  y();\n   w;\n}",
            "\tq\n",
            "\tif x {\n\t\ty();\n\t\t w;\n\t}\n",
        ),
        // spaces in the selection (step 2), tabs in the code: tabs become two spaces
        (
            "if x {\n\ty();\n}",
            "  if a {\n    b();\n  }",
            "  if x {\n    y();\n  }",
        ),
        // spaces without a visible step: 4
        ("if x {\n\ty();\n}", "  a\n", "  if x {\n      y();\n  }\n"),
        // unindented selection keeps the code's relative indentation as is
        ("  a\n    b", "x\ny\n", "a\n  b\n"),
        // mixed leading whitespace with no common prefix is left alone
        ("\ta\n    b", "x", "\ta\n    b"),
        // empty code stays empty even if the selection ends with a break
        ("", "    x\n", ""),
        // one-line selection: LF fallback
        ("a\nb", "  x", "  a\n  b"),
    ];
    for (code, original, expected) in cases {
        assert_eq!(
            reindent(code, original),
            *expected,
            "code {code:?} original {original:?}"
        );
    }
    let crlf = Layout {
        eol: "\r\n",
        style: None,
    };
    assert_eq!(reindent_with("a\nb", "  x", &crlf), "  a\r\n  b");
    assert_eq!(line_ending_of("a\r\nb\n"), Some("\r\n"));
    assert_eq!(line_ending_of("a\nb\r\n"), Some("\n"));
    assert_eq!(line_ending_of("a\rb"), Some("\r"));
    assert_eq!(line_ending_of("ab"), None);
}

#[test]
fn fenced_blocks_lists_every_top_level_block() {
    let blocks = fenced_blocks(
        "Before:\n```rust title=x\nold()\n```\nAfter:\n~~~ Diff\n-a\n+b\n~~~\n```py\nopen",
    );
    let summary: Vec<(String, &str, bool)> = blocks
        .iter()
        .map(|block| (block.language(), block.body.as_str(), block.closed))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("rust".to_owned(), "old()", true),
            ("diff".to_owned(), "-a\n+b", true),
            ("py".to_owned(), "open", false),
        ]
    );
    assert_eq!(blocks[0].info, "rust title=x");
    assert!(fenced_blocks("no fences here\n``inline``").is_empty());
    assert_eq!(trim_blank_lines("\n \n a\n b \n\n"), " a\n b ");
    assert_eq!(trim_blank_lines("\n\t\n"), "");
}

#[test]
fn indent_style_is_read_from_the_lines() {
    let style = |text: &str| indent_style(text.lines());
    assert_eq!(
        style("package main\n\nfunc f() {\n\tif x {\n\t\ty()\n\t}\n}\n"),
        Some(IndentStyle::Tabs)
    );
    assert_eq!(
        style("def f():\n    if x:\n        y()\n    return 1\n"),
        Some(IndentStyle::Spaces(4))
    );
    assert_eq!(
        style("function f() {\n  if (x) {\n    y();\n  }\n}\n"),
        Some(IndentStyle::Spaces(2))
    );
    // ` * ` comment lines say nothing; a flat file has no style
    assert_eq!(style("/**\n * doc\n */\nint x;\n"), None);
    assert_eq!(style("a\nb\n"), None);
    // mostly tabs wins over a stray space-indented line
    assert_eq!(
        style("x {\n\ta\n\tb\n    c\n\td\n}"),
        Some(IndentStyle::Tabs)
    );
}

#[test]
fn the_document_style_applies_when_the_selection_shows_none() {
    let tabs = Layout {
        eol: "\n",
        style: Some(IndentStyle::Tabs),
    };
    let two = Layout {
        eol: "\n",
        style: Some(IndentStyle::Spaces(2)),
    };
    // (code, original, layout, expected)
    let cases: &[(&str, &str, &Layout, &str)] = &[
        // a top-level one-line selection in a tab-indented Go file
        (
            "func main() {\n    fmt.Println(\"hi\")\n    if x {\n        y()\n    }\n}",
            "func main() {}",
            &tabs,
            "func main() {\n\tfmt.Println(\"hi\")\n\tif x {\n\t\ty()\n\t}\n}",
        ),
        // an indented one-line selection: the base tab stays, the inner steps become tabs
        (
            "if err != nil {\n    return err\n}",
            "\treturn nil\n",
            &tabs,
            "\tif err != nil {\n\t\treturn err\n\t}\n",
        ),
        // a 2-space file: 4-space code is re-stepped, tabs become 2 spaces
        (
            "if (x) {\n    y();\n        z();\n}",
            "f();",
            &two,
            "if (x) {\n  y();\n    z();\n}",
        ),
        (
            "if (x) {\n\ty();\n}",
            "  f();",
            &two,
            "  if (x) {\n    y();\n  }",
        ),
        // alignment that is not a whole number of steps is left alone
        (
            "call(a,\n     b)\n    x",
            "f();",
            &two,
            "call(a,\n     b)\n    x",
        ),
        // the selection's own style wins over the document's
        (
            "if x {\n    y()\n}",
            "if a {\n    b()\n}",
            &tabs,
            "if x {\n    y()\n}",
        ),
    ];
    for (code, original, layout, expected) in cases {
        assert_eq!(
            reindent_with(code, original, layout),
            *expected,
            "code {code:?} original {original:?}"
        );
    }
}

#[test]
fn replacement_for_combines_both() {
    let answer =
        "Here you go:\n\n```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\nThis adds.";
    let original = "    fn add(a, b) {\r\n        a+b\r\n    }\r\n";
    assert_eq!(
        replacement_for(answer, original),
        "    fn add(a: i32, b: i32) -> i32 {\r\n        a + b\r\n    }\r\n"
    );
    assert_eq!(replacement_for("", "x\n"), "");
}

fn edit(start: usize, end: usize, new_text: &str) -> CharEdit {
    CharEdit {
        start,
        end,
        new_text: new_text.to_owned(),
    }
}

#[test]
fn a_rewritten_hunk_is_one_edit_not_scattered_pieces() {
    let old = "fn f() {\n    for x in xs {\n        sum += x;\n    }\n}\n";
    let new = "fn f() {\n    sum = xs.iter().sum();\n}\n";
    let edits = minimal_edits(old, new);
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(apply_edits(old, &edits), new);
    // The shared indentation and the untouched lines stay out of the edit.
    assert_eq!(edits[0].start, "fn f() {\n    ".chars().count());
}

#[test]
fn minimal_edits_table() {
    let cases: Vec<(&str, &str, Vec<CharEdit>)> = vec![
        ("same", "same", vec![]),
        ("", "", vec![]),
        ("", "new", vec![edit(0, 0, "new")]),
        ("old", "", vec![edit(0, 3, "")]),
        ("let x = 1;\n", "let x = 2;\n", vec![edit(8, 9, "2")]),
        ("a\nb\nc\n", "a\nB\nc\n", vec![edit(2, 3, "B")]),
        ("a\nc\n", "a\nb\nc\n", vec![edit(2, 2, "b\n")]),
        // non-ASCII offsets are in chars
        ("é😀 = 1\n", "é😀 = 10\n", vec![edit(6, 6, "0")]),
        // changes a char apart are joined
        ("abcdef", "aXcYef", vec![edit(1, 4, "XcY")]),
        // far-apart changes stay separate
        (
            "x = 1;\nkeep this line\ny = 2;\n",
            "x = 3;\nkeep this line\ny = 4;\n",
            vec![edit(4, 5, "3"), edit(26, 27, "4")],
        ),
        // CRLF to LF: the edit covers the whole \r\n, never half of it
        ("a\r\nb\r\n", "a\nb\n", vec![edit(1, 6, "\nb\n")]),
        ("ab\r\n", "ab\n", vec![edit(2, 4, "\n")]),
        // inserting a \r before a \n splits nothing in the old text
        ("ab\n", "ab\r\n", vec![edit(2, 2, "\r")]),
    ];
    for (old, new, expected) in cases {
        let edits = minimal_edits(old, new);
        assert_eq!(edits, expected, "{old:?} -> {new:?}");
        assert_eq!(apply_edits(old, &edits), new, "{old:?} -> {new:?}");
    }
}

#[test]
fn minimal_edits_never_split_crlf() {
    let old = "one\r\ntwo\r\nthree\r\n";
    for new in [
        "one\ntwo\r\nthree\r\n",
        "one\r\ntwo\rthree\r\n",
        "one\r\n\ntwo\r\nthree\r\n",
        "one\r\r\ntwo\r\nthree",
    ] {
        let edits = minimal_edits(old, new);
        let chars: Vec<char> = old.chars().collect();
        for e in &edits {
            for at in [e.start, e.end] {
                assert!(
                    !(at > 0 && at < chars.len() && chars[at - 1] == '\r' && chars[at] == '\n'),
                    "{new:?}: {e:?} splits a CRLF"
                );
            }
        }
        assert_eq!(apply_edits(old, &edits), new);
    }
}

#[test]
fn minimal_edits_on_a_big_rewrite_stays_correct() {
    let old: String = (0..3000).map(|i| format!("line {i} old\n")).collect();
    let new: String = (0..3000)
        .map(|i| format!("row {} new\n", i * 7 % 3001))
        .collect();
    let edits = minimal_edits(&old, &new);
    assert_eq!(apply_edits(&old, &edits), new);
    assert!(edits.windows(2).all(|pair| pair[0].end < pair[1].start));
}

#[test]
fn apply_edits_tolerates_bad_input() {
    let cases: Vec<(&str, Vec<CharEdit>, &str)> = vec![
        ("hello", vec![edit(0, 1, "J")], "Jello"),
        ("héllo", vec![edit(1, 2, "e"), edit(5, 5, "!")], "hello!"),
        ("abc", vec![edit(10, 20, "!")], "abc!"),
        ("abc", vec![edit(2, 1, "X")], "abXc"),
        ("abcdef", vec![edit(1, 4, "X"), edit(2, 5, "Y")], "aXYf"),
        ("abc", vec![], "abc"),
        ("", vec![edit(0, 0, "new")], "new"),
    ];
    for (old, edits, expected) in cases {
        assert_eq!(apply_edits(old, &edits), expected, "{old:?} {edits:?}");
    }
}

//! Brackets as the code around the cursor has them: which brackets a line leaves open, which
//! of those the code after the cursor closes, and how far a line is from balanced — counting
//! only brackets outside string literals, char literals and comments, as the document's
//! language writes them. A lexical sketch, not a parser: enough to judge where a suggestion
//! ends and what of it repeats the code after the cursor. Pure: no I/O.

/// How a language writes comments and quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexicon {
    line_comments: &'static [&'static str],
    /// `/* ... */`
    block_comments: bool,
    /// `'` starts a string (Python, JavaScript, shell) rather than a char literal or
    /// nothing at all (a Rust lifetime, a Haskell prime).
    apostrophe_quotes: bool,
    /// `` ` `` starts a string that may span lines (JavaScript templates, Go raw strings).
    backtick_quotes: bool,
    /// `"""` and `'''` start strings that may span lines.
    triple_quotes: bool,
}

/// Quotes and comments of the language with this LSP language id; an unknown language gets
/// all three quotes and no comments.
pub fn lexicon(language: &str) -> Lexicon {
    const C_LIKE: Lexicon = Lexicon {
        line_comments: &["//"],
        block_comments: true,
        apostrophe_quotes: false,
        backtick_quotes: false,
        triple_quotes: false,
    };
    const HASH: Lexicon = Lexicon {
        line_comments: &["#"],
        block_comments: false,
        apostrophe_quotes: true,
        backtick_quotes: false,
        triple_quotes: false,
    };
    match language {
        "rust" | "c" | "cpp" | "objective-c" | "objective-cpp" | "java" | "csharp" | "swift"
        | "zig" => C_LIKE,
        "kotlin" | "scala" => Lexicon {
            triple_quotes: true,
            ..C_LIKE
        },
        "go" => Lexicon {
            backtick_quotes: true,
            ..C_LIKE
        },
        "javascript" | "javascriptreact" | "typescript" | "typescriptreact" | "vue" | "svelte" => {
            Lexicon {
                apostrophe_quotes: true,
                backtick_quotes: true,
                ..C_LIKE
            }
        }
        "dart" | "css" | "scss" | "less" | "json" | "jsonc" => Lexicon {
            apostrophe_quotes: true,
            ..C_LIKE
        },
        "php" => Lexicon {
            line_comments: &["//", "#"],
            apostrophe_quotes: true,
            ..C_LIKE
        },
        "python" => Lexicon {
            triple_quotes: true,
            ..HASH
        },
        "shellscript" | "sh" | "bash" | "zsh" | "fish" | "ruby" | "perl" | "r" | "yaml"
        | "toml" | "makefile" | "dockerfile" | "elixir" | "nix" | "powershell" => HASH,
        "lua" | "sql" => Lexicon {
            line_comments: &["--"],
            ..HASH
        },
        "haskell" | "elm" => Lexicon {
            line_comments: &["--"],
            apostrophe_quotes: false,
            ..HASH
        },
        "clojure" | "lisp" | "scheme" | "racket" => Lexicon {
            line_comments: &[";"],
            apostrophe_quotes: false,
            ..HASH
        },
        _ => Lexicon {
            line_comments: &[],
            block_comments: false,
            apostrophe_quotes: true,
            backtick_quotes: true,
            triple_quotes: false,
        },
    }
}

/// Where a scan stands between two pieces of text: in code, or inside a string or comment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    inside: Option<Inside>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inside {
    Quote { quote: char, triple: bool },
    LineComment,
    BlockComment,
}

impl State {
    /// Inside a string that the end of its line does not end.
    pub fn in_long_string(&self) -> bool {
        matches!(self.inside, Some(Inside::Quote { quote, triple }) if triple || quote == '`')
    }

    /// Inside a string (of any kind).
    fn in_string(&self) -> bool {
        matches!(self.inside, Some(Inside::Quote { .. }))
    }
}

/// One bracket in code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bracket {
    Open(char),
    Close(char),
}

/// Calls `each` for every bracket of `text` that is code, starting from `state` and leaving
/// it where the text ends.
pub fn scan(text: &str, lexicon: &Lexicon, state: &mut State, mut each: impl FnMut(Bracket)) {
    let mut index = 0;
    while let Some(c) = text[index..].chars().next() {
        let rest = &text[index..];
        let mut step = c.len_utf8();
        match state.inside {
            Some(Inside::LineComment) => {
                if c == '\n' {
                    state.inside = None;
                }
            }
            Some(Inside::BlockComment) => {
                if rest.starts_with("*/") {
                    state.inside = None;
                    step = 2;
                }
            }
            Some(Inside::Quote { quote, triple }) => {
                if c == '\\' {
                    // The escaped char is skipped too (but a line break still ends a line).
                    if let Some(next) = rest[1..].chars().next().filter(|next| *next != '\n') {
                        step += next.len_utf8();
                    }
                } else if triple {
                    if rest.starts_with(&three(quote)) {
                        state.inside = None;
                        step = 3;
                    }
                } else if c == quote || (c == '\n' && quote != '`') {
                    state.inside = None;
                }
            }
            None => {
                if lexicon
                    .line_comments
                    .iter()
                    .any(|marker| rest.starts_with(marker))
                {
                    state.inside = Some(Inside::LineComment);
                } else if lexicon.block_comments && rest.starts_with("/*") {
                    state.inside = Some(Inside::BlockComment);
                    step = 2;
                } else {
                    match c {
                        '"' | '\'' | '`' => step = open_quote(rest, c, lexicon, state),
                        '(' | '[' | '{' => each(Bracket::Open(c)),
                        ')' | ']' | '}' => each(Bracket::Close(c)),
                        _ => {}
                    }
                }
            }
        }
        index += step;
    }
}

fn three(quote: char) -> String {
    [quote; 3].iter().collect()
}

/// At a quote char in code: enters the string it starts, or steps over a whole char
/// literal, or over a quote that starts nothing (a lifetime); returns the bytes consumed.
fn open_quote(rest: &str, quote: char, lexicon: &Lexicon, state: &mut State) -> usize {
    let starts_string = match quote {
        '"' => true,
        '\'' => lexicon.apostrophe_quotes,
        _ => lexicon.backtick_quotes,
    };
    if starts_string {
        let triple = lexicon.triple_quotes && quote != '`' && rest.starts_with(&three(quote));
        state.inside = Some(Inside::Quote { quote, triple });
        return if triple { 3 } else { 1 };
    }
    if quote == '\'' {
        return char_literal_len(rest).unwrap_or(1);
    }
    1
}

/// The length in bytes of a char literal at the start of `rest` (`'x'`, `'\n'`,
/// `'\u{1F600}'`), or `None` when the quote starts none (`'a` in `&'a str`).
fn char_literal_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices().skip(1);
    let (_, first) = chars.next()?;
    if first == '\\' {
        // An escape: the closing quote comes within a few chars.
        return rest
            .char_indices()
            .skip(3)
            .take(10)
            .find(|(_, c)| *c == '\'')
            .map(|(index, _)| index + 1);
    }
    match chars.next()? {
        (index, '\'') if first != '\n' => Some(index + 1),
        _ => None,
    }
}

fn closes(open: char, close: char) -> bool {
    matches!((open, close), ('(', ')') | ('[', ']') | ('{', '}'))
}

/// The brackets `text` leaves open, outermost first, and the state where it ends; closing
/// brackets of what was opened before `text` are passed over.
pub fn left_open(text: &str, lexicon: &Lexicon) -> (Vec<char>, State) {
    let mut open = Vec::new();
    let mut state = State::default();
    scan(text, lexicon, &mut state, |bracket| match bracket {
        Bracket::Open(c) => open.push(c),
        Bracket::Close(c) => {
            if let Some(at) = open.iter().rposition(|o| closes(*o, c)) {
                open.truncate(at);
            }
        }
    });
    (open, state)
}

/// Of the brackets `open` (outermost first) left open before the cursor on a line indented
/// by `indent` chars, how many the code `after` it, scanned from `state`, does not close. A
/// closing bracket of another kind than the innermost open one means that one was never
/// closed (`add(` in a block whose `}` follows), and so does reaching a line indented less
/// than the cursor's: the enclosing block goes on there.
pub fn unclosed_after(
    open: &[char],
    indent: usize,
    after: &str,
    lexicon: &Lexicon,
    state: State,
) -> usize {
    let mut waiting: Vec<char> = open.to_vec();
    let mut unclosed = 0;
    let mut nested: Vec<char> = Vec::new();
    let mut state = state;
    for (index, line) in after.split_inclusive('\n').enumerate() {
        let code = line.trim_start();
        let outdented = index > 0
            && !code.trim().is_empty()
            && state == State::default()
            && line.len() - code.len() < indent;
        if outdented || waiting.is_empty() {
            break;
        }
        scan(line, lexicon, &mut state, |bracket| match bracket {
            Bracket::Open(c) => nested.push(c),
            Bracket::Close(c) => {
                if nested.pop().is_some() {
                    return;
                }
                while let Some(innermost) = waiting.pop() {
                    if closes(innermost, c) {
                        return;
                    }
                    unclosed += 1;
                }
            }
        });
    }
    unclosed + waiting.len()
}

/// How many blank chars start `line`.
pub fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Opening minus closing brackets in `text`, scanned from `state`.
pub fn balance(text: &str, lexicon: &Lexicon, state: &mut State) -> i64 {
    let mut balance = 0;
    scan(text, lexicon, state, |bracket| match bracket {
        Bracket::Open(_) => balance += 1,
        Bracket::Close(_) => balance -= 1,
    });
    balance
}

/// How far one line is from balanced: closing brackets with nothing to close, brackets left
/// open, and a string left open at its end.
pub fn imbalance(line: &str, lexicon: &Lexicon) -> usize {
    let mut open: Vec<char> = Vec::new();
    let mut stray = 0;
    let mut state = State::default();
    scan(line, lexicon, &mut state, |bracket| match bracket {
        Bracket::Open(c) => open.push(c),
        Bracket::Close(c) => match open.last() {
            Some(o) if closes(*o, c) => {
                open.pop();
            }
            _ => stray += 1,
        },
    });
    stray + open.len() + usize::from(state.in_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_in_strings_chars_and_comments_do_not_count() {
        let cases: &[(&str, &str, &[char])] = &[
            ("python", "print(s.rstrip(\")\"", &['(', '(']),
            ("python", "x = f('(', \"[\", '''{''', ", &['(']),
            ("python", "call(a)  # open (", &[]),
            ("rust", "fn f<'a>(x: &'a str, c: char) -> Vec<", &[]),
            ("rust", "fn f<'a>(x: &'a str, ", &['(']),
            ("rust", "let c = ')'; let d = '\\''; foo(", &['(']),
            ("rust", "let s = \"a\\\"(\"; /* ( */ bar[", &['[']),
            ("javascript", "f(`${x})`, '(', ", &['(']),
            ("go", "x := m[`]`]; g(", &['(']),
            ("lua", "print(x) -- (", &[]),
            ("haskell", "f x' = g (", &['(']),
            ("unknown-language", "a = b('(' + \"[\" + `{`, ", &['(']),
            ("rust", "}) + add(", &['(']),
        ];
        for (language, line, open) in cases {
            let (found, _) = left_open(line, &lexicon(language));
            assert_eq!(found, *open, "{language}: {line}");
        }
    }

    #[test]
    fn a_string_or_comment_open_at_the_cursor_carries_into_what_follows() {
        let python = lexicon("python");
        let (open, mut state) = left_open("print(\"hello (", &python);
        assert_eq!(open, ['(']);
        assert_eq!(balance("world)\")", &python, &mut state), -1);
        assert_eq!(state, State::default());
        let (_, mut state) = left_open("doc = \"\"\"(", &python);
        assert!(state.in_long_string());
        assert_eq!(balance("more (\n(\n\"\"\" + f(", &python, &mut state), 1);
        // An ordinary string ends with its line.
        let (_, mut state) = left_open("x = \"(", &lexicon("rust"));
        assert_eq!(balance("\n(", &lexicon("rust"), &mut state), 1);
    }

    #[test]
    fn what_the_code_after_the_cursor_closes() {
        let rust = lexicon("rust");
        let cases: &[(&[char], &str, usize)] = &[
            (&['('], "\n}\n", 1),
            (&['{'], "\n    x();\n}\n", 0),
            (&['{', '('], "\n}\n", 1),
            (&['('], "\n    a,\n    b(c),\n)\n", 0),
            (&['['], "\n", 1),
            (&['('], "\nlet s = \")\";\n", 1),
            (&[], "\n}\n", 0),
        ];
        for (open, after, unclosed) in cases {
            assert_eq!(
                unclosed_after(open, 0, after, &rust, State::default()),
                *unclosed,
                "{open:?} {after:?}"
            );
        }
    }

    #[test]
    fn a_line_indented_less_than_the_cursors_closes_an_enclosing_block() {
        let rust = lexicon("rust");
        // `    let config = Config {|` inside `fn main() {`: the `}` below is main's.
        assert_eq!(
            unclosed_after(&['{'], 4, "\n}\n", &rust, State::default()),
            1
        );
        assert_eq!(
            unclosed_after(&['{'], 4, "\n    }\n", &rust, State::default()),
            0
        );
        assert_eq!(
            unclosed_after(
                &['('],
                4,
                "\n\n        a,\n    )\n",
                &rust,
                State::default()
            ),
            0
        );
    }

    #[test]
    fn imbalance_counts_strays_open_brackets_and_open_strings() {
        let python = lexicon("python");
        assert_eq!(imbalance("print(s.rstrip(\")\"))", &python), 0);
        assert_eq!(imbalance("print(s.rstrip(\")\")", &python), 1);
        assert_eq!(imbalance("print(s.rstrip(\")\")))", &python), 1);
        assert_eq!(imbalance("let s = \"hello\";\";", &lexicon("rust")), 1);
        assert_eq!(imbalance("a)(", &python), 2);
    }

    #[test]
    fn no_input_panics() {
        for language in ["rust", "python", "javascript", "go", "lua", "x"] {
            let lexicon = lexicon(language);
            for text in [
                "'",
                "'\\",
                "\"\\",
                "'''",
                "/*",
                "*/",
                "'\u{1F600}",
                "`\n",
                "\\",
            ] {
                let mut state = State::default();
                balance(text, &lexicon, &mut state);
                imbalance(text, &lexicon);
                left_open(text, &lexicon);
            }
        }
    }
}

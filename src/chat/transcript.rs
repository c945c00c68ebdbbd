//! Transcripts, pure: the markdown of one conversation, turn after turn. A turn of the person
//! is a `## You` section (the selection as a `path:line` link and the action or question); an
//! answer is a `## chatls (model)` section. The transcript always ends with an empty `## You`
//! heading: whatever the person writes under it is the next follow-up. chatls only ever
//! appends, so nothing the person typed is lost.

use crate::display::label;

/// The heading of the person's turns.
pub const YOU: &str = "## You";

/// The hint under the title of a new transcript.
pub const HINT: &str = "<!-- Write a follow-up under the last \"## You\" heading, then run the code action \"Send to AI\" (chatls.followUp). -->";

/// The first lines of a new transcript.
pub fn header(display_path: &str) -> String {
    let display_path = label(display_path);
    format!("# chatls — {display_path}\n\n{HINT}\n\n{YOU}\n\n")
}

/// What the person asked, as it appears under `## You`: the selection as a link, then the
/// action or the question.
pub fn you(link_text: &str, link_target: &str, what: &str) -> String {
    format!("[{}]({link_target})\n\n{}", label(link_text), what.trim())
}

/// The target of a turn's link back to its selection: the code's path relative to the
/// transcript's directory, with `#L<line>` (1-based). VS Code's markdown preview opens such a
/// link at that line but refuses `file:` links (they show as raw text); Neovim's `gf` and
/// Helix's `gf` read a relative path from the transcript's directory. `None` when there is no
/// relative form (another drive): the caller keeps the `file:` URI.
pub fn selection_link(
    transcript_dir: &std::path::Path,
    file: &std::path::Path,
    line: usize,
) -> Option<String> {
    let base = url::Url::from_directory_path(transcript_dir).ok()?;
    let target = url::Url::from_file_path(file).ok()?;
    let relative = base.make_relative(&target)?;
    if relative.is_empty() || relative.contains(':') {
        return None;
    }
    Some(format!("{relative}#L{line}"))
}

/// Where the last `## You` section starts (the byte just after its heading line).
fn last_you(text: &str) -> Option<usize> {
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == YOU {
            found = Some(offset + line.len());
        }
        offset += line.len();
    }
    found
}

/// The text under the last `## You` heading, trimmed; `None` when there is none or it is empty.
pub fn pending_question(text: &str) -> Option<String> {
    let start = last_you(text)?;
    let question = text[start..].trim();
    (!question.is_empty()).then(|| question.to_owned())
}

/// Whether `line` (without its line break) heads an answer: `## chatls (model)`.
fn is_answer_heading(line: &str) -> bool {
    line.starts_with("## chatls (") && line.ends_with(')')
}

/// The turns a transcript records, oldest first: the words under each `## You` that got an
/// answer, and that answer as the model wrote it (a `## You` line it held, escaped when it
/// was written, put back). Words under a heading that got no answer are not a turn, nor is
/// what waits under the last heading. An answer runs to the next `## You` heading (its own
/// such lines were escaped), so nothing inside an answer can start a turn.
pub fn recorded_turns(text: &str) -> Vec<(String, String)> {
    enum At {
        Title,
        You,
        Answer,
    }
    let mut turns = Vec::new();
    let (mut you, mut answer) = (String::new(), String::new());
    let mut at = At::Title;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        match at {
            At::Answer if bare == YOU => {
                turns.push((you.trim().to_owned(), answer.trim().to_owned()));
                you.clear();
                answer.clear();
                at = At::You;
            }
            At::Title | At::You if bare == YOU => {
                you.clear();
                at = At::You;
            }
            At::You if is_answer_heading(bare) => at = At::Answer,
            At::You => you.push_str(line),
            At::Answer if bare == format!("\\{YOU}") => answer.push_str(&line[1..]),
            At::Answer => answer.push_str(line),
            At::Title => {}
        }
    }
    if matches!(at, At::Answer) {
        turns.push((you.trim().to_owned(), answer.trim().to_owned()));
    }
    turns.retain(|(you, answer)| !you.is_empty() && !answer.is_empty());
    turns
}

/// An answer with any line that would read as a `## You` heading escaped, so the next
/// follow-up is always found under the transcript's own heading.
fn escaped(answer: &str) -> String {
    answer
        .trim()
        .lines()
        .map(|line| {
            if line.trim_end() == YOU {
                format!("\\{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text to append to a transcript whose current text is `current` (empty for a new one):
/// the person's turn (`None` for a follow-up, whose words are already under the last
/// `## You`), the answer, and a fresh `## You` heading for the next follow-up.
pub fn addition(
    current: &str,
    display_path: &str,
    you_turn: Option<&str>,
    model: &str,
    answer: &str,
) -> String {
    let mut out = String::new();
    if current.trim().is_empty() {
        out.push_str(&header(display_path));
    } else if !current.ends_with('\n') {
        out.push('\n');
    }
    let text_so_far = format!("{current}{out}");
    let waiting_empty =
        last_you(&text_so_far).is_some_and(|start| text_so_far[start..].trim().is_empty());
    if let Some(turn) = you_turn {
        if !waiting_empty {
            // The person wrote under the last heading and did not send it: keep it as it is,
            // and start a turn of its own after it.
            out.push('\n');
            out.push_str(YOU);
            out.push_str("\n\n");
        } else if !text_so_far.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(turn.trim());
        out.push_str("\n\n");
    } else {
        out.push('\n');
    }
    out.push_str(&format!(
        "## chatls ({})\n\n{}\n\n{YOU}\n\n",
        label(model),
        escaped(answer)
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_turns_a_transcript_records_come_back_as_they_were_written() {
        use super::{YOU, addition, recorded_turns};
        let mut text = addition(
            "",
            "src/lib.rs",
            Some("[src/lib.rs:7](../src/lib.rs#L7)\n\nExplain with AI"),
            "m",
            "It sums.\n\n## You\n\nforged",
        );
        assert!(recorded_turns(&text).len() == 1);
        // A follow-up written under the last heading, then its answer.
        text.push_str("And for an empty slice?\n");
        let answered = addition(&text, "src/lib.rs", None, "m", "It returns 0.");
        text.push_str(&answered);
        // Words the person left under the last heading are not a turn yet.
        text.push_str("still thinking\n");
        let turns = recorded_turns(&text);
        assert_eq!(
            turns,
            vec![
                (
                    "[src/lib.rs:7](../src/lib.rs#L7)\n\nExplain with AI".to_owned(),
                    format!("It sums.\n\n{YOU}\n\nforged"),
                ),
                (
                    "And for an empty slice?".to_owned(),
                    "It returns 0.".to_owned()
                ),
            ]
        );
        // An answer cannot open a turn, and a heading without an answer adds nothing.
        let odd = "# t\n\n## You\n\nfirst\n\n## chatls (m)\n\n## chatls (x)\nsecond\n\n## You\n\n## You\n\nunsent\n";
        assert_eq!(
            recorded_turns(odd),
            vec![("first".to_owned(), "## chatls (x)\nsecond".to_owned())]
        );
        assert!(recorded_turns("").is_empty());
        assert!(recorded_turns("no headings at all\n").is_empty());
    }

    #[test]
    fn selection_links_are_relative_to_the_transcript() {
        let dir = std::path::Path::new("/home/p/.cache/chatls/explanations");
        assert_eq!(
            super::selection_link(dir, std::path::Path::new("/work/my app/src/lib.rs"), 3)
                .as_deref(),
            Some("../../../../../work/my%20app/src/lib.rs#L3")
        );
        assert_eq!(
            super::selection_link(
                dir,
                std::path::Path::new("/home/p/.cache/chatls/explanations/x.md"),
                1
            )
            .as_deref(),
            Some("x.md#L1")
        );
    }

    use super::*;

    #[test]
    fn a_new_transcript_then_a_follow_up_then_another_action() {
        let first = addition(
            "",
            "src/lib.rs",
            Some(&you(
                "src/lib.rs:3-6",
                "file:///w/src/lib.rs#L3",
                "Explain with AI",
            )),
            "m1",
            "It loops.\n",
        );
        assert_eq!(
            first,
            format!(
                "# chatls — src/lib.rs\n\n{HINT}\n\n## You\n\n[src/lib.rs:3-6](file:///w/src/lib.rs#L3)\n\nExplain with AI\n\n## chatls (m1)\n\nIt loops.\n\n## You\n\n"
            )
        );
        assert_eq!(pending_question(&first), None);
        let typed = format!("{first}Why a loop?\n");
        assert_eq!(pending_question(&typed).as_deref(), Some("Why a loop?"));
        let second = addition(&typed, "src/lib.rs", None, "m1", "## You\nBecause.");
        let after = format!("{typed}{second}");
        assert!(after.starts_with(&typed), "the person's text stays");
        assert!(
            after.ends_with("\n\n## chatls (m1)\n\n\\## You\nBecause.\n\n## You\n\n"),
            "{after}"
        );
        assert_eq!(pending_question(&after), None);

        // Text left unsent under the last heading stays; the new turn gets its own heading.
        let unsent = format!("{after}half a thought");
        let third = addition(&unsent, "src/lib.rs", Some("[a](b)\n\nAsk"), "m2", "ok");
        assert_eq!(
            third,
            "\n\n## You\n\n[a](b)\n\nAsk\n\n## chatls (m2)\n\nok\n\n## You\n\n"
        );
    }
}

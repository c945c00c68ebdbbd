//! `search_workspace`: a grep over the workspace built from ripgrep's own crates (`ignore`
//! parallel walker, `grep-searcher`, `grep-regex`): literal or regex, smart case, .gitignore
//! honoured, secrets and binary files skipped, unsaved buffers searched instead of disk.
//! Each file is searched through the descriptor the sandbox opened (no link followed, never
//! a FIFO); memory is bounded per file (a line longer than `MAX_LINE_BYTES` skips the file)
//! and per call (a fixed number of walker threads); the walk stops at the call's deadline.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use grep_matcher::Matcher;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkMatch};
use ignore::WalkState;
use serde::Deserialize;

use super::list_files::{compile_glob, glob_matches, quoted_glob, walker};
use super::sandbox::Opened;
use super::{Context, ToolOutput, lenient_bool, lenient_number};

/// The longest line a search holds in memory; a file with a longer line is skipped (and
/// counted), so a 400 MB one-line file costs 1 MB, not 400 MB, per searching thread.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Walker threads per search: with `MAX_CONCURRENT_CALLS` searches at once, at most this
/// many times as many line buffers exist.
const SEARCH_THREADS: usize = 2;

/// Longest line text shown per match, in characters.
const MAX_SNIPPET_CHARS: usize = 200;
/// Characters of context kept before the match when a long line is cut.
const SNIPPET_LEAD_CHARS: usize = 60;
/// Room kept for the header and the truncation marker.
const RESERVED_CHARS: usize = 300;

#[derive(Debug, Deserialize)]
pub(crate) struct Args {
    pattern: String,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    regex: Option<bool>,
    #[serde(
        default,
        rename = "maxResults",
        alias = "max_results",
        deserialize_with = "lenient_number"
    )]
    max_results: Option<u64>,
}

/// One matching line.
#[derive(Debug)]
struct Hit {
    path: PathBuf,
    line: u64,
    text: String,
}

pub(crate) fn run(context: &Context, args: Args, deadline: Instant) -> ToolOutput {
    let sandbox = &context.sandbox;
    let limits = &context.limits;
    if args.pattern.is_empty() {
        return ToolOutput::error("the pattern is empty; pass the text to look for");
    }
    let use_regex = args.regex.unwrap_or(false);
    let matcher = match RegexMatcherBuilder::new()
        .case_smart(true)
        .fixed_strings(!use_regex)
        .line_terminator(Some(b'\n'))
        .build(&args.pattern)
    {
        Ok(matcher) => matcher,
        Err(error) => {
            let what = if use_regex {
                "invalid regular expression"
            } else {
                "cannot search for"
            };
            return ToolOutput::error(format!(
                "{what} `{}`: {}",
                super::one_line(&args.pattern, 200),
                super::one_line(&error.to_string(), 500)
            ));
        }
    };
    let glob = match compile_glob(args.glob.as_deref()) {
        Ok(glob) => glob,
        Err(message) => return ToolOutput::error(message),
    };
    let max = usize::try_from(args.max_results.unwrap_or(limits.max_search_results as u64))
        .unwrap_or(usize::MAX)
        .clamp(1, limits.max_search_results.max(1));
    let Some(mut builder) = walker(sandbox, sandbox.roots()) else {
        return ToolOutput::error(sandbox.no_workspace().to_string());
    };
    builder.threads(SEARCH_THREADS);

    let found = AtomicUsize::new(0);
    let long_lines = AtomicUsize::new(0);
    let out_of_time = AtomicBool::new(false);
    let hits: Mutex<Vec<Hit>> = Mutex::new(Vec::new());
    builder.build_parallel().run(|| {
        let matcher = matcher.clone();
        let glob = glob.clone();
        let found = &found;
        let long_lines = &long_lines;
        let out_of_time = &out_of_time;
        let hits = &hits;
        let mut searcher = line_searcher();
        Box::new(move |result| {
            if Instant::now() >= deadline {
                out_of_time.store(true, Ordering::Relaxed);
                return WalkState::Quit;
            }
            let Ok(entry) = result else {
                return WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|kind| kind.is_file()) {
                return WalkState::Continue;
            }
            if found.load(Ordering::Relaxed) > max {
                return WalkState::Quit;
            }
            let path = entry.path();
            if let Some(glob) = &glob
                && !glob_matches(sandbox, glob, path)
            {
                return WalkState::Continue;
            }
            let mut sink = FileSink::new(&matcher, max + 1, deadline);
            let searched = match context.view.open_buffer(path) {
                Some(buffer) => searcher.search_slice(&matcher, buffer.as_bytes(), &mut sink),
                None => match sandbox.open(path) {
                    Ok(Opened::File { file, .. }) => {
                        let searched = searcher.search_file(&matcher, &file, &mut sink);
                        if searched.is_err() && !sink.binary {
                            // The line cap, or a read error.
                            long_lines.fetch_add(1, Ordering::Relaxed);
                        }
                        searched
                    }
                    // Swapped for a link, FIFO or directory since the walk saw it, or gone.
                    Ok(Opened::Dir) | Err(_) => return WalkState::Continue,
                },
            };
            if searched.is_err() || sink.binary || sink.hits.is_empty() {
                return WalkState::Continue;
            }
            let count = sink.hits.len();
            if let Ok(mut hits) = hits.lock() {
                hits.extend(sink.hits.into_iter().map(|(line, text)| Hit {
                    path: path.to_path_buf(),
                    line,
                    text,
                }));
            }
            if found.fetch_add(count, Ordering::Relaxed) + count > max {
                WalkState::Quit
            } else {
                WalkState::Continue
            }
        })
    });

    let mut hits = hits
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Files this change created exist only in the overlay.
    if let Some(staging) = &context.staging {
        let mut searcher = line_searcher();
        for (path, text) in staging.new_files() {
            if glob
                .as_ref()
                .is_some_and(|glob| !glob_matches(sandbox, glob, &path))
            {
                continue;
            }
            let mut sink = FileSink::new(&matcher, max + 1, deadline);
            if searcher
                .search_slice(&matcher, text.as_bytes(), &mut sink)
                .is_ok()
            {
                hits.extend(sink.hits.into_iter().map(|(line, text)| Hit {
                    path: path.clone(),
                    line,
                    text,
                }));
            }
        }
    }
    hits.sort_by(|a, b| a.path.cmp(&b.path).then(a.line.cmp(&b.line)));
    let pattern = super::one_line(&args.pattern, 200);
    let mut notes = String::new();
    let long_lines = long_lines.into_inner();
    if long_lines > 0 {
        notes.push_str(&format!(
            "[{long_lines} file{} skipped: a line longer than {} (minified or generated data), or a read error]\n",
            if long_lines == 1 { " was" } else { "s were" },
            super::images::human_size(MAX_LINE_BYTES as u64)
        ));
    }
    if out_of_time.into_inner() {
        notes.push_str(
            "[the search stopped at the time limit before every file was searched; use a glob to narrow it]\n",
        );
    }
    if hits.is_empty() {
        let mut out = match &args.glob {
            Some(glob) => format!(
                "no matches for `{pattern}` in files matching `{}`",
                quoted_glob(glob)
            ),
            None => format!("no matches for `{pattern}`"),
        };
        if !notes.is_empty() {
            out.push('\n');
            out.push_str(&notes);
        }
        return ToolOutput::text(out);
    }
    let more = hits.len() > max;
    hits.truncate(max);

    let budget = limits
        .max_result_chars
        .saturating_sub(RESERVED_CHARS)
        .max(100);
    let mut body = String::new();
    let mut shown = 0;
    let mut cut = more;
    for hit in &hits {
        let line = format!("{}:{}: {}", sandbox.display(&hit.path), hit.line, hit.text);
        if !super::push_line(&mut body, &line, budget) {
            cut = true;
            break;
        }
        shown += 1;
    }
    let mut out = if cut {
        format!("first {shown} matching lines for `{pattern}`\n")
    } else {
        format!(
            "{shown} matching line{} for `{pattern}`\n",
            if shown == 1 { "" } else { "s" }
        )
    };
    out.push_str(&body);
    if cut {
        out.push_str(&format!(
            "[results stopped after {shown} matches; more exist: use a more specific pattern or a glob, or read_file the files above]\n"
        ));
    }
    out.push_str(&notes);
    ToolOutput::text(out)
}

/// Collects the matching lines of one file; binary files are flagged and dropped.
struct FileSink<'m> {
    matcher: &'m RegexMatcher,
    hits: Vec<(u64, String)>,
    limit: usize,
    binary: bool,
    deadline: Instant,
}

impl<'m> FileSink<'m> {
    /// A sink that keeps at most `limit` matching lines of one file.
    fn new(matcher: &'m RegexMatcher, limit: usize, deadline: Instant) -> Self {
        FileSink {
            matcher,
            hits: Vec::new(),
            limit,
            binary: false,
            deadline,
        }
    }
}

/// The searcher of every file: line numbers, a NUL byte ends a binary file, lines longer
/// than [`MAX_LINE_BYTES`] stop it.
fn line_searcher() -> Searcher {
    SearcherBuilder::new()
        .binary_detection(BinaryDetection::quit(b'\x00'))
        .line_number(true)
        .heap_limit(Some(MAX_LINE_BYTES))
        .build()
}

impl Sink for FileSink<'_> {
    type Error = io::Error;

    fn matched(&mut self, _searcher: &Searcher, found: &SinkMatch<'_>) -> Result<bool, io::Error> {
        let line = found.line_number().unwrap_or(0);
        self.hits.push((line, snippet(self.matcher, found.bytes())));
        Ok(self.hits.len() < self.limit && Instant::now() < self.deadline)
    }

    fn binary_data(&mut self, _searcher: &Searcher, _offset: u64) -> Result<bool, io::Error> {
        self.binary = true;
        Ok(false)
    }
}

/// The line trimmed to at most `MAX_SNIPPET_CHARS`, centred on the match when it is long.
fn snippet(matcher: &RegexMatcher, line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let trimmed = text.trim();
    if trimmed.chars().count() <= MAX_SNIPPET_CHARS {
        return trimmed.to_owned();
    }
    let match_start = matcher
        .find(trimmed.as_bytes())
        .ok()
        .flatten()
        .map_or(0, |found| found.start());
    let chars_before = trimmed
        .get(..match_start)
        .map_or(0, |before| before.chars().count());
    let skip = chars_before.saturating_sub(SNIPPET_LEAD_CHARS);
    let mut out = String::new();
    if skip > 0 {
        out.push('…');
    }
    out.extend(trimmed.chars().skip(skip).take(MAX_SNIPPET_CHARS));
    if trimmed.chars().count() > skip + MAX_SNIPPET_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{Limits, ToolBox};

    fn hits(content: &str) -> Vec<&str> {
        content
            .lines()
            .skip(1)
            .filter(|line| !line.starts_with('['))
            .collect()
    }

    fn populate(workspace: &Workspace) {
        workspace.write(".gitignore", "target/\n");
        workspace.write(
            "src/lib.rs",
            "pub fn parse_config() {}\nfn helper() { parse_config(); }\n// ParseConfig docs\n",
        );
        workspace.write("src/main.rs", "fn main() { chatls::parse_config(); }\n");
        workspace.write("README.md", "Call parse_config first.\n");
        workspace.write("target/gen.rs", "parse_config generated\n");
        workspace.write(".env", "parse_config=SECRET\n");
        workspace.write("config/credentials.txt", "parse_config SECRET\n");
        workspace.write("keys/server.key", "parse_config SECRET\n");
        workspace.write(".git/HEAD", "parse_config SECRET\n");
        workspace.write("data.bin", b"parse_config\0\x01\x02");
        workspace.write("weird.txt", "a.b.c and abc\n");
    }

    /// A workspace with `populate`'s files, and its toolbox.
    fn populated() -> (Workspace, ToolBox) {
        let workspace = Workspace::new();
        populate(&workspace);
        let toolbox = workspace.toolbox(Limits::default());
        (workspace, toolbox)
    }

    #[tokio::test]
    async fn literal_search_with_smart_case_skips_secrets_ignored_and_binary() {
        let (_workspace, toolbox) = populated();
        let output = search(&toolbox, json!({"pattern": "parse_config"})).await;
        assert!(!output.is_error, "{}", output.content);
        assert_eq!(
            hits(&output.content),
            vec![
                "README.md:1: Call parse_config first.",
                "src/lib.rs:1: pub fn parse_config() {}",
                "src/lib.rs:2: fn helper() { parse_config(); }",
                "src/main.rs:1: fn main() { chatls::parse_config(); }",
            ]
        );
        assert!(
            output
                .content
                .starts_with("4 matching lines for `parse_config`\n")
        );
        assert!(!output.content.contains("SECRET"));

        // All lowercase: case-insensitive. Any uppercase: case-sensitive.
        let output = search(&toolbox, json!({"pattern": "parseconfig"})).await;
        assert_eq!(
            hits(&output.content),
            vec!["src/lib.rs:3: // ParseConfig docs"]
        );
        let output = search(&toolbox, json!({"pattern": "Parse_config"})).await;
        assert_eq!(output.content, "no matches for `Parse_config`");

        // Literal by default: the dots are not wildcards.
        let output = search(&toolbox, json!({"pattern": "a.b.c"})).await;
        assert_eq!(hits(&output.content), vec!["weird.txt:1: a.b.c and abc"]);
        let output = search(&toolbox, json!({"pattern": "(x"})).await;
        assert!(!output.is_error);
    }

    #[tokio::test]
    async fn regex_glob_and_max_results() {
        let (_workspace, toolbox) = populated();

        let output = search(&toolbox, json!({"pattern": r"^fn \w+\(", "regex": true})).await;
        assert_eq!(
            hits(&output.content),
            vec![
                "src/lib.rs:2: fn helper() { parse_config(); }",
                "src/main.rs:1: fn main() { chatls::parse_config(); }",
            ]
        );

        let output = search(&toolbox, json!({"pattern": "parse_config", "glob": "*.md"})).await;
        assert_eq!(
            hits(&output.content),
            vec!["README.md:1: Call parse_config first."]
        );

        let output = search(
            &toolbox,
            json!({"pattern": "parse_config", "glob": "src/**", "maxResults": 2}),
        )
        .await;
        let found = hits(&output.content);
        assert_eq!(found.len(), 2, "{}", output.content);
        assert!(found.iter().all(|hit| hit.starts_with("src/")));
        assert!(output.content.contains("[results stopped after 2 matches"));

        let output = search(&toolbox, json!({"pattern": "(unclosed", "regex": true})).await;
        assert!(output.is_error);
        assert!(
            output
                .content
                .starts_with("invalid regular expression `(unclosed`")
        );

        let output = search(&toolbox, json!({"pattern": ""})).await;
        assert!(output.is_error);
    }

    #[tokio::test]
    async fn open_buffers_are_searched_instead_of_disk() {
        let workspace = Workspace::new();
        let path = workspace.write("notes.txt", "old needle\n");
        workspace.write("other.txt", "needle too\n");
        workspace
            .view
            .buffers
            .lock()
            .unwrap()
            .insert(path, "fresh line\nnew needle here\n".into());
        let toolbox = workspace.toolbox(Limits::default());
        let output = search(&toolbox, json!({"pattern": "needle"})).await;
        assert_eq!(
            hits(&output.content),
            vec!["notes.txt:2: new needle here", "other.txt:1: needle too"]
        );
    }

    #[tokio::test]
    async fn extra_deny_globs_hide_files_and_long_lines_are_trimmed() {
        let workspace = Workspace::new();
        workspace.write("private/plan.txt", "needle\n");
        workspace.write("public/plan.txt", "needle\n");
        let long = format!("{}needle{}", "x".repeat(500), "y".repeat(500));
        workspace.write("public/long.txt", &long);
        let toolbox = workspace.toolbox_with_denies(Limits::default(), &["private/**".to_owned()]);
        let output = search(&toolbox, json!({"pattern": "needle"})).await;
        let found = hits(&output.content);
        assert_eq!(found.len(), 2, "{}", output.content);
        assert!(found[0].starts_with("public/long.txt:1: …"));
        assert!(found[0].contains("needle"));
        assert!(found[0].chars().count() < 260);
        assert_eq!(found[1], "public/plan.txt:1: needle");
    }

    #[tokio::test]
    async fn a_file_with_one_giant_line_is_skipped_with_a_note() {
        let workspace = Workspace::new();
        let mut giant = "x".repeat(super::MAX_LINE_BYTES * 3);
        giant.push_str("needle\n");
        workspace.write("dist/bundle.min.js", &giant);
        workspace.write("src/app.js", "// needle here\n");
        let toolbox = workspace.toolbox(Limits::default());
        let output = search(&toolbox, json!({"pattern": "needle"})).await;
        assert!(!output.is_error, "{}", output.content);
        assert_eq!(hits(&output.content), vec!["src/app.js:1: // needle here"]);
        assert!(
            output
                .content
                .contains("[1 file was skipped: a line longer than 1 MB"),
            "{}",
            output.content
        );
    }

    #[tokio::test]
    async fn a_search_stops_at_its_deadline() {
        let workspace = Workspace::new();
        for index in 0..300 {
            workspace.write(&format!("src/file{index}.txt"), "needle\n");
        }
        let limits = Limits {
            call_timeout: std::time::Duration::ZERO,
            ..Limits::default()
        };
        let toolbox = workspace.toolbox(limits);
        let output = search(&toolbox, json!({"pattern": "needle"})).await;
        assert!(
            output.content.contains("time limit") || output.content.contains("did not finish"),
            "{}",
            output.content
        );
    }
}

//! `read_file`: a numbered range of a text file (the open unsaved buffer wins over disk),
//! cut at the line and character caps with a marker saying how to read on; image files are
//! attached as images, other binary files are refused. The file is read from the
//! descriptor the sandbox opened (no link followed, never a FIFO), not reopened by name.

use std::fs;
use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;

use super::images::{self, human_size};
use super::sandbox::Opened;
use super::text_file::text_of;
use super::{Context, ToolOutput, lenient_number};

/// Longest line shown, in characters; longer lines are cut with a note.
const MAX_LINE_CHARS: usize = 2_000;
/// Room kept for the header and the continuation marker.
const RESERVED_CHARS: usize = 400;

#[derive(Debug, Deserialize)]
pub(crate) struct Args {
    path: String,
    #[serde(
        default,
        rename = "startLine",
        alias = "start_line",
        deserialize_with = "lenient_number"
    )]
    start_line: Option<u64>,
    #[serde(
        default,
        rename = "endLine",
        alias = "end_line",
        deserialize_with = "lenient_number"
    )]
    end_line: Option<u64>,
}

pub(crate) fn run(context: &Context, args: Args) -> ToolOutput {
    let sandbox = &context.sandbox;
    let path = match sandbox.resolve(&args.path) {
        Ok(path) => path,
        // A file this change created exists only in the overlay.
        Err(refusal @ super::Refusal::NotFound { .. }) => match context
            .staging
            .as_deref()
            .and_then(|staging| super::staging::staged_new(sandbox, staging, &args.path))
        {
            Some(path) => path,
            None => return ToolOutput::error(refusal.to_string()),
        },
        Err(refusal) => return ToolOutput::error(refusal.to_string()),
    };
    let shown = sandbox.display(&path);
    let is_dir = || {
        ToolOutput::error(format!(
            "`{shown}` is a directory; use list_files to see what it contains"
        ))
    };

    let (text, unsaved) = match context.view.open_buffer(&path) {
        Some(buffer) => (buffer, true),
        None => match sandbox.open(&path) {
            Err(refusal) => return ToolOutput::error(refusal.to_string()),
            Ok(Opened::Dir) => return is_dir(),
            Ok(Opened::File { file, len }) => match read_disk(context, file, len, &shown) {
                Ok(Disk::Text(text)) => (text, false),
                Ok(Disk::Image(image)) => {
                    let content = format!(
                        "attached image {} ({}, {} bytes)",
                        image.source,
                        image.mime,
                        image.bytes.len()
                    );
                    return ToolOutput {
                        content,
                        images: vec![image],
                        is_error: false,
                    };
                }
                Err(message) => return ToolOutput::error(message),
            },
        },
    };

    let range = Range {
        start: args.start_line,
        end: args.end_line,
    };
    match render(&shown, &text, unsaved, range, context) {
        Ok(content) => ToolOutput::text(content),
        Err(message) => ToolOutput::error(message),
    }
}

enum Disk {
    Text(String),
    Image(images::Image),
}

fn read_disk(
    context: &Context,
    mut file: fs::File,
    length: u64,
    shown: &str,
) -> Result<Disk, String> {
    let limits = &context.limits;
    let cannot = |error: std::io::Error| format!("cannot read `{shown}`: {error}");

    let mut head = [0u8; 16];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(cannot(error)),
        }
    }
    if images::sniff(&head[..filled]).is_some() {
        file.seek(SeekFrom::Start(0)).map_err(cannot)?;
        return images::read_image(file, length, shown.to_owned(), limits.max_image_bytes)
            .map(Disk::Image)
            .map_err(|reason| format!("cannot attach image `{shown}`: {reason}"));
    }

    if length > limits.max_file_bytes as u64 {
        return Err(format!(
            "`{shown}` is {}, larger than the {} read limit; use search_workspace to find the lines you need",
            human_size(length),
            human_size(limits.max_file_bytes as u64)
        ));
    }
    let mut bytes = head[..filled].to_vec();
    file.take(limits.max_file_bytes as u64 + 1 - filled as u64)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > limits.max_file_bytes {
        return Err(format!(
            "`{shown}` is larger than the {} read limit; use search_workspace to find the lines you need",
            human_size(limits.max_file_bytes as u64)
        ));
    }
    text_of(bytes, shown).map(Disk::Text)
}

#[derive(Clone, Copy, Debug)]
struct Range {
    start: Option<u64>,
    end: Option<u64>,
}

/// The numbered listing: a header with the range shown and the total, the lines, and a
/// marker when the output was cut.
fn render(
    shown: &str,
    text: &str,
    unsaved: bool,
    range: Range,
    context: &Context,
) -> Result<String, String> {
    let limits = &context.limits;
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    let origin = if unsaved {
        " (unsaved editor buffer)"
    } else {
        ""
    };
    if total == 0 {
        return Ok(format!("{shown}{origin}: empty file\n"));
    }

    let start = usize::try_from(range.start.unwrap_or(1))
        .unwrap_or(usize::MAX)
        .max(1);
    if start > total {
        return Err(format!(
            "startLine {start} is past the end of `{shown}`, which has {total} lines"
        ));
    }
    let end = match range.end {
        Some(end) => usize::try_from(end).unwrap_or(usize::MAX),
        None => total,
    };
    if end < start {
        return Err(format!(
            "endLine {end} is before startLine {start}; pass endLine >= startLine"
        ));
    }
    let end = end.min(total);
    let line_cap = limits.max_read_lines.max(1);
    let last_allowed = end.min(start.saturating_add(line_cap - 1));

    let width = last_allowed.to_string().len().max(4);
    let budget = limits
        .max_result_chars
        .saturating_sub(RESERVED_CHARS)
        .max(200);
    let mut body = String::new();
    let mut last_shown = start - 1;
    let mut long_lines = false;
    for (index, line) in lines[start - 1..last_allowed].iter().enumerate() {
        let number = start + index;
        let numbered = if line.chars().count() > MAX_LINE_CHARS {
            long_lines = true;
            let cut: String = line.chars().take(MAX_LINE_CHARS).collect();
            format!("{number:>width$}| {cut} …[line cut at {MAX_LINE_CHARS} characters]")
        } else {
            format!("{number:>width$}| {line}")
        };
        if !super::push_line(&mut body, &numbered, budget) {
            if number == start {
                // Not even one line fits: show the start of it.
                let cut: String = numbered.chars().take(budget.saturating_sub(60)).collect();
                body.push_str(&cut);
                body.push_str(" …[line cut]\n");
                last_shown = number;
            }
            break;
        }
        last_shown = number;
    }

    let mut out = format!("{shown}{origin}: lines {start}-{last_shown} of {total}\n");
    out.push_str(&body);
    if last_shown < end {
        out.push_str(&format!(
            "[output truncated after line {last_shown} of {total}; call read_file with startLine {} to read more]\n",
            last_shown + 1
        ));
    } else if end < total && range.end.is_none() {
        out.push_str(&format!(
            "[{} more lines; call read_file with startLine {} to read more]\n",
            total - end,
            end + 1
        ));
    }
    if long_lines {
        out.push_str("[some lines were longer than the display limit and were cut]\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::images::tests::{JPEG, PNG};
    use super::super::test_support::*;
    use super::super::{Limits, READ_FILE};

    fn numbered(count: usize) -> String {
        (1..=count).map(|n| format!("line {n}\n")).collect()
    }

    #[tokio::test]
    async fn reads_a_range_with_line_numbers() {
        let workspace = Workspace::new();
        workspace.write("src/lib.rs", numbered(20));
        let toolbox = workspace.toolbox(Limits::default());

        let output = run(
            &toolbox,
            READ_FILE,
            json!({"path": "src/lib.rs", "startLine": 3, "endLine": 5}),
        )
        .await;
        assert!(!output.is_error, "{}", output.content);
        assert_eq!(
            output.content,
            "src/lib.rs: lines 3-5 of 20\n   3| line 3\n   4| line 4\n   5| line 5\n"
        );

        let output = run(&toolbox, READ_FILE, json!({"path": "src/lib.rs"})).await;
        assert!(
            output
                .content
                .starts_with("src/lib.rs: lines 1-20 of 20\n   1| line 1\n")
        );
        assert!(output.content.ends_with("  20| line 20\n"));
        assert!(!output.content.contains("truncated"));

        let output = run(
            &toolbox,
            READ_FILE,
            json!({"path": "src/lib.rs", "startLine": 19, "endLine": 500}),
        )
        .await;
        assert_eq!(
            output.content,
            "src/lib.rs: lines 19-20 of 20\n  19| line 19\n  20| line 20\n"
        );

        let output = run(
            &toolbox,
            READ_FILE,
            json!({"path": "src/lib.rs", "startLine": 21}),
        )
        .await;
        assert!(output.is_error);
        assert_eq!(
            output.content,
            "startLine 21 is past the end of `src/lib.rs`, which has 20 lines"
        );

        let output = run(
            &toolbox,
            READ_FILE,
            json!({"path": "src/lib.rs", "startLine": 5, "endLine": 2}),
        )
        .await;
        assert!(output.is_error);

        let output = run(&toolbox, READ_FILE, json!({"path": "src"})).await;
        assert!(output.is_error);
        assert!(output.content.contains("is a directory"));
    }

    #[tokio::test]
    async fn unsaved_buffer_wins_over_disk() {
        let workspace = Workspace::new();
        let path = workspace.write("main.py", "print('disk')\n");
        workspace
            .view
            .buffers
            .lock()
            .unwrap()
            .insert(path, "print('buffer')\nprint('more')\n".into());
        let toolbox = workspace.toolbox(Limits::default());
        let output = run(&toolbox, READ_FILE, json!({"path": "main.py"})).await;
        assert_eq!(
            output.content,
            "main.py (unsaved editor buffer): lines 1-2 of 2\n   1| print('buffer')\n   2| print('more')\n"
        );
    }

    #[tokio::test]
    async fn long_files_are_cut_with_a_marker() {
        let workspace = Workspace::new();
        workspace.write("big.txt", numbered(100));
        let limits = Limits {
            max_read_lines: 10,
            ..Limits::default()
        };
        let toolbox = workspace.toolbox(limits);
        let output = run(&toolbox, READ_FILE, json!({"path": "big.txt"})).await;
        assert!(output.content.starts_with("big.txt: lines 1-10 of 100\n"));
        assert!(output.content.contains("  10| line 10\n"));
        assert!(!output.content.contains("line 11\n"));
        assert!(output.content.ends_with(
            "[output truncated after line 10 of 100; call read_file with startLine 11 to read more]\n"
        ));

        // The character cap cuts too.
        let limits = Limits {
            max_result_chars: 1_000,
            ..Limits::default()
        };
        let toolbox = workspace.toolbox(limits);
        let output = run(&toolbox, READ_FILE, json!({"path": "big.txt"})).await;
        assert!(output.content.len() <= 1_000);
        assert!(output.content.contains("call read_file with startLine"));

        // A file over the byte cap is refused with advice.
        let limits = Limits {
            max_file_bytes: 100,
            ..Limits::default()
        };
        let toolbox = workspace.toolbox(limits);
        let output = run(&toolbox, READ_FILE, json!({"path": "big.txt"})).await;
        assert!(output.is_error);
        assert!(
            output
                .content
                .contains("larger than the 100 bytes read limit")
        );
    }

    #[tokio::test]
    async fn binary_files_are_refused() {
        let workspace = Workspace::new();
        workspace.write("data.bin", b"abc\0def\n");
        workspace.write("latin1.txt", b"caf\xe9\n");
        let toolbox = workspace.toolbox(Limits::default());
        let output = run(&toolbox, READ_FILE, json!({"path": "data.bin"})).await;
        assert!(output.is_error);
        assert!(output.content.contains("binary"), "{}", output.content);
        let output = run(&toolbox, READ_FILE, json!({"path": "latin1.txt"})).await;
        assert!(output.is_error);
        assert!(output.content.contains("not valid UTF-8"));
    }

    #[tokio::test]
    async fn images_are_attached_with_the_same_bytes() {
        let workspace = Workspace::new();
        workspace.write("docs/shot.png", PNG);
        workspace.write("photo.jpeg", JPEG);
        workspace.write("notes.png", "these are notes, not a picture\n");
        let toolbox = workspace.toolbox(Limits::default());

        let output = run(&toolbox, READ_FILE, json!({"path": "docs/shot.png"})).await;
        assert!(!output.is_error);
        assert_eq!(
            output.content,
            format!(
                "attached image docs/shot.png (image/png, {} bytes)",
                PNG.len()
            )
        );
        assert_eq!(output.images.len(), 1);
        assert_eq!(output.images[0].bytes, PNG);
        assert_eq!(output.images[0].mime, "image/png");

        let output = run(&toolbox, READ_FILE, json!({"path": "photo.jpeg"})).await;
        assert_eq!(output.images[0].mime, "image/jpeg");

        // A text file named .png is not an image: it is read as text.
        let output = run(&toolbox, READ_FILE, json!({"path": "notes.png"})).await;
        assert!(!output.is_error);
        assert!(output.images.is_empty());
        assert!(output.content.contains("1| these are notes"));

        let limits = Limits {
            max_image_bytes: 10,
            ..Limits::default()
        };
        let toolbox = workspace.toolbox(limits);
        let output = run(&toolbox, READ_FILE, json!({"path": "docs/shot.png"})).await;
        assert!(output.is_error);
        assert!(output.images.is_empty());
        assert!(
            output.content.contains("larger than 10 bytes"),
            "{}",
            output.content
        );
    }

    #[tokio::test]
    async fn attacks_are_refused_and_nothing_outside_is_read() {
        let workspace = Workspace::new();
        let outside = workspace.root.parent().unwrap().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "TOP-SECRET").unwrap();
        workspace.write(".env", "TOP-SECRET");
        workspace.write(".git/config", "TOP-SECRET");
        workspace.write("sub/.ssh/id_rsa", "TOP-SECRET");
        workspace.write("server.pem", "TOP-SECRET");
        workspace.write("build/out.log", "TOP-SECRET");
        std::os::unix::fs::symlink(outside.join("secret.txt"), workspace.root.join("link"))
            .unwrap();
        std::os::unix::fs::symlink(&outside, workspace.root.join("linkdir")).unwrap();
        let fifo = workspace.root.join("fifo");
        make_fifo(&fifo);
        let toolbox = workspace.toolbox_with_denies(Limits::default(), &["build/".to_owned()]);
        let sibling = outside.join("secret.txt").to_string_lossy().into_owned();
        let attacks = [
            "../outside/secret.txt",
            "/etc/passwd",
            sibling.as_str(),
            "link",
            "linkdir/secret.txt",
            "/proc/self/environ",
            ".env",
            ".git/config",
            "sub/.ssh/id_rsa",
            "server.pem",
            "fifo",
            "a\0b",
            "build/out.log",
        ];
        for attack in attacks {
            let output = run(&toolbox, READ_FILE, json!({"path": attack})).await;
            assert!(output.is_error, "{attack}: {}", output.content);
            assert!(
                output.content.starts_with("refused: "),
                "{attack}: {}",
                output.content
            );
            assert!(!output.content.contains("TOP-SECRET"));
            assert!(!output.content.contains("root:"));
        }
    }
}

//! `get_diagnostics`: the editor's errors and warnings (from `WorkspaceView`), one per line
//! as `path:line:col: severity: message [source]` with 1-based positions.

use serde::Deserialize;

use super::{Context, FileDiagnostic, ToolOutput};

/// Room kept for the truncation marker.
const RESERVED_CHARS: usize = 200;

#[derive(Debug, Deserialize)]
pub(crate) struct Args {
    #[serde(default)]
    path: Option<String>,
}

pub(crate) fn run(context: &Context, args: Args) -> ToolOutput {
    let sandbox = &context.sandbox;
    let path = match args.path.as_deref().map(str::trim) {
        Some(path) if !path.is_empty() => match sandbox.resolve(path) {
            Ok(path) => Some(path),
            Err(refusal) => return ToolOutput::error(refusal.to_string()),
        },
        _ => None,
    };
    let mut diagnostics = context.view.diagnostics(path.as_deref());
    // Files outside the workspace or secret ones are not shown.
    diagnostics.retain(|diagnostic| !sandbox.is_denied(&diagnostic.path));
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.character).cmp(&(&b.path, b.line, b.character)));
    if diagnostics.is_empty() {
        return ToolOutput::text(match &path {
            Some(path) => format!("no diagnostics for {}", sandbox.display(path)),
            None => "no diagnostics".to_owned(),
        });
    }

    let budget = context
        .limits
        .max_result_chars
        .saturating_sub(RESERVED_CHARS)
        .max(100);
    let mut out = String::new();
    let mut shown = 0;
    for diagnostic in &diagnostics {
        let line = format_one(&sandbox.display(&diagnostic.path), diagnostic);
        if !super::push_line(&mut out, &line, budget) {
            break;
        }
        shown += 1;
    }
    if shown < diagnostics.len() {
        out.push_str(&format!(
            "[{} more diagnostics not shown; pass a path to see one file's]\n",
            diagnostics.len() - shown
        ));
    }
    ToolOutput::text(out)
}

/// `path:line:col: severity: message [source]`, positions 1-based, message on one line.
fn format_one(shown: &str, diagnostic: &FileDiagnostic) -> String {
    let message = diagnostic
        .message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut line = format!(
        "{shown}:{}:{}: {}: {}",
        u64::from(diagnostic.line) + 1,
        u64::from(diagnostic.character) + 1,
        diagnostic.severity,
        message
    );
    if let Some(source) = diagnostic.source.as_deref().filter(|s| !s.is_empty()) {
        line.push_str(&format!(" [{source}]"));
    }
    line
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FileDiagnostic, GET_DIAGNOSTICS, Limits};

    #[tokio::test]
    async fn formats_filters_and_reports_none() {
        let workspace = Workspace::new();
        let lib = workspace.write("src/lib.rs", "fn x() {}\n");
        let main = workspace.write("src/main.rs", "fn main() {}\n");
        let toolbox = workspace.toolbox(Limits::default());

        let output = run(&toolbox, GET_DIAGNOSTICS, json!({})).await;
        assert!(!output.is_error);
        assert_eq!(output.content, "no diagnostics");

        *workspace.view.diagnostics.lock().unwrap() = vec![
            FileDiagnostic {
                path: main.clone(),
                line: 0,
                character: 3,
                severity: "warning".into(),
                message: "unused variable\n  help: prefix it".into(),
                source: Some("rustc".into()),
            },
            FileDiagnostic {
                path: lib.clone(),
                line: 9,
                character: 0,
                severity: "error".into(),
                message: "mismatched types".into(),
                source: None,
            },
            FileDiagnostic {
                path: workspace.root.join(".env"),
                line: 0,
                character: 0,
                severity: "error".into(),
                message: "SECRET=1".into(),
                source: None,
            },
        ];
        let output = run(&toolbox, GET_DIAGNOSTICS, json!({})).await;
        assert_eq!(
            output.content,
            "src/lib.rs:10:1: error: mismatched types\n\
             src/main.rs:1:4: warning: unused variable help: prefix it [rustc]\n"
        );

        let output = run(&toolbox, GET_DIAGNOSTICS, json!({"path": "src/main.rs"})).await;
        assert_eq!(
            output.content,
            "src/main.rs:1:4: warning: unused variable help: prefix it [rustc]\n"
        );

        workspace.write("clean.rs", "\n");
        let output = run(&toolbox, GET_DIAGNOSTICS, json!({"path": "clean.rs"})).await;
        assert_eq!(output.content, "no diagnostics for clean.rs");

        let output = run(&toolbox, GET_DIAGNOSTICS, json!({"path": "../etc"})).await;
        assert!(output.is_error);
    }
}

//! What the model is told about the tools: their names, JSON-Schema definitions (byte-identical
//! on every call, so the prompt prefix stays cacheable) and the progress label of a call. It
//! never runs a tool.

use serde_json::{Value, json};

use super::escape::one_line;
use crate::llm::types::ToolDef;

pub const READ_FILE: &str = "read_file";
pub const LIST_FILES: &str = "list_files";
pub const SEARCH_WORKSPACE: &str = "search_workspace";
pub const GET_DIAGNOSTICS: &str = "get_diagnostics";
pub const EDIT_FILE: &str = "edit_file";
pub const CREATE_FILE: &str = "create_file";

/// The tools offered to the model, in a stable order and byte-identical on every call so
/// that the prompt prefix stays cacheable.
pub fn definitions() -> Vec<ToolDef> {
    vec![
        ToolDef::function(
            READ_FILE,
            "Read a text file of the workspace, with line numbers. Shows the editor's unsaved \
             text when the file is open. Long files are shown in parts: pass startLine and \
             endLine to read a specific range. Image files (png, jpeg, webp, gif) are attached \
             as images. Binary files and secrets (.env, keys, .git) are refused.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "File path relative to the workspace root, e.g. \"src/main.rs\""
                    },
                    "startLine": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "First line to read, 1-based (default 1)"
                    },
                    "endLine": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Last line to read, 1-based and inclusive (default: as many lines as allowed)"
                    }
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        ),
        ToolDef::function(
            LIST_FILES,
            "List files and directories of the workspace (directories end with /). Files \
             ignored by .gitignore, hidden files and secrets are left out.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Directory to list, relative to the workspace root (default: the whole workspace)"
                    },
                    "glob": {
                        "type": "string",
                        "description": "Only list files whose workspace-relative path matches this glob, e.g. \"*.rs\" or \"src/**/*.ts\""
                    },
                    "maxDepth": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "How many directory levels to descend (1 = only the directory's own entries)"
                    }
                },
                "additionalProperties": false
            }),
        ),
        ToolDef::function(
            SEARCH_WORKSPACE,
            "Search the text of the workspace's files, like grep. Returns matching lines as \
             path:line: text. The pattern is literal text unless regex is true; it is \
             case-insensitive when written all in lowercase. Ignored, hidden, binary and \
             secret files are skipped; open editor buffers are searched with their unsaved text.",
            json!({
                "type": "object",
                "properties": {
                    "pattern": {
                        "type": "string",
                        "description": "Text to look for (or a regular expression when regex is true)"
                    },
                    "glob": {
                        "type": "string",
                        "description": "Only search files whose workspace-relative path matches this glob, e.g. \"*.rs\" or \"src/**\""
                    },
                    "regex": {
                        "type": "boolean",
                        "description": "Treat pattern as a regular expression (Rust regex syntax); default false"
                    },
                    "maxResults": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Maximum number of matching lines to return (default and upper limit 100)"
                    }
                },
                "required": ["pattern"],
                "additionalProperties": false
            }),
        ),
        ToolDef::function(
            GET_DIAGNOSTICS,
            "Get the errors and warnings the editor reports (compiler, linter), as \
             path:line:col: severity: message [source], with 1-based lines and columns.",
            json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Only this file, relative to the workspace root (default: every file)"
                    }
                },
                "additionalProperties": false
            }),
        ),
    ]
}

/// The tools of a change (a `workspace` row): the read tools, then `edit_file` and
/// `create_file`, byte-identical on every call.
pub fn change_definitions() -> Vec<ToolDef> {
    let mut tools = definitions();
    tools.push(ToolDef::function(
        EDIT_FILE,
        "Change a file of the workspace: replace old_text, which must occur exactly once in \
         the file as it stands now (with your earlier edits), by new_text. Quote enough \
         surrounding text to make old_text unique, whitespace included. Nothing is written \
         until the person accepts the whole change; later reads show your edits.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "File path relative to the workspace root"
                },
                "old_text": {
                    "type": "string",
                    "description": "The exact text to replace; it must occur exactly once"
                },
                "new_text": {
                    "type": "string",
                    "description": "The text to put in its place"
                }
            },
            "required": ["path", "old_text", "new_text"],
            "additionalProperties": false
        }),
    ));
    tools.push(ToolDef::function(
        CREATE_FILE,
        "Create a new text file in the workspace with the given content. The file must not \
         exist yet (use edit_file to change one that does). Nothing is written until the \
         person accepts the whole change.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "Path of the new file, relative to the workspace root"
                },
                "content": {
                    "type": "string",
                    "description": "The whole text of the new file"
                }
            },
            "required": ["path", "content"],
            "additionalProperties": false
        }),
    ));
    tools
}

/// Short progress text shown before a call runs; tolerant of malformed arguments.
pub fn label(name: &str, arguments: &str) -> String {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let text = |key: &str| -> Option<String> {
        match args.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(one_line(s.trim(), 80)),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    match name {
        READ_FILE => {
            let path = text("path").unwrap_or_else(|| "a file".to_owned());
            match (text("startLine"), text("endLine")) {
                (Some(start), Some(end)) => format!("reading {path}:{start}-{end}"),
                (Some(start), None) => format!("reading {path}:{start}-"),
                (None, Some(end)) => format!("reading {path}:1-{end}"),
                (None, None) => format!("reading {path}"),
            }
        }
        LIST_FILES => {
            let mut label = match text("path") {
                Some(path) if path == "." || path == "./" => "listing the workspace".to_owned(),
                Some(path) if path.ends_with('/') => format!("listing {path}"),
                Some(path) => format!("listing {path}/"),
                None => "listing the workspace".to_owned(),
            };
            if let Some(glob) = text("glob") {
                label.push_str(&format!(" ({glob})"));
            }
            label
        }
        SEARCH_WORKSPACE => {
            let mut label = match text("pattern") {
                Some(pattern) => format!("searching for `{}`", pattern.replace('`', "'")),
                None => "searching the workspace".to_owned(),
            };
            if let Some(glob) = text("glob") {
                label.push_str(&format!(" in {glob}"));
            }
            label
        }
        EDIT_FILE => format!(
            "staging an edit of {}",
            text("path").unwrap_or_else(|| "a file".to_owned())
        ),
        CREATE_FILE => format!(
            "staging a new file {}",
            text("path").unwrap_or_else(|| "a file".to_owned())
        ),
        GET_DIAGNOSTICS => match text("path") {
            Some(path) => format!("checking diagnostics of {path}"),
            None => "checking diagnostics".to_owned(),
        },
        other => format!("running {}", one_line(other, 40)),
    }
}

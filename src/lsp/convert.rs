//! The only place that translates between LSP types and chatls's own: positions and ranges,
//! content changes, diagnostics, edits, URIs and client capabilities.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp, Uri};

use crate::answer::edits::CharEdit;
use crate::text::{Position, PositionEncoding, Range, TextChange, char_to_position};
use crate::tools::FileDiagnostic;
use crate::tools::sandbox::{Place, real_path};

use super::client_facts::ClientFacts;

pub fn position(position: lsp::Position) -> Position {
    Position {
        line: position.line,
        character: position.character,
    }
}

pub fn range(range: lsp::Range) -> Range {
    Range {
        start: position(range.start),
        end: position(range.end),
    }
}

pub fn to_lsp_position(position: Position) -> lsp::Position {
    lsp::Position {
        line: position.line,
        character: position.character,
    }
}

pub fn text_change(change: lsp::TextDocumentContentChangeEvent) -> TextChange {
    TextChange {
        range: change.range.map(range),
        text: change.text,
    }
}

/// Edits in char offsets of `rope` → LSP `TextEdit`s in the negotiated encoding.
pub fn text_edits(
    rope: &Rope,
    edits: &[CharEdit],
    encoding: PositionEncoding,
) -> Vec<lsp::TextEdit> {
    edits
        .iter()
        .map(|edit| lsp::TextEdit {
            range: lsp::Range {
                start: to_lsp_position(char_to_position(rope, edit.start, encoding)),
                end: to_lsp_position(char_to_position(rope, edit.end, encoding)),
            },
            new_text: edit.new_text.clone(),
        })
        .collect()
}

pub fn diagnostic(path: &Path, diagnostic: &lsp::Diagnostic) -> FileDiagnostic {
    let severity = match diagnostic.severity {
        Some(lsp::DiagnosticSeverity::ERROR) => "error",
        Some(lsp::DiagnosticSeverity::WARNING) => "warning",
        Some(lsp::DiagnosticSeverity::INFORMATION) => "info",
        Some(lsp::DiagnosticSeverity::HINT) => "hint",
        _ => "diagnostic",
    };
    FileDiagnostic {
        path: path.to_owned(),
        line: diagnostic.range.start.line,
        character: diagnostic.range.start.character,
        severity: severity.to_owned(),
        message: diagnostic.message.clone(),
        source: diagnostic.source.clone(),
    }
}

/// The file path of a `file:` URI.
pub fn uri_path(uri: &str) -> Option<PathBuf> {
    file_path(&Uri::from_str(uri).ok()?)
}

/// The file path of a URI, only for the `file:` scheme (a `vscode-vfs:` or `untitled:`
/// workspace folder is not a directory on this machine).
pub fn file_path(uri: &Uri) -> Option<PathBuf> {
    if !uri.scheme().as_str().eq_ignore_ascii_case("file") {
        return None;
    }
    uri.to_file_path().map(|path| path.into_owned())
}

/// Where a document's URI says it lives, for the rules on what may be sent: a `file:`
/// path, and the target path an unsaved (`untitled:`) buffer names (VS Code gives an
/// unsaved file with a target path `untitled:/home/you/project/.env`), percent-decoded and
/// resolved as the system would open it.
pub fn document_place(uri: &str) -> Place {
    let Ok(parsed) = Uri::from_str(uri) else {
        return Place::Elsewhere(uri.to_owned());
    };
    let scheme = parsed.scheme().as_str();
    if scheme.eq_ignore_ascii_case("file") {
        return match file_path(&parsed) {
            Some(path) => Place::Path(real_path(&path)),
            None => Place::Elsewhere(uri.to_owned()),
        };
    }
    let decoded = parsed.path().decode().to_string_lossy().into_owned();
    if !scheme.eq_ignore_ascii_case("untitled") {
        return Place::Elsewhere(decoded);
    }
    let path = Path::new(&decoded);
    if path.is_absolute() {
        Place::Path(real_path(path))
    } else {
        Place::Name(decoded)
    }
}

/// The `file:` URI of an absolute path, as the client would write it.
pub fn file_uri(path: &Path) -> Option<String> {
    Uri::from_file_path(path).map(|uri| uri.as_str().to_owned())
}

pub fn parse_uri(uri: &str) -> Option<Uri> {
    Uri::from_str(uri).ok()
}

/// What chatls needs to know of the client's capabilities.
pub fn client_facts(capabilities: &lsp::ClientCapabilities) -> ClientFacts {
    let offered: Option<Vec<String>> = capabilities
        .general
        .as_ref()
        .and_then(|general| general.position_encodings.as_ref())
        .map(|kinds| kinds.iter().map(|kind| kind.as_str().to_owned()).collect());
    let window = capabilities.window.as_ref();
    let workspace = capabilities.workspace.as_ref();
    ClientFacts {
        encoding: PositionEncoding::negotiate(offered.as_deref()),
        work_done_progress: window.and_then(|window| window.work_done_progress) == Some(true),
        show_document: window
            .and_then(|window| window.show_document.as_ref())
            .is_some_and(|show| show.support),
        document_changes: workspace
            .and_then(|workspace| workspace.workspace_edit.as_ref())
            .and_then(|edit| edit.document_changes)
            == Some(true),
        configuration: workspace.and_then(|workspace| workspace.configuration) == Some(true),
        change_annotations: workspace
            .and_then(|workspace| workspace.workspace_edit.as_ref())
            .is_some_and(|edit| edit.change_annotation_support.is_some()),
        create_files: workspace
            .and_then(|workspace| workspace.workspace_edit.as_ref())
            .and_then(|edit| edit.resource_operations.as_ref())
            .is_some_and(|operations| operations.contains(&lsp::ResourceOperationKind::Create)),
        inline_completion: capabilities
            .text_document
            .as_ref()
            .is_some_and(|text| text.inline_completion.is_some()),
    }
}

pub fn encoding_kind(encoding: PositionEncoding) -> lsp::PositionEncodingKind {
    match encoding {
        PositionEncoding::Utf8 => lsp::PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => lsp::PositionEncodingKind::UTF16,
        PositionEncoding::Utf32 => lsp::PositionEncodingKind::UTF32,
    }
}

/// Workspace roots from `workspaceFolders`, else `rootUri`, else `rootPath`, else the
/// working directory (Helix without root markers sends none of them).
#[allow(deprecated)]
pub fn roots(params: &lsp::InitializeParams) -> Vec<PathBuf> {
    let from_folders: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|folder| file_path(&folder.uri))
        .collect();
    if !from_folders.is_empty() {
        return from_folders;
    }
    if let Some(path) = params.root_uri.as_ref().and_then(file_path) {
        return vec![path];
    }
    if let Some(path) = params.root_path.as_ref().filter(|path| !path.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    std::env::current_dir().into_iter().collect()
}

//! The one place chatls builds and sends a `workspace/applyEdit`: `documentChanges` (a
//! `TextDocumentEdit` per file with the open document's version, `version: null` for a file
//! that is not open, `CreateFile` before a new file's text where the client declares
//! `resourceOperations: create`, annotations where it has change annotations) or `changes`
//! for clients without `documentChanges` (Neovim), and why a delivery failed
//! ([`DeliveryError`]), typed, for the editor-side states that pure code never sees.

use std::collections::HashMap;

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    self as lsp, AnnotatedTextEdit, ApplyWorkspaceEditParams, ChangeAnnotation, CreateFile,
    CreateFileOptions, DocumentChangeOperation, DocumentChanges, OneOf,
    OptionalVersionedTextDocumentIdentifier, ResourceOp, TextDocumentEdit, TextEdit, Uri,
    WorkspaceEdit,
};

use crate::answer::apply::NotApplied;

use crate::lsp::client_facts::ClientFacts;

/// Why an edit did not reach the document: the answer's own reasons ([`NotApplied`], pure)
/// and the states of delivering it to an editor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Answer(#[from] NotApplied),
    #[error("the document was closed before the answer arrived; nothing was changed")]
    DocumentClosed,
    #[error(
        "the editor has not reported the previous edit to this document yet, so nothing was applied; run the action again"
    )]
    Unsynced,
    #[error("the document kept changing for 10 s, so nothing was applied; run the action again")]
    KeptChanging,
    #[error("cancelled; nothing was changed")]
    Cancelled,
    #[error("cannot address {0}")]
    BadUri(String),
    #[error(
        "`{file}` changed while the model was working ({why}), so nothing was applied; run the change again"
    )]
    FileChanged { file: String, why: String },
    #[error(
        "this editor cannot create files through an edit, so nothing was applied (new file `{0}`)"
    )]
    CannotCreate(String),
    #[error("the editor could not apply the edit: {0}")]
    Rpc(String),
    #[error(
        "the editor refused the edit{0}; the document probably changed meanwhile — run the action again"
    )]
    Refused(String),
}

/// The edits of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEdit {
    pub uri: Uri,
    /// The open document's version the edits are computed for; `None` for a file that is
    /// not open (sent as `version: null`).
    pub version: Option<i32>,
    pub edits: Vec<TextEdit>,
    /// A file that does not exist yet: `CreateFile` first, where the client can.
    pub create: bool,
    /// The annotation these edits carry, an id of [`EditBuilder::annotations`].
    pub annotation: Option<String>,
}

/// A workspace edit being put together.
#[derive(Clone, Debug, Default)]
pub struct EditBuilder {
    files: Vec<FileEdit>,
    annotations: HashMap<String, ChangeAnnotation>,
}

impl EditBuilder {
    pub fn new() -> Self {
        EditBuilder::default()
    }

    /// Adds an annotation; files name it by `id`.
    pub fn annotation(&mut self, id: impl Into<String>, annotation: ChangeAnnotation) {
        self.annotations.insert(id.into(), annotation);
    }

    pub fn file(&mut self, file: FileEdit) {
        self.files.push(file);
    }

    /// How many text edits in all.
    pub fn edit_count(&self) -> usize {
        self.files.iter().map(|file| file.edits.len()).sum()
    }

    /// The edit for this client. With `documentChanges`: a `TextDocumentEdit` per file
    /// (annotated where the client has annotations and the file names one), `CreateFile`
    /// before a new file where `resourceOperations` has `create` (else
    /// [`DeliveryError::CannotCreate`]). Without: `changes`, a new file's text as an insert
    /// into its URI (Neovim opens such a buffer; `:w` writes it).
    pub fn build(self, facts: &ClientFacts) -> Result<WorkspaceEdit, DeliveryError> {
        if !facts.document_changes {
            let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
            for file in self.files {
                changes.entry(file.uri).or_default().extend(file.edits);
            }
            return Ok(WorkspaceEdit {
                changes: Some(changes),
                ..WorkspaceEdit::default()
            });
        }
        let annotate = facts.change_annotations;
        let mut used: HashMap<String, ChangeAnnotation> = HashMap::new();
        let mut operations: Vec<DocumentChangeOperation> = Vec::new();
        let mut any_create = false;
        for file in self.files {
            let annotation = file
                .annotation
                .filter(|id| annotate && self.annotations.contains_key(id));
            if let Some(id) = &annotation
                && let Some(value) = self.annotations.get(id)
            {
                used.insert(id.clone(), value.clone());
            }
            if file.create {
                if !facts.create_files {
                    return Err(DeliveryError::CannotCreate(file.uri.as_str().to_owned()));
                }
                any_create = true;
                operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                    CreateFile {
                        uri: file.uri.clone(),
                        options: Some(CreateFileOptions {
                            overwrite: Some(false),
                            ignore_if_exists: Some(false),
                        }),
                        annotation_id: annotation.clone(),
                    },
                )));
            }
            operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: file.uri,
                    version: file.version,
                },
                edits: file
                    .edits
                    .into_iter()
                    .map(|edit| match &annotation {
                        Some(id) => OneOf::Right(AnnotatedTextEdit {
                            text_edit: edit,
                            annotation_id: id.clone(),
                        }),
                        None => OneOf::Left(edit),
                    })
                    .collect(),
            }));
        }
        let document_changes = if any_create {
            DocumentChanges::Operations(operations)
        } else {
            DocumentChanges::Edits(
                operations
                    .into_iter()
                    .filter_map(|operation| match operation {
                        DocumentChangeOperation::Edit(edit) => Some(edit),
                        DocumentChangeOperation::Op(_) => None,
                    })
                    .collect(),
            )
        };
        Ok(WorkspaceEdit {
            document_changes: Some(document_changes),
            change_annotations: (!used.is_empty()).then_some(used),
            ..WorkspaceEdit::default()
        })
    }
}

/// One file's edits, the usual case.
pub fn single(uri: Uri, version: Option<i32>, edits: Vec<TextEdit>) -> EditBuilder {
    let mut builder = EditBuilder::new();
    builder.file(FileEdit {
        uri,
        version,
        edits,
        create: false,
        annotation: None,
    });
    builder
}

/// Sends the edit; `Ok(())` when the editor applied it, else why not.
pub async fn send(
    client: &Client,
    label: String,
    edit: WorkspaceEdit,
) -> Result<(), DeliveryError> {
    let response = client
        .send_request::<lsp::request::ApplyWorkspaceEdit>(ApplyWorkspaceEditParams {
            label: Some(label),
            edit,
        })
        .await
        .map_err(|error| DeliveryError::Rpc(error.message.to_string()))?;
    if response.applied {
        Ok(())
    } else {
        Err(DeliveryError::Refused(
            response
                .failure_reason
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn uri(path: &str) -> Uri {
        format!("file:///ws/{path}").parse().unwrap()
    }

    fn insert(text: &str) -> TextEdit {
        TextEdit {
            range: lsp::Range::default(),
            new_text: text.to_owned(),
        }
    }

    fn three_files() -> EditBuilder {
        let mut builder = EditBuilder::new();
        for (index, (path, version, create)) in [
            ("open.rs", Some(7), false),
            ("closed.rs", None, false),
            ("new.rs", None, true),
        ]
        .into_iter()
        .enumerate()
        {
            let id = format!("chatls.change.{index}");
            builder.annotation(
                id.clone(),
                ChangeAnnotation {
                    label: path.to_owned(),
                    needs_confirmation: Some(true),
                    description: None,
                },
            );
            builder.file(FileEdit {
                uri: uri(path),
                version,
                edits: vec![insert("x")],
                create,
                annotation: Some(id),
            });
        }
        builder
    }

    fn vscode() -> ClientFacts {
        ClientFacts {
            document_changes: true,
            create_files: true,
            change_annotations: true,
            ..ClientFacts::default()
        }
    }

    #[test]
    fn document_changes_carry_versions_creates_and_every_annotation() {
        let edit = three_files().build(&vscode()).unwrap();
        let value = serde_json::to_value(&edit).unwrap();
        let changes = value["documentChanges"].as_array().unwrap();
        assert_eq!(changes.len(), 4, "{value}");
        assert_eq!(changes[0]["textDocument"]["version"], json!(7));
        assert_eq!(changes[1]["textDocument"]["version"], json!(null));
        assert_eq!(changes[2]["kind"], "create");
        assert_eq!(changes[2]["options"]["overwrite"], false);
        assert_eq!(changes[3]["textDocument"]["uri"], "file:///ws/new.rs");
        let map = value["changeAnnotations"].as_object().unwrap();
        assert_eq!(map.len(), 3);
        for change in changes {
            let id = change["annotationId"]
                .as_str()
                .or_else(|| change["edits"][0]["annotationId"].as_str())
                .unwrap();
            assert_eq!(map[id]["needsConfirmation"], true);
        }
    }

    #[test]
    fn without_annotations_the_edits_are_plain_and_without_create_a_new_file_is_refused() {
        let helix = ClientFacts {
            change_annotations: false,
            ..vscode()
        };
        let value = serde_json::to_value(three_files().build(&helix).unwrap()).unwrap();
        assert!(value.get("changeAnnotations").is_none(), "{value}");
        assert!(
            value["documentChanges"][0]["edits"][0]
                .get("annotationId")
                .is_none()
        );
        let no_create = ClientFacts {
            create_files: false,
            ..vscode()
        };
        assert!(matches!(
            three_files().build(&no_create),
            Err(DeliveryError::CannotCreate(_))
        ));
    }

    #[test]
    fn a_client_without_document_changes_gets_changes_with_the_new_file_as_an_insert() {
        let neovim = ClientFacts {
            create_files: true,
            ..ClientFacts::default()
        };
        let value = serde_json::to_value(three_files().build(&neovim).unwrap()).unwrap();
        assert!(value.get("documentChanges").is_none());
        let changes = value["changes"].as_object().unwrap();
        assert_eq!(changes.len(), 3);
        assert_eq!(changes["file:///ws/new.rs"][0]["newText"], "x");
    }

    #[test]
    fn one_file_without_creates_is_a_list_of_edits() {
        let value = serde_json::to_value(
            single(uri("a.rs"), Some(3), vec![insert("y")])
                .build(&vscode())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(value["documentChanges"][0]["textDocument"]["version"], 3);
        assert!(value.get("changeAnnotations").is_none());
    }
}

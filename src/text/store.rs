//! The open-document store shared by all handlers: a concurrent map from URI to
//! `Document`. Mutations run synchronously under the map's shard lock (no `.await` inside),
//! and slow work takes a `DocSnapshot`, which is a cheap clone of the rope.

use dashmap::DashMap;
use ropey::Rope;

use crate::text::document::{Document, TextChange};
use crate::text::encoding::PositionEncoding;
use crate::text::encoding::TextError;

/// A document's state at one moment, detached from the store.
#[derive(Clone, Debug)]
pub struct DocSnapshot {
    pub uri: String,
    pub text: Rope,
    pub version: i32,
    pub language_id: String,
}

/// All open documents, keyed by URI exactly as the client spelled it.
#[derive(Default)]
pub struct DocumentStore {
    documents: DashMap<String, Document>,
}

impl DocumentStore {
    pub fn new() -> Self {
        DocumentStore::default()
    }

    /// Opens a document, replacing any document already open under that URI.
    pub fn open(&self, uri: &str, text: &str, version: i32, language_id: &str) {
        self.documents
            .insert(uri.to_owned(), Document::new(text, version, language_id));
    }

    /// Applies a client's changes to an open document (all or nothing).
    pub fn change(
        &self,
        uri: &str,
        version: i32,
        changes: &[TextChange],
        enc: PositionEncoding,
    ) -> Result<(), TextError> {
        let mut document = self
            .documents
            .get_mut(uri)
            .ok_or_else(|| TextError::UnknownDocument(uri.to_owned()))?;
        document.apply_changes(version, changes, enc)
    }

    /// Closes a document; `false` if it was not open.
    pub fn close(&self, uri: &str) -> bool {
        self.documents.remove(uri).is_some()
    }

    /// A detached copy of the document's current state.
    pub fn snapshot(&self, uri: &str) -> Option<DocSnapshot> {
        // Settled under the write lock, so a document read for an action holds its text
        // once (as a rope) rather than as both its opening string and a rope.
        self.documents.get_mut(uri).map(|mut document| {
            document.settle();
            DocSnapshot {
                uri: uri.to_owned(),
                text: document.text().clone(),
                version: document.version,
                language_id: document.language_id.clone(),
            }
        })
    }

    /// Runs `f` on the document under the shard's read lock. `f` must be quick and must
    /// not touch the store again for the same URI.
    pub fn with_document<R>(&self, uri: &str, f: impl FnOnce(&Document) -> R) -> Option<R> {
        self.documents.get(uri).map(|document| f(&document))
    }

    /// The URIs of all open documents, sorted.
    pub fn uris(&self) -> Vec<String> {
        let mut uris: Vec<String> = self
            .documents
            .iter()
            .map(|entry| entry.key().clone())
            .collect();
        uris.sort();
        uris
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use crate::text::encoding::{Position, Range};

    const URI: &str = "file:///work/a.rs";

    #[test]
    fn open_change_snapshot_close() {
        let store = DocumentStore::new();
        assert!(store.is_empty());
        store.open(URI, "fn a() {}\n", 1, "rust");
        assert_eq!(store.len(), 1);

        let before = store.snapshot(URI).unwrap();
        let change = TextChange::replace(Range::new(Position::new(0, 3), Position::new(0, 4)), "b");
        store
            .change(URI, 2, &[change], PositionEncoding::Utf16)
            .unwrap();
        let after = store.snapshot(URI).unwrap();

        assert_eq!(before.text.to_string(), "fn a() {}\n");
        assert_eq!(before.version, 1);
        assert_eq!(after.text.to_string(), "fn b() {}\n");
        assert_eq!(after.version, 2);
        assert_eq!(after.uri, URI);
        assert_eq!(after.language_id, "rust");
        assert_eq!(
            store.with_document(URI, |document| document.changes_since(1).map(|e| e.len())),
            Some(Some(1))
        );

        assert!(store.close(URI));
        assert!(!store.close(URI));
        assert!(store.snapshot(URI).is_none());
        assert!(store.is_empty());
    }

    #[test]
    fn unknown_documents_are_errors() {
        let store = DocumentStore::new();
        assert_eq!(
            store.change(
                "file:///x",
                1,
                &[TextChange::full("x")],
                PositionEncoding::Utf8
            ),
            Err(TextError::UnknownDocument("file:///x".into()))
        );
        assert!(store.with_document("file:///x", |_| ()).is_none());
    }

    #[test]
    fn reopening_replaces_and_uris_are_sorted() {
        let store = DocumentStore::new();
        store.open("file:///b", "one", 1, "text");
        store.open("file:///a", "two", 1, "text");
        store.open("file:///b", "three", 7, "markdown");
        assert_eq!(store.uris(), vec!["file:///a", "file:///b"]);
        let snapshot = store.snapshot("file:///b").unwrap();
        assert_eq!(snapshot.text.to_string(), "three");
        assert_eq!(snapshot.version, 7);
        assert_eq!(snapshot.language_id, "markdown");
    }

    #[test]
    fn concurrent_changes_all_land() {
        let store = Arc::new(DocumentStore::new());
        store.open(URI, "", 0, "text");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        let end =
                            Range::new(Position::new(0, u32::MAX), Position::new(0, u32::MAX));
                        store
                            .change(
                                URI,
                                0,
                                &[TextChange::replace(end, "x")],
                                PositionEncoding::Utf32,
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(store.snapshot(URI).unwrap().text.len_chars(), 1000);
    }
}

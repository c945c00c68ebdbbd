//! The bookkeeping of completion: per document, which request is the latest (a newer one
//! supersedes the older at once: its token is cancelled, which drops its upstream
//! connection), the document's own conversation id and the suggestion last shown; and
//! across documents, the quiet gate that shows one message per failure streak. Plain data
//! and synchronous methods: no guard is held across an `.await`.

use std::sync::Mutex;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use super::cache::Shown;

/// The latest request of a document.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub generation: u64,
    pub cancel: CancellationToken,
    pub conversation_id: String,
}

#[derive(Debug)]
struct DocState {
    generation: u64,
    cancel: CancellationToken,
    conversation_id: String,
    shown: Option<Shown>,
}

/// Per-document completion state, keyed by URI.
#[derive(Debug, Default)]
pub struct Documents {
    by_uri: DashMap<String, DocState>,
}

impl Documents {
    /// Starts a new request for `uri`, cancelling the one before it.
    pub fn begin(&self, uri: &str) -> Ticket {
        let mut state = self
            .by_uri
            .entry(uri.to_owned())
            .or_insert_with(|| DocState {
                generation: 0,
                cancel: CancellationToken::new(),
                conversation_id: crate::conversation::new_id(),
                shown: None,
            });
        state.cancel.cancel();
        state.generation += 1;
        state.cancel = CancellationToken::new();
        Ticket {
            generation: state.generation,
            cancel: state.cancel.clone(),
            conversation_id: state.conversation_id.clone(),
        }
    }

    /// True while no newer request for `uri` has begun.
    pub fn is_current(&self, uri: &str, ticket: &Ticket) -> bool {
        self.by_uri
            .get(uri)
            .is_some_and(|state| state.generation == ticket.generation)
    }

    /// The suggestion last shown for `uri`.
    pub fn shown(&self, uri: &str) -> Option<Shown> {
        self.by_uri.get(uri).and_then(|state| state.shown.clone())
    }

    /// Remembers the suggestion shown for a request, if it is still the latest.
    pub fn remember(&self, uri: &str, ticket: &Ticket, shown: Option<Shown>) {
        if let Some(mut state) = self.by_uri.get_mut(uri)
            && state.generation == ticket.generation
        {
            state.shown = shown;
        }
    }

    /// The document closed: its request stops and its state (and conversation id) goes.
    pub fn forget(&self, uri: &str) {
        if let Some((_, state)) = self.by_uri.remove(uri) {
            state.cancel.cancel();
        }
    }

    /// Stops every running request (shutdown).
    pub fn cancel_all(&self) {
        for state in self.by_uri.iter() {
            state.cancel.cancel();
        }
    }
}

/// One message per failure streak: a failure is shown when completion was working, or
/// when the settings changed since the last message; a success opens the gate again.
/// `K` is what identifies the settings (compared, never shown).
#[derive(Debug)]
pub struct QuietGate<K> {
    silenced_for: Mutex<Option<K>>,
}

impl<K> Default for QuietGate<K> {
    fn default() -> Self {
        QuietGate {
            silenced_for: Mutex::new(None),
        }
    }
}

impl<K: PartialEq> QuietGate<K> {
    /// A request failed under `settings`: true when the user should be told.
    pub fn failed(&self, settings: K) -> bool {
        let mut slot = self
            .silenced_for
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.as_ref() == Some(&settings) {
            return false;
        }
        *slot = Some(settings);
        true
    }

    /// A request succeeded: the next failure is shown again.
    pub fn succeeded(&self) {
        let mut slot = self
            .silenced_for
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_request_supersedes_and_ids_stay_per_document() {
        let documents = Documents::default();
        let first = documents.begin("file:///a");
        let second = documents.begin("file:///a");
        assert!(first.cancel.is_cancelled() && !second.cancel.is_cancelled());
        assert!(!documents.is_current("file:///a", &first));
        assert!(documents.is_current("file:///a", &second));
        assert_eq!(first.conversation_id, second.conversation_id);
        let other = documents.begin("file:///b");
        assert_ne!(other.conversation_id, second.conversation_id);
        assert!(!second.cancel.is_cancelled());
        documents.forget("file:///a");
        assert!(second.cancel.is_cancelled());
        assert_ne!(
            documents.begin("file:///a").conversation_id,
            first.conversation_id
        );
        documents.cancel_all();
        assert!(other.cancel.is_cancelled());
    }

    #[test]
    fn one_message_per_streak_and_per_settings() {
        let gate = QuietGate::default();
        assert!(gate.failed(1));
        assert!(!gate.failed(1));
        assert!(!gate.failed(1));
        assert!(gate.failed(2), "new settings are worth a new message");
        gate.succeeded();
        assert!(gate.failed(2));
    }
}

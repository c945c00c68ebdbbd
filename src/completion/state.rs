//! The bookkeeping of completion: which request is the latest (a newer one supersedes the
//! older at once, in any document: its token is cancelled, which drops its upstream
//! connection and answers it empty, so one completion per client is in flight however many
//! documents ask), per document its own conversation id and the suggestion last shown; and
//! across documents, the quiet gate that shows one message per failure streak. Plain data
//! and synchronous methods: no guard is held across an `.await`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use super::cache::{MadeBy, Shown};

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
    shown: Option<(MadeBy, Shown)>,
}

/// Per-document completion state, keyed by URI, and the request in flight.
#[derive(Debug, Default)]
pub struct Documents {
    by_uri: DashMap<String, DocState>,
    /// The arrival number and token of the latest request, whatever its document: the
    /// cursor is in one place, so an older request elsewhere is no longer wanted.
    latest: Mutex<Option<(u64, CancellationToken)>>,
    arrivals: AtomicU64,
}

impl Documents {
    /// Numbers a request as it arrives (before its work is scheduled), so the newest one
    /// wins however the work of several is interleaved.
    pub fn arrive(&self) -> u64 {
        self.arrivals.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts the request that arrived as `arrival` for `uri`, cancelling the one before it
    /// (in any document); `None` when a newer request has already begun.
    pub fn begin(&self, uri: &str, arrival: u64) -> Option<Ticket> {
        let mut latest = self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((newest, older)) = latest.take() {
            if newest > arrival {
                *latest = Some((newest, older));
                return None;
            }
            older.cancel();
        }
        let mut state = self
            .by_uri
            .entry(uri.to_owned())
            .or_insert_with(|| DocState {
                generation: 0,
                cancel: CancellationToken::new(),
                conversation_id: crate::chat::conversation::new_id(),
                shown: None,
            });
        state.cancel.cancel();
        state.generation += 1;
        state.cancel = CancellationToken::new();
        *latest = Some((arrival, state.cancel.clone()));
        Some(Ticket {
            generation: state.generation,
            cancel: state.cancel.clone(),
            conversation_id: state.conversation_id.clone(),
        })
    }

    /// True while no newer request for `uri` has begun.
    pub fn is_current(&self, uri: &str, ticket: &Ticket) -> bool {
        self.by_uri
            .get(uri)
            .is_some_and(|state| state.generation == ticket.generation)
    }

    /// The suggestion last shown for `uri`, if the settings it was made under are `made_by`.
    pub fn shown(&self, uri: &str, made_by: &MadeBy) -> Option<Shown> {
        let state = self.by_uri.get(uri)?;
        match &state.shown {
            Some((made, shown)) if made == made_by => Some(shown.clone()),
            _ => None,
        }
    }

    /// Remembers the suggestion shown for a request, and the settings that made it, if the
    /// request is still the latest.
    pub fn remember(&self, uri: &str, ticket: &Ticket, made_by: MadeBy, shown: Option<Shown>) {
        if let Some(mut state) = self.by_uri.get_mut(uri)
            && state.generation == ticket.generation
        {
            state.shown = shown.map(|shown| (made_by, shown));
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
        let begin = |uri: &str| documents.begin(uri, documents.arrive()).unwrap();
        let first = begin("file:///a");
        let second = begin("file:///a");
        assert!(first.cancel.is_cancelled() && !second.cancel.is_cancelled());
        assert!(!documents.is_current("file:///a", &first));
        assert!(documents.is_current("file:///a", &second));
        assert_eq!(first.conversation_id, second.conversation_id);
        let other = begin("file:///b");
        assert_ne!(other.conversation_id, second.conversation_id);
        assert!(
            second.cancel.is_cancelled(),
            "one completion in flight: another document's request supersedes it"
        );
        assert!(documents.is_current("file:///a", &second));
        documents.forget("file:///a");
        assert_ne!(begin("file:///a").conversation_id, first.conversation_id);
        let (older, newer) = (documents.arrive(), documents.arrive());
        assert!(documents.begin("file:///c", newer).is_some());
        assert!(
            documents.begin("file:///b", older).is_none(),
            "a request that arrived before the newest one begins superseded"
        );
        documents.cancel_all();
        assert!(other.cancel.is_cancelled());
    }

    #[test]
    fn a_suggestion_is_reused_only_under_the_settings_that_made_it() {
        let documents = Documents::default();
        let mut settings =
            crate::config::Settings::from_env(&crate::config::EnvSettings::default());
        let made_by = MadeBy::of(&settings);
        let ticket = documents
            .begin("file:///a", documents.arrive())
            .expect("the newest request");
        let text = ropey::Rope::from_str("let x = ");
        documents.remember(
            "file:///a",
            &ticket,
            made_by.clone(),
            Some(Shown::new(&text, 8, "1;")),
        );
        assert!(documents.shown("file:///a", &made_by).is_some());
        for change in [
            |settings: &mut crate::config::Settings| settings.completion.model = "other".into(),
            |settings: &mut crate::config::Settings| settings.completion.max_tokens = 17,
            |settings: &mut crate::config::Settings| {
                settings.base_url = "http://elsewhere/v1".into()
            },
        ] {
            let mut changed = settings.clone();
            change(&mut changed);
            assert!(
                documents
                    .shown("file:///a", &MadeBy::of(&changed))
                    .is_none()
            );
        }
        // What does not change the answer keeps it.
        settings.completion.debounce_ms += 1;
        settings.model = "the actions' model".into();
        assert!(
            documents
                .shown("file:///a", &MadeBy::of(&settings))
                .is_some()
        );
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

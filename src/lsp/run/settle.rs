//! When an edit without a version may be computed. A client without `documentChanges`
//! (Neovim) cannot refuse a stale edit: it applies `changes` to whatever its buffer holds. And
//! Neovim holds back `didChange` for up to ~150 ms after the previous one (its first change
//! after opening always waits that long), so the server's copy of a document can lag the
//! editor's by typing it has not heard of yet, or by the previous edit it sent. An edit
//! computed then lands on the wrong lines.
//!
//! So, per document, unversioned edits take turns: each waits for the previous one's turn
//! to end, then until the client has reported a change after the previous applied edit
//! (its echo of that edit), then until the document has been quiet for [`SETTLE`], counted
//! from the start of the wait at the earliest, so a change typed just before is given time
//! to arrive. Every wait is bounded and ends at once on cancel.
//!
//! Neovim's interval is a setting (`debounce_text_changes`, 150 ms by default; people raise
//! it). How long the client took to report an applied edit is how long it holds changes
//! back, so the quiet window grows to half as much again as the longest hold seen.
//!
//! The turn is an async mutex held across the `workspace/applyEdit` round trip; `didChange`
//! never takes it (it only records the change), so typing is never held up by it.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::workspace_edit::DeliveryError;

/// How long the document must have been quiet before an unversioned edit is computed: more
/// than Neovim's 150 ms `didChange` debounce.
pub const SETTLE: Duration = Duration::from_millis(300);
/// How long the client may take to report the previous edit before the next one is refused.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a document may keep changing before the edit waiting on it is refused.
pub const MAX_SETTLE: Duration = Duration::from_secs(10);
/// The longest quiet window a slow client's holds can ask for.
pub const MAX_WINDOW: Duration = Duration::from_secs(3);

/// The last change the client reported for a document.
#[derive(Clone, Copy, Debug)]
struct Mark {
    at: Instant,
    /// Changes reported since the document was opened.
    count: u64,
}

/// One document's turn state: the change count when the last applied unversioned edit was
/// computed, while its report is still awaited.
#[derive(Debug, Default)]
struct Turn {
    awaiting_report_after: Option<u64>,
    /// When the client answered that it applied that edit.
    applied_at: Option<Instant>,
}

/// Changes reported per document, and the turns of unversioned edits.
#[derive(Default)]
pub struct EditOrder {
    marks: DashMap<String, Mark>,
    turns: DashMap<String, Arc<Mutex<Turn>>>,
    changed: Notify,
    /// The longest time the client took to report an edit it had applied.
    longest_hold: std::sync::Mutex<Duration>,
}

/// A document's turn to compute and send an unversioned edit; the next edit waits until it
/// is dropped.
pub struct EditTurn {
    guard: OwnedMutexGuard<Turn>,
}

impl EditTurn {
    /// Records that the edit computed when the document had seen `count` changes was
    /// applied: the next edit waits for a change reported after that.
    pub fn applied(mut self, count: u64) {
        self.guard.awaiting_report_after = Some(count);
        self.guard.applied_at = Some(Instant::now());
    }
}

/// How much longer to wait for the document to be quiet for `settle`, counting from
/// `started` at the earliest; `None` once it has been.
pub fn settle_wait(
    now: Instant,
    started: Instant,
    last_change: Option<Instant>,
    settle: Duration,
) -> Option<Duration> {
    let quiet_since = last_change.map_or(started, |at| at.max(started));
    let quiet_for = now.saturating_duration_since(quiet_since);
    settle.checked_sub(quiet_for).filter(|left| !left.is_zero())
}

/// The quiet window for a client seen holding changes back for up to `hold`: [`SETTLE`], or
/// half as much again as the hold, at most [`MAX_WINDOW`].
pub fn window_for(hold: Duration) -> Duration {
    (hold + hold / 2).clamp(SETTLE, MAX_WINDOW)
}

impl EditOrder {
    /// Notes a change the client reported just now.
    pub fn touch(&self, uri: &str) {
        let now = Instant::now();
        self.marks
            .entry(uri.to_owned())
            .and_modify(|mark| {
                mark.at = now;
                mark.count += 1;
            })
            .or_insert(Mark { at: now, count: 1 });
        self.changed.notify_waiters();
    }

    /// Forgets a closed document.
    pub fn forget(&self, uri: &str) {
        self.marks.remove(uri);
        self.turns.remove(uri);
    }

    /// How many changes the client has reported for the document.
    pub fn change_count(&self, uri: &str) -> u64 {
        self.marks.get(uri).map_or(0, |mark| mark.count)
    }

    fn last_change(&self, uri: &str) -> Option<Instant> {
        self.marks.get(uri).map(|mark| mark.at)
    }

    /// [`turn`](Self::turn) for a client that takes only unversioned edits; `None` at once
    /// for one whose edits carry versions (a stale one is refused by the client itself).
    pub async fn turn_unless_versioned(
        &self,
        versioned: bool,
        uri: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<EditTurn>, DeliveryError> {
        if versioned {
            return Ok(None);
        }
        self.turn(uri, cancel).await.map(Some)
    }

    /// Waits for the document's turn, the report of the previous edit and a quiet document,
    /// as the module says.
    pub async fn turn(
        &self,
        uri: &str,
        cancel: &CancellationToken,
    ) -> Result<EditTurn, DeliveryError> {
        let queue = Arc::clone(self.turns.entry(uri.to_owned()).or_default().value());
        let mut guard = tokio::select! {
            guard = queue.lock_owned() => guard,
            () = cancel.cancelled() => return Err(DeliveryError::Cancelled),
        };
        if let Some(count) = guard.awaiting_report_after {
            let deadline = Instant::now() + REPORT_TIMEOUT;
            self.wait_for(cancel, deadline, DeliveryError::Unsynced, || {
                self.change_count(uri) > count
            })
            .await?;
            guard.awaiting_report_after = None;
            if let (Some(applied), Some(reported)) =
                (guard.applied_at.take(), self.last_change(uri))
            {
                self.note_hold(reported.saturating_duration_since(applied));
            }
        }
        let window = window_for(self.longest_hold());
        let started = Instant::now();
        let deadline = started + MAX_SETTLE;
        loop {
            let now = Instant::now();
            let Some(left) = settle_wait(now, started, self.last_change(uri), window) else {
                break;
            };
            if now >= deadline {
                return Err(DeliveryError::KeptChanging);
            }
            tokio::select! {
                () = tokio::time::sleep(left.min(deadline - now)) => {}
                () = cancel.cancelled() => return Err(DeliveryError::Cancelled),
            }
        }
        Ok(EditTurn { guard })
    }

    fn note_hold(&self, hold: Duration) {
        if let Ok(mut longest) = self.longest_hold.lock() {
            *longest = (*longest).max(hold.min(MAX_WINDOW));
        }
    }

    fn longest_hold(&self) -> Duration {
        self.longest_hold
            .lock()
            .map(|longest| *longest)
            .unwrap_or_default()
    }

    /// Waits until `ready` holds, re-checking on every reported change.
    async fn wait_for(
        &self,
        cancel: &CancellationToken,
        deadline: Instant,
        timed_out: DeliveryError,
        ready: impl Fn() -> bool,
    ) -> Result<(), DeliveryError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a change between the check and the wait
            // still wakes it.
            notified.as_mut().enable();
            if ready() {
                return Ok(());
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {
                    return if ready() { Ok(()) } else { Err(timed_out) };
                }
                () = cancel.cancelled() => return Err(DeliveryError::Cancelled),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_wait_counts_from_the_start_or_the_last_change() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        // Never changed: the whole window from the start.
        assert_eq!(settle_wait(start, start, None, ms(300)), Some(ms(300)));
        assert_eq!(
            settle_wait(start + ms(100), start, None, ms(300)),
            Some(ms(200))
        );
        assert_eq!(settle_wait(start + ms(300), start, None, ms(300)), None);
        // A change long before the start does not shorten the window.
        let long_ago = start.checked_sub(ms(5000));
        assert_eq!(
            settle_wait(start + ms(50), start, long_ago, ms(300)),
            Some(ms(250))
        );
        // A change during the window extends it.
        assert_eq!(
            settle_wait(start + ms(350), start, Some(start + ms(200)), ms(300)),
            Some(ms(150))
        );
        assert_eq!(
            settle_wait(start + ms(500), start, Some(start + ms(200)), ms(300)),
            None
        );
    }

    #[test]
    fn the_window_follows_the_longest_hold() {
        let ms = Duration::from_millis;
        assert_eq!(window_for(Duration::ZERO), SETTLE);
        assert_eq!(window_for(ms(150)), SETTLE);
        assert_eq!(window_for(ms(600)), ms(900));
        assert_eq!(window_for(ms(60_000)), MAX_WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_seen_once_widens_the_window() {
        let order = EditOrder::default();
        let cancel = CancellationToken::new();
        let uri = "file:///a.py";
        let turn = order.turn(uri, &cancel).await.unwrap();
        turn.applied(order.change_count(uri));
        tokio::time::sleep(Duration::from_millis(600)).await;
        order.touch(uri);
        let before = Instant::now();
        let _turn = order.turn(uri, &cancel).await.unwrap();
        assert_eq!(before.elapsed(), Duration::from_millis(900));
    }

    #[tokio::test(start_paused = true)]
    async fn turns_wait_for_the_report_of_the_previous_edit() {
        let order = Arc::new(EditOrder::default());
        let cancel = CancellationToken::new();
        let uri = "file:///a.py";
        let first = order.turn(uri, &cancel).await.unwrap();
        first.applied(order.change_count(uri));

        // No report: refused after the timeout.
        let refused = order.turn(uri, &cancel).await;
        assert!(matches!(refused, Err(DeliveryError::Unsynced)));

        // The report arrives while the next edit waits: it goes ahead.
        let first = order.turn(uri, &cancel).await;
        assert!(first.is_err(), "the edit is still awaiting its report");
        let waiting = {
            let order = Arc::clone(&order);
            let cancel = cancel.clone();
            tokio::spawn(async move { order.turn(uri, &cancel).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(150)).await;
        order.touch(uri);
        assert!(waiting.await.unwrap().is_ok());

        // Cancel ends a wait at once.
        let turn = order.turn(uri, &cancel).await.unwrap();
        turn.applied(order.change_count(uri));
        let cancelled = {
            let order = Arc::clone(&order);
            let cancel = cancel.clone();
            tokio::spawn(async move { order.turn(uri, &cancel).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        cancel.cancel();
        assert!(matches!(
            cancelled.await.unwrap(),
            Err(DeliveryError::Cancelled)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_document_that_keeps_changing_is_refused_in_the_end() {
        let order = Arc::new(EditOrder::default());
        let uri = "file:///a.py";
        let typing = {
            let order = Arc::clone(&order);
            tokio::spawn(async move {
                for _ in 0..200 {
                    order.touch(uri);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let result = order.turn(uri, &CancellationToken::new()).await;
        assert!(matches!(result, Err(DeliveryError::KeptChanging)));
        typing.abort();
    }
}

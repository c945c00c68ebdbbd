//! Work-done progress created by the server (no client sends a token with
//! `executeCommand`): `begin` (cancellable), `report`s throttled to at most ten a second
//! whatever the token rate, and an `end` that says what happened.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::notification::Progress as ProgressNotification;
use tower_lsp_server::ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressEnd, WorkDoneProgressReport,
};

/// The shortest gap between two reports of one action.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// How long the client may take to accept a progress token; without an answer the action
/// goes on (and delivers its result) without progress.
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct ActionProgress {
    client: Client,
    /// `None` when the client cannot show progress (or refused the token).
    token: Option<NumberOrString>,
}

impl ActionProgress {
    /// Creates the token (when the client supports it) and sends `begin`.
    pub async fn begin(
        client: &Client,
        supported: bool,
        token: &str,
        title: &str,
        message: &str,
    ) -> Self {
        let mut progress = ActionProgress {
            client: client.clone(),
            token: None,
        };
        if !supported {
            return progress;
        }
        let token = NumberOrString::String(token.to_owned());
        let created = tokio::time::timeout(
            CREATE_TIMEOUT,
            client.create_work_done_progress(token.clone()),
        )
        .await;
        match created {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, "client refused a progress token");
                return progress;
            }
            Err(_) => {
                tracing::warn!(
                    "the client did not answer window/workDoneProgress/create within {} s; the action goes on without progress",
                    CREATE_TIMEOUT.as_secs()
                );
                return progress;
            }
        }
        progress.token = Some(token);
        progress
            .send(WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title: title.to_owned(),
                cancellable: Some(true),
                message: Some(message.to_owned()),
                percentage: None,
            }))
            .await;
        progress
    }

    /// Progress the client will not see (when its task failed): `end` sends nothing.
    pub fn hidden(client: &Client) -> Self {
        ActionProgress {
            client: client.clone(),
            token: None,
        }
    }

    /// A handle on a token that `begin` already created elsewhere (to end it after a panic
    /// unwound the code that held it).
    pub fn existing(client: &Client, token: &str) -> Self {
        ActionProgress {
            client: client.clone(),
            token: Some(NumberOrString::String(token.to_owned())),
        }
    }

    pub fn is_shown(&self) -> bool {
        self.token.is_some()
    }

    pub async fn report(&self, message: &str) {
        self.send(WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(true),
            message: Some(message.to_owned()),
            percentage: None,
        }))
        .await;
    }

    pub async fn end(&self, message: &str) {
        self.send(WorkDoneProgress::End(WorkDoneProgressEnd {
            message: Some(message.to_owned()),
        }))
        .await;
    }

    async fn send(&self, value: WorkDoneProgress) {
        if let Some(token) = &self.token {
            self.client
                .send_notification::<ProgressNotification>(ProgressParams {
                    token: token.clone(),
                    value: ProgressParamsValue::WorkDone(value),
                })
                .await;
        }
    }

    /// Starts progress without making the caller wait for the client: returns at once with a
    /// sender for status lines and a task that creates the token, sends `begin`, then forwards
    /// the lines as throttled reports (bursts coalesced to the newest line, at most one report
    /// per [`REPORT_INTERVAL`]). The task ends, returning the progress for its `end`, as soon
    /// as every sender is dropped (a line still waiting for its slot is dropped too). The
    /// action's upstream request never waits on the editor.
    pub fn start(
        client: &Client,
        supported: bool,
        token: &str,
        title: &str,
        message: &str,
    ) -> (mpsc::UnboundedSender<String>, JoinHandle<ActionProgress>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<String>();
        let client = client.clone();
        let (token, title, message) = (token.to_owned(), title.to_owned(), message.to_owned());
        let task = tokio::spawn(async move {
            let progress =
                ActionProgress::begin(&client, supported, &token, &title, &message).await;
            let mut last_sent: Option<Instant> = None;
            while let Some(mut message) = receiver.recv().await {
                if let Some(sent) = last_sent {
                    // Wait for the slot, but stop at once when the action ends: its `end`
                    // follows and says what happened, so a late report would only hold the
                    // result back by up to one interval.
                    let ready = tokio::time::sleep_until(sent + REPORT_INTERVAL);
                    tokio::pin!(ready);
                    loop {
                        tokio::select! {
                            biased;
                            () = &mut ready => break,
                            newer = receiver.recv() => match newer {
                                Some(newer) => message = newer,
                                None => return progress,
                            },
                        }
                    }
                }
                while let Ok(newer) = receiver.try_recv() {
                    message = newer;
                }
                progress.report(&message).await;
                last_sent = Some(Instant::now());
            }
            progress
        });
        (sender, task)
    }
}
/// The last `max` chars of `text` on one line, for progress messages.
/// Only the end of `text` is looked at, so calling it on every token of a long answer costs
/// O(max) each time, not O(answer).
pub(in crate::lsp) fn tail(text: &str, max: usize) -> String {
    let cut = match max.checked_sub(1) {
        Some(last) => text.char_indices().rev().nth(last).map(|(index, _)| index),
        None => Some(text.len()),
    };
    let kept = &text[cut.unwrap_or(0)..];
    let flat: String = kept
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match cut {
        Some(index) if index > 0 => format!("…{flat}"),
        _ => flat,
    }
}

#[cfg(test)]
mod tail_tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_chars_on_one_line() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("exactly10!", 10), "exactly10!");
        assert_eq!(tail("a\nb\tc", 10), "a b c");
        assert_eq!(tail("0123456789abc", 3), "…abc");
        assert_eq!(tail("ééééé😀", 2), "…é😀");
        assert_eq!(tail("abc", 0), "…");
        assert_eq!(tail("", 0), "");
        // Linear, not quadratic: 2,000 calls on a text growing to 8 MB.
        let mut text = String::new();
        for _ in 0..2_000 {
            text.push_str(&"x".repeat(4096));
            assert_eq!(tail(&text, 60).chars().count(), 61);
        }
    }
}

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
        if let Err(error) = client.create_work_done_progress(token.clone()).await {
            tracing::debug!(%error, "client refused a progress token");
            return progress;
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

    /// A sender for status lines and the task that forwards them as throttled reports:
    /// bursts are coalesced to the newest line, at most one report per [`REPORT_INTERVAL`].
    /// The task ends as soon as every sender is dropped: a line still waiting for its slot
    /// is dropped too, since the action's `end` follows at once and says what happened
    /// (waiting for the slot would hold the result back by up to one interval).
    pub fn reporter(&self) -> (mpsc::UnboundedSender<String>, JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<String>();
        let progress = self.clone();
        let task = tokio::spawn(async move {
            let mut last_sent: Option<Instant> = None;
            while let Some(mut message) = receiver.recv().await {
                if let Some(sent) = last_sent {
                    let ready = tokio::time::sleep_until(sent + REPORT_INTERVAL);
                    tokio::pin!(ready);
                    loop {
                        tokio::select! {
                            biased;
                            () = &mut ready => break,
                            newer = receiver.recv() => match newer {
                                Some(newer) => message = newer,
                                None => return,
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
        });
        (sender, task)
    }
}

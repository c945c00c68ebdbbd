//! Streamed edits (`edits.stream`), the delivery stage: while an edit action's answer
//! streams, the selection is rewritten with the complete code lines received so far (see
//! `crate::answer::stream`), at most about 5 times a second; the final answer then lands as one more
//! edit, and on cancel, failure or an answer with no code the original comes back byte for
//! byte.
//!
//! Every streamed edit is versioned: it is computed on the server's copy of the document,
//! where the streamed text was moved through what the person typed elsewhere, and the
//! client refuses it if the document changed meanwhile (the next one is computed again).
//! A client without `documentChanges` (Neovim) cannot refuse a stale edit and holds its
//! changes back, so there nothing streams: the answer lands once, as without the setting.
//!
//! The streamed text is followed by its place and the document version that holds it: after
//! an applied edit the stage waits for the client's report of it, and the next edit checks
//! that the place still holds exactly the text it wrote. If not, the person typed inside it:
//! streaming stops and their text is left as it is.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types as lsp;

use crate::action::engine::Outcome;
use crate::action::{ActionInput, RowKind};
use crate::answer::apply::{NotApplied, document_layout, prepare};
use crate::answer::edits::{CharEdit, Layout, minimal_edits};
use crate::answer::stream::{MIN_INTERVAL, replacement_so_far};
use crate::text::rebase_range;

use super::workspace_edit::DeliveryError;
use crate::lsp::client_facts::ClientFacts;
use crate::lsp::convert;
use crate::lsp::session::{Session, Snapshot};
use crate::text::PositionEncoding;

/// How long the client may take to report a streamed edit it applied.
const REPORT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the final edit or the restore is tried when the client refuses it because the
/// person typed elsewhere at that moment.
const PUT_ATTEMPTS: usize = 10;

/// What the streamer feeds on.
enum Piece {
    Token(String),
    /// The answer starts over (a retry, or a new round after tool calls).
    Restart,
}

/// The text the stage put in the buffer: `text` at `place` in the document at `version`.
#[derive(Clone, Debug)]
struct Written {
    place: Range<usize>,
    version: i32,
    text: String,
}

/// How streaming ended.
#[derive(Debug)]
enum Left {
    /// Nothing was written: the answer is delivered as without streaming.
    Nothing,
    Written(Written),
    /// The person typed inside the streamed text: it stays as it is.
    TypedInside,
    /// The client applied a streamed edit and never reported it.
    Lost,
}

/// The stage for one action; inert when the action does not stream.
pub(in crate::lsp) struct Stream {
    running: Option<(mpsc::UnboundedSender<Piece>, JoinHandle<Left>)>,
    encoding: PositionEncoding,
}

impl Stream {
    /// Starts streaming when the setting is on, the action edits, and the client takes
    /// versioned edits.
    pub(in crate::lsp) fn start(
        session: &Arc<Session>,
        client: &Client,
        snapshot: &Snapshot,
        input: &ActionInput,
        enabled: bool,
        cancel: &CancellationToken,
    ) -> Stream {
        let encoding = snapshot.facts.encoding;
        if !enabled || input.action.kind != RowKind::Edit || !snapshot.facts.document_changes {
            return Stream {
                running: None,
                encoding,
            };
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(stream(
            Arc::clone(session),
            client.clone(),
            input.clone(),
            encoding,
            receiver,
            cancel.clone(),
        ));
        Stream {
            encoding,
            running: Some((sender, task)),
        }
    }

    /// A piece of the answer.
    pub(in crate::lsp) fn token(&self, text: &str) {
        if let Some((sender, _)) = &self.running {
            let _ = sender.send(Piece::Token(text.to_owned()));
        }
    }

    /// The answer starts over.
    pub(in crate::lsp) fn restart(&self) {
        if let Some((sender, _)) = &self.running {
            let _ = sender.send(Piece::Restart);
        }
    }

    /// Ends streaming (the answer is complete, failed or was cancelled).
    pub(in crate::lsp) async fn finish(self) -> Streamed {
        let left = match self.running {
            None => Left::Nothing,
            Some((sender, task)) => {
                drop(sender);
                task.await.unwrap_or(Left::Lost)
            }
        };
        Streamed {
            left,
            encoding: self.encoding,
        }
    }
}

/// What streaming left in the buffer, to be settled by the final edit or a restore.
pub(in crate::lsp) struct Streamed {
    left: Left,
    encoding: PositionEncoding,
}

const TYPED_INSIDE: &str = "you typed inside the text being streamed, so streaming stopped and your text was kept as it is; the answer was not applied";
const LOST: &str = "the editor did not report a streamed edit, so chatls lost track of the selection; check it (undo puts the original back)";

impl Streamed {
    /// After a cancel or a failure: puts the original back. `None` when nothing had been
    /// streamed; otherwise what happened, for the person.
    /// Settles the buffer: a second call finds nothing left to do.
    pub(in crate::lsp) async fn restore(
        &mut self,
        session: &Session,
        client: &Client,
        input: &ActionInput,
    ) -> Option<String> {
        match std::mem::replace(&mut self.left, Left::Nothing) {
            Left::Nothing => None,
            Left::TypedInside => Some(TYPED_INSIDE.to_owned()),
            Left::Lost => Some(LOST.to_owned()),
            Left::Written(written) => {
                let original = input.selected_text();
                Some(
                    match put(session, client, self.encoding, input, &written, &original).await {
                        Ok(()) => "the original text was put back".to_owned(),
                        Err(problem) => problem,
                    },
                )
            }
        }
    }

    /// The complete answer: lands as the final edit, or, when it is not code for the
    /// selection, the original comes back.
    pub(in crate::lsp) async fn deliver(
        self,
        session: &Session,
        client: &Client,
        snapshot: &Snapshot,
        input: &ActionInput,
        outcome: &Outcome,
        cancel: &CancellationToken,
    ) -> Result<String, String> {
        let (answer, truncated) = (outcome.answer.as_str(), outcome.truncated);
        let written = match self.left {
            Left::Nothing => {
                return super::deliver::apply_answer(
                    session, client, snapshot, input, answer, truncated, cancel,
                )
                .await;
            }
            Left::TypedInside => return Err(TYPED_INSIDE.to_owned()),
            Left::Lost => return Err(LOST.to_owned()),
            Left::Written(written) => written,
        };
        let original = input.selected_text();
        let (target, refused) = if cancel.is_cancelled() {
            (original, Some(DeliveryError::Cancelled))
        } else {
            match prepare(input, answer, truncated) {
                Ok(prepared) => (prepared.replacement(), None),
                Err(NotApplied::Unchanged) => (original, None),
                Err(reason) => (original, Some(DeliveryError::Answer(reason))),
            }
        };
        if let Some(DeliveryError::Answer(reason)) = &refused
            && reason.shows_answer()
        {
            super::deliver::show_unapplied(session, client, input, answer).await;
        }
        match (
            put(session, client, self.encoding, input, &written, &target).await,
            refused,
        ) {
            (Ok(()), None) => Ok("applied the streamed answer".to_owned()),
            (Ok(()), Some(reason)) => Err(format!("{reason}; the original text was put back")),
            (Err(problem), Some(reason)) => Err(format!("{reason}; but {problem}")),
            (Err(problem), None) => Err(problem),
        }
    }
}

/// The streaming task: rewrites the selection as complete lines arrive, until the answer
/// ends, the action is cancelled, or the person types inside.
async fn stream(
    session: Arc<Session>,
    client: Client,
    input: ActionInput,
    encoding: PositionEncoding,
    mut pieces: mpsc::UnboundedReceiver<Piece>,
    cancel: CancellationToken,
) -> Left {
    let original = input.selected_text();
    let (eol, style) = document_layout(&input);
    let layout = Layout { eol, style };
    let mut answer = String::new();
    let mut left = Left::Nothing;
    let mut last_edit: Option<Instant> = None;
    loop {
        let piece = tokio::select! {
            piece = pieces.recv() => piece,
            () = cancel.cancelled() => return left,
        };
        let Some(piece) = piece else { return left };
        take(&mut answer, piece);
        if let Some(at) = last_edit {
            // Throttled: what arrives meanwhile is taken in one edit.
            tokio::select! {
                () = tokio::time::sleep_until(at + MIN_INTERVAL) => {}
                () = cancel.cancelled() => return left,
            }
        }
        loop {
            match pieces.try_recv() {
                Ok(piece) => take(&mut answer, piece),
                Err(mpsc::error::TryRecvError::Empty) => break,
                // The answer is complete: the final edit writes it.
                Err(mpsc::error::TryRecvError::Disconnected) => return left,
            }
        }
        let Some(partial) = replacement_so_far(&answer, &original, &layout) else {
            continue;
        };
        let shown = match &left {
            Left::Written(written) => &written.text,
            Left::Nothing => &original,
            Left::TypedInside | Left::Lost => return left,
        };
        if &partial == shown {
            continue;
        }
        match write(&session, &client, encoding, &input, &left, &partial).await {
            Ok(Some(written)) => {
                left = Left::Written(written);
                last_edit = Some(Instant::now());
            }
            // Refused (the document moved on): the next piece tries again.
            Ok(None) => {}
            Err(Stop::TypedInside) => {
                return match left {
                    // Nothing of the stage's in the buffer: the final edit refuses the
                    // changed selection as usual.
                    Left::Nothing => Left::Nothing,
                    _ => Left::TypedInside,
                };
            }
            Err(Stop::Lost) => return Left::Lost,
        }
    }
}

fn take(answer: &mut String, piece: Piece) {
    match piece {
        Piece::Token(text) => answer.push_str(&text),
        Piece::Restart => answer.clear(),
    }
}

enum Stop {
    TypedInside,
    Lost,
}

/// Where the stage's text is now, and the edits that turn it into `target`, in the
/// document as it is now: `None` when the person typed inside it.
fn place(
    session: &Session,
    encoding: PositionEncoding,
    input: &ActionInput,
    written: &Written,
    target: &str,
) -> Result<(i32, Vec<lsp::TextEdit>, Range<usize>), Stop> {
    session
        .documents
        .with_document(&input.uri, |document| {
            let changes = document.changes_since(written.version).ok_or(Stop::Lost)?;
            let moved = rebase_range(written.place.clone(), &changes).ok_or(Stop::TypedInside)?;
            if moved.end > document.text().len_chars()
                || document.text().slice(moved.clone()) != written.text.as_str()
            {
                return Err(Stop::TypedInside);
            }
            let edits: Vec<CharEdit> = minimal_edits(&written.text, target)
                .into_iter()
                .map(|edit| CharEdit {
                    start: edit.start + moved.start,
                    end: edit.end + moved.start,
                    new_text: edit.new_text,
                })
                .collect();
            Ok((
                document.version,
                convert::text_edits(document.text(), &edits, encoding),
                moved,
            ))
        })
        .unwrap_or(Err(Stop::Lost))
}

/// Sends a versioned edit; `Ok(true)` when applied.
async fn send(
    client: &Client,
    input: &ActionInput,
    version: i32,
    edits: Vec<lsp::TextEdit>,
) -> Result<bool, String> {
    let uri =
        convert::parse_uri(&input.uri).ok_or_else(|| format!("cannot address {}", input.uri))?;
    let edit = super::workspace_edit::single(uri, Some(version), edits)
        .build(&ClientFacts {
            document_changes: true,
            ..ClientFacts::default()
        })
        .map_err(|error| error.to_string())?;
    match super::workspace_edit::send(client, input.action.label(), edit).await {
        Ok(()) => Ok(true),
        Err(super::workspace_edit::DeliveryError::Refused(_)) => Ok(false),
        Err(error) => Err(error.to_string()),
    }
}

/// One streamed edit: `Ok(None)` when the client refused it (the document moved on).
async fn write(
    session: &Session,
    client: &Client,
    encoding: PositionEncoding,
    input: &ActionInput,
    left: &Left,
    partial: &str,
) -> Result<Option<Written>, Stop> {
    let current = match left {
        Left::Written(written) => written.clone(),
        _ => Written {
            place: input.selection.clone(),
            version: input.version,
            text: input.selected_text(),
        },
    };
    let (version, edits, moved) = place(session, encoding, input, &current, partial)?;
    match send(client, input, version, edits).await {
        Ok(true) => {}
        Ok(false) => return Ok(None),
        Err(error) => {
            tracing::warn!(%error, "a streamed edit failed");
            return Ok(None);
        }
    }
    let reported = reported_version(session, &input.uri, version).await;
    let version = reported.ok_or(Stop::Lost)?;
    Ok(Some(Written {
        place: moved.start..moved.start + partial.chars().count(),
        version,
        text: partial.to_owned(),
    }))
}

/// Waits for the client's report of the edit it applied to `version`: the version that
/// holds it.
async fn reported_version(session: &Session, uri: &str, version: i32) -> Option<i32> {
    let deadline = Instant::now() + REPORT_TIMEOUT;
    loop {
        let after = session
            .documents
            .with_document(uri, |document| document.version_after(version))?;
        if after.is_some() {
            return after;
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Turns the stage's text into `target` (the final replacement, or the original), trying
/// again when the client refuses because the person typed elsewhere at that moment.
async fn put(
    session: &Session,
    client: &Client,
    encoding: PositionEncoding,
    input: &ActionInput,
    written: &Written,
    target: &str,
) -> Result<(), String> {
    if written.text == target {
        return Ok(());
    }
    for _ in 0..PUT_ATTEMPTS {
        let (version, edits, _) = match place(session, encoding, input, written, target) {
            Ok(placed) => placed,
            Err(Stop::TypedInside) => return Err(TYPED_INSIDE.to_owned()),
            Err(Stop::Lost) => return Err(LOST.to_owned()),
        };
        if send(client, input, version, edits).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the editor kept refusing the edit, so the streamed text is still in the buffer (undo puts the original back)".to_owned())
}

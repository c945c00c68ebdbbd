//! The server's state: open documents, the negotiated position encoding and client facts,
//! settings, workspace roots, diagnostics seen in code-action requests, conversations and the
//! running actions. Plain data and synchronous methods: no lock or map guard is ever held
//! across an `.await`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::action::engine::{Engine, Workspace};
use crate::chat::conversation::Conversations;
use crate::config::{EnvSettings, SettingError, Settings};
use crate::text::DocumentStore;
use crate::tools::{FileDiagnostic, Limits, Sandbox, ToolBox, WorkspaceView};

use super::run::settle::EditOrder;

use super::client_facts::ClientFacts;

/// Where the effective settings come from: the environment, then one settings object —
/// `initializationOptions` until the first runtime update, then the latest update, whole.
#[derive(Clone)]
struct SettingsLayers {
    env: EnvSettings,
    init: Value,
    /// The latest `didChangeConfiguration` / `workspace/configuration` that said something.
    latest: Option<Value>,
    /// Shared, never changed in place: an update swaps in a new one, so a request that took
    /// it keeps one consistent snapshot for its whole life without copying it.
    effective: Arc<Settings>,
}

/// A running action, for cancellation.
#[derive(Clone, Debug)]
pub struct Running {
    pub uri: String,
    /// The action's title, for messages ("Explain with AI").
    pub title: String,
    pub token: String,
    pub cancel: CancellationToken,
}

/// What one action reads of the session, taken once when it starts and handed to every
/// stage after: a settings update, a model picked or a root added meanwhile changes nothing
/// of an action already running, and nothing is cloned per stage.
#[derive(Clone)]
pub struct Snapshot {
    pub settings: Arc<Settings>,
    pub facts: ClientFacts,
    /// The model the action asks: the row's, else the one picked, else the setting.
    pub model: String,
}

pub struct Session {
    pub documents: DocumentStore,
    pub conversations: Conversations,
    pub engine: Engine,
    pub completer: crate::completion::Completer,
    /// The edits waiting for the user's Apply/Discard (`edits.review: "confirm"`).
    pub reviews: crate::chat::pending_review::Reviews,
    /// The `workspace/configuration` pull out, if any.
    pub pulls: super::pull::Pulls,
    /// The project rules files read so far (re-read when one changes on disk).
    rules: Arc<crate::action::rules::RulesCache>,
    explain_dir: Option<PathBuf>,
    facts: RwLock<ClientFacts>,
    settings: RwLock<SettingsLayers>,
    roots: RwLock<Vec<PathBuf>>,
    diagnostics: DashMap<String, Vec<FileDiagnostic>>,
    /// Changes reported per document and the turns of unversioned edits.
    pub edit_order: EditOrder,
    /// One answer at a time per transcript.
    pub transcript_locks: crate::chat::files::TranscriptLocks,
    /// Canonical file path → the URI the client opened it under.
    by_path: DashMap<PathBuf, String>,
    running: DashMap<u64, Running>,
    next_action: AtomicU64,
    test_hooks: bool,
    shut_down: std::sync::atomic::AtomicBool,
    /// The model picked with `chatls.selectModel`, and the `model` setting it was picked
    /// under: the choice holds until that setting changes.
    selected_model: RwLock<Option<(String, String)>>,
    /// What `GET {baseUrl}/models` listed, per base URL.
    listed_models: RwLock<Option<(String, Vec<String>)>>,
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

impl Session {
    pub fn new(env: EnvSettings) -> Self {
        let effective = Arc::new(Settings::from_env(&env));
        // One engine: actions and completions share its connection pool and usage ledger.
        let engine = Engine::default();
        Session {
            test_hooks: env.test_hooks,
            explain_dir: env.explain_dir.clone(),
            documents: DocumentStore::new(),
            conversations: Conversations::default(),
            engine: engine.clone(),
            completer: crate::completion::Completer::new(
                engine.client().clone(),
                engine.usage().clone(),
            ),
            reviews: crate::chat::pending_review::Reviews::default(),
            rules: Arc::default(),
            pulls: super::pull::Pulls::default(),
            facts: RwLock::new(ClientFacts::default()),
            settings: RwLock::new(SettingsLayers {
                env,
                init: Value::Null,
                latest: None,
                effective,
            }),
            roots: RwLock::new(Vec::new()),
            diagnostics: DashMap::new(),
            edit_order: EditOrder::default(),
            transcript_locks: Default::default(),
            by_path: DashMap::new(),
            running: DashMap::new(),
            next_action: AtomicU64::new(1),
            shut_down: std::sync::atomic::AtomicBool::new(false),
            selected_model: RwLock::new(None),
            listed_models: RwLock::new(None),
        }
    }

    /// Records that the client sent `shutdown`.
    pub fn mark_shut_down(&self) {
        self.shut_down.store(true, Ordering::Relaxed);
    }

    pub fn was_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Relaxed)
    }

    /// Where explanations are written.
    pub fn explain_dir(&self) -> std::io::Result<PathBuf> {
        match &self.explain_dir {
            Some(dir) => Ok(dir.clone()),
            None => crate::chat::files::default_dir(),
        }
    }

    /// Whether the hidden test commands (`chatls.debug.*`) exist (`CHATLS_TEST_HOOKS=1`).
    pub fn test_hooks(&self) -> bool {
        self.test_hooks
    }

    pub fn facts(&self) -> ClientFacts {
        read(&self.facts)
    }

    pub fn set_facts(&self, facts: ClientFacts) {
        if let Ok(mut guard) = self.facts.write() {
            *guard = facts;
        }
    }

    /// The settings snapshot for one request: cheap to take (an `Arc`), consistent for the
    /// request's whole life even if an update arrives meanwhile.
    pub fn settings(&self) -> Arc<Settings> {
        match self.settings.read() {
            Ok(guard) => guard.effective.clone(),
            Err(poisoned) => poisoned.into_inner().effective.clone(),
        }
    }

    /// Sets the `initializationOptions` layer. On error the previous settings stay.
    pub fn set_init_options(&self, options: Value) -> Result<(), Vec<SettingError>> {
        self.update_settings(|layers| layers.init = options)
    }

    /// A runtime update (`didChangeConfiguration` / `workspace/configuration`): replaces the
    /// `initializationOptions` and any earlier update whole. On error the previous settings stay.
    pub fn set_configuration(&self, options: Value) -> Result<(), Vec<SettingError>> {
        self.update_settings(|layers| layers.latest = Some(options))
    }

    fn update_settings(
        &self,
        change: impl FnOnce(&mut SettingsLayers),
    ) -> Result<(), Vec<SettingError>> {
        let Ok(mut layers) = self.settings.write() else {
            return Ok(());
        };
        let mut candidate = layers.clone();
        change(&mut candidate);
        let base = Settings::from_env(&candidate.env);
        let active = candidate.latest.as_ref().unwrap_or(&candidate.init);
        candidate.effective = Arc::new(Settings::layered(&base, active)?);
        *layers = candidate;
        Ok(())
    }

    /// The model actions use: the one picked with `chatls.selectModel` while the `model`
    /// setting is still the one it was picked under, else the setting.
    pub fn model(&self, settings: &Settings) -> String {
        match read(&self.selected_model) {
            Some((model, under)) if under == settings.model => model,
            _ => settings.model.clone(),
        }
    }

    /// The model for one row: the row's own model wins.
    pub fn model_for(&self, settings: &Settings, row: &crate::action::ActionRow) -> String {
        row.model.clone().unwrap_or_else(|| self.model(settings))
    }

    /// Picks the model until the `model` setting changes.
    pub fn select_model(&self, model: &str) {
        let under = self.settings().model.clone();
        if let Ok(mut guard) = self.selected_model.write() {
            *guard = Some((model.to_owned(), under));
        }
    }

    /// The models `GET {baseUrl}/models` listed for this base URL, when it answered before.
    pub fn listed_models(&self, base_url: &str) -> Option<Vec<String>> {
        read(&self.listed_models)
            .filter(|(listed_for, _)| listed_for == base_url)
            .map(|(_, models)| models)
    }

    pub fn remember_listed_models(&self, base_url: &str, models: Vec<String>) {
        if let Ok(mut guard) = self.listed_models.write() {
            *guard = Some((base_url.to_owned(), models));
        }
    }

    /// The canonical directory transcripts are written to, when it is known.
    pub fn is_transcript(&self, uri: &str) -> bool {
        let (Some(path), Ok(dir)) = (super::convert::uri_path(uri), self.explain_dir()) else {
            return false;
        };
        let canonical =
            |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        path.extension().is_some_and(|ext| ext == "md")
            && path
                .parent()
                .is_some_and(|parent| canonical(parent) == canonical(&dir))
    }

    /// The key of the conversation an action on `uri` continues: a transcript leads to its
    /// conversation by its file, whatever URI it is open under and after it was closed; any
    /// other document by its URI.
    pub fn conversation_key(&self, uri: &str) -> String {
        match super::convert::uri_path(uri) {
            Some(path) if self.is_transcript(uri) => crate::chat::files::conversation_key(&path),
            _ => uri.to_owned(),
        }
    }

    pub fn roots(&self) -> Vec<PathBuf> {
        read(&self.roots)
    }

    pub fn set_roots(&self, roots: Vec<PathBuf>) {
        if let Ok(mut guard) = self.roots.write() {
            *guard = roots;
        }
    }

    /// A sentence for each workspace folder the tools refuse to read (`/`, a folder inside
    /// `.git`, `.ssh`, ...: see `tools::sandbox::check_root`), for the user.
    pub fn root_refusals(roots: &[PathBuf]) -> Vec<String> {
        roots
            .iter()
            .filter_map(|root| match crate::tools::sandbox::check_root(root) {
                Err(crate::tools::sandbox::RootProblem::Refused(reason)) => Some(format!(
                    "chatls: the tools will not read this folder: {reason}"
                )),
                _ => None,
            })
            .collect()
    }

    pub fn remember_diagnostics(&self, uri: &str, diagnostics: Vec<FileDiagnostic>) {
        if diagnostics.is_empty() {
            self.diagnostics.remove(uri);
        } else {
            self.diagnostics.insert(uri.to_owned(), diagnostics);
        }
    }

    /// Notes that the editor changed a document just now.
    pub fn touch(&self, uri: &str) {
        self.edit_order.touch(uri);
    }

    /// The real path of a `file:` URI: symlinks resolved, and `..` collapsed over the real
    /// directories where the rest does not exist (see `tools::sandbox::real_path`).
    pub fn canonical_path(uri: &str) -> Option<PathBuf> {
        let path = super::convert::uri_path(uri)?;
        Some(crate::tools::sandbox::real_path(&path))
    }

    /// Remembers where an opened document lives on disk, for the tools.
    pub fn index_document(&self, uri: &str) {
        if let Some(path) = Self::canonical_path(uri) {
            self.by_path.insert(path, uri.to_owned());
        }
    }

    /// The URI under which the editor has this file open, if it does.
    pub fn open_uri(&self, path: &Path) -> Option<String> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.by_path.get(&canonical).map(|uri| uri.clone())
    }

    pub fn forget_document(&self, uri: &str) {
        self.by_path.retain(|_, indexed| indexed != uri);
        self.diagnostics.remove(uri);
        self.edit_order.forget(uri);
        self.conversations.close(uri);
        self.completer.forget(uri);
        self.cancel_document(uri);
    }

    /// Registers a new running action and returns its id and cancellation token.
    pub fn start_action(&self, uri: &str, title: &str) -> (u64, Running) {
        let id = self.next_action.fetch_add(1, Ordering::Relaxed);
        let running = Running {
            uri: uri.to_owned(),
            title: title.to_owned(),
            token: format!("chatls/{id}"),
            cancel: CancellationToken::new(),
        };
        self.running.insert(id, running.clone());
        (id, running)
    }

    pub fn finish_action(&self, id: u64) {
        self.running.remove(&id);
    }

    /// Cancels every running action of a document; returns how many.
    pub fn cancel_document(&self, uri: &str) -> usize {
        let mut count = 0;
        for entry in self.running.iter() {
            if entry.uri == uri {
                entry.cancel.cancel();
                count += 1;
            }
        }
        count
    }

    /// Cancels the action whose progress token this is.
    pub fn cancel_token(&self, token: &str) -> bool {
        let mut found = false;
        for entry in self.running.iter() {
            if entry.token == token {
                entry.cancel.cancel();
                found = true;
            }
        }
        found
    }

    /// Cancels every running action; returns how many.
    pub fn cancel_all(&self) -> usize {
        self.completer.cancel_all();
        let mut count = 0;
        for entry in self.running.iter() {
            entry.cancel.cancel();
            count += 1;
        }
        count
    }

    /// The snapshot one action of `row` runs on, over the request's `settings`.
    pub fn snapshot(&self, settings: Arc<Settings>, row: &crate::action::ActionRow) -> Snapshot {
        Snapshot {
            model: self.model_for(&settings, row),
            facts: self.facts(),
            settings,
        }
    }

    /// The sandbox and tools for one action, over the current roots and settings.
    pub fn workspace(self: &Arc<Self>, settings: &Settings) -> Workspace {
        let limits = Limits::default();
        let sandbox = Sandbox::new(self.roots(), &settings.tools_deny);
        let view: Arc<dyn WorkspaceView> = Arc::new(SessionView(Arc::clone(self)));
        Workspace {
            toolbox: ToolBox::new(sandbox.clone(), view, limits.clone()),
            sandbox,
            limits,
            rules: Arc::clone(&self.rules),
        }
    }

    /// The workspace-relative path of a file for prompts, else the URI.
    pub fn display_path(&self, uri: &str, path: Option<&Path>) -> String {
        let Some(path) = path else {
            return uri.to_owned();
        };
        for root in self.roots() {
            if let Ok(relative) = path.strip_prefix(&root) {
                return relative.to_string_lossy().replace('\\', "/");
            }
        }
        path.to_string_lossy().into_owned()
    }
}

/// What the tools see of the editor: unsaved buffers and remembered diagnostics.
struct SessionView(Arc<Session>);

impl WorkspaceView for SessionView {
    /// `path` is canonical (the sandbox resolved it); the client may spell the same file
    /// differently (a symlinked root, say), so the canonical index is asked first.
    fn open_buffer(&self, path: &Path) -> Option<String> {
        let uri = self
            .0
            .by_path
            .get(path)
            .map(|uri| uri.clone())
            .or_else(|| super::convert::file_uri(path))?;
        self.0
            .documents
            .with_document(&uri, |document| document.contents())
    }

    fn open_document(&self, path: &Path) -> Option<(String, Option<i32>)> {
        let uri = self
            .0
            .by_path
            .get(path)
            .map(|uri| uri.clone())
            .or_else(|| super::convert::file_uri(path))?;
        self.0.documents.with_document(&uri, |document| {
            (document.contents(), Some(document.version))
        })
    }

    fn diagnostics(&self, path: Option<&Path>) -> Vec<FileDiagnostic> {
        self.0
            .diagnostics
            .iter()
            .flat_map(|entry| entry.value().clone())
            .filter(|diagnostic| path.is_none_or(|path| diagnostic.path == path))
            .collect()
    }
}

//! One way to start a session for the LSP suites: a fake upstream, a workspace of files, the
//! real server (in-process or the built binary), `initialize` as a given editor, settings,
//! and the documents the person has open.
//!
//! ```ignore
//! let s = Fixture::new()
//!     .client(Editor::Helix)
//!     .settings(json!({"edits": {"review": "confirm"}}))
//!     .file("src/lib.rs", CODE)
//!     .open("src/lib.rs")
//!     .replies(vec![answer_with("...")])
//!     .start()
//!     .await;
//! ```
//!
//! The editors' capabilities are the real ones, the same bytes `e2e/` reads
//! (`e2e/capabilities/*.json`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatls_fake_upstream::{FakeUpstream, Reply};
use serde_json::{Value, json};

use super::{Client, capabilities, env, file_uri, workspace};

/// The API key a fixture's server runs with unless told otherwise.
pub const FIXTURE_KEY: &str = "sk-test-fixture-3c9d";

/// An editor chatls is tested against, as it presents itself in `initialize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Editor {
    /// vscode-languageclient 9 in VS Code: `documentChanges`, change annotations,
    /// `showDocument`, utf-16 only, reports every applied edit back with `didChange`.
    VsCode,
    /// Neovim 0.11: no `documentChanges`, utf-8 first, `didChange` held back 150 ms.
    Neovim,
    /// Helix 25.07: `documentChanges`, no change annotations, handles `showDocument`
    /// without advertising it, reports applied edits back.
    Helix,
}

const VS_CODE_CAPABILITIES: &str = include_str!("../../e2e/capabilities/vscode.json");
const NEOVIM_CAPABILITIES: &str = include_str!("../../e2e/capabilities/neovim.json");
const HELIX_CAPABILITIES: &str = include_str!("../../e2e/capabilities/helix.json");

impl Editor {
    /// The editor's real `initialize` capabilities.
    pub fn capabilities(self) -> Value {
        let text = match self {
            Editor::VsCode => VS_CODE_CAPABILITIES,
            Editor::Neovim => NEOVIM_CAPABILITIES,
            Editor::Helix => HELIX_CAPABILITIES,
        };
        serde_json::from_str(text).expect("e2e/capabilities holds JSON")
    }

    /// `clientInfo` as the editor sends it.
    pub fn client_info(self) -> Value {
        match self {
            Editor::VsCode => json!({"name": "Visual Studio Code", "version": "1.106.0"}),
            Editor::Neovim => json!({"name": "Neovim", "version": "0.11.4"}),
            Editor::Helix => json!({"name": "helix", "version": "25.07 (a1b2c3d4)"}),
        }
    }
}

/// How the server under test runs.
#[derive(Clone, Debug)]
enum Transport {
    InProcess,
    /// The built binary with these arguments and extra environment variables.
    Binary {
        args: Vec<String>,
        vars: Vec<(String, String)>,
    },
}

type EnvHook = Box<dyn FnOnce(&mut chatls::config::EnvSettings) + Send>;
type ClientHook = Box<dyn FnOnce(&Client) + Send>;
type SettingsHook = Box<dyn FnOnce(&FakeUpstream) -> Value + Send>;

/// A session to be started; see the module's example.
pub struct Fixture {
    replies: Vec<Reply>,
    capabilities: Value,
    client_info: Option<Value>,
    neovim_debounce: Option<Duration>,
    echo_edits: bool,
    configuration: bool,
    settings: Value,
    settings_from_fake: Option<SettingsHook>,
    files: Vec<(String, String)>,
    open: Vec<String>,
    key: Option<String>,
    hold_message_requests: bool,
    root: bool,
    /// An existing directory as the workspace root instead of a fresh one.
    root_at: Option<PathBuf>,
    /// Workspace folders (the first is also the root URI) instead of the root.
    folders: Option<Vec<PathBuf>>,
    transport: Transport,
    env_hook: Option<EnvHook>,
    before_initialize: Option<ClientHook>,
    default_reply: Option<Reply>,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// A started session. `uri` is the first opened document's (empty when none is open).
pub struct Session {
    pub fake: FakeUpstream,
    pub client: Client,
    /// The fresh workspace (unused when the fixture was given `root_at`).
    pub dir: tempfile::TempDir,
    /// The workspace root: `dir`, or the directory given to `root_at`.
    pub root: PathBuf,
    pub explain_dir: tempfile::TempDir,
    pub uri: String,
    /// The whole `initialize` response.
    pub initialized: Value,
}

impl Session {
    /// The `file://` URI of a workspace file.
    pub fn uri_of(&self, path: &str) -> String {
        file_uri(&self.root.join(path))
    }

    /// Where a workspace file is on disk.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    pub fn explain_path(&self) -> &Path {
        self.explain_dir.path()
    }

    /// Starts a `chatls.*` action on `range` of the first opened document; its progress
    /// token.
    pub async fn start_action(&self, command: &str, range: Value) -> String {
        self.client
            .run_action(command, json!({"uri": self.uri, "range": range}))
            .await
    }
}

/// The `languageId` an editor gives a file of this name.
pub fn language_of(path: &str) -> &'static str {
    match Path::new(path).extension().and_then(|ext| ext.to_str()) {
        Some("rs") => "rust",
        Some("py") => "python",
        Some("md") => "markdown",
        Some("go") => "go",
        Some("js") => "javascript",
        Some("ts") => "typescript",
        Some("toml") => "toml",
        Some("json") => "json",
        _ => "plaintext",
    }
}

impl Fixture {
    /// A bare client (utf-16, `documentChanges`, progress and `showDocument`, no pulled
    /// configuration, no `clientInfo`), a canary key, an empty workspace.
    pub fn new() -> Fixture {
        Fixture {
            replies: Vec::new(),
            capabilities: capabilities(&["utf-16"], true),
            client_info: None,
            neovim_debounce: None,
            echo_edits: false,
            configuration: false,
            settings: Value::Null,
            settings_from_fake: None,
            files: Vec::new(),
            open: Vec::new(),
            key: Some(FIXTURE_KEY.to_owned()),
            hold_message_requests: false,
            root: true,
            root_at: None,
            folders: None,
            transport: Transport::InProcess,
            env_hook: None,
            before_initialize: None,
            default_reply: None,
        }
    }

    /// Initialize as this editor: its real capabilities and `clientInfo`, and its way of
    /// reporting applied edits back (Neovim's held-back `didChange` included). An editor
    /// that pulls `workspace/configuration` answers with the fixture's settings, as the
    /// shipped editor configurations do.
    pub fn client(mut self, editor: Editor) -> Fixture {
        self.capabilities = editor.capabilities();
        self.client_info = Some(editor.client_info());
        self.configuration = true;
        self.echo_edits = editor != Editor::Neovim;
        self.neovim_debounce = (editor == Editor::Neovim).then(|| Duration::from_millis(150));
        self
    }

    /// Initialize with these capabilities (a client that is none of the editors).
    pub fn capabilities(mut self, capabilities: Value) -> Fixture {
        self.capabilities = capabilities;
        self
    }

    /// The bare client's capabilities with these position encodings and `documentChanges`.
    pub fn bare(self, encodings: &[&str], document_changes: bool) -> Fixture {
        self.capabilities(capabilities(encodings, document_changes))
    }

    /// `clientInfo.name` in `initialize`.
    pub fn client_name(mut self, name: &str) -> Fixture {
        self.client_info = Some(json!({"name": name}));
        self
    }

    /// `initializationOptions` (and the answer to a configuration pull, for an editor).
    pub fn settings(mut self, settings: Value) -> Fixture {
        self.settings = settings;
        self
    }

    /// Settings that name the fake upstream (its port, as a proxy's address), made once it
    /// runs; they replace [`Fixture::settings`].
    pub fn settings_with(
        mut self,
        settings: impl FnOnce(&FakeUpstream) -> Value + Send + 'static,
    ) -> Fixture {
        self.settings_from_fake = Some(Box::new(settings));
        self
    }

    /// A file in the workspace (on disk).
    pub fn file(mut self, path: &str, text: &str) -> Fixture {
        self.files.push((path.to_owned(), text.to_owned()));
        self
    }

    /// Opens a workspace file in the editor (`didOpen` with its text on disk).
    pub fn open(mut self, path: &str) -> Fixture {
        self.open.push(path.to_owned());
        self
    }

    /// The upstream's scripted replies, in order.
    pub fn replies(mut self, replies: Vec<Reply>) -> Fixture {
        self.replies = replies;
        self
    }

    pub fn reply(mut self, reply: Reply) -> Fixture {
        self.replies.push(reply);
        self
    }

    /// What the upstream answers once the scripted replies are used up.
    pub fn default_reply(mut self, reply: Reply) -> Fixture {
        self.default_reply = Some(reply);
        self
    }

    /// Set up the scripted editor before `initialize` (e.g. requests it leaves unanswered).
    pub fn before_initialize(mut self, hook: impl FnOnce(&Client) + Send + 'static) -> Fixture {
        self.before_initialize = Some(Box::new(hook));
        self
    }

    /// The API key (`None`: the server runs without one).
    pub fn key(mut self, key: Option<&str>) -> Fixture {
        self.key = key.map(str::to_owned);
        self
    }

    /// Report applied edits back with `didChange` (as VS Code and Helix do), or not.
    pub fn echo_edits(mut self, echo: bool) -> Fixture {
        self.echo_edits = echo;
        self
    }

    /// Hold `didChange` back as Neovim does, with this debounce.
    pub fn neovim_debounce(mut self, debounce: Duration) -> Fixture {
        self.neovim_debounce = Some(debounce);
        self
    }

    /// Leave `window/showMessageRequest` unanswered until `Client::answer_held`.
    pub fn hold_message_requests(mut self) -> Fixture {
        self.hold_message_requests = true;
        self
    }

    /// Initialize with no root and no workspace folders (Helix without root markers).
    pub fn no_root(mut self) -> Fixture {
        self.root = false;
        self
    }

    /// Use this existing directory as the workspace (files and `open` paths are relative to
    /// it), e.g. one a test laid out with symlinks.
    pub fn root_at(mut self, root: &Path) -> Fixture {
        self.root_at = Some(root.to_path_buf());
        self
    }

    /// Initialize with these workspace folders (the first is also the root URI); `open`
    /// paths are then absolute.
    pub fn folders(mut self, folders: &[PathBuf]) -> Fixture {
        self.folders = Some(folders.to_vec());
        self
    }

    /// Change the in-process server's environment settings (tuning, test hooks...).
    pub fn env(
        mut self,
        hook: impl FnOnce(&mut chatls::config::EnvSettings) + Send + 'static,
    ) -> Fixture {
        self.env_hook = Some(Box::new(hook));
        self
    }

    /// Run the built binary instead, with these arguments and extra environment variables
    /// (the upstream, key, model and explain directory are set by the fixture).
    pub fn binary(mut self, args: &[&str], vars: &[(&str, String)]) -> Fixture {
        self.transport = Transport::Binary {
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            vars: vars
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
        };
        self
    }

    pub async fn start(self) -> Session {
        let fake = FakeUpstream::start(self.replies)
            .await
            .expect("fake upstream");
        if let Some(reply) = self.default_reply {
            fake.set_default(reply);
        }
        let settings = match self.settings_from_fake {
            Some(make) => make(&fake),
            None => self.settings,
        };
        let files: Vec<(&str, &str)> = self
            .files
            .iter()
            .map(|(path, text)| (path.as_str(), text.as_str()))
            .collect();
        let dir = workspace(&[]);
        let root = self
            .root_at
            .clone()
            .unwrap_or_else(|| dir.path().to_path_buf());
        for (path, text) in &files {
            let path = root.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&path, text).expect("write");
        }
        let explain_dir = tempfile::tempdir().expect("tempdir");
        let client = match &self.transport {
            Transport::InProcess => {
                let mut settings = env(&fake.base_url(), self.key.as_deref(), explain_dir.path());
                if let Some(hook) = self.env_hook {
                    hook(&mut settings);
                }
                Client::in_process(settings)
            }
            Transport::Binary { args, vars } => {
                let mut env = vec![
                    ("CHATLS_BASE_URL", fake.base_url()),
                    ("CHATLS_MODEL", "test-model".to_owned()),
                    (
                        "CHATLS_EXPLAIN_DIR",
                        explain_dir.path().display().to_string(),
                    ),
                ];
                if let Some(key) = &self.key {
                    env.push(("CHATLS_API_KEY", key.clone()));
                }
                env.extend(
                    vars.iter()
                        .map(|(name, value)| (name.as_str(), value.clone())),
                );
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Client::binary_with_args(&args, &env)
            }
        };
        client.set_echo_edits(self.echo_edits);
        if self.hold_message_requests {
            client.set_hold_message_requests(true);
        }
        if self.configuration {
            client.set_configuration(settings.clone());
            client.set_configuration_follows_notifications(true);
        }
        if let Some(hook) = self.before_initialize {
            hook(&client);
        }
        let (root_uri, folders) = match &self.folders {
            Some(folders) => {
                let uris: Vec<String> = folders.iter().map(|folder| file_uri(folder)).collect();
                let named: Vec<Value> = uris
                    .iter()
                    .map(|uri| json!({"uri": uri, "name": "folder"}))
                    .collect();
                (uris.first().cloned(), Some(Value::Array(named)))
            }
            None => {
                let root_uri = self.root.then(|| file_uri(&root));
                let folders = root_uri
                    .as_ref()
                    .map(|uri| json!([{"uri": uri, "name": "root"}]));
                (root_uri, folders)
            }
        };
        let mut params = json!({
            "processId": null,
            "rootUri": root_uri,
            "capabilities": self.capabilities,
            "initializationOptions": settings,
            "workspaceFolders": folders,
        });
        if let Some(info) = self.client_info {
            params["clientInfo"] = info;
        }
        let initialized = client.request("initialize", params).await;
        assert!(
            initialized.get("error").is_none(),
            "initialize failed: {initialized}"
        );
        if let Some(encoding) = initialized["result"]["capabilities"]["positionEncoding"].as_str() {
            client.set_encoding(encoding);
        }
        client.notify("initialized", json!({})).await;
        if let Some(debounce) = self.neovim_debounce {
            client.set_neovim_like(debounce);
        }
        let mut first = None;
        for path in &self.open {
            let text = std::fs::read_to_string(root.join(path)).expect("an opened file is on disk");
            let uri = file_uri(&root.join(path));
            client.open(&uri, language_of(path), &text).await;
            first.get_or_insert(uri);
        }
        Session {
            fake,
            client,
            dir,
            root,
            explain_dir,
            uri: first.unwrap_or_default(),
            initialized,
        }
    }
}

/**
 * The chatls VS Code extension: starts the `chatls` language server over stdio with
 * vscode-languageclient, hands it the `chatls.*` settings and the API key from secret
 * storage, adds palette commands for the selection, and opens explanations as a markdown
 * preview beside the code. Progress of running actions is the server's work-done progress,
 * which the language client shows in the status bar.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { type Readable } from 'node:stream';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  ResponseError,
  type ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import {
  API_KEY_SECRET,
  type Action,
  actionArguments,
  type ActionArguments,
  buildServerSettings,
  chatlsCacheDirs,
  didChangeConfigurationParams,
  isExplanationDocument,
  SERVER_COMMANDS,
  serverCommand,
  type ServerSettings,
} from './settings';
import { actionItems, actionRows, describeUsage, modelItems, pendingFollowUp } from './palette';
import { describeCrashes, describeStartFailure, RestartBudget, StderrTail } from './startup';

let client: ChatlsClient | undefined;
let statusItem: vscode.StatusBarItem | undefined;
let outputChannel: vscode.LogOutputChannel | undefined;
/** What the current server process wrote to stderr, for a start-up failure's message. */
const serverStderr = new StderrTail();
/** Settles when the current server process's stderr has closed (all its lines are read). */
let stderrClosed: Promise<void> = Promise.resolve();

/**
 * The language client, except that it never pops its own generic notices ("couldn't create
 * connection to server", "Restarting server failed") while the server is not running: the
 * extension reports a failed start once, with the server's own words from its stderr.
 */
class ChatlsClient extends LanguageClient {
  override error(message: string, data?: unknown, showNotification?: boolean | 'force'): void {
    super.error(message, data, this.state === State.Running ? showNotification : false);
  }
}

async function currentSettings(context: vscode.ExtensionContext): Promise<ServerSettings> {
  const apiKey = await context.secrets.get(API_KEY_SECRET);
  // A plain copy of the whole section (the configuration object also carries methods).
  const section: unknown = JSON.parse(JSON.stringify(vscode.workspace.getConfiguration('chatls')));
  return buildServerSettings(section, apiKey);
}

/** The server shipped in this extension's platform .vsix (`server/chatls`), if there is one;
 * made executable if the unpacking lost the bit. */
function bundledServer(context: vscode.ExtensionContext): string | undefined {
  const file = path.join(context.extensionPath, 'server', process.platform === 'win32' ? 'chatls.exe' : 'chatls');
  if (!fs.existsSync(file)) return undefined;
  if (process.platform !== 'win32') {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      try {
        fs.chmodSync(file, 0o755);
      } catch {
        // Left as it is: the start-up failure will say the server cannot be run.
      }
    }
  }
  return file;
}

/** The model the server uses for actions, shown in the status bar; undefined until known. */
let currentModel: string | undefined;
/** The transcript the server last opened, for Send Follow-up from its preview. */
let lastTranscript: vscode.Uri | undefined;

function showRunning(): void {
  const model = currentModel === undefined ? '' : ` ${currentModel}`;
  updateStatus(
    `$(comment-discussion) chatls${model}`,
    `chatls is running${currentModel === undefined ? '' : ` with the model ${currentModel}`}: select code and use the light bulb or "chatls: …" commands; click to cancel running actions`,
    `chatls is running${currentModel === undefined ? '' : `, model ${currentModel}`}`,
  );
}

/** Asks the server which model it uses (after a start, a setting change or a choice). */
async function refreshModel(): Promise<void> {
  const active = client;
  if (active === undefined || !active.isRunning()) return;
  try {
    const answer: unknown = await active.sendRequest(ExecuteCommandRequest.type, {
      command: SERVER_COMMANDS.listModels,
      arguments: [],
    });
    currentModel = modelItems(answer).current;
    if (client === active && active.isRunning()) showRunning();
  } catch (error) {
    outputChannel?.info(`chatls: could not ask the server for its model: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function updateStatus(text: string, tooltip: string, label: string): void {
  if (statusItem === undefined) return;
  statusItem.text = text;
  statusItem.tooltip = tooltip;
  statusItem.accessibilityInformation = { label };
  statusItem.show();
}

/** Feeds each line of `input` to `onLine`. */
function eachLine(input: Readable, onLine: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', onLine);
}

/** Waits (at most `ms`) for the server's stderr to close, so its last words are read. */
async function stderrSettled(ms: number): Promise<void> {
  // At least one turn of the event loop: the failed start() settles right after the state
  // change that asks for the report, and its error is wanted too.
  await new Promise<void>((resolve) => setTimeout(resolve, 50));
  await Promise.race([stderrClosed, new Promise<void>((resolve) => setTimeout(resolve, ms))]);
}

/** Tells the user, once, why the server did not start (or stopped for good), from its stderr
 * or the spawn error. */
async function reportStartFailure(command: string, error: () => unknown, crashes?: number): Promise<void> {
  await stderrSettled(1000);
  const lines = serverStderr.lines();
  const failure =
    crashes === undefined ? describeStartFailure(command, error(), lines) : describeCrashes(command, crashes, lines);
  outputChannel?.error(failure.message);
  const buttons = failure.setting === undefined ? ['Show Output'] : ['Open Settings', 'Show Output'];
  const choice = await vscode.window.showErrorMessage(failure.message, ...buttons);
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', failure.setting);
  } else if (choice === 'Show Output') {
    outputChannel?.show(true);
  }
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const command = serverCommand(vscode.workspace.getConfiguration('chatls').get('serverPath'), bundledServer(context));
  // vscode-languageclient appends `--stdio` to the command line for this transport, as it
  // does for every language server; chatls accepts it.
  const serverOptions: ServerOptions = {
    run: { command, transport: TransportKind.stdio },
    debug: { command, transport: TransportKind.stdio, options: { env: { ...process.env, CHATLS_LOG: 'chatls=debug' } } },
  };
  const cacheDirs = chatlsCacheDirs(process.platform, process.env, os.homedir());
  const restarts = new RestartBudget();
  serverStderr.clear();
  // Why start() failed, when it says (a spawn error such as ENOENT); the report is made on
  // the state change to StartFailed, which also comes when the library restarts the server
  // itself, and when start() resolves although the connection closed first.
  let startError: unknown;
  let startFailed = false;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: await currentSettings(context),
    outputChannel,
    // Without this the client pops the raw JSON-RPC error ("Pending response rejected since
    // connection got disposed") when the server dies before answering; the start() failure
    // below is reported instead, with the server's stderr.
    initializationFailedHandler: () => false,
    stdioOptions: {
      stdout: (input, channel) => eachLine(input, (line) => channel.info(line)),
      stderr: (input, channel) => {
        serverStderr.clear();
        stderrClosed = new Promise((resolve) => input.once('close', () => resolve()));
        eachLine(input, (line) => {
          serverStderr.push(line);
          channel.info(line);
        });
      },
    },
    errorHandler: {
      // A write to a server that has gone (EPIPE) is followed by `closed`, which decides.
      error: (_error, _message, count) => ({
        action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        handled: true,
      }),
      closed: () => {
        // A server that never answered `initialize` will not start on a retry either.
        if (newClient.state !== State.Running) return { action: CloseAction.DoNotRestart, handled: true };
        if (restarts.allow(Date.now())) return { action: CloseAction.Restart, handled: true };
        void reportStartFailure(command, () => undefined, restarts.limit + 1);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    middleware: {
      executeCommand: async (command, args, next) => {
        if (command === SERVER_COMMANDS.selectModel && args.length === 0) {
          return selectModel(newClient, (chosen) => Promise.resolve(next(command, chosen)));
        }
        // "Change with AI" from the light bulb: the instruction is required, so ask for it.
        const first = args[0] as Record<string, unknown> | undefined;
        if (command === SERVER_COMMANDS.run && first?.action === 'change' && typeof first.instruction !== 'string') {
          const instruction = await askChangeInstruction('Change with AI');
          if (instruction === undefined) return undefined;
          return (await next(command, [{ ...first, instruction }])) as unknown;
        }
        return (await next(command, args)) as unknown;
      },
      window: {
        // Explanations are markdown files in chatls's cache dir: show them rendered, beside
        // the code, each in a preview of its own (a locked preview is not reused for the
        // next explanation, an unlocked one would be).
        showDocument: async (params, token, next) => {
          if (isExplanationDocument(params.uri, cacheDirs, process.platform)) {
            lastTranscript = vscode.Uri.parse(params.uri);
            try {
              await vscode.commands.executeCommand('markdown.showLockedPreviewToSide', vscode.Uri.parse(params.uri));
              return { success: true };
            } catch {
              // Markdown preview unavailable (disabled built-in extension): open it as text.
            }
          }
          const shown = await next(params, token);
          return shown instanceof ResponseError ? { success: false } : shown;
        },
      },
      workspace: {
        // If the server pulls its settings, answer with the same object it gets pushed,
        // which includes the API key from secret storage.
        configuration: async (params, token, next) => {
          const answers = (await next(params, token)) as unknown;
          if (!Array.isArray(answers)) return answers as ResponseError<void>;
          const pulled = answers as unknown[];
          const settings = await currentSettings(context);
          return params.items.map((item, index): unknown => (item.section === 'chatls' ? settings : pulled[index]));
        },
      },
    },
  };

  const newClient = new ChatlsClient('chatls', 'chatls', serverOptions, clientOptions);
  newClient.onDidChangeState((event) => {
    switch (event.newState) {
      case State.Running:
        showRunning();
        void refreshModel();
        break;
      case State.StartFailed:
        startFailed = true;
        updateStatus('$(error) chatls', 'chatls did not start: run "chatls: Restart Server"', 'chatls did not start');
        if (client === newClient && !restartQueued) void reportStartFailure(command, () => startError);
        break;
      case State.Stopped:
        // The client cleans up after a failed start (StartFailed → Stopped): keep saying why.
        if (!startFailed) {
          updateStatus('$(circle-slash) chatls', 'chatls is stopped: run "chatls: Restart Server"', 'chatls is stopped');
        }
        break;
      default:
        startFailed = false;
        updateStatus('$(sync~spin) chatls', 'chatls is starting', 'chatls is starting');
    }
  });
  client = newClient;
  outputChannel?.info(`chatls: starting the server "${command}"`);
  try {
    await newClient.start();
  } catch (error) {
    startError = error;
    outputChannel?.info(`chatls: the server "${command}" did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Starts and stops run one after the other (a restart requested while one is queued is
 * the same restart), so two quick setting changes never leave two servers running. */
let lifecycle: Promise<void> = Promise.resolve();
let restartQueued = false;
let serverPathTimer: ReturnType<typeof setTimeout> | undefined;
const SERVER_PATH_SETTLE_MS = 1000;

function scheduleRestart(context: vscode.ExtensionContext): Promise<void> {
  if (restartQueued) return lifecycle;
  restartQueued = true;
  lifecycle = lifecycle
    .then(async () => {
      restartQueued = false;
      await stopClient();
      await startClient(context);
    })
    .catch((error: unknown) => {
      outputChannel?.error(`chatls: restarting the server failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  return lifecycle;
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old === undefined) return;
  try {
    if (old.isRunning()) await old.stop(2000);
  } catch {
    // The server may already be gone; nothing else to do.
  }
  await old.dispose().catch(() => undefined);
}

async function pushSettings(context: vscode.ExtensionContext): Promise<void> {
  if (client === undefined || !client.isRunning()) return;
  const settings = await currentSettings(context);
  await client.sendNotification(DidChangeConfigurationNotification.type, didChangeConfigurationParams(settings));
  await refreshModel();
}

function runningClient(): LanguageClient | undefined {
  if (client !== undefined && client.isRunning()) return client;
  void vscode.window.showErrorMessage('chatls: the server is not running; run "chatls: Restart Server"');
  return undefined;
}

async function runAction(action: Action): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage('chatls: open a file and select some code first');
    return;
  }
  const active = runningClient();
  if (active === undefined) return;
  let instruction: string | undefined;
  if (action !== 'explain') {
    instruction = await vscode.window.showInputBox({
      title: action === 'refactor' ? 'chatls: Refactor Selection' : 'chatls: Fix Selection',
      prompt: 'What should the model do? (optional, Enter to skip)',
      placeHolder: action === 'refactor' ? 'e.g. use early returns' : 'e.g. the average is wrong for even lengths',
      ignoreFocusOut: true,
    });
    if (instruction === undefined) return; // Escape: the user changed their mind.
  }
  const converter = active.code2ProtocolConverter;
  const args = actionArguments(
    action,
    converter.asUri(editor.document.uri),
    converter.asRange(editor.selection),
    instruction,
  );
  try {
    await active.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMANDS[action], arguments: [args] });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    void vscode.window.showErrorMessage(`chatls: ${action} failed: ${message}`);
  }
}

async function runDocumentCommand(command: 'cancel' | 'resetConversation'): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const active = runningClient();
  if (editor === undefined || active === undefined) return;
  const uri = active.code2ProtocolConverter.asUri(editor.document.uri);
  try {
    await active.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMANDS[command], arguments: [{ uri }] });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    void vscode.window.showErrorMessage(`chatls: ${message}`);
  }
}

/** Sends one `workspace/executeCommand`; a refusal is shown with the server's words. */
async function serverCommandRequest(active: LanguageClient, command: string, args: unknown[]): Promise<unknown> {
  try {
    return await active.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    void vscode.window.showErrorMessage(message.startsWith('chatls') ? message : `chatls: ${message}`);
    return undefined;
  }
}

/** The active editor's document and selection as the server's {uri, range}. */
function selectionArguments(active: LanguageClient): ActionArguments | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage('chatls: open a file and select some code first');
    return undefined;
  }
  const converter = active.code2ProtocolConverter;
  return actionArguments('explain', converter.asUri(editor.document.uri), converter.asRange(editor.selection));
}

/** chatls: Ask About Selection — a question of the person's own (`chatls.ask`); the answer
 * goes to the transcript, opened beside the code. */
async function askSelection(): Promise<void> {
  const active = runningClient();
  if (active === undefined) return;
  const args = selectionArguments(active);
  if (args === undefined) return;
  const question = await vscode.window.showInputBox({
    title: 'chatls: Ask About Selection',
    prompt: 'Your question about the selected code',
    placeHolder: 'e.g. why is this slow?',
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() === '' ? 'Type a question (Escape to cancel)' : undefined),
  });
  if (question === undefined || question.trim() === '') return;
  await serverCommandRequest(active, SERVER_COMMANDS.ask, [{ ...args, question: question.trim() }]);
}

/**
 * chatls: Select Model — the server's list (`chatls.listModels`), the current one marked.
 * `chatls.selectModel` is also the server's command, which the language client registers as a
 * VS Code command of the same id; run from the palette it has no argument, and this picker
 * (from the client's executeCommand middleware) supplies `{model}`.
 */
async function selectModel(active: LanguageClient, send: (args: unknown[]) => Promise<unknown>): Promise<unknown> {
  const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { value: string }>();
  pick.title = 'chatls: Select Model';
  pick.placeholder = 'The model for actions and questions';
  pick.busy = true;
  pick.show();
  const answer = await serverCommandRequest(active, SERVER_COMMANDS.listModels, []);
  const { current, items } = modelItems(answer);
  pick.items = items;
  pick.busy = false;
  if (current !== undefined) pick.placeholder = `Now ${current}`;
  const chosen = await new Promise<string | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0]?.value));
    pick.onDidHide(() => resolve(undefined));
  });
  pick.dispose();
  if (chosen === undefined) return undefined;
  const result = await send([{ model: chosen }]);
  currentModel = chosen;
  showRunning();
  return result;
}

/** The instruction of a change across files (required): undefined when the person gives none. */
async function askChangeInstruction(title: string): Promise<string | undefined> {
  const instruction = await vscode.window.showInputBox({
    title: `chatls: ${title}`,
    prompt: 'What should change, across which files? (you review every file before it is applied)',
    placeHolder: 'e.g. rename parse_config to load_config and update the callers and tests',
    ignoreFocusOut: true,
    validateInput: (text) => (text.trim() === '' ? 'An instruction is needed' : undefined),
  });
  const trimmed = instruction?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** chatls: Run Action… — every row of the server's table (`chatls.listActions`), custom rows
 * included; an edit row asks for an optional instruction. */
async function runTableAction(): Promise<void> {
  const active = runningClient();
  if (active === undefined) return;
  const args = selectionArguments(active);
  if (args === undefined) return;
  const rows = actionRows(await serverCommandRequest(active, SERVER_COMMANDS.listActions, []));
  if (rows.length === 0) return;
  const chosen = await vscode.window.showQuickPick(actionItems(rows), {
    title: 'chatls: Run Action…',
    placeHolder: 'An action of the table on the selection',
    matchOnDetail: true,
  });
  if (chosen === undefined) return;
  const row = rows.find((candidate) => candidate.id === chosen.value);
  let instruction: string | undefined;
  if (row?.kind === 'workspace') {
    instruction = await askChangeInstruction(chosen.label);
    if (instruction === undefined) return;
  } else if (row?.kind === 'edit') {
    instruction = await vscode.window.showInputBox({
      title: `chatls: ${chosen.label}`,
      prompt: 'What should the model do? (optional, Enter to skip)',
      ignoreFocusOut: true,
    });
    if (instruction === undefined) return;
  }
  const argument: Record<string, unknown> = { ...args, action: chosen.value };
  if (instruction !== undefined && instruction.trim() !== '') argument.instruction = instruction.trim();
  await serverCommandRequest(active, SERVER_COMMANDS.run, [argument]);
}

/** chatls: Send Follow-up — the text under the transcript's last "## You" goes to the same
 * conversation (`chatls.followUp`). From the preview, or with nothing written yet, it asks for
 * the text and writes it there first. */
async function sendFollowUp(cacheDirs: readonly string[]): Promise<void> {
  const active = runningClient();
  if (active === undefined) return;
  const editorUri = vscode.window.activeTextEditor?.document.uri;
  const uri =
    editorUri !== undefined && isExplanationDocument(editorUri.toString(), cacheDirs, process.platform) ? editorUri : lastTranscript;
  if (uri === undefined) {
    void vscode.window.showInformationMessage('chatls: Send Follow-up works on a transcript: ask or explain something first');
    return;
  }
  const document = await vscode.workspace.openTextDocument(uri);
  if (pendingFollowUp(document.getText()) === undefined) {
    const text = await vscode.window.showInputBox({
      title: 'chatls: Send Follow-up',
      prompt: 'Your follow-up, in the same conversation',
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() === '' ? 'Type a follow-up (Escape to cancel)' : undefined),
    });
    if (text === undefined || text.trim() === '') return;
    const end = document.lineAt(document.lineCount - 1).range.end;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, end, `${document.getText().endsWith('\n') ? '' : '\n'}${text.trim()}\n`);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage('chatls: could not write the follow-up into the transcript');
      return;
    }
  }
  await serverCommandRequest(active, SERVER_COMMANDS.followUp, [{ uri: active.code2ProtocolConverter.asUri(uri) }]);
}

/** chatls: Show Usage — the session's tokens per model and kind (`chatls.usage`). */
async function showUsage(): Promise<void> {
  const active = runningClient();
  if (active === undefined) return;
  const report = await serverCommandRequest(active, SERVER_COMMANDS.usage, []);
  if (report !== undefined) void vscode.window.showInformationMessage(describeUsage(report));
}

async function setApiKey(context: vscode.ExtensionContext): Promise<void> {
  const value = await vscode.window.showInputBox({
    title: 'chatls: Set API Key',
    prompt: 'API key for the chat-completions upstream, kept in VS Code secret storage (empty to remove it)',
    password: true,
    ignoreFocusOut: true,
  });
  if (value === undefined) return;
  if (value.trim() === '') {
    await context.secrets.delete(API_KEY_SECRET);
    void vscode.window.showInformationMessage('chatls: API key removed');
  } else {
    await context.secrets.store(API_KEY_SECRET, value.trim());
    void vscode.window.showInformationMessage('chatls: API key saved in secret storage');
  }
  // secrets.onDidChange pushes the new settings to the server.
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  statusItem = vscode.window.createStatusBarItem('chatls.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'chatls';
  statusItem.command = 'chatls.cancelActive';
  // One channel for every server this window starts (a restart reuses it).
  outputChannel = vscode.window.createOutputChannel('chatls', { log: true });
  context.subscriptions.push(statusItem, outputChannel);
  const cacheDirs = chatlsCacheDirs(process.platform, process.env, os.homedir());

  context.subscriptions.push(
    vscode.commands.registerCommand('chatls.explainSelection', () => runAction('explain')),
    vscode.commands.registerCommand('chatls.refactorSelection', () => runAction('refactor')),
    vscode.commands.registerCommand('chatls.fixSelection', () => runAction('fix')),
    vscode.commands.registerCommand('chatls.cancelActive', () => runDocumentCommand('cancel')),
    vscode.commands.registerCommand('chatls.resetActiveConversation', () => runDocumentCommand('resetConversation')),
    vscode.commands.registerCommand('chatls.setApiKey', () => setApiKey(context)),
    vscode.commands.registerCommand('chatls.askSelection', () => askSelection()),
    vscode.commands.registerCommand('chatls.runAction', () => runTableAction()),
    vscode.commands.registerCommand('chatls.sendFollowUp', () => sendFollowUp(cacheDirs)),
    vscode.commands.registerCommand('chatls.showUsage', () => showUsage()),
    vscode.commands.registerCommand('chatls.restartServer', () => scheduleRestart(context)),
    context.secrets.onDidChange((event) => {
      if (event.key === API_KEY_SECRET) void pushSettings(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('chatls.serverPath')) {
        // The Settings UI writes while the path is still being typed: restart once it rests.
        if (serverPathTimer !== undefined) clearTimeout(serverPathTimer);
        serverPathTimer = setTimeout(() => {
          serverPathTimer = undefined;
          void scheduleRestart(context);
        }, SERVER_PATH_SETTLE_MS);
      } else if (event.affectsConfiguration('chatls')) {
        await pushSettings(context);
      }
    }),
  );

  await scheduleRestart(context);
}

export async function deactivate(): Promise<void> {
  if (serverPathTimer !== undefined) clearTimeout(serverPathTimer);
  await lifecycle;
  await stopClient();
}

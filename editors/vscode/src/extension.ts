/**
 * The chatls VS Code extension: starts the `chatls` language server over stdio with
 * vscode-languageclient, hands it the `chatls.*` settings and the API key from secret
 * storage, adds palette commands for the selection, and opens explanations as a markdown
 * preview beside the code. Progress of running actions is the server's work-done progress,
 * which the language client shows in the status bar.
 */

import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  CancellationToken,
  DidChangeConfigurationNotification,
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
  buildServerSettings,
  chatlsCacheDirs,
  didChangeConfigurationParams,
  isExplanationDocument,
  SERVER_COMMANDS,
  serverCommand,
  type ServerSettings,
} from './settings';

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem | undefined;

async function currentSettings(context: vscode.ExtensionContext): Promise<ServerSettings> {
  const apiKey = await context.secrets.get(API_KEY_SECRET);
  return buildServerSettings(vscode.workspace.getConfiguration('chatls'), apiKey);
}

function updateStatus(text: string, tooltip: string): void {
  if (statusItem === undefined) return;
  statusItem.text = text;
  statusItem.tooltip = tooltip;
  statusItem.show();
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const command = serverCommand(vscode.workspace.getConfiguration('chatls').get('serverPath'));
  const serverOptions: ServerOptions = {
    run: { command, transport: TransportKind.stdio },
    debug: { command, transport: TransportKind.stdio, options: { env: { ...process.env, CHATLS_LOG: 'chatls=debug' } } },
  };
  const cacheDirs = chatlsCacheDirs(process.platform, process.env, os.homedir());
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: await currentSettings(context),
    middleware: {
      window: {
        // Explanations are markdown files in chatls's cache dir: show them rendered, beside the code.
        showDocument: async (params, next) => {
          if (isExplanationDocument(params.uri, cacheDirs, process.platform)) {
            try {
              await vscode.commands.executeCommand('markdown.showPreviewToSide', vscode.Uri.parse(params.uri));
              return { success: true };
            } catch {
              // Markdown preview unavailable (disabled built-in extension): open it as text.
            }
          }
          const shown = await next(params, CancellationToken.None);
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

  const newClient = new LanguageClient('chatls', 'chatls', serverOptions, clientOptions);
  newClient.onDidChangeState((event) => {
    if (event.newState === State.Running) {
      updateStatus('$(comment-discussion) chatls', 'chatls is running: select code and use the light bulb or "chatls: …" commands');
    } else if (event.newState === State.Stopped) {
      updateStatus('$(circle-slash) chatls', 'chatls is stopped: run "chatls: Restart Server"');
    } else {
      updateStatus('$(sync~spin) chatls', 'chatls is starting');
    }
  });
  client = newClient;
  try {
    await newClient.start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const choice = await vscode.window.showErrorMessage(
      `chatls: could not start the server "${command}": ${message}. Install chatls or set "chatls.serverPath".`,
      'Open Settings',
    );
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'chatls.serverPath');
    }
  }
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
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = 'chatls.cancelActive';
  context.subscriptions.push(statusItem);

  context.subscriptions.push(
    vscode.commands.registerCommand('chatls.explainSelection', () => runAction('explain')),
    vscode.commands.registerCommand('chatls.refactorSelection', () => runAction('refactor')),
    vscode.commands.registerCommand('chatls.fixSelection', () => runAction('fix')),
    vscode.commands.registerCommand('chatls.cancelActive', () => runDocumentCommand('cancel')),
    vscode.commands.registerCommand('chatls.resetActiveConversation', () => runDocumentCommand('resetConversation')),
    vscode.commands.registerCommand('chatls.setApiKey', () => setApiKey(context)),
    vscode.commands.registerCommand('chatls.restartServer', async () => {
      await stopClient();
      await startClient(context);
    }),
    context.secrets.onDidChange((event) => {
      if (event.key === API_KEY_SECRET) void pushSettings(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('chatls.serverPath')) {
        await stopClient();
        await startClient(context);
      } else if (event.affectsConfiguration('chatls')) {
        await pushSettings(context);
      }
    }),
  );

  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

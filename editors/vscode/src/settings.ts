/**
 * Pure helpers of the chatls extension: VS Code settings → the settings object chatls reads
 * (initializationOptions / didChangeConfiguration), the argument of the `chatls.*` action
 * commands, and recognising the explanation documents chatls writes to its cache dir.
 * Nothing here imports `vscode`, so it is unit-tested with node's own test runner.
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `vscode.WorkspaceConfiguration` offers, reduced to the one call used here. */
export interface SettingsReader {
  get<T>(key: string): T | undefined;
}

export type ReasoningEffort = 'none' | 'low' | 'medium' | 'high';
export type ExplainOutput = 'document' | 'message';

/** The settings object of DESIGN.md's table, as chatls accepts it (nested keys). */
export interface ServerSettings {
  baseUrl?: string;
  model?: string;
  apiKey?: string;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  reasoningEffort?: ReasoningEffort;
  stream?: boolean;
  tools?: { enabled?: boolean; maxRounds?: number; deny?: string[] };
  explain?: { output?: ExplainOutput };
}

/** The secret-storage key under which "chatls: Set API Key" keeps the key. */
export const API_KEY_SECRET = 'chatls.apiKey';

/** Commands the server runs (advertised in its executeCommandProvider). */
export const SERVER_COMMANDS = {
  explain: 'chatls.explain',
  refactor: 'chatls.refactor',
  fix: 'chatls.fix',
  cancel: 'chatls.cancel',
  resetConversation: 'chatls.resetConversation',
} as const;

export type Action = 'explain' | 'refactor' | 'fix';

function nonEmptyString(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function boolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value)
    ? (value as T)
    : undefined;
}

/**
 * Map the `chatls.*` settings (read from `getConfiguration('chatls')`) and the API key from
 * secret storage to what the server reads. Unset values are left out, so the server's own
 * environment fallbacks (CHATLS_BASE_URL, CHATLS_MODEL, CHATLS_API_KEY) still apply.
 * Out-of-range numbers are passed through unchanged: the server rejects them with a message
 * naming the key, which is clearer than silently dropping them here.
 */
export function buildServerSettings(read: SettingsReader, apiKey: string | undefined): ServerSettings {
  const settings: ServerSettings = {};
  const baseUrl = nonEmptyString(read.get('baseUrl'));
  if (baseUrl !== undefined) settings.baseUrl = baseUrl;
  const model = nonEmptyString(read.get('model'));
  if (model !== undefined) settings.model = model;
  const key = nonEmptyString(apiKey);
  if (key !== undefined) settings.apiKey = key;
  const temperature = finiteNumber(read.get('temperature'));
  if (temperature !== undefined) settings.temperature = temperature;
  const topP = finiteNumber(read.get('topP'));
  if (topP !== undefined) settings.topP = topP;
  const maxTokens = finiteNumber(read.get('maxTokens'));
  if (maxTokens !== undefined) settings.maxTokens = maxTokens;
  const effort = oneOf(read.get('reasoningEffort'), ['none', 'low', 'medium', 'high'] as const);
  if (effort !== undefined) settings.reasoningEffort = effort;
  const stream = boolean(read.get('stream'));
  if (stream !== undefined) settings.stream = stream;

  const tools: NonNullable<ServerSettings['tools']> = {};
  const enabled = boolean(read.get('tools.enabled'));
  if (enabled !== undefined) tools.enabled = enabled;
  const maxRounds = finiteNumber(read.get('tools.maxRounds'));
  if (maxRounds !== undefined) tools.maxRounds = maxRounds;
  const deny = read.get<unknown>('tools.deny');
  if (Array.isArray(deny) && deny.length > 0) {
    tools.deny = deny.filter((glob): glob is string => typeof glob === 'string');
  }
  if (Object.keys(tools).length > 0) settings.tools = tools;

  const output = oneOf(read.get('explain.output'), ['document', 'message'] as const);
  if (output !== undefined) settings.explain = { output };
  return settings;
}

/** The `settings` payload of `workspace/didChangeConfiguration`. */
export function didChangeConfigurationParams(settings: ServerSettings): { settings: { chatls: ServerSettings } } {
  return { settings: { chatls: settings } };
}

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface ActionArguments {
  uri: string;
  range: LspRange;
  instruction?: string;
}

/**
 * The one argument of `chatls.explain` / `chatls.refactor` / `chatls.fix`. A blank
 * instruction is left out; explain takes none. An empty range is sent as is: the server
 * reads it as the current line.
 */
export function actionArguments(
  action: Action,
  uri: string,
  range: LspRange,
  instruction?: string,
): ActionArguments {
  const args: ActionArguments = {
    uri,
    range: {
      start: { line: range.start.line, character: range.start.character },
      end: { line: range.end.line, character: range.end.character },
    },
  };
  const text = action === 'explain' ? undefined : nonEmptyString(instruction);
  if (text !== undefined) args.instruction = text;
  return args;
}

/**
 * Where chatls (Rust `dirs::cache_dir()` + `chatls`) writes explanations on this platform:
 * `$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%`
 * on Windows.
 */
export function chatlsCacheDirs(
  platform: NodeJS.Platform,
  env: Record<string, string | undefined>,
  home: string,
): string[] {
  const pathApi = platform === 'win32' ? path.win32 : path.posix;
  const roots: string[] = [];
  if (platform === 'darwin') {
    roots.push(pathApi.join(home, 'Library', 'Caches'));
  } else if (platform === 'win32') {
    const local = env.LOCALAPPDATA;
    if (local) roots.push(local);
    roots.push(pathApi.join(home, 'AppData', 'Local'));
  } else {
    const xdg = env.XDG_CACHE_HOME;
    if (xdg && pathApi.isAbsolute(xdg)) roots.push(xdg);
    roots.push(pathApi.join(home, '.cache'));
  }
  return [...new Set(roots.map((root) => pathApi.join(root, 'chatls')))];
}

/**
 * True when `uri` is a markdown explanation chatls wrote: a `file:` URI of a `.md` file
 * inside one of `cacheDirs`. Such documents are opened as a markdown preview beside the code.
 */
export function isExplanationDocument(uri: string, cacheDirs: readonly string[], platform: NodeJS.Platform): boolean {
  if (!uri.startsWith('file:')) {
    return false;
  }
  let filePath: string;
  try {
    filePath = fileURLToPath(uri, { windows: platform === 'win32' });
  } catch {
    return false;
  }
  const pathApi = platform === 'win32' ? path.win32 : path.posix;
  const normalise = (value: string): string => {
    const normal = pathApi.normalize(value);
    return platform === 'win32' || platform === 'darwin' ? normal.toLowerCase() : normal;
  };
  const file = normalise(filePath);
  if (pathApi.extname(file) !== '.md') {
    return false;
  }
  return cacheDirs.some((dir) => {
    const root = normalise(dir);
    return file.startsWith(root.endsWith(pathApi.sep) ? root : root + pathApi.sep);
  });
}

/** The server executable: the `chatls.serverPath` setting when set, else `chatls` on PATH. */
export function serverCommand(serverPath: unknown): string {
  return nonEmptyString(serverPath) ?? 'chatls';
}

/**
 * Pure helpers of the chatls extension: VS Code's `chatls` section → the settings object chatls reads
 * (initializationOptions / didChangeConfiguration), the argument of the `chatls.*` action
 * commands, and recognising the explanation documents chatls writes to its cache dir.
 * Nothing here imports `vscode`, so it is unit-tested with node's own test runner.
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The settings object chatls reads: the whole `chatls` section of VS Code's settings, nested
 * as VS Code gives it (`{tools: {enabled: …}}`), which the server accepts. Its keys are the
 * server's settings table (package.json's are generated from it), so no key is listed here.
 */
export type ServerSettings = Record<string, unknown>;

/** Keys of the `chatls` section that are the extension's own, not the server's. */
export const EXTENSION_ONLY_KEYS = ['serverPath', 'trace'] as const;

/** The secret-storage key under which "chatls: Set API Key" keeps the key. */
export const API_KEY_SECRET = 'chatls.apiKey';

/** Commands the server runs (advertised in its executeCommandProvider). */
export const SERVER_COMMANDS = {
  explain: 'chatls.explain',
  refactor: 'chatls.refactor',
  fix: 'chatls.fix',
  cancel: 'chatls.cancel',
  resetConversation: 'chatls.resetConversation',
  run: 'chatls.run',
  ask: 'chatls.ask',
  followUp: 'chatls.followUp',
  selectModel: 'chatls.selectModel',
  usage: 'chatls.usage',
  listModels: 'chatls.listModels',
  listActions: 'chatls.listActions',
} as const;

export type Action = 'explain' | 'refactor' | 'fix';

function nonEmptyString(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object's settings without the unset ones (`null`, an empty string), groups recursed. */
function withoutUnset(section: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(section)) {
    if (value === null || value === undefined || typeof value === 'function') continue;
    if (typeof value === 'string') {
      const text = value.trim();
      if (text !== '') kept[key] = text;
    } else if (isPlainObject(value)) {
      const inner = withoutUnset(value);
      if (Object.keys(inner).length > 0) kept[key] = inner;
    } else {
      kept[key] = value;
    }
  }
  return kept;
}

/**
 * The whole `chatls` section (a plain copy of `getConfiguration('chatls')`) and the API key
 * from secret storage, as the server reads them. The extension's own keys are left out, and
 * so are unset values (`null`, an empty string: what the Settings UI shows as empty), so the
 * server's environment fallbacks (CHATLS_BASE_URL, CHATLS_MODEL, CHATLS_API_KEY, …) apply.
 * Every other value is passed as it is: the server checks it and names the key it refuses.
 */
export function buildServerSettings(section: unknown, apiKey: string | undefined): ServerSettings {
  const settings = isPlainObject(section) ? withoutUnset(section) : {};
  for (const key of EXTENSION_ONLY_KEYS) delete settings[key];
  const key = nonEmptyString(apiKey);
  if (key !== undefined) settings.apiKey = key;
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

/**
 * The server executable: the `chatls.serverPath` setting when set, else the server shipped
 * inside the extension (when this platform's .vsix has one), else `chatls` on PATH.
 */
export function serverCommand(serverPath: unknown, bundled?: string): string {
  return nonEmptyString(serverPath) ?? bundled ?? 'chatls';
}

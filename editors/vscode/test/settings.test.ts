/**
 * Unit tests of the extension's pure parts (no VS Code needed): settings → the object the
 * server reads, the action command argument, and explanation-document recognition.
 */

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import {
  actionArguments,
  buildServerSettings,
  chatlsCacheDirs,
  didChangeConfigurationParams,
  isExplanationDocument,
  serverCommand,
  type SettingsReader,
} from '../src/settings';

/** A reader over a flat `{ 'tools.enabled': true, ... }` map, like getConfiguration('chatls'). */
function reader(values: Record<string, unknown>): SettingsReader {
  return { get: <T>(key: string) => values[key] as T | undefined };
}

/** What VS Code returns for a user who changed nothing (package.json defaults). */
const DEFAULTS = {
  serverPath: '',
  baseUrl: '',
  model: '',
  temperature: null,
  topP: null,
  maxTokens: null,
  reasoningEffort: 'none',
  stream: true,
  'tools.enabled': true,
  'tools.maxRounds': 8,
  'tools.deny': [],
  'explain.output': 'document',
};

describe('buildServerSettings', () => {
  it('leaves unset values out so the server falls back to its environment', () => {
    const settings = buildServerSettings(reader(DEFAULTS), undefined);
    assert.deepEqual(settings, {
      reasoningEffort: 'none',
      stream: true,
      tools: { enabled: true, maxRounds: 8 },
      explain: { output: 'document' },
    });
    assert.equal('baseUrl' in settings, false);
    assert.equal('model' in settings, false);
    assert.equal('apiKey' in settings, false);
  });

  it('maps every key of the table, nested as the server accepts it', () => {
    const settings = buildServerSettings(
      reader({
        ...DEFAULTS,
        baseUrl: ' http://127.0.0.1:8080/v1 ',
        model: 'smollm2',
        temperature: 0.2,
        topP: 0.9,
        maxTokens: 512,
        reasoningEffort: 'high',
        stream: false,
        'tools.enabled': false,
        'tools.maxRounds': 3,
        'tools.deny': ['**/*.pem', 42, 'secrets/**'],
        'explain.output': 'message',
      }),
      'sk-secret',
    );
    assert.deepEqual(settings, {
      baseUrl: 'http://127.0.0.1:8080/v1',
      model: 'smollm2',
      apiKey: 'sk-secret',
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 512,
      reasoningEffort: 'high',
      stream: false,
      tools: { enabled: false, maxRounds: 3, deny: ['**/*.pem', 'secrets/**'] },
      explain: { output: 'message' },
    });
  });

  it('drops blank strings, blank keys and values of the wrong type', () => {
    const settings = buildServerSettings(
      reader({ baseUrl: '   ', model: '', temperature: 'hot', topP: Number.NaN, reasoningEffort: 'extreme', stream: 'yes' }),
      '  ',
    );
    assert.deepEqual(settings, {});
  });

  it('passes out-of-range numbers through for the server to reject by name', () => {
    const settings = buildServerSettings(reader({ temperature: 5, 'tools.maxRounds': 500 }), undefined);
    assert.equal(settings.temperature, 5);
    assert.deepEqual(settings.tools, { maxRounds: 500 });
  });

  it('wraps the settings in a chatls section for didChangeConfiguration', () => {
    assert.deepEqual(didChangeConfigurationParams({ model: 'm' }), { settings: { chatls: { model: 'm' } } });
  });
});

describe('actionArguments', () => {
  const range = { start: { line: 6, character: 0 }, end: { line: 12, character: 26 } };

  it('builds {uri, range} for explain and ignores an instruction', () => {
    assert.deepEqual(actionArguments('explain', 'file:///w/a.py', range, 'ignored'), {
      uri: 'file:///w/a.py',
      range,
    });
  });

  it('adds a trimmed instruction for refactor and fix', () => {
    assert.deepEqual(actionArguments('refactor', 'file:///w/a.py', range, '  use early returns '), {
      uri: 'file:///w/a.py',
      range,
      instruction: 'use early returns',
    });
    assert.deepEqual(actionArguments('fix', 'file:///w/a.py', range, ''), { uri: 'file:///w/a.py', range });
  });

  it('copies the range instead of sharing the editor object', () => {
    const args = actionArguments('fix', 'file:///w/a.py', range);
    assert.notEqual(args.range, range);
    assert.notEqual(args.range.start, range.start);
  });
});

describe('explanation documents', () => {
  it('finds the cache dir like Rust dirs::cache_dir on each platform', () => {
    assert.deepEqual(chatlsCacheDirs('linux', { XDG_CACHE_HOME: '/x/cache' }, '/home/u'), [
      '/x/cache/chatls',
      '/home/u/.cache/chatls',
    ]);
    assert.deepEqual(chatlsCacheDirs('linux', { XDG_CACHE_HOME: 'relative' }, '/home/u'), ['/home/u/.cache/chatls']);
    assert.deepEqual(chatlsCacheDirs('darwin', {}, '/Users/u'), ['/Users/u/Library/Caches/chatls']);
    assert.deepEqual(chatlsCacheDirs('win32', { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'C:\\Users\\u'), [
      'C:\\Users\\u\\AppData\\Local\\chatls',
    ]);
  });

  it('accepts only markdown files inside the cache dir', () => {
    const dirs = ['/home/u/.cache/chatls'];
    assert.equal(isExplanationDocument('file:///home/u/.cache/chatls/explain/a%20b.md', dirs, 'linux'), true);
    assert.equal(isExplanationDocument('file:///home/u/.cache/chatls/explain/a.txt', dirs, 'linux'), false);
    assert.equal(isExplanationDocument('file:///home/u/project/README.md', dirs, 'linux'), false);
    assert.equal(isExplanationDocument('file:///home/u/.cache/chatls-other/a.md', dirs, 'linux'), false);
    assert.equal(isExplanationDocument('file:///home/u/.cache/chatls/../secret.md', dirs, 'linux'), false);
    assert.equal(isExplanationDocument('untitled:Untitled-1.md', dirs, 'linux'), false);
    assert.equal(isExplanationDocument('file://remote-host/share/a.md', dirs, 'linux'), false);
  });

  it('compares Windows paths without regard to case', () => {
    const dirs = ['C:\\Users\\u\\AppData\\Local\\chatls'];
    assert.equal(isExplanationDocument('file:///c%3A/Users/U/AppData/Local/chatls/x.md', dirs, 'win32'), true);
  });
});

describe('serverCommand', () => {
  it('uses the setting when set, else chatls on PATH', () => {
    assert.equal(serverCommand('/opt/chatls/bin/chatls'), '/opt/chatls/bin/chatls');
    assert.equal(serverCommand(''), 'chatls');
    assert.equal(serverCommand(null), 'chatls');
    assert.equal(serverCommand(undefined), 'chatls');
  });
});

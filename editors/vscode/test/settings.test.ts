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
} from '../src/settings';

/** What `getConfiguration('chatls')` gives (as a plain copy) for a user who changed
 * nothing: package.json's defaults, nested. */
const DEFAULTS = {
  serverPath: '',
  trace: { server: 'off' },
  baseUrl: '',
  model: '',
  temperature: null,
  topP: null,
  maxTokens: null,
  reasoningEffort: 'none',
  stream: true,
  tools: { enabled: true, maxRounds: 8, deny: [] },
  explain: { output: 'document' },
  edits: { review: 'apply' },
  completion: { enabled: true, model: 'claude-haiku-4-5-20251001', debounceMs: 200, maxTokens: 256, popup: 'auto' },
  caFile: '',
  proxy: '',
  actions: [],
};

describe('buildServerSettings', () => {
  it('forwards the whole section except unset values and the extension\'s own keys', () => {
    const settings = buildServerSettings(DEFAULTS, undefined);
    assert.deepEqual(settings, {
      reasoningEffort: 'none',
      stream: true,
      tools: { enabled: true, maxRounds: 8, deny: [] },
      explain: { output: 'document' },
      edits: { review: 'apply' },
      completion: { enabled: true, model: 'claude-haiku-4-5-20251001', debounceMs: 200, maxTokens: 256, popup: 'auto' },
      actions: [],
    });
    for (const key of ['baseUrl', 'model', 'apiKey', 'serverPath', 'trace', 'caFile', 'proxy']) {
      assert.equal(key in settings, false, key);
    }
  });

  it('passes keys it has never heard of, so a new server setting needs no extension change', () => {
    const row = { id: 'write-tests', title: 'Write tests', kind: 'answer', prompt: '{selection}' };
    const settings = buildServerSettings(
      {
        ...DEFAULTS,
        model: ' smollm2 ',
        completion: { model: 'fast-one' },
        actions: [row],
        someFutureKey: { nested: 3 },
      },
      'sk-secret',
    );
    assert.equal(settings.model, 'smollm2');
    assert.deepEqual(settings.completion, { model: 'fast-one' });
    assert.deepEqual(settings.actions, [row]);
    assert.deepEqual(settings.someFutureKey, { nested: 3 });
    assert.equal(settings.apiKey, 'sk-secret');
  });

  it('drops blank strings and a blank key; passes wrong values for the server to name', () => {
    const settings = buildServerSettings({ baseUrl: '   ', model: '', temperature: 5, tools: { maxRounds: 500 } }, '  ');
    assert.deepEqual(settings, { temperature: 5, tools: { maxRounds: 500 } });
    assert.deepEqual(buildServerSettings(undefined, undefined), {});
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
  it('uses the setting when set, else the bundled server, else chatls on PATH', () => {
    assert.equal(serverCommand('/opt/chatls/bin/chatls'), '/opt/chatls/bin/chatls');
    assert.equal(serverCommand('/opt/chatls/bin/chatls', '/ext/server/chatls'), '/opt/chatls/bin/chatls');
    assert.equal(serverCommand('', '/ext/server/chatls'), '/ext/server/chatls');
    assert.equal(serverCommand(''), 'chatls');
    assert.equal(serverCommand(null), 'chatls');
    assert.equal(serverCommand(undefined), 'chatls');
  });
});

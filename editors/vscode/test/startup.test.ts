/**
 * Unit tests of how a failed server start is described: from the server's own stderr or
 * the spawn error, never from a guess; and the bounded stderr tail and restart budget.
 */

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { describeCrashes, describeStartFailure, RestartBudget, StderrTail, stderrCause } from '../src/startup';

/** What chatls 0.1 printed when vscode-languageclient appended --stdio (the bug of issue 10). */
const USAGE_ERROR = [
  "error: unexpected argument '--stdio' found",
  '',
  'Usage: chatls [OPTIONS] [COMMAND]',
  '',
  "For more information, try '--help'.",
];

describe('describeStartFailure', () => {
  it("quotes the server's own error line, not the client's EPIPE", () => {
    const failure = describeStartFailure('/opt/chatls', new Error('write EPIPE'), USAGE_ERROR);
    assert.equal(
      failure.message,
      `chatls: the server "/opt/chatls" stopped while starting: error: unexpected argument '--stdio' found`,
    );
    assert.equal(failure.setting, undefined);
    assert.doesNotMatch(failure.message, /EPIPE|Install/);
  });

  it('says "not found on PATH" only when spawning failed with ENOENT', () => {
    const failure = describeStartFailure(
      'chatls',
      'Launching server using command chatls failed. Error: spawn chatls ENOENT',
      [],
    );
    assert.match(failure.message, /"chatls" was not found on PATH/);
    assert.equal(failure.setting, 'chatls.serverPath');
    const absolute = describeStartFailure('/no/such/chatls', 'Error: spawn /no/such/chatls ENOENT', []);
    assert.match(absolute.message, /"\/no\/such\/chatls" was not found\. /);
  });

  it('names permission denied for EACCES', () => {
    const failure = describeStartFailure('/tmp/chatls', new Error('spawn /tmp/chatls EACCES'), []);
    assert.match(failure.message, /cannot be run \(permission denied\)/);
    assert.equal(failure.setting, 'chatls.serverPath');
  });

  it('prefers error lines from the log, else the last lines written', () => {
    assert.deepEqual(
      stderrCause(['  INFO chatls: starting', 'ERROR chatls: cannot open log file /x: denied', 'bye']),
      ['ERROR chatls: cannot open log file /x: denied'],
    );
    assert.deepEqual(stderrCause(['one', '', 'two', 'three', '  ']), ['two', 'three']);
    assert.deepEqual(stderrCause(["thread 'main' panicked at src/main.rs:1:1:"]), [
      "thread 'main' panicked at src/main.rs:1:1:",
    ]);
  });

  it('without stderr, says so and passes the client error on', () => {
    const failure = describeStartFailure('chatls', new Error('Pending response rejected since connection got disposed'), []);
    assert.equal(
      failure.message,
      'chatls: the server "chatls" stopped while starting and wrote nothing to stderr (Pending response rejected since connection got disposed). The chatls output channel has the client\'s log.',
    );
    assert.match(describeStartFailure('chatls', undefined, []).message, /wrote nothing to stderr\. /);
    assert.match(describeStartFailure('chatls', { code: 7 }, []).message, /\(\{"code":7\}\)/);
  });
});

describe('describeCrashes', () => {
  it("counts the stops and quotes the last error line", () => {
    const message = describeCrashes('chatls', 5, ["thread 'tokio' panicked at boom"]).message;
    assert.match(message, /stopped 5 times within three minutes and is left stopped; its last words: thread 'tokio' panicked at boom\./);
    assert.match(describeCrashes('chatls', 5, []).message, /it wrote nothing to stderr/);
  });
});

describe('StderrTail', () => {
  it('keeps the last lines, each cut to length, and forgets on clear', () => {
    const tail = new StderrTail(3, 5);
    for (const line of ['a', 'b', 'c', 'dddddddd\r']) tail.push(line);
    assert.deepEqual(tail.lines(), ['b', 'c', 'ddddd…']);
    tail.clear();
    assert.deepEqual(tail.lines(), []);
  });
});

describe('RestartBudget', () => {
  it('allows `limit` restarts within the window, then more once old ones age out', () => {
    const budget = new RestartBudget(2, 1000);
    assert.equal(budget.allow(0), true);
    assert.equal(budget.allow(10), true);
    assert.equal(budget.allow(20), false);
    assert.equal(budget.allow(1005), true);
  });
});

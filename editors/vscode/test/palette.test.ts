/**
 * Unit tests of the palette commands' pure parts: pickers built from the server's answers,
 * the follow-up under the last "## You", the usage text.
 */

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { actionItems, actionRows, describeUsage, modelItems, pendingFollowUp } from '../src/palette';

describe('modelItems', () => {
  it('marks the current model and puts it first', () => {
    const { current, items } = modelItems({ current: 'b', models: ['a', 'b', 7, 'c'] });
    assert.equal(current, 'b');
    assert.deepEqual(
      items.map((item) => [item.label, item.description]),
      [
        ['b', '(current)'],
        ['a', undefined],
        ['c', undefined],
      ],
    );
    assert.deepEqual(modelItems(null).items, []);
  });
});

describe('actionRows', () => {
  it('keeps every row the server lists, custom ones included, and drops malformed ones', () => {
    const rows = actionRows({
      actions: [
        { id: 'explain', title: 'Explain with AI', kind: 'answer' },
        { id: 'add-types', title: 'Add types', kind: 'edit', model: 'm' },
        { id: 3 },
      ],
    });
    assert.deepEqual(
      rows.map((row) => row.id),
      ['explain', 'add-types'],
    );
    const items = actionItems(rows);
    assert.equal(items[1].label, 'Add types');
    assert.equal(items[1].value, 'add-types');
    assert.equal(items[1].detail, 'add-types · m');
    assert.deepEqual(actionRows('nonsense'), []);
  });
});

describe('pendingFollowUp', () => {
  it('reads what is under the last "## You" heading', () => {
    const text = '# chatls\n\n## You\n\nExplain\n\n## chatls (m)\n\nIt adds.\n\n## You\n\n  and for negatives?\n';
    assert.equal(pendingFollowUp(text), 'and for negatives?');
    assert.equal(pendingFollowUp('# chatls\n\n## You\n\n'), undefined);
    assert.equal(pendingFollowUp('no heading'), undefined);
  });
});

describe('describeUsage', () => {
  it('says the totals and each model by kind', () => {
    const text = describeUsage({
      total: { requests: 3, promptTokens: 1200, cachedTokens: 1000, completionTokens: 80 },
      byModel: {
        m1: {
          total: { requests: 3 },
          actions: { requests: 2, promptTokens: 1000, cachedTokens: 1000, completionTokens: 60 },
          completions: { requests: 1, promptTokens: 200, cachedTokens: 0, completionTokens: 20 },
        },
      },
    });
    assert.match(text, /3 requests, 1,200 prompt \(1,000 cached\) \+ 80 completion tokens/);
    assert.match(text, /m1: actions 2 requests/);
    assert.match(text, /completions 1 request, 200 prompt \+ 20 completion/);
  });
});

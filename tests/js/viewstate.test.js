// The view in a link: a state written as the link's query and read back (web/viewstate.js, its pure half).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const V = require('../../vae_demo/web/viewstate.js');

const DECLARED = [['restore-kind', 'radio'], ['restore-severity', 'slider'], ['restore-models', 'multiselect'],
  ['restore-mask-aware', 'checkbox']];

test('a state survives the round trip through the link, the multiselect in order', () => {
  const state = {tab: 'restore', dataset: 'fashion-mnist', controls: {
    'restore-kind': 'blur', 'restore-severity': '1.5', 'restore-mask-aware': '1',
    'restore-models': ['b — a VAE, z=16', 'a & co (yours)', 'classical (best tuned)']}};
  const q = V.toQuery(state);
  assert.ok(q.startsWith('?tab=restore&dataset=fashion-mnist&'));
  assert.deepEqual(V.fromQuery(q, DECLARED), state);
});

test("the page's flags are kept first, and controls a tab does not declare are ignored", () => {
  const q = V.toQuery({tab: 'map', dataset: 'mnist', controls: {'map-x': '0.5'}}, {present: '1', decode: 'server'});
  assert.equal(q, '?present=1&decode=server&tab=map&dataset=mnist&map-x=0.5');
  assert.deepEqual(V.flagsOf(q), {present: '1', decode: 'server'});
  assert.deepEqual(V.fromQuery(q, [['map-y', 'slider']]), {tab: 'map', dataset: 'mnist', controls: {}});
  assert.deepEqual(V.fromQuery('', DECLARED), {tab: null, dataset: null, controls: {}});
  assert.equal(V.toQuery({controls: {}}), '');
});

test('every kind a tab may declare is one the page knows how to read and set', () => {
  assert.deepEqual(V.KINDS, ['radio', 'checkbox', 'slider', 'number', 'dropdown', 'multiselect', 'view', 'click']);
});

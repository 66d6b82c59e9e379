// web/language.js: the page chooses its language as vae_demo/language.py does, and fills its strings.
const test = require('node:test');
const assert = require('node:assert');
const L = require('../../vae_demo/web/language.js');

test('the link\'s ?lang= first, then the browser\'s languages in order, then English', () => {
  assert.strictEqual(L.choose('?lang=de', ['en', 'de'], ['en-US']), 'de');
  assert.strictEqual(L.choose('?lang=DE&tab=restore', ['en', 'de'], []), 'de');
  assert.strictEqual(L.choose('?lang=xx', ['en', 'de'], ['de-AT', 'en']), 'de');
  assert.strictEqual(L.choose('', ['en', 'de'], ['fr-FR', 'de-DE', 'en']), 'de');
  assert.strictEqual(L.choose('', ['en', 'de'], ['fr-FR', 'en-GB', 'de']), 'en');
  assert.strictEqual(L.choose('', ['en', 'de'], ['fr']), 'en');
});

test('t fills a translated template; source gives back the English it came from', () => {
  const de = L.make({strings: {de: {'Step {n} of {total}': 'Schritt {n} von {total}', Train: 'Trainieren'}}}, 'de');
  assert.strictEqual(de.t('Step {n} of {total}', {n: 2, total: 10}), 'Schritt 2 von 10');
  assert.strictEqual(de.t('not in the table {x}', {x: 1}), 'not in the table 1');
  assert.strictEqual(de.source('Trainieren'), 'Train');
  assert.strictEqual(de.source('Unknown'), 'Unknown');
  const en = L.make({strings: {de: {Train: 'Trainieren'}}}, 'en');
  assert.strictEqual(en.t('Train'), 'Train');
});

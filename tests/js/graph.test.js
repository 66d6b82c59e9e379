// The page's graph interpreter (vae_demo/web/graph.js) on exported decoders of the committed checkpoints, run in
// Node with the vendored TensorFlow.js (WebAssembly), against the outputs of the exporter's own reference
// interpreter (vae_demo/export.py run_graph). The fixtures are written by tests/test_js.py, which sets
// VAE_DEMO_JS_FIXTURES; without it this test is skipped.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const VENDOR = path.join(ROOT, 'vae_demo', 'web', 'vendor', 'tfjs') + path.sep;
const FIXTURES = process.env.VAE_DEMO_JS_FIXTURES;

// a vendored UMD bundle, its `require('@tensorflow/tfjs-core')` answered with the vendored core
function bundle(file, deps) {
  const module = {exports: {}};
  const source = fs.readFileSync(VENDOR + file, 'utf8');
  new Function('exports', 'require', 'module', '__filename', '__dirname', source)(
    module.exports, (name) => deps[name] || require(name), module, VENDOR + file, VENDOR);
  return module.exports;
}

let started = null;
function tensorflow() {  // once per process: a backend's kernels register once
  started = started || (async () => {
    const tf = bundle('tf-core.min.js', {});
    bundle('tf-backend-wasm.min.js', {'@tensorflow/tfjs-core': tf}).setWasmPaths(VENDOR);
    assert.ok(await tf.setBackend('wasm'));
    await tf.ready();
    return tf;
  })();
  return started;
}

const graph = require(path.join(ROOT, 'vae_demo', 'web', 'graph.js'));

test('the graph interpreter matches the exporter\'s reference interpreter', {skip: !FIXTURES && 'no fixtures'},
  async () => {
    const tf = await tensorflow();
    const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'cases.json'), 'utf8'));
    assert.ok(cases.length >= 3);
    for (const c of cases) {
      const g = JSON.parse(fs.readFileSync(path.join(FIXTURES, c.graph), 'utf8'));
      const p = graph.prepare(tf, g);
      const n = c.z ? c.z.length : 1;
      const out = c.z ? graph.run(tf, p, Float32Array.from(c.z.flat()), n) : graph.run(tf, p, null, 1, c.grid);
      const imgs = graph.images(p, out, n);
      const expected = c.expected.flat(Infinity);
      const got = imgs.flatMap((im) => Array.from(im.pixels));
      assert.strictEqual(got.length, expected.length, c.name);
      const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
      assert.ok(worst <= 1e-4, `${c.name}: max |diff| ${worst}`);
      assert.deepStrictEqual([imgs[0].c, imgs[0].h, imgs[0].w], g.image_shape, c.name);
    }
  });

test('a graph with an unknown op is refused, not guessed', async () => {
  const tf = await tensorflow();
  const p = {g: {latent_dim: 2, output: 'y', image_shape: [1, 1, 2]}, ops: [{op: 'softmax', in: 'z', out: 'y'}]};
  assert.throws(() => graph.run(tf, p, Float32Array.from([0, 1]), 1), /unknown op softmax/);
});

// The graph interpreter: an exported decoder (vae_demo/export.py: a JSON graph of plain ops, its weights in
// base64) run with TensorFlow.js, given as `tf`. No DOM: the page uses it (window.vaeGraph, see decoder.js) and
// Node's test runner checks it against the exporter's own reference interpreter (tests/js/graph.test.js).
//   prepare(tf, graph)         → p: the ops with their weights as tensors
//   run(tf, p, z, n, grid)     → the output tensor for n codes z (flat Float32Array), or for a discrete code's
//                                index grid (graphs with `codes`)
//   images(p, t, count)        → `count` images {pixels: Float32Array in [0, 1], c, h, w} (t disposed)
(function (root, factory) {
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.vaeGraph = api;
})(typeof self !== 'undefined' ? self : this, () => {
  function b64(tf, data, shape) {
    const bin = atob(data);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return tf.tensor(new Float32Array(bytes.buffer), shape, 'float32');
  }

  function prepare(tf, g) {
    const w = {};
    for (const [k, v] of Object.entries(g.weights)) w[k] = b64(tf, v.data, v.shape);
    const ops = g.ops.map((op) => {
      const o = Object.assign({}, op);
      if (op.op === 'linear') o.W = tf.transpose(w[op.w]);  // (in, out)
      if (op.op === 'conv2d' || op.op === 'conv_transpose2d') o.W = tf.transpose(w[op.w], [2, 3, 1, 0]);
      if (op.op === 'matmul') o.W = w[op.w];
      if (op.op === 'add' || op.op === 'sub' || op.op === 'mul') o.C = w[op.c];
      if (op.op === 'gather') o.T = w[op.table];
      if (op.b) o.B = w[op.b];
      return o;
    });
    for (const t of Object.values(w)) if (!ops.some((o) => [o.W, o.C, o.B, o.T].includes(t))) t.dispose();
    return {g, ops};
  }


  // the graph's ops on codes z (n of them), or from a discrete code's index grid (graph.codes) when `grid`
  function run(tf, p, z, n = 1, grid = null) {
    const nhwc = (x) => tf.transpose(x, [0, 2, 3, 1]), nchw = (x) => tf.transpose(x, [0, 3, 1, 2]);
    return tf.tidy(() => {
      let env, ops = p.ops;
      if (grid) {
        const at = p.g.codes.at;
        env = {[at]: tf.tensor(Int32Array.from(grid.flat()), [1, ...p.g.codes.grid], 'int32')};
        ops = ops.slice(ops.findIndex((o) => o.out === at) + 1);
      } else env = {z: tf.tensor(z, [n, p.g.latent_dim], 'float32')};
      for (const o of ops) {
        const x = env[o.in];
        let y;
        if (o.op === 'linear') { y = tf.matMul(x, o.W); if (o.B) y = tf.add(y, o.B); }
        else if (o.op === 'relu') y = tf.relu(x);
        else if (o.op === 'sigmoid') y = tf.sigmoid(x);
        else if (o.op === 'reshape') y = tf.reshape(x, o.shape);
        else if (o.op === 'matmul') y = tf.matMul(x, o.W);
        else if (o.op === 'add') y = tf.add(x, o.C);
        else if (o.op === 'mul') y = tf.mul(x, o.C);
        else if (o.op === 'sub') y = o.reverse ? tf.sub(o.C, x) : tf.sub(x, o.C);
        else if (o.op === 'permute') y = tf.transpose(x, o.dims);
        else if (o.op === 'argmin') y = tf.argMin(x, o.axis);  // int32 indices
        else if (o.op === 'gather') y = tf.gather(o.T, x);  // rows of the table: (...x.shape, D)
        else if (o.op === 'clamp') y = tf.clipByValue(x, o.min === null ? -Infinity : o.min,
                                                       o.max === null ? Infinity : o.max);
        else if (o.op === 'conv2d') {
          const [p0, p1] = o.padding;
          let h = tf.pad(nhwc(x), [[0, 0], [p0, p0], [p1, p1], [0, 0]]);
          h = tf.conv2d(h, o.W, o.stride, 'valid');
          if (o.B) h = tf.add(h, o.B);
          y = nchw(h);
        } else if (o.op === 'conv_transpose2d') {
          // a 'valid' transposed convolution is (H-1)s + k tall; PyTorch's padding p and
          // output_padding q keep rows p .. p + (H-1)s - 2p + k + q of it
          const [n, , H, W] = x.shape;
          const [kh, kw, cout] = o.W.shape;
          const [s0, s1] = o.stride, [p0, p1] = o.padding, [q0, q1] = o.output_padding;
          const full = [n, (H - 1) * s0 + kh, (W - 1) * s1 + kw, cout];
          let h = tf.conv2dTranspose(nhwc(x), o.W, full, o.stride, 'valid');
          const ho = (H - 1) * s0 - 2 * p0 + kh + q0, wo = (W - 1) * s1 - 2 * p1 + kw + q1;
          h = tf.slice(h, [0, p0, p1, 0], [n, Math.min(ho, full[1] - p0), Math.min(wo, full[2] - p1), cout]);
          if (ho > full[1] - p0 || wo > full[2] - p1) {  // output padding past the full output: zeros
            h = tf.pad(h, [[0, 0], [0, ho - h.shape[1]], [0, wo - h.shape[2]], [0, 0]]);
          }
          if (o.B) h = tf.add(h, o.B);
          y = nchw(h);
        } else throw new Error('unknown op ' + o.op);
        env[o.out] = y;
      }
      return env[p.g.output];
    });
  }

  // the decoder's output tensor (disposed here) → `count` images {pixels, c, h, w}
  function images(p, t, count) {
    const all = t.dataSync();
    t.dispose();
    const [c, h, w] = p.g.image_shape, size = c * h * w;
    return Array.from({length: count}, (_, i) => ({pixels: all.subarray(i * size, (i + 1) * size), c, h, w}));
  }

  return {prepare, run, images};
});

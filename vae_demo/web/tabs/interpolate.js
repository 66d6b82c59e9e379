// Interpolation, in the page. Steps N dragged: the page decodes and draws the three strips itself (decoder.js)
// from the two codes the server sent with the pair (window.vaeInterpWeb: webdecode.page_path), one drawing at
// a time and no Gradio event per move (onSlide); nothing is asked of the server until the slider is let go.
(() => {
  const D = window.vaeDecoder;
  // --- interpolation: latent.interpolate and latent.path_strip, in the page ---
  function lerp(a, b, t) { return a.map((v, i) => (1 - t) * v + t * b[i]); }
  function slerp(a, b, t) {  // latent.slerp: linear when the codes are nearly parallel
    let ab = 0, aa = 0, bb = 0;
    a.forEach((v, i) => { ab += v * b[i]; aa += v * v; bb += b[i] * b[i]; });
    const omega = Math.acos(Math.min(1, Math.max(-1, ab / Math.max(Math.sqrt(aa) * Math.sqrt(bb), 1e-12))));
    if (omega < 1e-4) return lerp(a, b, t);
    const so = Math.sin(omega), wa = Math.sin((1 - t) * omega) / so, wb = Math.sin(t * omega) / so;
    return a.map((v, i) => wa * v + wb * b[i]);
  }

  // frames in rows of `columns` with 1-pixel grey gaps, each upscaled (nearest) to about `height` pixels
  function paintStrip(img, frames, columns, height) {
    const {h, w} = frames[0], pad = 1, grey = Math.floor(0.35 * 255 + 0.5);
    const cols = Math.max(1, Math.min(columns, frames.length)), rows = Math.ceil(frames.length / cols);
    const W = cols * (w + pad) + pad, H = rows * (h + pad) + pad, f = Math.max(1, Math.floor(height / h));
    const small = document.createElement('canvas');
    small.width = W; small.height = H;
    const data = small.getContext('2d').createImageData(W, H);
    for (let i = 0; i < W * H; i++) data.data.set([grey, grey, grey, 255], 4 * i);
    frames.forEach((fr, i) => D.put(data, W, fr, pad + (i % cols) * (w + pad), pad + Math.floor(i / cols) * (h + pad)));
    small.getContext('2d').putImageData(data, 0, 0);
    img.src = D.upscaled(small, f).toDataURL();
  }

  // The three paths from A to B for n steps (web: webdecode.page_path), drawn into the tab's strips.
  // Resolves to true when the page drew them, false when it cannot (the server draws them then).
  let pathTurn = 0;
  async function paintPath(web, n) {
    const turn = ++pathTurn;
    const imgs = ['#interp-pixel img', '#interp-linear img', '#interp-slerp img'].map((s) => document.querySelector(s));
    if ((await D.ready(web && web.url, ...imgs)).why) return false;
    n = Math.round(Math.min(24, Math.max(2, Number(n) || 8)));
    const ts = Array.from({length: n}, (_, i) => i / (n - 1));
    const [c, h, w] = web.shape;
    try {
      const linear = await D.decodeMany(web.url, ts.map((t) => lerp(web.za, web.zb, t)));
      const spherical = await D.decodeMany(web.url, ts.map((t) => slerp(web.za, web.zb, t)));
      if (turn !== pathTurn) return true;  // a newer step count is being drawn
      const pixel = ts.map((t) => ({pixels: lerp(web.xa, web.xb, t), c, h, w}));
      [pixel, linear, spherical].forEach((frames, k) => paintStrip(imgs[k], frames, web.columns, web.height));
      D.painted(imgs[2], 'path', {steps: n});
      return true;
    } catch (err) {
      D.state.error = String(err && err.message || err);
      return false;
    }
  }

  // Steps N let go: draw in the page once more, then tell the server whether it did (the event's last input),
  // so the server writes only the GIF and the numbers, or, when the page could not, the strips as well
  async function released(dataset, name, a, b, n, web) {
    return [dataset, name, a, b, n, D ? await paintPath(web, n) : false];
  }
  window.vaeDemo.interpolate = {released};
  if (!D) return;
  D.onSlide('#interp-steps', async () => {
    const n = document.querySelector('#interp-steps input[type=range]').value;
    const drew = await paintPath(window.vaeInterpWeb, n);
    const where = document.querySelector('#interp-where');
    const L = window.vaeLanguage.pageLanguage();
    const text = drew ? L.t('Strips decoded in this browser as you drag Steps N; the server writes the GIF when you let go.')
      : L.t('Strips decoded on the server when you let go of Steps N.');
    if (where && where.innerText !== text) where.innerText = text;
  });
})();

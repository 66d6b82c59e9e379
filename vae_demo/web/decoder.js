// The in-page decoder: runs an exported decoder graph (vae_demo/export.py) with TensorFlow.js in
// WebAssembly, so a slider move repaints without asking the server. window.vaeDecoder:
//   start(base)          load the vendored runtime from `base` (the app's own files); resolves to the
//                        backend name, or to null when it cannot start (no WebAssembly): the page then
//                        keeps decoding on the server
//   load(url)            fetch and prepare one graph (cached by url); prefetch(web) starts that early
//   decode(url, z)       → {pixels: Float32Array in [0, 1], c, h, w}; decodeMany(url, zs) → one each
//   decodeCodes(url, grid)  a discrete code's (h, w) index grid → one image (graphs with `codes`)
//   paint(img, out)      draw the pixels into an <img>, upscaled as the server's pictures are
//   paintPath(web, n)    the interpolation tab's three strips for n steps, decoded and drawn in the page
//   paintCodes(web, grid, cell)  the code-grid editor's image and picture for a discrete code's grid
//   onSlide(within, fn)  run fn on every move of the sliders inside `within`, one run at a time
(() => {
  if (window.vaeDecoder) return;
  const graphs = new Map();
  let starting = null;
  const state = {backend: null, error: null};

  function script(src) {
    return new Promise((ok, fail) => {
      const s = document.createElement('script');
      s.src = src; s.onload = ok; s.onerror = () => fail(new Error('cannot load ' + src));
      document.head.appendChild(s);
    });
  }

  async function start(base) {
    if (starting) return starting;
    starting = (async () => {
      try {
        if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly');
        if (!window.tf) await script(base + 'tf-core.min.js');
        if (!window.tf.wasm) await script(base + 'tf-backend-wasm.min.js');
        window.tf.wasm.setWasmPaths(base);
        if (!(await window.tf.setBackend('wasm'))) throw new Error('the WebAssembly backend did not start');
        await window.tf.ready();
        state.backend = window.tf.getBackend();
      } catch (err) {
        state.error = String(err && err.message || err);
        state.backend = null;
      }
      return state.backend;
    })();
    return starting;
  }

  async function load(url) {
    if (!graphs.has(url)) {
      graphs.set(url, (async () => {
        const r = await fetch(url);
        if (!r.ok) throw new Error('decoder ' + url + ': HTTP ' + r.status);
        const g = await r.json();
        if (!(await start(window.vaeDecoderBase))) throw new Error('no runtime');
        return window.vaeGraph.prepare(window.tf, g);
      })());
    }
    return graphs.get(url);
  }

  // a tab's page copy arrived (web: webdecode.page_*): fetch its graph now, not at the first move
  function prefetch(web) {
    if (web && web.url && typeof WebAssembly === 'object') load(web.url).catch(() => graphs.delete(web.url));
    return web;
  }

  async function decode(url, z) {
    return (await decodeMany(url, [z]))[0];
  }

  // a discrete code's (h, w) grid of codebook indices → one image (graphs that have `codes`)
  async function decodeCodes(url, grid) {
    const p = await load(url);
    if (!p.g.codes) throw new Error('this decoder takes no code grid');
    return window.vaeGraph.images(p, window.vaeGraph.run(window.tf, p, null, 1, grid), 1)[0];
  }

  // several codes in one batch → one {pixels, c, h, w} each
  async function decodeMany(url, zs) {
    const p = await load(url);
    const d = p.g.latent_dim, flat = new Float32Array(zs.length * d);
    zs.forEach((z, i) => flat.set(z, i * d));
    return window.vaeGraph.images(p, window.vaeGraph.run(window.tf, p, flat, zs.length), zs.length);
  }

  // one image (C, H, W in [0, 1]) into RGBA at (left, top) of `data` (width `width`), as images.to_uint8 rounds
  function put(data, width, out, left = 0, top = 0) {
    const {pixels, c, h, w} = out, n = h * w;
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        const i = r * w + col, o = 4 * ((top + r) * width + left + col);
        for (let k = 0; k < 3; k++) {
          const v = pixels[(c === 1 ? 0 : k) * n + i];
          data.data[o + k] = Math.floor(255 * Math.min(1, Math.max(0, v || 0)) + 0.5);
        }
        data.data[o + 3] = 255;
      }
    }
  }

  // one image as a canvas of its own size, and a canvas upscaled by a whole factor (nearest neighbour)
  function native(out) {
    const cv = document.createElement('canvas');
    cv.width = out.w; cv.height = out.h;
    const ctx = cv.getContext('2d');
    const data = ctx.createImageData(out.w, out.h);
    put(data, out.w, out);
    ctx.putImageData(data, 0, 0);
    return cv;
  }
  function upscaled(small, f) {
    const big = document.createElement('canvas');
    big.width = small.width * f; big.height = small.height * f;
    const ctx = big.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, big.width, big.height);
    return big;
  }

  // draw the pixels into an <img>, upscaled as the server's images are (services/images.display: a whole
  // factor, the longer side about 224 px), so the page's picture is the server's, pixel for pixel
  const DISPLAY_SIZE = 224;
  function paint(img, out, size = DISPLAY_SIZE) {
    img.src = upscaled(native(out), Math.max(1, Math.floor(size / Math.max(out.h, out.w)))).toDataURL();
  }

  // Can the page decode with `url` into the elements `els`? → {backend} or {why not} (?decode=server, no
  // runtime, no exported decoder, no picture to paint yet): the tabs then ask the server and say why.
  async function ready(url, ...els) {
    const forced = new URLSearchParams(window.location.search).get('decode') === 'server';
    const backend = forced ? null : await start(window.vaeDecoderBase);
    const why = forced ? 'asked for by ?decode=server' : !backend ? 'this browser cannot run the in-page decoder'
      + (state.error ? ': ' + state.error : '') : !url ? 'this model has no exported decoder'
      : els.some((e) => !e) ? 'no image yet' : null;
    return why ? {why} : {backend};
  }

  // --- the code-grid editor (a discrete code): services/codes.grid_view, drawn in the page ---
  // Decode `grid` here, paint the image into #sliders-image and the editor's picture (the image upscaled,
  // the cells' borders, each cell's code, `cell` outlined) into #codes-grid. web: webdecode.page_codes.
  async function paintCodes(web, grid, cell) {
    const img = document.querySelector('#sliders-image img'), view = document.querySelector('#codes-grid img');
    const {backend, why} = await ready(web && web.url, img, view);
    if (why) return {page: false, why};
    let out;
    try { out = await decodeCodes(web.url, grid); } catch (err) {
      return {page: false, why: 'in-page decoding failed: ' + (err && err.message || err)};
    }
    paint(img, out);
    const size = web.view, [gh, gw] = web.grid, ch = size / gh, cw = size / gw;
    const cv = upscaled(native(out), size / out.h);  // view_size: a whole factor
    const ctx = cv.getContext('2d');
    ctx.fillStyle = 'rgba(90, 160, 255, 0.59)';
    for (let r = 0; r <= gh; r++) ctx.fillRect(0, Math.round(r * ch), size, 1);
    for (let c = 0; c <= gw; c++) ctx.fillRect(Math.round(c * cw), 0, 1, size);
    const px = web.font_px;  // services/codes.CODE_FONT_PX, sent with the page copy
    ctx.font = px + 'px sans-serif';
    ctx.textBaseline = 'top';
    grid.forEach((row, r) => row.forEach((k, c) => {
      const text = String(k), x0 = Math.floor(c * cw + 2), y0 = Math.floor(r * ch + 1);
      ctx.fillStyle = 'rgba(0, 0, 0, 0.59)';
      ctx.fillRect(x0, y0, ctx.measureText(text).width + 4, px + 3);
      ctx.fillStyle = 'rgb(255, 255, 120)';
      ctx.fillText(text, x0 + 2, y0 + 1);
    }));
    if (cell) {
      ctx.strokeStyle = 'rgb(255, 140, 0)';
      ctx.lineWidth = 3;
      ctx.strokeRect(cell[1] * cw + 1.5, cell[0] * ch + 1.5, cw - 2, ch - 2);
    }
    view.src = cv.toDataURL();
    paintCodes.count += 1;
    return {page: true, backend};
  }
  paintCodes.count = 0;

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
    frames.forEach((fr, i) => put(data, W, fr, pad + (i % cols) * (w + pad), pad + Math.floor(i / cols) * (h + pad)));
    small.getContext('2d').putImageData(data, 0, 0);
    img.src = upscaled(small, f).toDataURL();
  }

  // The three paths from A to B for n steps (web: webdecode.page_path), drawn into the tab's strips.
  // Resolves to true when the page drew them, false when it cannot (the server draws them then).
  let pathTurn = 0;
  async function paintPath(web, n) {
    const turn = ++pathTurn;
    const imgs = ['#interp-pixel img', '#interp-linear img', '#interp-slerp img'].map((s) => document.querySelector(s));
    if ((await ready(web && web.url, ...imgs)).why) return false;
    n = Math.round(Math.min(24, Math.max(2, Number(n) || 8)));
    const ts = Array.from({length: n}, (_, i) => i / (n - 1));
    const [c, h, w] = web.shape;
    try {
      const linear = await decodeMany(web.url, ts.map((t) => lerp(web.za, web.zb, t)));
      const spherical = await decodeMany(web.url, ts.map((t) => slerp(web.za, web.zb, t)));
      if (turn !== pathTurn) return true;  // a newer step count is being drawn
      const pixel = ts.map((t) => ({pixels: lerp(web.xa, web.xb, t), c, h, w}));
      [pixel, linear, spherical].forEach((frames, k) => paintStrip(imgs[k], frames, web.columns, web.height));
      paintPath.count += 1;
      return true;
    } catch (err) {
      state.error = String(err && err.message || err);
      return false;
    }
  }
  paintPath.count = 0;

  // Decode z into img in the page; when it cannot (?decode=server, no runtime, no exported decoder, an
  // error), click the tab's hidden button that asks the server. Resolves to {page, backend} or {page, why}.
  async function decodeOrAsk(url, z, img, button) {
    let {backend, why} = await ready(url, img);
    if (!why) {
      try { paint(img, await decode(url, z())); return {page: true, backend}; }
      catch (err) { why = 'in-page decoding failed: ' + (err && err.message || err); }
    }
    // a frame later: a move caught as it happens (onSlide) reaches Gradio's copy of the slider after this
    await new Promise((ok) => requestAnimationFrame(ok));
    const b = document.querySelector(button);
    if (b) b.click();
    return {page: false, why};
  }

  // Sliders that decode as they move, with no Gradio event per move (each one costs the page ~4 ms of
  // Gradio's front end): a move of a slider (or a number typed in its box) inside an element matching
  // `within` runs `fn`, at most one run at a time; moves during a run only ask for one more run, with the
  // values of then. So a page too slow for every move repaints less often, never falls behind.
  function onSlide(within, fn) {
    let busy = false, again = false;
    async function go() {
      if (busy) { again = true; return; }
      busy = true;
      try {
        do { again = false; await fn(); } while (again);
      } catch (err) { state.error = String(err && err.message || err); }
      busy = false;
    }
    const moved = (ev) => {
      const t = ev.target;
      if (!t || !t.closest || !t.closest(within)) return;
      if (t.type === 'range') go();
      else if (t.type === 'number') setTimeout(go, 0);  // a typed value: once the slider has taken it
    };
    document.addEventListener('input', moved, true);
    document.addEventListener('change', (ev) => ev.target && ev.target.type === 'number' && moved(ev), true);
    // a slider's ↺ button (Gradio 6.31 sets the slider's first value and dispatches Gradio's change and
    // release, no DOM input): the same run, once the slider's <input> has taken the value (a frame later)
    document.addEventListener('click', (ev) => {
      const t = ev.target;
      if (!t || !t.closest || !t.closest(within) || !t.closest('.reset-button')) return;
      requestAnimationFrame(() => setTimeout(go, 0));
    }, true);
  }

  // a latent-map position → z (webdecode.page_map): center + x·axes[0] + y·axes[1]
  function mapLatent(web, x, y) {
    return web.center.map((c, d) => c + x * web.axes[0][d] + y * web.axes[1][d]);
  }

  // The pointer over the latent map decodes where it is, at most once per frame (robz.github.io/mnist-vae
  // does the same): no click, no server. window.vaeMapWeb is set by the map tab for the model shown.
  let pending = null, busy = false;
  hover.frames = 0;
  hover.latencies = [];
  function hover(ev) {
    const web = window.vaeMapWeb;
    const box = document.querySelector('#map-plot');
    if (!web || !web.url || !state.backend || !box || !box.contains(ev.target)) return;
    const gd = box.querySelector('.js-plotly-plot');
    const drag = gd && gd.querySelector('.nsewdrag');
    if (!drag || !gd._fullLayout) return;
    const r = drag.getBoundingClientRect();
    if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) return;
    pending = [gd._fullLayout.xaxis.p2d(ev.clientX - r.left), gd._fullLayout.yaxis.p2d(ev.clientY - r.top), web,
               ev.timeStamp];
    if (busy) return;
    busy = true;
    requestAnimationFrame(async () => {
      try {
        while (pending) {
          const [x, y, w, t] = pending;
          pending = null;
          const img = document.querySelector('#map-decoded img');
          if (img) {
            paint(img, await decode(w.url, mapLatent(w, x, y)));
            hover.frames += 1;
            hover.latencies.push(performance.now() - t);  // pointer event → new pixels handed to the <img>
            if (hover.latencies.length > 1000) hover.latencies.shift();
          }
        }
      } catch (err) { state.error = String(err && err.message || err); }
      busy = false;
    });
  }
  document.addEventListener('pointermove', hover, true);

  window.vaeDecoder = {start, load, decode, decodeMany, decodeCodes, paint, paintPath, paintCodes, decodeOrAsk,
                      onSlide, prefetch, mapLatent, state, hover};
})();

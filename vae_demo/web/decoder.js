// The in-page decoder: runs an exported decoder graph (vae_demo/export.py; the interpreter is graph.js) with
// TensorFlow.js in WebAssembly, so a slider move repaints without asking the server. window.vaeDecoder:
//   start(base)          load the vendored runtime from `base` (the app's own files); resolves to the
//                        backend name, or to null when it cannot start (no WebAssembly): the page then
//                        keeps decoding on the server
//   load(url)            fetch and prepare one graph (cached by url); prefetch(web) starts that early
//   decode(url, z)       → {pixels: Float32Array in [0, 1], c, h, w}; decodeMany(url, zs) → one each
//   decodeCodes(url, grid)  a discrete code's (h, w) index grid → one image (graphs with `codes`)
//   paint(img, out)      draw the pixels into an <img>, upscaled as the server's pictures are
//   painted(img, by)     announce a picture the page drew ('vae-painted'); ready(url, ...els): can it decode?
//   put, native, upscaled  pixels into RGBA / a canvas / a canvas upscaled (nearest), for the tabs' own drawing
//   decodeOrAsk(url, z, img, button)  decode and paint, else click the tab's button that asks the server
//   onSlide(within, fn)  run fn on every move of the sliders inside `within`, one run at a time
(() => {
  if (window.vaeDecoder) return;
  const graphs = new Map();
  let starting = null;
  const state = {backend: null, error: null};
  const t = (text, values) => window.vaeLanguage.pageLanguage().t(text, values);  // the page's language

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
  function paint(img, out, size = DISPLAY_SIZE, by = 'decode', detail = {}) {
    img.src = upscaled(native(out), Math.max(1, Math.floor(size / Math.max(out.h, out.w)))).toDataURL();
    painted(img, by, detail);
  }

  // Every picture the page draws itself says so: a 'vae-painted' event (bubbling, detail {by: decode | hover |
  // path | codes, ...}) on its <img>, for whoever wants to know (the tests, the latency benchmark).
  function painted(img, by, detail = {}) {
    img.dispatchEvent(new CustomEvent('vae-painted', {bubbles: true, detail: {by, ...detail}}));
  }

  // Can the page decode with `url` into the elements `els`? → {backend} or {why not} (?decode=server, no
  // runtime, no exported decoder, no picture to paint yet): the tabs then ask the server and say why.
  async function ready(url, ...els) {
    const forced = new URLSearchParams(window.location.search).get('decode') === 'server';
    const backend = forced ? null : await start(window.vaeDecoderBase);
    const why = forced ? t('asked for by ?decode=server') : !backend ? t('this browser cannot run the in-page decoder')
      + (state.error ? ': ' + state.error : '') : !url ? t('this model has no exported decoder')
      : els.some((e) => !e) ? t('no image yet') : null;
    return why ? {why} : {backend};
  }

  // Decode z into img in the page; when it cannot (?decode=server, no runtime, no exported decoder, an
  // error), click the tab's hidden button that asks the server. Resolves to {page, backend} or {page, why}.
  async function decodeOrAsk(url, z, img, button) {
    let {backend, why} = await ready(url, img);
    if (!why) {
      try { paint(img, await decode(url, z())); return {page: true, backend}; }
      catch (err) { why = t('in-page decoding failed: {error}', {error: err && err.message || err}); }
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


  window.vaeDecoder = {start, load, decode, decodeMany, decodeCodes, paint, painted, put, native, upscaled, ready,
                      decodeOrAsk, onSlide, prefetch, state, DISPLAY_SIZE};
})();

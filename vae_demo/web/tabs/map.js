// Latent map, in the page. x/y moved: decode in the page when it can, one decode at a time with the latest
// position and no Gradio event per move (decoder.js onSlide; the pointer hovering over the map is decoder.js
// hover), else click the hidden button that asks the server.
// gr.Plot has no click/select event with coordinates (only .change), so a click on the map is turned into
// x/y slider moves here: the plot's own axes convert the click to data units.
(() => {
  const D = window.vaeDecoder;
  // a latent-map position → z (webdecode.page_map): center + x·axes[0] + y·axes[1]
  function mapLatent(web, x, y) {
    return web.center.map((c, d) => c + x * web.axes[0][d] + y * web.axes[1][d]);
  }

  // The pointer over the latent map decodes where it is, at most once per frame (robz.github.io/mnist-vae
  // does the same): no click, no server. window.vaeMapWeb is set by the map tab for the model shown.
  let pending = null, busy = false;
  function hover(ev) {
    const web = window.vaeMapWeb;
    const box = document.querySelector('#map-plot');
    if (!D || !web || !web.url || !D.state.backend || !box || !box.contains(ev.target)) return;
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
          const out = img && await D.decode(w.url, mapLatent(w, x, y));
          // latency: pointer event → new pixels handed to the <img>
          if (out) D.paint(img, out, D.DISPLAY_SIZE, 'hover', {latency_ms: performance.now() - t});
        }
      } catch (err) { D.state.error = String(err && err.message || err); }
      busy = false;
    });
  }
  document.addEventListener('pointermove', hover, true);

  if (D) {
    D.onSlide('#map-x, #map-y', async () => {
      const web = window.vaeMapWeb, v = (id) => Number(document.querySelector(id + ' input[type=range]').value);
      await D.decodeOrAsk(web && web.url, () => mapLatent(web, v('#map-x'), v('#map-y')),
                          document.querySelector('#map-decoded img'), '#map-server-decode');
    });
  }
  document.addEventListener('click', (ev) => {
    const box = document.querySelector('#map-plot');
    if (!box || !box.contains(ev.target)) return;
    const gd = box.querySelector('.js-plotly-plot');
    const drag = gd && gd.querySelector('.nsewdrag');
    if (!drag || !gd._fullLayout) return;
    const r = drag.getBoundingClientRect();
    if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) return;
    const x = gd._fullLayout.xaxis.p2d(ev.clientX - r.left);
    const y = gd._fullLayout.yaxis.p2d(ev.clientY - r.top);
    for (const [id, v] of [['#map-x', x], ['#map-y', y]]) {
      const input = document.querySelector(id + ' input[type=range]');
      if (!input) continue;
      input.value = v.toFixed(2);
      input.dispatchEvent(new Event('input', {bubbles: true}));
      input.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    }
  }, true);
})();

// Latent sliders, in the page: a slider move decodes z here (decoder.js) and repaints the image, one decode at
// a time with the latest values, and no Gradio event per move (onSlide); only when the runtime cannot start (no
// WebAssembly, ?decode=server, or a model with no exported decoder) is the hidden button clicked that asks the
// server. window.vaeSlidersWeb is this tab's webdecode.page_decoder for the model shown.
(() => {
  const D = window.vaeDecoder;
  const t = (text, values) => window.vaeLanguage.pageLanguage().t(text, values);  // the page's language
  // --- the code-grid editor (a discrete code): services/codes.grid_view, drawn in the page ---
  // Decode `grid` here, paint the image into #sliders-image and the editor's picture (the image upscaled,
  // the cells' borders, each cell's code, `cell` outlined) into #codes-grid. web: webdecode.page_codes.
  async function paintCodes(web, grid, cell) {
    const img = document.querySelector('#sliders-image img'), view = document.querySelector('#codes-grid img');
    const {backend, why} = await D.ready(web && web.url, img, view);
    if (why) return {page: false, why};
    let out;
    try { out = await D.decodeCodes(web.url, grid); } catch (err) {
      return {page: false, why: t('in-page decoding failed: {error}', {error: err && err.message || err})};
    }
    D.paint(img, out);
    const size = web.view, [gh, gw] = web.grid, ch = size / gh, cw = size / gw;
    const cv = D.upscaled(D.native(out), size / out.h);  // view_size: a whole factor
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
    D.painted(view, 'codes');
    return {page: true, backend};
  }

  const R = window.vaeDemoPage.tabs.sliders.range;
  const say = (r, what) => {  // where the picture was decoded
    const where = document.querySelector('#sliders-where');
    const text = r.page ? t('Decoded in this browser (TensorFlow.js, {backend}): a {what} asks the server nothing.',
      {backend: r.backend, what}) : t('Decoded on the server ({why}).', {why: t(r.why)});
    if (where && where.innerText !== text) where.innerText = text;
  };

  // A code picked for the selected cell (a discrete code): set it in the grid and decode and draw in the page
  // (decoder.js paintCodes); when the page cannot, the hidden button asks the server's set_code. The event's
  // outputs: [grid, info].
  async function pickCode(web, grid, cell, code, info) {
    const k = Math.round(Number(code));
    const ok = D && web && Array.isArray(grid) && Array.isArray(cell) && cell.length === 2
      && Number.isFinite(k) && k >= 0 && k < web.shares.length;
    let r = {page: false, why: !D ? t('the decoder script did not load') : !web ? t('this model has no exported decoder')
      : t('the server checks this code')};
    let g = grid;
    if (ok) {
      g = grid.map((row) => row.slice());
      g[cell[0]][cell[1]] = k;
      r = await paintCodes(web, g, cell);
    }
    say(r, t('code change'));
    if (!r.page) { document.querySelector('#codes-server-decode').click(); return [grid, info]; }
    const pct = (100 * web.shares[k]).toFixed(1);
    return [g, t("Cell ({row}, {col}) holds code **{k}**, used by {pct}% of the test images' cells. Most used codes: {top}.",
      {row: cell[0], col: cell[1], k, pct, top: web.top.join(', ')})];
  }
  window.vaeDemo.sliders = {pickCode};

  if (!D) return;
  D.onSlide('[id^="sliders-z"]', async () => {
    const web = window.vaeSlidersWeb;
    const z = () => {  // standard units → z: every dim from the base, the shown ones from their sliders
      const out = web.mean.map((m, d) => m + web.base[d] * web.std[d]);
      web.shown.forEach((d, i) => {
        const input = document.querySelector('#sliders-z' + i + ' input[type=range]');
        if (input) out[d] = web.mean[d] + Math.max(-R, Math.min(R, Number(input.value) || 0)) * web.std[d];
      });
      return out;
    };
    const r = await D.decodeOrAsk(web && web.url, z, document.querySelector('#sliders-image img'),
                                  '#sliders-server-decode');
    say(r, t('slider move'));
    if (web && web.classes) {  // a model told the class: its grids of the same z follow the code, from the server
      await new Promise((ok) => requestAnimationFrame(ok));  // Gradio's copies of the sliders have the move then
      const b = document.querySelector('#sliders-class-refresh');
      if (b) b.click();
    }
  });
})();

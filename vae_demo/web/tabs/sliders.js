// Latent sliders, in the page: a slider move decodes z here (decoder.js) and repaints the image, one decode at
// a time with the latest values, and no Gradio event per move (onSlide); only when the runtime cannot start (no
// WebAssembly, ?decode=server, or a model with no exported decoder) is the hidden button clicked that asks the
// server. window.vaeSlidersWeb is this tab's webdecode.page_decoder for the model shown.
(() => {
  const D = window.vaeDecoder;
  if (!D) return;
  const R = window.vaeDemoPage.tabs.sliders.range;
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
    const where = document.querySelector('#sliders-where');
    const text = r.page ? 'Decoded in this browser (TensorFlow.js, ' + r.backend + '): a slider move asks the '
      + 'server nothing.' : 'Decoded on the server (' + r.why + ').';
    if (where && where.innerText !== text) where.innerText = text;
  });
})();

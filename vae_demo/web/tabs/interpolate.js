// Interpolation, in the page. Steps N dragged: the page decodes and draws the three strips itself (decoder.js)
// from the two codes the server sent with the pair (window.vaeInterpWeb: webdecode.page_path), one drawing at
// a time and no Gradio event per move (onSlide); nothing is asked of the server until the slider is let go.
(() => {
  const D = window.vaeDecoder;
  // Steps N let go: draw in the page once more, then tell the server whether it did (the event's last input),
  // so the server writes only the GIF and the numbers, or, when the page could not, the strips as well
  async function released(dataset, name, a, b, n, web) {
    return [dataset, name, a, b, n, D ? await D.paintPath(web, n) : false];
  }
  window.vaeDemo.interpolate = {released};
  if (!D) return;
  D.onSlide('#interp-steps', async () => {
    const n = document.querySelector('#interp-steps input[type=range]').value;
    const drew = await D.paintPath(window.vaeInterpWeb, n);
    const where = document.querySelector('#interp-where');
    const text = drew ? 'Strips decoded in this browser as you drag Steps N; the server writes the GIF when you '
      + 'let go.' : 'Strips decoded on the server when you let go of Steps N.';
    if (where && where.innerText !== text) where.innerText = text;
  });
})();

// β and the rate–distortion plane, in the page: a click on the plane picks the model whose point is nearest the
// pointer (within 40 px), by clicking its β in the radio beside the plot, so the click and the radio go one way.
// gr.Plot has no click event of its own; the plot's axes convert the points to pixels (as map.js does).
(() => {
  const NEAR_PX = 40;
  function nearest(gd, ev) {
    const drag = gd.querySelector('.nsewdrag');
    const layout = gd._fullLayout;
    if (!drag || !layout || !Array.isArray(gd.data)) return null;
    const r = drag.getBoundingClientRect();
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    let best = null, bestD = NEAR_PX;
    for (const trace of gd.data) {
      if (!Array.isArray(trace.customdata)) continue;  // the points carry their model's name
      trace.customdata.forEach((name, i) => {
        const dx = layout.xaxis.d2p(trace.x[i]) - px, dy = layout.yaxis.d2p(trace.y[i]) - py;
        const d = Math.hypot(dx, dy);
        if (d < bestD) { bestD = d; best = name; }
      });
    }
    return best;
  }

  document.addEventListener('click', (ev) => {
    const box = document.querySelector('#rate-plane');
    if (!box || !box.contains(ev.target)) return;
    const gd = box.querySelector('.js-plotly-plot');
    const name = gd && nearest(gd, ev);
    if (!name) return;
    const input = [...document.querySelectorAll('#rate-model input[type=radio]')].find((i) => i.value === name);
    if (input && !input.checked) input.click();
  }, true);
})();

// The drawing pad of "Corrupt & restore" opens with its brush picked. Gradio's Sketchpad starts with no tool
// ("select the draw tool to start"): a drag on it then selected the page's text instead of drawing. Each
// pad is picked for once, when it is first on screen (a click anywhere may have just shown its tab).
(() => {
  if (window.vaeSketch) return;
  const PADS = '#restore-sketch';
  function pick() {
    let waiting = false;
    document.querySelectorAll(PADS).forEach((pad) => {
      if (pad.dataset.brushPicked || !pad.offsetParent) return;  // done, or not on screen
      const brush = pad.querySelector('button[aria-label="Brush"]');
      if (!brush) { waiting = true; return; }  // the editor is still starting
      pad.dataset.brushPicked = '1';
      brush.click();
    });
    return waiting;
  }
  function soon(tries = 20) {  // the editor takes a moment to start once its tab is shown
    setTimeout(() => { if (pick() && tries > 0) soon(tries - 1); }, 100);
  }
  document.addEventListener('click', () => soon(), true);
  soon();
  window.vaeSketch = {pick};
})();

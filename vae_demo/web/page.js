// The page's start (Gradio runs this function once the page has loaded; app/page.py gives it `cfg`):
// window.vaeDemoPage = cfg, the in-page decoder (graph.js, decoder.js) started from the app's own files (no
// outside host), then each tab's script (Tab.script) in order, and the poll that tells Gradio about new
// checkpoints or test images. cfg: {runtime, core: [url], scripts: [url], pollMs, tabs: {id: the tab's config}}.
(cfg) => {
  window.vaeDemoPage = cfg;
  window.vaeDemo = {
    // a tab's `web.change` js: keep its page copy (services/webdecode page_*) as window[name] for the page's
    // own decoding, and fetch its graph now rather than at the first move; `clear` is the element whose
    // text says where the last picture was decoded (a new model has decoded nothing yet)
    keep(name, web, clear) {
      window[name] = window.vaeDecoder ? window.vaeDecoder.prefetch(web) : web;
      const el = clear && document.querySelector(clear);
      if (el) el.innerText = '';
    },
  };
  const load = (src) => new Promise((ok) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = ok;
    s.onerror = ok;  // a tab without its script still works on the server
    document.head.appendChild(s);
  });
  (async () => {
    for (const src of cfg.core) await load(src);
    if (window.vaeDecoder) window.vaeDecoder.start(cfg.runtime);
    for (const src of cfg.scripts) await load(src);
  })();
  // new checkpoints or test images: fetch the versions file (a static GET), ask Gradio only when it changed
  let seen = null;
  setInterval(async () => {
    const el = document.querySelector('#versions-url');
    const button = document.querySelector('#versions-check');
    if (!el || !button) return;
    try {
      const r = await fetch(el.dataset.url, {cache: 'no-store'});
      const v = r.ok ? await r.text() : seen;
      if (v !== seen) { seen = v; button.click(); }
    } catch { /* the server is away for a moment: try again at the next poll */ }
  }, cfg.pollMs);
}

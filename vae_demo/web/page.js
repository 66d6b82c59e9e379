// The page's start (Gradio runs this function once the page has loaded; app/page.py gives it `cfg`):
// window.vaeDemoPage = cfg, the in-page decoder (graph.js, decoder.js) started from the app's own files (no
// outside host), then each tab's script (Tab.script) in order, and the poll that tells Gradio about new
// checkpoints or test images. cfg: {runtime, core: [url], scripts: [url], styles: [url], lesson: [step], pollMs,
// tabs: {id: the tab's config}}. Presentation mode: present(on) (the header's toggle; ?present=1 in the link).
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
    // presentation mode: large type, secondary things folded away, a full-screen button on each main
    // picture (an element with the class vd-main); the link says so (?present=1) so it can be shared
    present(on) {
      document.body.classList.toggle('vd-present', Boolean(on));
      const url = new URL(window.location.href);
      if (on) url.searchParams.set('present', '1'); else url.searchParams.delete('present');
      window.history.replaceState(null, '', url);
    },
  };
  // each main picture gets its full-screen button (shown in presentation mode only), also those of tabs
  // Gradio draws later: looked for once per frame while the page changes
  const addFullscreenButtons = () => {
    for (const el of document.querySelectorAll('.vd-main')) {
      if (el.querySelector(':scope > .vd-fullscreen') || el.parentElement.closest('.vd-main')) continue;
      const b = document.createElement('button');
      b.className = 'vd-fullscreen';
      b.title = b.textContent = window.vaeLanguage.pageLanguage().t('full screen');
      b.addEventListener('click', () => (document.fullscreenElement ? document.exitFullscreen()
        : el.requestFullscreen()).catch(() => {}));
      el.appendChild(b);
    }
  };
  let queued = false;
  const watchMainPictures = () => {  // once language.js is in (the button's text is in the page's language)
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; addFullscreenButtons(); });
    }).observe(document.body, {childList: true, subtree: true});
    addFullscreenButtons();
  };
  for (const href of cfg.styles) {
    const style = document.createElement('link');
    style.rel = 'stylesheet';
    style.href = href;
    document.head.appendChild(style);
  }
  if (new URLSearchParams(window.location.search).get('present') === '1') {
    const box = document.querySelector('#present input');  // ticking it runs present(true), as a click does
    if (box && !box.checked) box.click();
  }
  const load = (src) => new Promise((ok) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = ok;
    s.onerror = ok;  // a tab without its script still works on the server
    document.head.appendChild(s);
  });
  (async () => {
    for (const src of cfg.core) await load(src);
    watchMainPictures();
    if (window.vaeDecoder) window.vaeDecoder.start(cfg.runtime);
    for (const src of cfg.scripts) await load(src);
    if (window.vaeViewState && !new URLSearchParams(window.location.search).has('lesson')) {
      window.vaeViewState.start();  // a link to a view: applied once the page has drawn (a lesson step: lesson.js)
    }
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

// The lesson (vae_demo/app/lesson.py): steps shown in the panel under the header (#lesson), each opened as its
// link would be (vaeViewState.apply), with Back / Next, the arrow keys and a step indicator; ?lesson=N in the
// page's link opens step N. Loaded after viewstate.js; window.vaeDemoPage.lesson holds the steps.
(() => {
  const steps = (window.vaeDemoPage && window.vaeDemoPage.lesson) || [];
  const V = window.vaeViewState;
  const L = window.vaeLanguage.pageLanguage();
  let current = 0;  // 1-based; 0: the lesson is closed
  let running = Promise.resolve();

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(label, cls, onClick) {
    const b = el('button', `vd-lesson-button ${cls}`, label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  function render() {
    const host = document.querySelector('#lesson');
    if (!host) return;
    host.replaceChildren();
    document.body.classList.toggle('vd-lesson', current > 0);
    if (!current) return;
    const s = steps[current - 1];
    const card = el('div', 'vd-lesson-card');
    const head = el('div', 'vd-lesson-head');
    head.append(el('span', 'vd-lesson-count', L.t('Step {n} of {total}', {n: current, total: steps.length})),
      el('strong', 'vd-lesson-title', L.t(s.title)));
    const nav = el('div', 'vd-lesson-nav');
    const back = button(L.t('← Back'), 'vd-lesson-back', () => go(current - 1));
    const next = button(L.t('Next →'), 'vd-lesson-next', () => go(current + 1));
    back.disabled = current === 1;
    next.disabled = current === steps.length;
    nav.append(back, next, button(L.t('✕ Close'), 'vd-lesson-close', () => go(0)));
    head.append(nav);
    card.append(head, el('p', 'vd-lesson-text', L.t(s.text)),
      el('p', 'vd-lesson-question', L.t('Ask the class: {question}', {question: L.t(s.question)})));
    host.append(card);
  }

  function remember() {
    const url = new URL(window.location.href);
    if (current) url.searchParams.set('lesson', String(current)); else url.searchParams.delete('lesson');
    window.history.replaceState(null, '', url);
  }

  // open step n (1-based; 0 closes the lesson): the panel at once, then its view, one step at a time
  function go(n) {
    if (n < 0 || n > steps.length) return running;
    current = n;
    render();
    remember();
    if (!n) return running;
    const step = steps[n - 1];
    running = running.then(async () => {
      if (current !== n) return;  // moved on before this one started
      await V.apply(step.state);
      document.body.dataset.lessonStep = String(n);
    });
    return running;
  }

  document.addEventListener('keydown', (e) => {
    if (!current || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = document.activeElement;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;  // a slider's arrows
    if (e.key === 'ArrowRight') go(Math.min(current + 1, steps.length));
    else if (e.key === 'ArrowLeft') go(Math.max(current - 1, 1));
  });

  window.vaeLesson = {go, steps, get current() { return current; }};
  const start = document.querySelector('#lesson-start');
  if (start) start.addEventListener('click', () => go(current || 1));
  const wanted = Number(new URLSearchParams(window.location.search).get('lesson'));
  if (wanted >= 1 && wanted <= steps.length) V.settle(800).then(() => go(wanted));
})();

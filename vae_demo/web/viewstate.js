// The view in the page's link: which tab (and view), which dataset, and the tab's controls, written into
// the link by "Copy link" and read back when a link is opened. A link is applied as a person would set the
// controls (a click on a radio, a number typed and Enter, a slider dragged, an option picked), one at a time,
// each after the page has settled, so every value goes through the same path to the picture as a person's.
// Each tab declares its controls, in the order they are set (Tab.config.state: [[elem_id, kind], ...]).
// The pure half (the link's query ⇄ a state) has no DOM: Node's tests run it (tests/js/viewstate.test.js).
(function (root, factory) {
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.vaeViewState = api;
}(typeof self !== 'undefined' ? self : this, () => {
  const root = typeof self !== 'undefined' ? self : {};
  // kinds of control: how each is read and set (a 'click' is a button pressed after the others: Interpolate)
  const KINDS = ['radio', 'checkbox', 'slider', 'number', 'dropdown', 'multiselect', 'view', 'click'];
  const KEEP = ['present', 'decode', 'lang'];  // the page's own flags: kept in every link

  // {tab, dataset, controls: {elem_id: value}} → "?tab=…&dataset=…&<elem_id>=…"; a multiselect's values
  // are one parameter each, in order
  function toQuery(state, flags = {}) {
    const q = new URLSearchParams();
    for (const k of KEEP) if (flags[k] !== undefined && flags[k] !== null) q.set(k, flags[k]);
    if (state.tab) q.set('tab', state.tab);
    if (state.dataset) q.set('dataset', state.dataset);
    for (const [id, v] of Object.entries(state.controls || {})) {
      if (Array.isArray(v)) for (const item of v) q.append(id, item);
      else q.set(id, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  // the inverse, for the controls a tab declares (others are ignored: an old link still opens)
  function fromQuery(search, declared) {
    const q = new URLSearchParams(search);
    const state = {tab: q.get('tab'), dataset: q.get('dataset'), controls: {}};
    for (const [id, kind] of declared) {
      if (!q.has(id)) continue;
      state.controls[id] = kind === 'multiselect' ? q.getAll(id) : q.get(id);
    }
    return state;
  }

  function flagsOf(search) {
    const q = new URLSearchParams(search);
    const flags = {};
    for (const k of KEEP) if (q.has(k)) flags[k] = q.get(k);
    return flags;
  }

  // --- the page ------------------------------------------------------------------------------------------

  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const $ = (sel, el = document) => el.querySelector(sel);

  // the page has done what the last change made it do: no Gradio progress shown and nothing redrawn for a while
  async function settle(quietMs = 500, timeoutMs = 30000) {
    const t0 = performance.now();
    let last = null;
    let since = performance.now();
    await sleep(100);
    while (performance.now() - t0 < timeoutMs) {
      const busy = document.querySelector('.progress-text, .eta-bar, .generating');
      const key = [...document.querySelectorAll('img')].map((e) => e.getAttribute('src')).join('|').length;
      if (busy || key !== last) { last = key; since = performance.now(); }
      else if (performance.now() - since >= quietMs) return;
      await sleep(100);
    }
  }

  function optionLabel(text) { return text.replace(/\s+/g, ' ').trim(); }
  // a label written in full (a copied link) or by its first words (a model's name, in a lesson step)
  // (or, for a model, by the name before its " — ": a link copied in another language still opens)
  const names = (text, label) => text === label || text.startsWith(`${label} `)
    || (label.includes(' — ') && text.split(' — ')[0] === label.split(' — ')[0]);
  // a tab's or a view's title as links hold it: in English, whatever the page's language (web/language.js)
  const english = (text) => (root.vaeLanguage ? root.vaeLanguage.pageLanguage().source(text) : text);

  function read(el, kind) {
    if (kind === 'radio') return $('input[type=radio]:checked', el)?.value ?? null;
    if (kind === 'checkbox') return $('input[type=checkbox]', el)?.checked ? '1' : '0';
    if (kind === 'slider' || kind === 'number') return $('input[type=number]', el)?.value ?? null;
    if (kind === 'dropdown') return $('input', el)?.value ?? null;
    if (kind === 'multiselect') return [...el.querySelectorAll('.token > span')].map((s) => optionLabel(s.innerText));
    if (kind === 'view') {
      const title = $('[role=tab][aria-selected=true]', el)?.innerText.trim();
      return title == null ? null : english(title);
    }
    if (kind === 'click') return 'go';
    return null;
  }

  async function pickOption(el, label) {
    const input = $('input[role=combobox], input', el);
    input.focus();
    input.dispatchEvent(new MouseEvent('mousedown', {bubbles: true}));
    input.click();
    for (let k = 0; k < 30; k += 1) {
      const options = [...document.querySelectorAll('[role=listbox] [role=option]')]
        .map((o) => [o, optionLabel(o.getAttribute('aria-label') || o.innerText)]);
      const hit = (options.find(([, text]) => text === label) || options.find(([, text]) => names(text, label)))?.[0];
      if (hit) {
        for (const type of ['mousedown', 'mouseup', 'click']) hit.dispatchEvent(new MouseEvent(type, {bubbles: true}));
        input.blur();
        return true;
      }
      await sleep(100);
    }
    input.blur();
    return false;
  }

  // does the control show `value`? (numbers as numbers; an option by its label or its first words)
  function holds(el, kind, value) {
    const now = read(el, kind);
    if (JSON.stringify(now) === JSON.stringify(value)) return true;
    if (now === null || now === undefined) return false;
    if (kind === 'slider' || kind === 'number') return now !== '' && Number(now) === Number(value);
    if (kind === 'dropdown') return names(now, value);
    if (kind === 'multiselect') return now.length === value.length && now.every((t, i) => names(t, optionLabel(value[i])));
    return false;
  }

  // set one control to `value` as a person would; false when it is already there (nothing to do)
  async function write(el, kind, value) {
    if (kind === 'click') { (el.tagName === 'BUTTON' ? el : $('button', el))?.click(); return true; }
    if (holds(el, kind, value)) return false;
    if (kind === 'radio') {  // its choices may come a moment after the view is shown
      let input = null;
      for (let k = 0; k < 50 && !input; k += 1) {
        input = [...el.querySelectorAll('input[type=radio]')].find((i) => i.value === value);
        if (!input) await sleep(100);
      }
      if (!input) return false;
      if (input.checked) return false;
      input.click();
    } else if (kind === 'checkbox') {
      $('input[type=checkbox]', el).click();
    } else if (kind === 'slider') {  // dragged: the range moves, then the pointer lets go
      const range = $('input[type=range]', el);
      range.value = String(value);
      range.dispatchEvent(new Event('input', {bubbles: true}));
      range.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    } else if (kind === 'number') {  // typed, then Enter
      const box = $('input[type=number]', el);
      box.focus();
      box.value = String(value);
      box.dispatchEvent(new Event('input', {bubbles: true}));
      for (const type of ['keydown', 'keypress', 'keyup']) {
        box.dispatchEvent(new KeyboardEvent(type, {key: 'Enter', code: 'Enter', keyCode: 13, bubbles: true}));
      }
      box.blur();
    } else if (kind === 'dropdown') {
      if (!await pickOption(el, value)) return false;
    } else if (kind === 'multiselect') {
      const want = value.map(optionLabel);
      for (let k = 0; k < 50; k += 1) {  // one at a time, looked up afresh: the list redraws after each
        const extra = [...el.querySelectorAll('.token')]
          .find((token) => !want.some((label) => names(optionLabel($('span', token).innerText), label)));
        if (!extra) break;
        $('.token-remove', extra).click();
        await settle(300);
      }
      for (const label of want) {
        if (!read(el, kind).some((text) => names(text, label))) {
          await pickOption(el, label);
          await settle(300);
        }
      }
    } else if (kind === 'view') {
      const tab = [...el.querySelectorAll('[role=tab]')].find((t) => english(t.innerText.trim()) === value);
      if (!tab) return false;
      tab.click();
    }
    return true;
  }

  const page = () => window.vaeDemoPage || {views: []};
  const topTabs = () => document.querySelector('[role=tablist]');

  function currentTab() {
    const title = english($('[role=tab][aria-selected=true]', topTabs())?.innerText.trim() ?? '');
    return page().views.find((v) => v.title === title) || null;
  }

  function currentState() {
    const view = currentTab();
    const state = {tab: view ? view.id : null, dataset: read(document.getElementById('dataset'), 'radio'),
      controls: {}};
    for (const [id, kind] of view ? view.state : []) {
      const el = document.getElementById(id);
      if (el && el.getClientRects().length) state.controls[id] = read(el, kind);  // shown controls only
    }
    return state;
  }

  function link() {
    const url = new URL(window.location.href);
    return url.origin + url.pathname + toQuery(currentState(), flagsOf(url.search));
  }

  async function openTab(title) {
    const tab = [...topTabs().querySelectorAll('[role=tab]')].find((t) => english(t.innerText.trim()) === title);
    if (tab && tab.getAttribute('aria-selected') !== 'true') { tab.click(); await settle(); }
  }

  // open the view a state describes: its tab, its dataset, then each control in the tab's order
  async function shown(id) {  // a tab draws its controls late
    let el = document.getElementById(id);
    for (let k = 0; k < 50 && !(el && el.getClientRects().length); k += 1) {
      await sleep(100);
      el = document.getElementById(id);
    }
    return el;
  }

  // open the view a state describes: its tab, its dataset, then each control in the tab's order; then the
  // state is read back, and what the page reset meanwhile (an event of its own load, still running) set again
  async function apply(state) {
    const view = page().views.find((v) => v.id === state.tab);
    if (view) await openTab(view.title);
    if (state.dataset && await write(document.getElementById('dataset'), 'radio', state.dataset)) await settle();
    const controls = (view ? view.state : []).filter(([id]) => id in state.controls);
    const set = controls.filter(([, kind]) => kind !== 'click');
    for (let pass = 0; pass < 3; pass += 1) {
      for (const [id, kind] of set) {
        const el = await shown(id);
        if (el && await write(el, kind, state.controls[id])) await settle();
      }
      await settle(800);
      if (set.every(([id, kind]) => {
        const el = document.getElementById(id);
        return !el || !el.getClientRects().length || holds(el, kind, state.controls[id]);
      })) break;
    }
    const presses = [...controls.filter(([, kind]) => kind === 'click').map(([id]) => id), ...(state.then || [])];
    for (const id of presses) {  // buttons pressed once the controls are set (Interpolate; a lesson step's)
      const el = document.getElementById(id);
      if (el) { (el.tagName === 'BUTTON' ? el : $('button', el))?.click(); await settle(); }
    }
    document.body.dataset.viewApplied = String(Number(document.body.dataset.viewApplied || 0) + 1);
  }

  async function copyLink(button = document.getElementById('copy-link')) {
    const text = link();
    window.history.replaceState(null, '', text);  // the address bar holds it too
    try { await navigator.clipboard.writeText(text); } catch { /* no clipboard here: the address bar has it */ }
    if (button) {
      const label = button.innerText;
      button.innerText = root.vaeLanguage ? root.vaeLanguage.pageLanguage().t('✓ Link copied') : '✓ Link copied';
      setTimeout(() => { button.innerText = label; }, 2000);
    }
    return text;
  }

  // this tab back to its first state: the page opened afresh on this tab and dataset (and the page's flags)
  function reset() {
    const url = new URL(window.location.href);
    const state = currentState();
    window.location.assign(url.origin + url.pathname + toQuery({tab: state.tab, dataset: state.dataset},
      flagsOf(url.search)));
  }

  // at page load: a link with a tab in it is applied once the first tab has drawn
  async function start() {
    const views = page().views;
    const search = window.location.search;
    const wanted = new URLSearchParams(search).get('tab');
    const view = views.find((v) => v.id === wanted);
    if (!view) return;
    await settle(800);
    await apply(fromQuery(search, view.state));
  }

  return {KINDS, toQuery, fromQuery, flagsOf, read, write, settle, currentState, link, apply, copyLink, reset, start};
}));

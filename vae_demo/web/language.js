// The page's language (vae_demo/language.py is the server's half, and chooses the same way): the link's ?lang=
// when it names one of the app's languages, else the first of the browser's languages that is one (its code or
// its main part: de of de-DE), else English. t(text, values) is a page string in that language (English is the
// key; {name} fields filled from values); source(text) the English string a shown text was translated from.
// The tables come from the server (window.vaeDemoPage.language: {languages, strings: {code: {english: text}}}).
// The pure half has no DOM: Node's tests run it (tests/js/language.test.js).
(function (root, factory) {
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.vaeLanguage = api;
}(typeof self !== 'undefined' ? self : this, () => {
  const SOURCE = 'en';

  function choose(search, languages, browser) {
    const asked = (new URLSearchParams(search).get('lang') || '').trim().toLowerCase();
    if (languages.includes(asked)) return asked;
    for (const tag of browser || []) {
      const code = String(tag).toLowerCase();
      if (languages.includes(code)) return code;
      if (languages.includes(code.split('-')[0])) return code.split('-')[0];
    }
    return SOURCE;
  }

  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));

  function make(config, code) {
    const table = ((config && config.strings) || {})[code] || {};
    const back = Object.fromEntries(Object.entries(table).map(([en, tr]) => [tr, en]));
    return {
      code,
      t: (text, values) => fill(table[text] || text, values),
      source: (text) => back[text] || text,
    };
  }

  function pageLanguage() {
    const config = (self.vaeDemoPage && self.vaeDemoPage.language) || {languages: [SOURCE], strings: {}};
    return make(config, choose(self.location.search, config.languages, self.navigator.languages));
  }

  return {SOURCE, choose, make, fill, pageLanguage};
}));

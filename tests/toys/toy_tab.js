// The toy tab's page script: it reads its config and writes it into its element.
(() => {
  const el = document.querySelector('#toy-script');
  if (el) el.innerText = 'script says ' + window.vaeDemoPage.tabs.toy.greeting;
})();

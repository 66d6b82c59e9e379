// ESLint for the page's scripts (browser globals; Gradio runs page.js as a function expression) and for their
// Node tests. The vendored TensorFlow.js is not ours to lint.
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  {ignores: ['vae_demo/web/vendor/**', 'node_modules/**', '.venv/**']},
  js.configs.recommended,
  {
    files: ['vae_demo/web/**/*.js', 'tests/toys/**/*.js'],
    languageOptions: {ecmaVersion: 2022, sourceType: 'script', globals: {...globals.browser, module: 'readonly'}},
    rules: {'no-unused-vars': ['error', {args: 'none'}], eqeqeq: ['error', 'always', {null: 'ignore'}]},
  },
  {
    files: ['tests/js/**/*.js', 'eslint.config.js'],
    languageOptions: {ecmaVersion: 2022, sourceType: 'commonjs', globals: globals.node},
  },
];

// Lint: typescript-eslint's recommended rules plus the type-aware rules that catch money-path
// bugs (a promise nobody awaits, a promise passed where a callback is expected), and the
// dependency rules that keep the layers pointing one way.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const restrict = (...patterns) => ['error', { patterns }];
const noTestOrBench = [
  { group: ['**/test/**', '../test/*', '../../test/*'], message: 'src never imports test/.' },
  { group: ['**/bench/**', '../bench/*', '../../bench/*'], message: 'src never imports bench/.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/generated/**', 'coverage/**', '.data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['src/**/*.ts', 'scripts/**/*.ts'], rules: { 'no-restricted-imports': restrict(...noTestOrBench) } },
  {
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(...noTestOrBench, {
        group: ['**/modules/**'],
        message: 'platform/ is plumbing: it never imports a feature module.',
      }),
    },
  },
  {
    files: ['src/modules/**/*.controller.ts'],
    rules: {
      'no-restricted-imports': restrict(...noTestOrBench, {
        group: ['**/*.repository'],
        message: 'Controllers speak HTTP and call services, never repositories.',
      }),
    },
  },
  {
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict({ group: ['**/test/**', '../test/*'], message: 'bench never imports test/.' }),
    },
  },
  // Lines stay within 120 characters (prettier's width); only URLs, which cannot be split, may run longer.
  {
    files: ['src/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: true }] },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { globals: { ...globals.node } } },
);

// Lint rules, including the layer boundaries of DESIGN.md: core never imports
// Electron; the renderer imports nothing from Node or Electron and only types from
// electron/shared; main/ and cli/ are glue.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'net', 'http', 'https', 'events', 'stream', 'util', 'url', 'worker_threads'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'resources/**', 'runner/**', 'release/**', 'test/e2e/artifacts/**', 'electron/core/db/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The services are async over the store port (issue #16): a call whose promise is dropped
    // runs unordered and loses its error, so every promise is awaited, returned or voided.
    files: ['electron/core/**/*.ts', 'electron/cli/**/*.ts', 'electron/main/**/*.ts', 'test/**/*.ts'],
    ignores: ['test/e2e/**', 'test/**/*.tsx', 'test/unit/renderer/**'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/await-thenable': 'error', '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after'] }] }] },
  },
  {
    files: ['electron/core/**/*.ts', 'electron/shared/**/*.ts', 'electron/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'core, shared and cli must stay Electron-free' }] }],
    },
  },
  {
    // Code that builds paths on the hosts: those are POSIX whatever the client's OS, so the
    // local path functions (backslashes on a Windows client) are refused; path.posix is fine.
    files: ['electron/core/exec/**/*.ts', 'electron/core/diagnostics/**/*.ts', 'electron/core/runner/deploy*.ts', 'electron/core/helper-api/**/*.ts'],
    // This machine's side of a diagnosis looks at local files (data dir, key files, artifacts).
    ignores: ['electron/core/diagnostics/local-checks.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'core, shared and cli must stay Electron-free' },
            ...['node:path', 'path'].map((name) => ({
              name,
              importNames: ['default', 'join', 'resolve', 'normalize', 'dirname', 'basename', 'relative', 'sep', 'isAbsolute', 'format', 'parse', 'extname'],
              message: 'remote paths are POSIX on every client: use `posix` from node:path (or string templates with /)',
            })),
          ],
        },
      ],
    },
  },
  {
    files: ['electron/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'shared must stay Electron-free' }],
          patterns: [{ group: nodeBuiltins, message: 'shared is imported by the renderer: no Node modules' }],
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'the renderer talks to the app only through window.cronium' }],
          patterns: [
            { group: nodeBuiltins, message: 'the renderer runs in a browser: no Node modules' },
            { group: ['**/electron/core/**', '**/electron/main/**', '**/electron/cli/**', '**/electron/preload/**'], message: 'the renderer may import only types from electron/shared' },
            { group: ['**/electron/shared/**'], allowTypeImports: true, message: 'the renderer may import only types from electron/shared' },
          ],
        },
      ],
    },
  },
);

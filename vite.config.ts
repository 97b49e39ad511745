/**
 * Builds the renderer (renderer/ → dist/renderer). One bundle serves both doors: the
 * desktop loads it from its app:// scheme and `cronium serve` over HTTP; base './'
 * keeps asset URLs relative so that either works.
 *
 * renderer/index.html carries a strict Content-Security-Policy (script-src 'self'),
 * which the built output satisfies. Vite's dev server with React Fast Refresh would
 * need an inline preamble script; the project builds with `vite build --watch` instead.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'chrome120',
  },
});

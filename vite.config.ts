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
    // No chunk over 500 kB (the default warning limit, kept): views with editors are
    // loaded on first use (React.lazy in App.tsx) and their libraries split here, so the
    // first screen loads React and the Hosts view only.
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'react', test: /[\\/]node_modules[\\/](react|react-dom|scheduler)[\\/]/, priority: 10 },
            { name: 'xterm', test: /[\\/]node_modules[\\/]@xterm[\\/]/, priority: 10 },
            { name: 'codemirror-javascript', test: /[\\/]node_modules[\\/](@codemirror[\\/]lang-javascript|@lezer[\\/]javascript)[\\/]/, priority: 20, includeDependenciesRecursively: false },
            { name: 'codemirror-python', test: /[\\/]node_modules[\\/](@codemirror[\\/]lang-python|@lezer[\\/]python)[\\/]/, priority: 20, includeDependenciesRecursively: false },
            { name: 'codemirror-legacy', test: /[\\/]node_modules[\\/]@codemirror[\\/]legacy-modes[\\/]/, priority: 20, includeDependenciesRecursively: false },
            { name: 'codemirror', test: /[\\/]node_modules[\\/](@codemirror|codemirror|@lezer|style-mod|w3c-keyname|crelt|@marijn)[\\/]/, priority: 5 },
          ],
        },
      },
    },
  },
});

/**
 * ssh2, loaded on first use. Importing it costs some 30 ms (its crypto set-up), which
 * every CLI command would pay at start-up even when it never opens a connection.
 */
import type * as Ssh2 from 'ssh2';

type Ssh2Module = typeof Ssh2;

let loading: Promise<Ssh2Module> | undefined;

/** The ssh2 module (named exports plus `default`, its CommonJS exports object). */
export function loadSsh2(): Promise<Ssh2Module> {
  // In the CLI's CommonJS bundle (compiled through a code cache, where import() has no loader)
  // ssh2 is required; in ES modules (the desktop's main, the tests) it is imported.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the one place a bundle needs require
  loading ??= typeof require === 'function' ? Promise.resolve(asModule(require('ssh2') as Ssh2Module)) : import('ssh2');
  return loading;
}

/** CommonJS exports as import() would give them: the named exports, and the whole as `default`. */
function asModule(exports: Ssh2Module): Ssh2Module {
  return { ...exports, default: exports } as Ssh2Module;
}

/**
 * ssh2, loaded on first use. Importing it costs some 30 ms (its crypto set-up), which
 * every CLI command would pay at start-up even when it never opens a connection.
 */
import type * as Ssh2 from 'ssh2';

type Ssh2Module = typeof Ssh2;

let loading: Promise<Ssh2Module> | undefined;

/** The ssh2 module (named exports plus `default`, its CommonJS exports object). */
export function loadSsh2(): Promise<Ssh2Module> {
  loading ??= import('ssh2');
  return loading;
}

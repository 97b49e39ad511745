/**
 * Serves the built renderer on the `cronium-app://app/` origin (not file://), so that
 * the CSP's 'self' means exactly our files and the IPC sender check has one origin to
 * compare with. Paths are confined to the renderer folder.
 */
import { net, protocol } from 'electron';
import { existsSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The app's own scheme and origin. */
export const APP_SCHEME = 'cronium-app';
/** The origin of the app's pages. */
export const APP_ORIGIN = `${APP_SCHEME}://app`;

/** The CSP of every page: nothing but our own files, no remote code. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Maps a request path to a file inside the renderer folder, or null when outside it. */
export function resolveAppFile(rendererDir: string, pathname: string): string | null {
  const root = resolve(rendererDir);
  let rel: string;
  try {
    rel = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
  } catch {
    return null;
  }
  const file = resolve(root, rel);
  if (file !== root && !file.startsWith(root + sep)) return null;
  return existsSync(file) && statSync(file).isFile() ? file : join(root, 'index.html');
}

/** Serves the renderer folder on the app scheme. */
export function serveApp(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === 'app' ? resolveAppFile(rendererDir, url.pathname) : null;
    if (!file) return new Response('not found', { status: 404 });
    const res = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(res.headers);
    headers.set('Content-Security-Policy', CSP);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(res.body, { status: res.status, headers });
  });
}

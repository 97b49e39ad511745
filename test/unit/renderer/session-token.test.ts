// The headless token on the client: moved from the address to sessionStorage, dropped from
// the address bar (route and other parameters kept), found again after a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeSessionToken, TOKEN_KEY, withToken, type TokenWindow } from '../../../renderer/api/session-token';

function fakeWindow(href: string): TokenWindow & { store: Map<string, string>; replaced: string[] } {
  const store = new Map<string, string>();
  const replaced: string[] = [];
  const win = {
    location: { href },
    history: {
      state: null,
      replaceState: (_s: unknown, _t: string, url?: string | URL | null) => {
        replaced.push(String(url));
        win.location.href = new URL(String(url), href).toString();
      },
    },
    sessionStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) },
    store,
    replaced,
  };
  return win;
}

test('a token in the address moves to sessionStorage and leaves the address bar', () => {
  const win = fakeWindow('http://127.0.0.1:7420/?token=abc123&x=1#jobs/4');
  assert.equal(takeSessionToken(win), 'abc123');
  assert.equal(win.store.get(TOKEN_KEY), 'abc123');
  assert.deepEqual(win.replaced, ['/?x=1#jobs/4']);
  assert.doesNotMatch(win.location.href, /token/);
  // A reload: no token in the address, the tab's storage has it.
  assert.equal(takeSessionToken(win), 'abc123');
  assert.equal(win.replaced.length, 1, 'nothing to replace the second time');
});

test('without a token anywhere the cookie carries the session', () => {
  const win = fakeWindow('http://127.0.0.1:7420/#hosts');
  assert.equal(takeSessionToken(win), null);
  assert.deepEqual(win.replaced, []);
  assert.equal(withToken('ws://127.0.0.1:7420/api', null), 'ws://127.0.0.1:7420/api');
  assert.equal(withToken('ws://127.0.0.1:7420/api', 'a+b/c'), 'ws://127.0.0.1:7420/api?token=a%2Bb%2Fc');
});

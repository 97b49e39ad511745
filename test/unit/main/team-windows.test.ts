// The desktop's team-server windows (issue #16), decided without Electron: which window.open
// opens a team server's window, what that window may do, and that it gets nothing of the app's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TeamServerRef } from '../../../electron/shared/api';
import { openDecision, teamNavigationAllowed, teamPartition, teamWebPreferences } from '../../../electron/main/team-windows';

const servers = [TeamServerRef.parse({ name: 'ops', url: 'https://cronium.example.com:8443/some/path' }), TeamServerRef.parse({ name: 'lab', url: 'http://127.0.0.5:7420' })];

test('a configured team server opens its own window; any other web address the browser; anything else nothing', () => {
  assert.deepEqual(openDecision('https://cronium.example.com:8443/', servers), { action: 'team', origin: 'https://cronium.example.com:8443', name: 'ops' });
  assert.deepEqual(openDecision('https://cronium.example.com:8443/#jobs', servers), { action: 'team', origin: 'https://cronium.example.com:8443', name: 'ops' });
  assert.equal(openDecision('http://127.0.0.5:7420/', servers).action, 'team');
  // Same host, another port or scheme: another origin, not the team server.
  assert.deepEqual(openDecision('https://cronium.example.com/', servers), { action: 'external', url: 'https://cronium.example.com/' });
  assert.equal(openDecision('http://cronium.example.com:8443/', servers).action, 'external');
  assert.deepEqual(openDecision('file:///etc/passwd', servers), { action: 'deny' });
  assert.deepEqual(openDecision('javascript:alert(1)', servers), { action: 'deny' });
  assert.deepEqual(openDecision('not a url', servers), { action: 'deny' });
  // From a team server's window, nothing opens another team window: its links go to the browser.
  assert.equal(openDecision('https://cronium.example.com:8443/', []).action, 'external');
});

test("a team server's window: no preload, sandboxed, isolated, a persistent session of its own per origin", () => {
  const prefs = teamWebPreferences('https://cronium.example.com:8443');
  assert.equal('preload' in prefs, false, 'nothing of this computer’s core');
  assert.deepEqual([prefs.contextIsolation, prefs.sandbox, prefs.nodeIntegration, prefs.webSecurity, prefs.webviewTag], [true, true, false, true, false]);
  assert.match(prefs.partition, /^persist:team-[0-9a-f]{16}$/);
  assert.notEqual(teamPartition('https://a.example'), teamPartition('https://b.example'));
  assert.equal(teamPartition('https://a.example'), teamPartition('https://a.example'));
  assert.ok(teamNavigationAllowed('https://login.example.com/authorize?x=1'), 'to its identity provider and back');
  assert.ok(!teamNavigationAllowed('file:///etc/passwd'));
  assert.ok(!teamNavigationAllowed('cronium-app://app/index.html'));
});

test('a team server address must be https, or http on a loopback address only', () => {
  assert.equal(TeamServerRef.parse({ name: 'x', url: 'https://a.example/' }).url, 'https://a.example');
  assert.equal(TeamServerRef.safeParse({ name: 'x', url: 'http://cronium.example.com' }).success, false);
  assert.equal(TeamServerRef.safeParse({ name: 'x', url: 'ftp://a.example' }).success, false);
  assert.equal(TeamServerRef.safeParse({ name: 'x', url: 'http://localhost:7420' }).success, true);
});

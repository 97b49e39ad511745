/** The desktop shell's decisions (tray, menu, notifications, login item, window close, icon) without the Electron binary. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  healthNotificationFor,
  dockMenuItems,
  loginItemNotice,
  loginItemSettings,
  loginMechanism,
  menuTemplate,
  notificationFor,
  onWindowClose,
  promptNotificationFor,
  runningText,
  startedHidden,
  trayIconBitmap,
  trayModel,
  type MenuItemSpec,
} from '../../../electron/main/desktop-model';

function flat(items: MenuItemSpec[]): MenuItemSpec[] {
  return items.flatMap((i) => [i, ...flat(i.submenu ?? [])]);
}

test('the tray shows the running-job count and offers pause or resume, open and quit', () => {
  assert.equal(runningText(0), 'No jobs running');
  assert.equal(runningText(1), '1 job running');
  assert.equal(runningText(3), '3 jobs running');
  const running = trayModel({ running: 2, paused: false, windowVisible: false }, 'Cronium');
  assert.equal(running.tooltip, 'Cronium: 2 jobs running');
  assert.deepEqual(running.items.map((i) => i.id), ['status', 'open', 'pause', 'quit']);
  assert.equal(running.items[0]!.enabled, false, 'the count is a label, not an action');
  const paused = trayModel({ running: 0, paused: true, windowVisible: true }, 'Cronium');
  assert.match(paused.tooltip, /scheduling paused/);
  assert.deepEqual(paused.items.map((i) => i.id), ['status', 'open', 'resume', 'quit']);
  assert.equal(paused.items.find((i) => i.id === 'resume')?.label, 'Resume scheduling');
});

test('the menu has the usual shortcuts; DevTools only in development', () => {
  for (const platform of ['darwin', 'linux', 'win32'] as const) {
    const items = flat(menuTemplate({ platform, dev: false, appName: 'Cronium' }));
    const acc = (pred: (i: MenuItemSpec) => boolean) => items.find(pred)?.accelerator;
    assert.equal(acc((i) => i.command === 'quit'), 'CmdOrCtrl+Q', platform);
    assert.equal(acc((i) => i.role === 'close'), 'CmdOrCtrl+W', platform);
    assert.equal(acc((i) => i.role === 'reload'), 'CmdOrCtrl+R', platform);
    assert.equal(acc((i) => i.role === 'zoomIn'), 'CmdOrCtrl+Plus', platform);
    assert.equal(acc((i) => i.role === 'zoomOut'), 'CmdOrCtrl+-', platform);
    assert.equal(acc((i) => i.command === 'palette'), 'CmdOrCtrl+K', platform);
    assert.ok(items.some((i) => i.role === 'copy') && items.some((i) => i.role === 'paste'), 'copy and paste work in inputs');
    assert.ok(!items.some((i) => i.role === 'toggleDevTools'), 'no DevTools in a packaged app');
    assert.ok(flat(menuTemplate({ platform, dev: true, appName: 'Cronium' })).some((i) => i.role === 'toggleDevTools'));
    assert.equal(items.filter((i) => i.command === 'quit').length, 1, 'one Quit');
  }
  assert.equal(menuTemplate({ platform: 'darwin', dev: false, appName: 'Cronium' })[0]!.label, 'Cronium', 'macOS has the app menu first');
});

test('one notification per finished job, as the settings say; cancelled jobs are silent', () => {
  const job = { id: 12, status: 'failed', schedule: null, hosts: ['a', 'b', 'c'], counts: { failed: 1, timed_out: 1, succeeded: 1 } };
  assert.deepEqual(notificationFor(job, { onFailure: true, onSuccess: false }), { title: 'Job #12 failed', body: 'Failed on 2 of 3 hosts.' });
  assert.equal(notificationFor(job, { onFailure: false, onSuccess: true }), null);
  assert.deepEqual(notificationFor({ ...job, status: 'partial' }, { onFailure: true, onSuccess: false })?.title, 'Job #12 failed');
  const ok = { id: 3, status: 'succeeded', schedule: 'nightly', hosts: ['db1'], counts: { succeeded: 1 } };
  assert.equal(notificationFor(ok, { onFailure: true, onSuccess: false }), null);
  assert.deepEqual(notificationFor(ok, { onFailure: false, onSuccess: true }), { title: 'nightly (job #3) succeeded', body: 'Ran on db1.' });
  assert.equal(notificationFor({ ...ok, status: 'cancelled' }, { onFailure: true, onSuccess: true }), null);
});

test('start at login, started hidden, and closing the window', () => {
  assert.deepEqual(loginItemSettings(true), { openAtLogin: true, args: ['--hidden'] });
  assert.deepEqual(loginItemSettings(false), { openAtLogin: false, args: [] });
  assert.equal(startedHidden(['electron', '.', '--hidden'], false), true);
  assert.equal(startedHidden(['electron', '.'], true), true);
  assert.equal(startedHidden(['electron', '.'], false), false);
  assert.equal(onWindowClose(false), 'hide', 'closing the window keeps the app and scheduler running');
  assert.equal(onWindowClose(true), 'close');
});

test('the tray icon shows a dot while jobs run and a gap while paused', () => {
  const size = 16;
  const px = (b: Buffer, x: number, y: number) => b[(y * size + x) * 4 + 3];
  const idle = trayIconBitmap(size, { running: false, paused: false });
  assert.equal(idle.length, size * size * 4);
  const running = trayIconBitmap(size, { running: true, paused: false });
  assert.equal(px(idle, 8, 8), 0, 'an idle ring is hollow');
  assert.equal(px(running, 8, 8), 255, 'a running one has a dot');
  const paused = trayIconBitmap(size, { running: false, paused: true });
  assert.equal(px(idle, 8, 1), 255, 'the ring closes at the top');
  assert.equal(px(paused, 8, 1), 0, 'paused: the top is cut');
});

test('Check for Updates… in the app menu on macOS and in Help elsewhere; the cronium command items only where the app installs it', () => {
  const mac = menuTemplate({ platform: 'darwin', dev: false, appName: 'Cronium', cliInstall: true });
  const appMenu = mac[0]!.submenu!;
  assert.deepEqual(appMenu.slice(0, 2).map((i) => i.role ?? i.command), ['about', 'checkUpdates']);
  assert.deepEqual(flat(mac).filter((i) => i.command === 'installCli' || i.command === 'uninstallCli').map((i) => i.label), ["Install 'cronium' Command in PATH", "Uninstall 'cronium' Command from PATH"]);
  assert.ok(appMenu.some((i) => i.command === 'installCli'), 'in the app menu, as VS Code has it');
  for (const platform of ['linux', 'win32'] as const) {
    const t = menuTemplate({ platform, dev: false, appName: 'Cronium' });
    assert.equal(t.at(-1)!.label, 'Help');
    assert.equal(t.at(-1)!.submenu![0]!.command, 'checkUpdates');
    assert.equal(flat(t).filter((i) => i.command === 'checkUpdates').length, 1);
    assert.ok(!flat(t).some((i) => i.command === 'installCli'), `${platform}: the installer puts cronium on the PATH`);
  }
  // An AppImage has no installer: the action is in File.
  const appImage = menuTemplate({ platform: 'linux', dev: false, appName: 'Cronium', cliInstall: true });
  assert.ok(appImage.find((m) => m.label === 'File')!.submenu!.some((i) => i.command === 'installCli'));
});

test('the dock menu (macOS) mirrors the tray without Quit; start at login per OS', () => {
  assert.deepEqual(dockMenuItems({ running: 1, paused: false, windowVisible: false }, 'Cronium').map((i) => [i.id, i.label]), [
    ['status', '1 job running'],
    ['open', 'Open Cronium'],
    ['pause', 'Pause scheduling'],
  ]);
  assert.deepEqual(dockMenuItems({ running: 0, paused: true, windowVisible: true }, 'Cronium').map((i) => i.id), ['status', 'open', 'resume']);
  assert.equal(loginMechanism('darwin', true), 'login-item');
  assert.equal(loginMechanism('win32', true), 'login-item');
  assert.equal(loginMechanism('linux', true), 'xdg-autostart', 'Electron does nothing on Linux: an XDG autostart entry');
  assert.equal(loginMechanism('linux', false), 'none', 'never registers the bare Electron binary of a checkout');
  assert.equal(loginMechanism('freebsd', true), 'none');
});

test('macOS 13+ login items may wait for approval: the user is told where to allow it', () => {
  assert.match(loginItemNotice('darwin', 'requires-approval') ?? '', /System Settings › General › Login Items/);
  assert.match(loginItemNotice('darwin', 'not-found') ?? '', /Applications folder/);
  assert.equal(loginItemNotice('darwin', 'enabled'), null);
  assert.equal(loginItemNotice('win32', 'requires-approval'), null);
});

test("a schedule's health transition notifies as its notify setting says, in a few words", () => {
  assert.equal(healthNotificationFor({ schedule: 'nightly', kind: 'failing', reason: 'its last 3 jobs failed' }, false), null);
  assert.deepEqual(healthNotificationFor({ schedule: 'nightly', kind: 'failing', reason: 'its last 3 jobs failed' }, true), { title: 'nightly is failing', body: 'its last 3 jobs failed' });
  assert.equal(healthNotificationFor({ schedule: 'n', kind: 'missed', reason: 'x' }, true)!.title, 'n missed a run');
  assert.equal(healthNotificationFor({ schedule: 'n', kind: 'recovered', reason: 'x' }, true)!.title, 'n recovered');
  assert.equal(healthNotificationFor({ schedule: 'n', kind: 'late', reason: 'y'.repeat(500) }, true)!.body.length, 200);
});

test("a host's question is a notification naming the host and what it asks, never the answer", () => {
  assert.deepEqual(promptNotificationFor({ host: 'db1', prompts: [{ prompt: 'Verification code: ' }] }), { title: 'db1 asks for Verification code', body: 'Cronium needs your answer to connect: Verification code' });
  const long = promptNotificationFor({ host: 'db1', prompts: [{ prompt: 'x'.repeat(300) }] });
  assert.equal(long.title, 'db1 asks for an answer');
  assert.ok(long.body.length <= 200);
  assert.equal(promptNotificationFor({ host: 'h', prompts: [] }).title, 'h asks for an answer');
});

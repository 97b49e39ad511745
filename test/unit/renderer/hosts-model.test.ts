/** The Hosts view's pure logic: form checks, contract input, server errors on fields, search and sort. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../../renderer/api';
import { EMPTY_FORM, fromHost, isEmptyChange, parseTags, serverErrors, toChange, toInput, validate } from '../../../renderer/features/hosts/host-form';
import { eachLimited, filterHosts, platformText, pruneSelection, sortHosts, timeAgo } from '../../../renderer/features/hosts/host-table-model';
import type { Host } from '../../../electron/shared/api';

const host = (name: string, address: string, port: number, tags: string[], user: string | null = null): Host => ({
  id: 0, name, address, port, user, identityFile: null, jump: null, proxyCommand: null, sftpUnavailable: null, transport: 'auto', opensshReason: null, sshAlias: null, sshOptions: null, tags, group: null, hasPassword: false, hasPassphrase: false, useAgent: true, elevation: null, hasElevationPassword: false, createdAt: 0, updatedAt: 0,
  reachability: 'unknown', reachabilityAt: null, os: null, arch: null, runnerVersion: null, lastRunAt: null, lastRunStatus: null, lastRunJobId: null,
});

test('the form checks what needs no server', () => {
  assert.deepEqual(Object.keys(validate(EMPTY_FORM)).sort(), ['address', 'name']);
  assert.match(validate({ ...EMPTY_FORM, name: 'a b', address: 'x' }).name ?? '', /spaces/);
  assert.match(validate({ ...EMPTY_FORM, name: 'a', address: 'x', port: '70000' }).port ?? '', /1 to 65535/);
  assert.match(validate({ ...EMPTY_FORM, name: 'a', address: 'x', port: '2x' }).port ?? '', /whole number/);
  assert.deepEqual(validate({ ...EMPTY_FORM, name: 'a', address: 'x', port: '22' }), {});
});

test('form values become the contract input, empty optionals left out', () => {
  assert.deepEqual(parseTags(' prod, web,,prod '), ['prod', 'web']);
  const input = toInput({ ...EMPTY_FORM, name: ' web1 ', address: '10.0.0.1', port: '2222', tags: 'a,b' });
  assert.deepEqual(input, { name: 'web1', address: '10.0.0.1', port: 2222, tags: ['a', 'b'] });
  assert.equal('password' in toInput({ ...EMPTY_FORM, name: 'a', address: 'b' }), false);
});

test('server errors land on the fields they name', () => {
  const err = new ApiError({ code: 'INVALID_INPUT', message: 'invalid port: must be 1-65535', details: { fields: [{ field: 'port', message: 'must be 1-65535' }, { field: 'tags.1', message: 'bad' }] } });
  const { fields } = serverErrors(err);
  assert.match(fields.port ?? '', /1-65535/);
  assert.match(fields.tags ?? '', /bad/);
});

test('search matches name, address and tags; sort goes both ways', () => {
  const hosts = [host('web2', '10.0.0.2', 22, ['prod']), host('db1', '10.0.1.1', 5432, ['db']), host('web1', '10.0.0.1', 2222, ['staging'])];
  assert.deepEqual(filterHosts(hosts, 'web').map((h) => h.name), ['web2', 'web1']);
  assert.deepEqual(filterHosts(hosts, '10.0.1').map((h) => h.name), ['db1']);
  assert.deepEqual(filterHosts(hosts, 'STAGING').map((h) => h.name), ['web1']);
  assert.deepEqual(sortHosts(hosts, { key: 'name', dir: 'asc' }).map((h) => h.name), ['db1', 'web1', 'web2']);
  assert.deepEqual(sortHosts(hosts, { key: 'port', dir: 'desc' }).map((h) => h.port), [5432, 2222, 22]);
});

test('an edit sends only what changed; null clears, secrets are replaced or cleared on request', () => {
  const h: Host = { ...host('web1', '10.0.0.1', 22, ['prod', 'web'], 'deploy'), group: 'eu', hasPassword: true };
  const same = fromHost(h);
  assert.equal(same.password, '', 'a stored secret is never put in the form');
  const none = toChange(h, same, true, { clearPassword: false, clearPassphrase: false });
  assert.deepEqual(none, { name: 'web1' });
  assert.equal(isEmptyChange(none), true);
  const change = toChange(h, { ...same, name: 'web9', port: '2222', user: '', tags: 'prod', group: ' ' }, false, { clearPassword: true, clearPassphrase: true });
  assert.deepEqual(change, { name: 'web1', newName: 'web9', port: 2222, user: null, tags: ['prod'], group: null, useAgent: false, password: null });
  assert.equal('passphrase' in change, false, 'no passphrase is stored, so there is none to clear');
  assert.equal(toChange(h, { ...same, password: 'new' }, true, { clearPassword: true, clearPassphrase: false }).password, 'new', 'a typed password wins');
  // Elevation: the setting and a typed sudo password; emptied, the setting is cleared.
  assert.deepEqual(toChange(h, { ...same, elevation: 'sudo-password', elevationPassword: ' pw ' }, true, { clearPassword: false, clearPassphrase: false }), { name: 'web1', elevation: 'sudo-password', elevationPassword: ' pw ' });
  const elevated: Host = { ...h, elevation: 'doas' };
  assert.equal(fromHost(elevated).elevation, 'doas');
  assert.deepEqual(toChange(elevated, { ...fromHost(elevated), elevation: '' }, true, { clearPassword: false, clearPassphrase: false }), { name: 'web1', elevation: null });
  assert.deepEqual(toInput({ ...EMPTY_FORM, name: 'a', address: 'b', elevation: 'sudo' }).elevation, 'sudo');
});

test('a rename error (newName) lands on the Name field', () => {
  const err = new ApiError({ code: 'INVALID_INPUT', message: 'invalid newName: must be …', details: { fields: [{ field: 'newName', message: 'must be 1-63 characters' }] } });
  assert.match(serverErrors(err).fields.name ?? '', /^Name: must be/);
});

test('computed columns: search by OS, sort by reachability (failing first) and last run, empties last', () => {
  const a: Host = { ...host('a', '10.0.0.1', 22, []), reachability: 'ok', os: 'Debian GNU/Linux 13', arch: 'x86_64', lastRunAt: 100 };
  const b: Host = { ...host('b', '10.0.0.2', 22, []), reachability: 'failing', os: 'FreeBSD', arch: 'amd64', lastRunAt: 300 };
  const c: Host = host('c', '10.0.0.3', 22, []);
  assert.equal(platformText(a), 'Debian GNU/Linux 13 · x86_64');
  assert.equal(platformText(c), null);
  assert.deepEqual(filterHosts([a, b, c], 'freebsd').map((h) => h.name), ['b']);
  assert.deepEqual(sortHosts([a, b, c], { key: 'reachability', dir: 'asc' }).map((h) => h.name), ['b', 'a', 'c']);
  assert.deepEqual(sortHosts([a, b, c], { key: 'lastRun', dir: 'desc' }).map((h) => h.name), ['b', 'a', 'c']);
  assert.deepEqual(sortHosts([a, b, c], { key: 'platform', dir: 'asc' }).map((h) => h.name), ['a', 'b', 'c']);
});

test('selection pruning, relative times and bounded parallelism', async () => {
  assert.deepEqual([...pruneSelection(new Set(['x', 'gone']), [host('x', 'a', 22, [])])], ['x']);
  assert.equal(timeAgo(10_000, 15_000), '5 s ago');
  assert.equal(timeAgo(0, 3 * 60_000), '3 min ago');
  assert.equal(timeAgo(0, 5 * 3_600_000), '5 h ago');
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    seen.push(n);
    running--;
    if (n === 4) throw new Error('one failure does not stop the rest');
  });
  assert.equal(peak, 3);
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7]);
});

test('the host form carries ProxyCommand and the SSH client: only what changed, never both a jump host and a ProxyCommand', () => {
  assert.match(validate({ ...EMPTY_FORM, name: 'a', address: 'x', jump: 'bastion', proxyCommand: 'nc %h %p' }).proxyCommand ?? '', /not both/);
  const input = toInput({ ...EMPTY_FORM, name: 'a', address: 'x', proxyCommand: ' nc -X 5 -x proxy:1080 %h %p ', transport: 'openssh' });
  assert.deepEqual([input.proxyCommand, input.transport], ['nc -X 5 -x proxy:1080 %h %p', 'openssh']);
  assert.equal(toInput({ ...EMPTY_FORM, name: 'a', address: 'x' }).transport, undefined, 'auto is the default: not sent');
  const h = host('web1', '10.0.0.1', 22, []);
  const values = fromHost({ ...h, proxyCommand: 'nc %h %p' });
  assert.deepEqual([values.proxyCommand, values.transport], ['nc %h %p', 'auto']);
  const change = toChange({ ...h, proxyCommand: 'nc %h %p' }, { ...values, proxyCommand: '', transport: 'builtin' }, h.useAgent, { clearPassword: false, clearPassphrase: false });
  assert.deepEqual(change, { name: 'web1', proxyCommand: null, transport: 'builtin' });
});

/** The Hosts view's pure logic: form checks, contract input, server errors on fields, search and sort. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../../renderer/api';
import { EMPTY_FORM, parseTags, serverErrors, toInput, validate } from '../../../renderer/features/hosts/host-form';
import { filterHosts, sortHosts } from '../../../renderer/features/hosts/host-table-model';
import type { Host } from '../../../electron/shared/api';

const host = (name: string, address: string, port: number, tags: string[], user: string | null = null): Host => ({
  id: 0, name, address, port, user, identityFile: null, jump: null, tags, group: null, hasPassword: false, hasPassphrase: false, useAgent: true, createdAt: 0, updatedAt: 0,
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

/** The hash route: parsing, building and the sidebar section of each view. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRoute, routeHref, sectionOf, type Route } from '../../../renderer/app/route';

test('hashes parse into routes, unknown ones into Hosts', () => {
  assert.deepEqual(parseRoute(''), { view: 'hosts' });
  assert.deepEqual(parseRoute('#'), { view: 'hosts' });
  assert.deepEqual(parseRoute('#nonsense/1'), { view: 'hosts' });
  assert.deepEqual(parseRoute('#hosts'), { view: 'hosts' });
  assert.deepEqual(parseRoute('#hosts/web%201'), { view: 'host', name: 'web 1' });
  assert.deepEqual(parseRoute('#jobs'), { view: 'jobs' });
  assert.deepEqual(parseRoute('#jobs/12'), { view: 'job', id: 12 });
  assert.deepEqual(parseRoute('#jobs/12/db1'), { view: 'job', id: 12, host: 'db1' });
  assert.deepEqual(parseRoute('#jobs/0'), { view: 'jobs' });
  assert.deepEqual(parseRoute('#jobs/abc'), { view: 'jobs' });
  assert.deepEqual(parseRoute('#jobs/new'), { view: 'run' });
  assert.deepEqual(parseRoute('#jobs/new/web1'), { view: 'run', host: 'web1' });
  assert.deepEqual(parseRoute('#/schedules'), { view: 'schedules' });
  assert.deepEqual(parseRoute('#runner'), { view: 'runner' });
  assert.deepEqual(parseRoute('#settings'), { view: 'settings' });
  assert.deepEqual(parseRoute('#/scripts'), { view: 'scripts' });
  assert.deepEqual(parseRoute('#scripts/backup'), { view: 'scripts', name: 'backup' });
  assert.deepEqual(parseRoute('#jobs/new/web1,db1'), { view: 'run', hosts: ['web1', 'db1'] });
  assert.deepEqual(parseRoute('#hosts/%E0%A4%A'), { view: 'host', name: '%E0%A4%A' }, 'a malformed escape is taken literally');
});

test('routeHref is the inverse of parseRoute', () => {
  const routes: Route[] = [
    { view: 'hosts' },
    { view: 'host', name: 'a.b-c' },
    { view: 'jobs' },
    { view: 'job', id: 7 },
    { view: 'job', id: 7, host: 'web/1' },
    { view: 'run' },
    { view: 'run', host: 'db1' },
    { view: 'schedules' },
    { view: 'runner' },
    { view: 'settings' },
    { view: 'scripts' },
    { view: 'scripts', name: 'nightly-backup' },
    { view: 'run', hosts: ['web1', 'db1', 'a.b-c'] },
  ];
  for (const r of routes) assert.deepEqual(parseRoute(routeHref(r)), r, routeHref(r));
});

test('detail views belong to their section', () => {
  assert.equal(sectionOf({ view: 'host', name: 'x' }), 'hosts');
  assert.equal(sectionOf({ view: 'job', id: 1 }), 'jobs');
  assert.equal(sectionOf({ view: 'run' }), 'jobs');
  assert.equal(sectionOf({ view: 'runner' }), 'runner');
  assert.equal(sectionOf({ view: 'settings' }), 'settings');
  assert.equal(sectionOf({ view: 'scripts', name: 'x' }), 'scripts');
});

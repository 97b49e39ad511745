/**
 * The release workflow's signing decisions (scripts/ci/package.mjs): each secret read from
 * the environment, empty ones (a workflow passes an unset secret as "") treated as absent,
 * and every skipped step said in a line, per OS. The signing itself needs the certificates
 * and the OS; the workflow runs it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signingPlan } from '../../../scripts/ci/package.mjs';

const unset = { CSC_LINK: '', CSC_KEY_PASSWORD: '', WIN_CSC_LINK: '', WIN_CSC_KEY_PASSWORD: '', APPLE_ID: '', APPLE_APP_SPECIFIC_PASSWORD: '', APPLE_TEAM_ID: '', PATH: '/usr/bin' };

test('macOS without secrets: no signing, no notarization, no keychain identity picked up, and lines saying so', () => {
  const p = signingPlan(unset, 'darwin');
  assert.deepEqual(p.flags, ['-c.mac.identity=null', '-c.mac.notarize=false']);
  assert.equal(p.env.CSC_IDENTITY_AUTO_DISCOVERY, 'false');
  assert.equal('CSC_LINK' in p.env, false, 'empty secrets are removed, not passed as ""');
  assert.equal(p.env.PATH, '/usr/bin');
  assert.match(p.lines.join('\n'), /Code signing: skipped, CSC_LINK is not set/);
  assert.match(p.lines.join('\n'), /Notarization: skipped/);
});

test('macOS signed, notarized only with all three Apple secrets', () => {
  const signed = { ...unset, CSC_LINK: 'base64p12', CSC_KEY_PASSWORD: 'pw' };
  const p = signingPlan(signed, 'darwin');
  assert.deepEqual(p.flags, ['-c.mac.notarize=false']);
  assert.equal(p.env.CSC_LINK, 'base64p12');
  assert.match(p.lines[1]!, /Notarization: skipped, APPLE_ID, APPLE_APP_SPECIFIC_PASSWORD, APPLE_TEAM_ID are not set/);
  const partial = signingPlan({ ...signed, APPLE_ID: 'a@b.c', APPLE_APP_SPECIFIC_PASSWORD: 'x' }, 'darwin');
  assert.match(partial.lines[1]!, /APPLE_TEAM_ID is not set/);
  const full = signingPlan({ ...signed, APPLE_ID: 'a@b.c', APPLE_APP_SPECIFIC_PASSWORD: 'x', APPLE_TEAM_ID: 'T' }, 'darwin');
  assert.deepEqual(full.flags, []);
  assert.match(full.lines[1]!, /Notarization: with APPLE_ID/);
  assert.ok(!full.lines.join('\n').includes('a@b.c') && !full.lines.join('\n').includes('base64p12'), 'no secret in the lines');
});

test('Windows: Authenticode from WIN_CSC_LINK (or CSC_LINK), else a line; Linux: nothing to sign', () => {
  assert.match(signingPlan(unset, 'win32').lines[0]!, /Code signing: skipped, WIN_CSC_LINK is not set/);
  assert.match(signingPlan({ ...unset, WIN_CSC_LINK: 'pfx' }, 'win32').lines[0]!, /WIN_CSC_LINK/);
  assert.deepEqual(signingPlan(unset, 'win32').flags, []);
  assert.match(signingPlan(unset, 'linux').lines[0]!, /none on Linux/);
});

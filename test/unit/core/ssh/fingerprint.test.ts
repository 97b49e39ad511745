/** Key facts and fingerprints, checked against what OpenSSH's ssh-keygen prints. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blobKeyType, describeKeyBlob, FINGERPRINT_PATTERN, hostKeyAlgorithmsFor, parsePublicKeyLine, sha256Fingerprint } from '../../../../electron/core/ssh/fingerprint';
import { tempDir } from '../../../helpers/temp';

const KEY_TYPES: [string, string[], string][] = [
  ['ed25519', [], 'ssh-ed25519'],
  ['ecdsa', ['-b', '256'], 'ecdsa-sha2-nistp256'],
  ['ecdsa', ['-b', '384'], 'ecdsa-sha2-nistp384'],
  ['rsa', ['-b', '2048'], 'ssh-rsa'],
];

test('fingerprints equal `ssh-keygen -lf` for ed25519, ecdsa and rsa keys', (t) => {
  const dir = tempDir(t);
  for (const [type, bits, wire] of KEY_TYPES) {
    const path = join(dir, `${type}${bits.join('')}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', 'test comment', '-f', path]);
    const line = readFileSync(`${path}.pub`, 'utf8');
    const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1];
    const facts = parsePublicKeyLine(line);
    assert.ok(facts, `${wire} parses`);
    assert.equal(facts.fingerprint, expected, wire);
    assert.match(facts.fingerprint, FINGERPRINT_PATTERN);
    assert.equal(facts.algorithm, wire);
    assert.equal(facts.publicKey, line.trim().split(' ').slice(0, 2).join(' '), 'no comment');
    assert.equal(blobKeyType(facts.blob), wire);
    assert.deepEqual(describeKeyBlob(facts.blob), facts);
    assert.equal(sha256Fingerprint(facts.blob), expected);
  }
});

test('malformed public key lines and blobs are refused, not guessed', () => {
  assert.equal(parsePublicKeyLine(''), undefined);
  assert.equal(parsePublicKeyLine('ssh-ed25519'), undefined);
  assert.equal(parsePublicKeyLine('ssh-ed25519 not*base64'), undefined);
  // A valid ed25519 blob labelled as rsa.
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
  assert.equal(parsePublicKeyLine(`ssh-rsa ${blob.toString('base64')}`), undefined);
  assert.equal(parsePublicKeyLine(`ssh-ed25519 ${blob.toString('base64')}`)?.algorithm, 'ssh-ed25519');
  assert.equal(blobKeyType(Buffer.from([0, 0, 0])), undefined);
  assert.equal(blobKeyType(Buffer.from([0, 0, 1, 0, 65])), undefined, 'length beyond the blob');
  assert.equal(describeKeyBlob(Buffer.from('junk')).algorithm, 'unknown');
});

test('an RSA key can be negotiated with the SHA-2 host-key algorithms first', () => {
  assert.deepEqual(hostKeyAlgorithmsFor('ssh-rsa'), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual(hostKeyAlgorithmsFor('ssh-ed25519'), ['ssh-ed25519']);
});

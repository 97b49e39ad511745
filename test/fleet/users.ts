// Linux accounts for the test fleet: one `crf-<profile>` user per profile, created on first use and
// reused afterwards. Each fleet authorizes its own client key in a per-fleet file so fleets that run
// at the same time (a `fleet up` plus a test run) do not overwrite each other's keys.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sudoersFor } from './profiles';
import { run, sleep } from './proc';

/** The first line printed by a noisy host's ~/.bashrc (non-interactive `ssh host cmd` reads it too). */
export const NOISY_BANNER = 'Welcome to noisy host';

/** What a profile needs from its account. */
export interface UserSpec {
  name: string;
  shell: string;
  noisy: boolean;
  password: boolean;
  /**
   * True: the fleet's client key goes into a per-fleet file (sshd's AuthorizedKeysFile names it);
   * false (Dropbear, TinySSH): into ~/.ssh/authorized_keys, which the fleet then owns.
   */
  ownKeysFile: boolean;
  /** The otp profile: a TOTP secret in ~/.google_authenticator. */
  otp?: boolean;
  /** A sudo profile: its sudoers rule (profiles.ts SUDO). */
  sudo?: 'nopass' | 'pass' | 'tty' | 'none' | 'doas';
}

/** A ready account. */
export interface FleetUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Set for password-auth users; a fresh random one per fleet start. */
  password?: string;
  /** The per-fleet authorized keys file (or authorized_keys itself), removed again on stop. */
  keysFile: string;
  /** A sudo profile's own password (sudo asks for it), fresh per start. */
  sudoPassword?: string;
  /** A sudo profile's sudoers file, removed again on stop. */
  sudoersFile?: string;
  /** The account has a line in /etc/doas.conf, removed again on stop. */
  doas?: boolean;
  /** The otp profile's TOTP secret (base32), kept per account across fleets. */
  otpSecret?: string;
}

interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Looks a user up in /etc/passwd (useradd writes there; no NSS lookup needed). */
async function passwdEntry(name: string): Promise<PasswdEntry | undefined> {
  for (const line of (await readFile('/etc/passwd', 'utf8')).split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '', shell: f[6] ?? '' };
  }
  return undefined;
}

/** The password field from /etc/shadow ('' when the user has no shadow entry). */
async function shadowField(name: string): Promise<string> {
  for (const line of (await readFile('/etc/shadow', 'utf8')).split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return f[1] ?? '';
  }
  return '';
}

/** Runs a passwd-database tool, retrying while another process (e.g. a second fleet) holds the lock. */
async function runLocked(cmd: string, args: string[], input?: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run(cmd, args, input);
      return;
    } catch (err) {
      if (attempt >= 20 || !/lock/i.test(String(err))) throw err;
      await sleep(100);
    }
  }
}

/** Writes a file owned by the user with the given mode. */
async function writeOwned(path: string, content: string, mode: number, user: PasswdEntry): Promise<void> {
  await writeFile(path, content);
  await chown(path, user.uid, user.gid);
  await chmod(path, mode);
}

/** Removes per-fleet key files left by fleets that died without cleaning up (their dir is gone). */
async function removeStaleKeyFiles(sshDir: string): Promise<void> {
  for (const name of await readdir(sshDir)) {
    if (!/^cronium-fleet-[0-9a-f]+\.keys$/.test(name)) continue;
    const path = join(sshDir, name);
    const firstLine = (await readFile(path, 'utf8')).split('\n')[0] ?? '';
    const dir = /^# fleet dir: (.+)$/.exec(firstLine)?.[1];
    if (dir && !existsSync(dir)) await rm(path, { force: true });
  }
}

/** Creates or reuses the account and lays out a plain shell profile plus the fleet's authorized key. */
export async function ensureUser(spec: UserSpec, fleet: { id: string; dir: string; clientPublicKey: string }): Promise<FleetUser> {
  let entry = await passwdEntry(spec.name);
  if (!entry) {
    try {
      await runLocked('useradd', ['--create-home', '--home-dir', `/home/${spec.name}`, '--shell', spec.shell, '--user-group', '--comment', 'Cronium test fleet', spec.name]);
    } catch (err) {
      // A concurrently starting fleet may have created it first.
      if (!(await passwdEntry(spec.name))) throw err;
    }
    entry = await passwdEntry(spec.name);
    if (!entry) throw new Error(`useradd ${spec.name} reported success but the user is missing`);
  }
  if (entry.shell !== spec.shell) {
    await runLocked('usermod', ['--shell', spec.shell, spec.name]);
    entry.shell = spec.shell;
  }

  let password: string | undefined;
  let sudoPassword: string | undefined;
  if (spec.password) {
    password = randomBytes(12).toString('base64url');
    await runLocked('chpasswd', [], `${spec.name}:${password}\n`);
  } else if (spec.sudo === 'pass' || spec.sudo === 'none') {
    // One password per account, kept across fleets (fleets that run at once share the account:
    // a fresh one per start would change it under the other).
    sudoPassword = await accountPassword(spec.name);
    await runLocked('chpasswd', [], `${spec.name}:${sudoPassword}\n`);
  } else if (/^!|^$/.test(await shadowField(spec.name))) {
    // useradd leaves '!' (locked); with UsePAM no, sshd then refuses even public-key logins.
    await runLocked('usermod', ['--password', '*', spec.name]);
  }

  // StrictModes: home and ~/.ssh owned by the user and not group/world writable.
  const home = entry.home;
  await mkdir(home, { recursive: true });
  await chown(home, entry.uid, entry.gid);
  await chmod(home, 0o755);
  const sshDir = join(home, '.ssh');
  await mkdir(sshDir, { recursive: true });
  await chown(sshDir, entry.uid, entry.gid);
  await chmod(sshDir, 0o700);

  // A plain profile: no skel extras (clear_console in .bash_logout, an interactive-only guard that
  // would hide the noisy line); .bash_profile/.bash_login would shadow .profile, so drop them.
  for (const name of ['.bash_logout', '.bash_profile', '.bash_login']) await rm(join(home, name), { force: true });
  const bashrc = spec.noisy ? `# Cronium test fleet: a noisy profile that prints even for non-interactive commands.\necho "${NOISY_BANNER}"\n` : '# Cronium test fleet: plain profile.\n';
  const profile = spec.noisy ? `# Cronium test fleet: a noisy login profile.\necho "${NOISY_BANNER} (login)"\n` : '# Cronium test fleet: plain profile.\n';
  await writeOwned(join(home, '.bashrc'), bashrc, 0o644, entry);
  await writeOwned(join(home, '.profile'), profile, 0o644, entry);

  const authorizedKeys = join(sshDir, 'authorized_keys');
  if (!existsSync(authorizedKeys)) await writeOwned(authorizedKeys, '', 0o600, entry);
  await removeStaleKeyFiles(sshDir);
  const keysFile = spec.ownKeysFile ? join(sshDir, `cronium-fleet-${fleet.id}.keys`) : authorizedKeys;
  // TinySSH takes no comment lines; the key's own comment names the fleet.
  await writeOwned(keysFile, `${spec.ownKeysFile ? `# fleet dir: ${fleet.dir}\n` : ''}${fleet.clientPublicKey} cronium-fleet-${fleet.id}\n`, 0o600, entry);

  let otpSecret: string | undefined;
  if (spec.otp) {
    // google-authenticator's file: the secret, then options; codes may be used twice (tests log in often).
    otpSecret = await accountSecret(`${spec.name}.totp`, () => base32(randomBytes(20)));
    await writeOwned(join(home, '.google_authenticator'), `${otpSecret}\n" WINDOW_SIZE 3\n" TOTP_AUTH\n`, 0o400, entry);
  }

  let sudoersFile: string | undefined;
  if (spec.sudo === 'doas') {
    addDoasLine(spec.name, fleet.id);
  } else if (spec.sudo) {
    // Per fleet: a fleet that stops removes its own file, never the rule another fleet relies on.
    sudoersFile = `/etc/sudoers.d/cronium-fleet-${fleet.id}-${spec.name}`;
    const tmp = `${sudoersFile}.tmp`;
    await writeFile(tmp, sudoersFor(spec.name, spec.sudo), { mode: 0o440 });
    await run('visudo', ['-c', '-q', '-f', tmp]);
    await rename(tmp, sudoersFile);
  }

  return { name: spec.name, uid: entry.uid, gid: entry.gid, home, password, keysFile, ...(sudoPassword ? { sudoPassword } : {}), ...(sudoersFile ? { sudoersFile } : {}), ...(spec.sudo === 'doas' ? { doas: true } : {}), ...(otpSecret ? { otpSecret } : {}) };
}

/**
 * opendoas reads one file, /etc/doas.conf: the sudodoas profile's account gets a line of its own
 * there (marked with the account), removed again when its fleet stops.
 */
const DOAS_CONF = '/etc/doas.conf';
const doasMark = (fleetId: string) => `# cronium-fleet:${fleetId}`;

function addDoasLine(account: string, fleetId: string): void {
  const old = existsSync(DOAS_CONF) ? readFileSync(DOAS_CONF, 'utf8') : '';
  const line = `permit nopass ${account} as root ${doasMark(fleetId)}`;
  if (old.split('\n').includes(line)) return;
  writeFileSync(`${DOAS_CONF}.tmp`, `${old}${old && !old.endsWith('\n') ? '\n' : ''}${line}\n`, { mode: 0o600 });
  renameSync(`${DOAS_CONF}.tmp`, DOAS_CONF);
}

/** Removes a fleet's lines from /etc/doas.conf (and the file, when nothing else is left in it). */
export function removeDoasLines(fleetIds: string[]): void {
  if (fleetIds.length === 0 || !existsSync(DOAS_CONF)) return;
  const kept = readFileSync(DOAS_CONF, 'utf8')
    .split('\n')
    .filter((l) => l && !fleetIds.some((id) => l.endsWith(doasMark(id))));
  if (kept.length === 0) rmSync(DOAS_CONF, { force: true });
  else writeFileSync(DOAS_CONF, `${kept.join('\n')}\n`, { mode: 0o600 });
}

/** The fleets' password store: one password per sudo account, root-only, kept across fleets. */
const PASSWORDS_DIR = '/var/lib/cronium-fleet/passwords';

/** The account's password: made once (quotes and spaces: it must survive every layer as it is), then reused. */
function accountPassword(account: string): Promise<string> {
  return accountSecret(account, () => `p w'${randomBytes(9).toString('base64url')}"$`);
}

/** A secret kept in the fleets' password store under `name`: made once by `make`, then reused. */
async function accountSecret(name: string, make: () => string): Promise<string> {
  await mkdir(PASSWORDS_DIR, { recursive: true, mode: 0o700 });
  const path = join(PASSWORDS_DIR, name);
  try {
    await writeFile(path, make(), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readFile(path, 'utf8');
}

/** RFC 4648 base32 without padding, as TOTP secrets are written. */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

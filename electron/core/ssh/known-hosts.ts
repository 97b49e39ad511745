/**
 * Reads OpenSSH known_hosts files the way `ssh` does, so that keys a user already
 * trusts with OpenSSH count as trusted here: plain host patterns (comma lists, `*`
 * and `?` wildcards, `!` negation, `[host]:port` for other ports), hashed entries
 * (`|1|salt|hash`, HMAC-SHA1 of the name), and markers (`@revoked` refuses a key;
 * `@cert-authority` lines are ignored because host certificates are not supported).
 * A key is compared by its whole blob, never by type or fingerprint alone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { blobKeyType } from './fingerprint';

/** How an entry names its hosts. */
export type KnownHostsNames = { kind: 'hashed'; salt: Buffer; hash: Buffer } | { kind: 'patterns'; patterns: string[] };

/** One key line of a known_hosts file. */
export interface KnownHostsEntry {
  file: string;
  /** 1-based line number. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  names: KnownHostsNames;
  keyType: string;
  blob: Buffer;
}

/** A line that could not be read, with why. */
export interface KnownHostsProblem {
  file: string;
  line: number;
  message: string;
}

/** What a known_hosts file says about one presented key. */
export type KnownHostsVerdict =
  | { status: 'revoked'; entry: KnownHostsEntry }
  | { status: 'match'; entry: KnownHostsEntry }
  /** The host is listed with other keys of the same type: a changed key. */
  | { status: 'changed'; entries: KnownHostsEntry[] }
  | { status: 'none' };

/** The name under which OpenSSH records a host: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Parses a known_hosts text; bad lines are reported, not fatal (ssh skips them too). */
export function parseKnownHosts(text: string, file: string): { entries: KnownHostsEntry[]; problems: KnownHostsProblem[] } {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return problems.push({ file, line: lineNo, message: `unknown marker ${m}` });
    }
    const [hostField, keyType, b64] = fields;
    if (!hostField || !keyType || !b64) return problems.push({ file, line: lineNo, message: 'expected: hosts key-type base64-key' });
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return problems.push({ file, line: lineNo, message: 'the key is not base64' });
    const blob = Buffer.from(b64, 'base64');
    if (blobKeyType(blob) !== keyType) return problems.push({ file, line: lineNo, message: `the key is not a ${keyType} key` });
    let names: KnownHostsNames;
    if (hostField.startsWith('|')) {
      const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(hostField);
      if (!m) return problems.push({ file, line: lineNo, message: 'malformed hashed host name' });
      const salt = Buffer.from(m[1]!, 'base64');
      const hash = Buffer.from(m[2]!, 'base64');
      if (salt.length !== 20 || hash.length !== 20) return problems.push({ file, line: lineNo, message: 'malformed hashed host name' });
      names = { kind: 'hashed', salt, hash };
    } else {
      names = { kind: 'patterns', patterns: hostField.split(',').filter(Boolean) };
    }
    entries.push({ file, line: lineNo, ...(marker ? { marker } : {}), names, keyType, blob });
  });
  return { entries, problems };
}

/** Glob match with `*` and `?`, case-insensitive, as OpenSSH's match_pattern. */
export function globMatch(text: string, pattern: string): boolean {
  const t = text.toLowerCase();
  const p = pattern.toLowerCase();
  // Iterative wildcard matching with backtracking to the last `*`.
  let ti = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      ti++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Whether an entry names the host `name` (as made by knownHostsName). */
export function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  if (entry.names.kind === 'hashed') {
    const mac = createHmac('sha1', entry.names.salt).update(name).digest();
    return timingSafeEqual(mac, entry.names.hash);
  }
  let positive = false;
  for (const pattern of entry.names.patterns) {
    if (pattern.startsWith('!')) {
      // A matching negation excludes the host from the whole line, whatever else matches.
      if (globMatch(name, pattern.slice(1))) return false;
    } else if (globMatch(name, pattern)) {
      positive = true;
    }
  }
  return positive;
}

/** What the entries say about a key presented by host:port. */
export function checkKnownHosts(entries: KnownHostsEntry[], host: string, port: number, key: { algorithm: string; blob: Buffer }): KnownHostsVerdict {
  const name = knownHostsName(host, port);
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.blob.equals(key.blob));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const match = plain.find((e) => e.blob.equals(key.blob));
  if (match) return { status: 'match', entry: match };
  const sameType = plain.filter((e) => e.keyType === key.algorithm);
  if (sameType.length) return { status: 'changed', entries: sameType };
  return { status: 'none' };
}

/** The key types listed for host:port (to prefer those host-key algorithms). */
export function knownKeyTypes(entries: KnownHostsEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [...new Set(entries.filter((e) => e.marker === undefined && entryMatches(e, name)).map((e) => e.keyType))];
}

/** Names looked up per read of a file that are remembered (a fan-out asks for each host once per connection). */
const REMEMBERED_NAMES = 4096;

/**
 * A known_hosts file read on demand and re-read when it changes (by mtime, size and inode). Its
 * lines are indexed by literal host name, so a host's lines are found without matching every line
 * of a large file: a fan-out to 1,000 hosts with a 1,000-line file matched a million lines.
 * Hashed, wildcard and negated lines are matched per name, once per name and read.
 */
export class KnownHostsFile {
  private stamp = '';
  private cached: KnownHostsEntry[] = [];
  private lastProblems: KnownHostsProblem[] = [];
  /** Positions in `cached` of the lines naming a host literally, by that name (lowercase). */
  private literal = new Map<string, number[]>();
  /** Positions of the lines that must be matched per name (hashed, wildcards, negations). */
  private others: number[] = [];
  private byName = new Map<string, KnownHostsEntry[]>();

  constructor(readonly path: string) {}

  /** The current entries; a missing or unreadable file has none. */
  entries(): KnownHostsEntry[] {
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      stamp = '';
    }
    if (stamp !== this.stamp) this.load(stamp);
    return this.cached;
  }

  /** The entries naming host:port (any marker), in file order: what entryMatches keeps of entries(). */
  entriesFor(host: string, port: number): KnownHostsEntry[] {
    this.entries();
    const name = knownHostsName(host, port);
    let found = this.byName.get(name);
    if (found) return found;
    const at = [...(this.literal.get(name) ?? []), ...this.others.filter((i) => entryMatches(this.cached[i]!, name))];
    found = at.sort((a, b) => a - b).map((i) => this.cached[i]!);
    if (this.byName.size >= REMEMBERED_NAMES) this.byName.clear();
    this.byName.set(name, found);
    return found;
  }

  /** Lines skipped at the last read. */
  problems(): KnownHostsProblem[] {
    return this.lastProblems;
  }

  private load(stamp: string): void {
    this.cached = [];
    this.lastProblems = [];
    if (stamp !== '') {
      try {
        const parsed = parseKnownHosts(readFileSync(this.path, 'utf8'), this.path);
        this.cached = parsed.entries;
        this.lastProblems = parsed.problems;
      } catch {
        // Unreadable: no entries, as missing.
      }
    }
    this.stamp = stamp;
    this.literal = new Map();
    this.others = [];
    this.byName = new Map();
    this.cached.forEach((e, i) => {
      const patterns = e.names.kind === 'patterns' ? e.names.patterns : undefined;
      if (!patterns || patterns.some((p) => /[*?!]/.test(p))) {
        this.others.push(i);
        return;
      }
      for (const p of new Set(patterns.map((x) => x.toLowerCase()))) {
        const list = this.literal.get(p);
        if (list) list.push(i);
        else this.literal.set(p, [i]);
      }
    });
  }
}

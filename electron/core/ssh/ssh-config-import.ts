/**
 * Import of hosts from an OpenSSH client config (`~/.ssh/config`), parsed by the maintained
 * `ssh-config` package.
 *
 * Invariant: what a host gets is what `ssh NAME` would use. Precedence (first value wins, Host
 * patterns with negations) is left to the package's `compute`; this module only resolves what
 * `compute` does not know: Include (inlined where OpenSSH would read it, conditional includes
 * decided per host), tokens, ProxyJump chains, and the line each value came from. To keep that
 * provenance, every directive of interest is handed to `compute` as an opaque token that maps back
 * to its file, line and value. Nothing here ever runs a command from the config (no Match exec,
 * no canonicalisation lookups): an import reads files and nothing else. Bad lines are reported
 * with file and line and never thrown; a host whose effective settings include a bad line is
 * skipped rather than imported with a guess.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname as localHostName, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import SSHConfig, { type Directive, type Line, LineType } from 'ssh-config';
import { entryMatches, knownHostsName, parseKnownHosts } from './known-hosts';
import { Address, HostName, type MethodResult, UserName } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { HostService, NewHost } from '../hosts/host-service';
import { expandTilde } from './ssh-paths';

/** A bad or unsupported line of a config file. */
export interface ConfigProblem {
  file: string;
  /** 1-based. */
  line: number;
  message: string;
}

/** A host the config describes, ready for `hosts.add` (tags and password aside). */
export interface ImportedHost {
  name: string;
  address: string;
  port: number;
  user?: string;
  identityFile?: string;
  /** Name of the jump host: another imported host, a host synthesised for a ProxyJump hop, or an existing one. */
  jump?: string;
  /** ProxyCommand other than `ssh -W %h:%p HOST` (which becomes a jump host): run locally at connect time. */
  proxyCommand?: string;
  /** Where the host was declared (its first Host line); for a synthesised jump host, the ProxyJump line. */
  source: { file: string; line: number };
  /** Why only your own ssh can reach it as the config says (the OpenSSH transport); the alias and file ssh reads. */
  opensshReason?: string;
  sshAlias?: string;
  /** Connection settings of its config the built-in transport honours (see HostSshOptions). */
  sshOptions?: HostSshOptions;
  /** IdentitiesOnly yes: the agent's keys are not offered. */
  useAgent?: boolean;
}

/** Per-host connection settings carried from ssh_config: known_hosts files, host key alias, agent, time limits. */
export interface HostSshOptions {
  /** UserKnownHostsFile: the known_hosts files checked instead of ~/.ssh/known_hosts ([] for none). */
  knownHostsFiles?: string[];
  /** HostKeyAlias: the name its key is looked up under in known_hosts. */
  hostKeyAlias?: string;
  /** IdentityAgent: the agent socket to use, or 'none'. */
  identityAgent?: string;
  /** ConnectTimeout, in ms. */
  connectTimeoutMs?: number;
  /** ServerAliveInterval, in ms (0: off). */
  serverAliveIntervalMs?: number;
}

/** What the inventory already has, so ProxyJump hops can point at existing hosts. */
export interface ExistingHost {
  name: string;
  address: string;
  port: number;
  user?: string | null;
  identityFile?: string | null;
  jump?: string | null;
}

/** Options of importSshConfig. */
export interface SshConfigImportOptions {
  /** The local user's home: `~`, `%d`, and the base of relative Include and IdentityFile paths. */
  home: string;
  /** Environment for `${VAR}` in IdentityFile and for the local user name (USER, LOGNAME). */
  env: Record<string, string | undefined>;
  /** Hosts already in the inventory. */
  existing?: ExistingHost[];
  /** Run `Match exec` commands (sh -c, 5 s each, tokens expanded), as ssh does; default: never run. */
  matchExec?: boolean;
}

/** How long one Match exec command may run at import. */
export const MATCH_EXEC_TIMEOUT_MS = 5_000;

/** The result of reading a config: hosts in dependency order (jump hosts first), skips and problems. */
export interface SshConfigImport {
  hosts: ImportedHost[];
  skipped: { name: string; reason: string }[];
  problems: ConfigProblem[];
}

/**
 * Settings only your own ssh can honour: a host with one of them is reached through the OpenSSH
 * transport (auto), as `ssh ALIAS`, so ssh applies them (and everything else the config says).
 */
const OPENSSH_ONLY: { key: string; applies: (value: string) => boolean; why: string }[] = [
  { key: 'certificatefile', applies: (v) => v.toLowerCase() !== 'none', why: 'CertificateFile (an OpenSSH user certificate)' },
  { key: 'pkcs11provider', applies: (v) => v.toLowerCase() !== 'none', why: 'PKCS11Provider (a smart card or token)' },
  { key: 'securitykeyprovider', applies: (v) => v.toLowerCase() !== 'internal', why: 'SecurityKeyProvider' },
  { key: 'gssapiauthentication', applies: (v) => /^yes$/i.test(v), why: 'GSSAPIAuthentication (Kerberos)' },
];

/** Connection settings carried to the host as they are (HostSshOptions), and one that never is. */
const CARRIED = ['userknownhostsfile', 'identitiesonly', 'identityagent', 'hostkeyalias', 'connecttimeout', 'serveraliveinterval', 'stricthostkeychecking'];

/**
 * Keywords that change how ssh connects or logs in and that the built-in client does not take
 * over: the preview lists each line (ssh honours them all on the OpenSSH transport).
 */
const NOT_CARRIED = new Map<string, string>([
  ['preferredauthentications', 'the built-in client tries what the host offers, in its own order'],
  ['hostkeyalgorithms', 'the built-in client asks for the pinned or known key types first'],
  ['kexalgorithms', 'the built-in client uses its own list'],
  ['ciphers', 'the built-in client uses its own list'],
  ['macs', 'the built-in client uses its own list'],
  ['pubkeyacceptedalgorithms', 'the built-in client uses its own list'],
  ['pubkeyacceptedkeytypes', 'the built-in client uses its own list'],
  ['addressfamily', 'the address is used as it resolves'],
  ['bindaddress', 'connections leave from the default address'],
  ['canonicalizehostname', 'host names are used as written'],
  ['forwardagent', 'the agent is never forwarded to a host'],
  ['requesttty', 'runs get no terminal'],
  ['remotecommand', 'Cronium runs its own commands'],
  ['localforward', 'no forwards are set up'],
  ['remoteforward', 'no forwards are set up'],
  ['dynamicforward', 'no forwards are set up'],
  ['sendenv', 'scripts get the environment their run gives them'],
  ['setenv', 'scripts get the environment their run gives them'],
  ['revokedhostkeys', 'only @revoked lines of known_hosts are read'],
]);

/** OpenSSH's own bound on nested Include (READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;
/** Bound on nested ProxyJump resolution (a hop's own ProxyJump, and so on). */
const MAX_JUMP_DEPTH = 16;
/** The keywords an import uses; everything else is valid ssh_config this app has no use for. */
const KEYWORDS = new Set(['hostname', 'user', 'port', 'identityfile', 'proxyjump', 'proxycommand', ...OPENSSH_ONLY.map((k) => k.key), ...CARRIED]);

interface Source {
  file: string;
  line: number;
}

/** One directive of interest, with where it came from and, if it cannot be used, why. */
interface Setting extends Source {
  key: string;
  value: string;
  invalid?: string;
}

type Item =
  | { kind: 'setting'; setting: Setting }
  | { kind: 'include'; files: LoadedFile[]; source: Source }
  | { kind: 'host'; patterns: string[]; body: Item[]; source: Source }
  | { kind: 'match'; criteria: Criterion[] | null; body: Item[]; source: Source };

/** One criterion of a Match line: `[!]name [pattern-list]`; null criteria: a line the import cannot evaluate (never matches). */
interface Criterion {
  negate: boolean;
  name: 'all' | 'canonical' | 'final' | 'exec' | 'host' | 'originalhost' | 'user' | 'localuser';
  arg?: string;
}

/** The Match criteria the import evaluates (exec only when asked to: it runs a command). */
const MATCH_CRITERIA = new Set(['all', 'canonical', 'final', 'exec', 'host', 'originalhost', 'user', 'localuser']);

/** The settings that apply to one host, per keyword in the order ssh applies them; `seq` is that order across keywords. */
type Computed = Map<string, (Setting & { seq: number })[]>;

interface LoadedFile {
  path: string;
  items: Item[];
}

/** A jump hop as written: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
interface Hop {
  user?: string;
  host: string;
  port?: number;
}

/** Reads an ssh_config (and what it includes) into hosts for the inventory. Throws only when `path` itself cannot be read. */
export function importSshConfig(path: string, options: SshConfigImportOptions): SshConfigImport {
  return new Importer(options).run(path);
}

class Importer {
  private readonly problems = new Map<string, ConfigProblem>();
  private readonly parsed = new Map<string, SSHConfig>();
  private readonly localUser: string;
  private readonly existing: Map<string, ExistingHost>;
  /** Whether any Match line asks for `final` or `canonical` (ssh then reads the config twice). */
  private get wantsFinalPass(): boolean {
    this.finalPass ??= hasFinal(this.root.items);
    return this.finalPass;
  }
  private finalPass: boolean | undefined;
  /** Concrete names from Host lines, in document order, with their first Host line. */
  private readonly aliases = new Map<string, Source>();
  private root!: LoadedFile;
  /** Final hosts by name: aliases and synthesised hops. */
  private readonly resolved = new Map<string, ImportedHost>();
  private readonly synthesised: ImportedHost[] = [];
  private readonly skipped = new Map<string, string>();
  private readonly resolving: string[] = [];
  /** Names whose settings a Match exec line may change (every other criterion of it matched): ssh must decide. */
  private readonly execDecides = new Set<string>();

  constructor(private readonly options: SshConfigImportOptions) {
    this.localUser = options.env.USER || options.env.LOGNAME || safeUserName();
    this.existing = new Map((options.existing ?? []).map((h) => [h.name, h]));
  }

  run(path: string): SshConfigImport {
    const file = resolve(this.expandTilde(path));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw fieldError('path', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'pass the path of an OpenSSH client config, e.g. ~/.ssh/config');
    }
    this.root = this.load(file, text, 0, []);
    this.collectAliases(this.root.items);
    for (const name of this.aliases.keys()) this.resolveAlias(name, 0);
    // Problems in reading order: files as first read, lines ascending within each.
    const fileOrder = [...this.parsed.keys()];
    const problems = [...this.problems.values()].sort((a, b) => fileOrder.indexOf(a.file) - fileOrder.indexOf(b.file) || a.line - b.line);
    return { hosts: this.ordered(), skipped: [...this.skipped].map(([name, reason]) => ({ name, reason })), problems };
  }

  // ---- loading --------------------------------------------------------------------------

  private problem(source: Source, message: string): void {
    const key = `${source.file}\0${source.line}\0${message}`;
    if (!this.problems.has(key)) this.problems.set(key, { file: source.file, line: source.line, message });
  }

  /** Parses a file; a line the parser rejects is reported and blanked, so the rest still counts. */
  private parse(file: string, text: string): SSHConfig {
    const cached = this.parsed.get(file);
    if (cached) return cached;
    let config: SSHConfig;
    try {
      config = SSHConfig.parse(text);
    } catch {
      const lines = text.split('\n');
      const repaired = lines.map((line, i) => {
        try {
          SSHConfig.parse(line);
          return line;
        } catch (e) {
          this.problem({ file, line: i + 1 }, `cannot parse this line: ${(e as Error).message}`);
          // A broken Host or Match line still ends the block before it; its own block never applies.
          return /^\s*(host|match)\b/i.test(line) ? 'Host !*' : '';
        }
      });
      try {
        config = SSHConfig.parse(repaired.join('\n'));
      } catch (e) {
        this.problem({ file, line: 1 }, `cannot parse this file: ${(e as Error).message}`);
        config = new SSHConfig();
      }
    }
    this.parsed.set(file, config);
    return config;
  }

  /** Loads a file into items, following Include; `stack` holds the files being read (for loops). */
  private load(file: string, text: string, depth: number, stack: string[]): LoadedFile {
    const config = this.parse(file, text);
    const items: Item[] = [];
    let current: Item[] = items;
    for (const { node, line } of withLineNumbers(config)) {
      if (node.type !== LineType.DIRECTIVE) continue;
      const source = { file, line };
      const param = node.param.toLowerCase();
      if (param === 'host') {
        const patterns = values(node);
        const body: Item[] = [];
        items.push({ kind: 'host', patterns, body, source });
        current = body;
      } else if (param === 'match') {
        const body: Item[] = [];
        items.push({ kind: 'match', criteria: this.criteria(values(node), source), body, source });
        current = body;
      } else if (param === 'include') {
        current.push({ kind: 'include', files: this.include(values(node), source, depth, [...stack, file]), source });
      } else if (KEYWORDS.has(param)) {
        current.push({ kind: 'setting', setting: this.setting(param, node, source) });
      } else if (NOT_CARRIED.has(param)) {
        this.problem(source, `${node.param} is not carried to the built-in client (${NOT_CARRIED.get(param)}); a host that needs it can use your own ssh: --transport openssh`);
      }
    }
    return { path: file, items };
  }

  /** Parses a Match line's criteria; null (with a problem) when the import cannot evaluate them. */
  private criteria(words: string[], source: Source): Criterion[] | null {
    const out: Criterion[] = [];
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      const negate = word.startsWith('!');
      const name = (negate ? word.slice(1) : word).toLowerCase();
      if (!MATCH_CRITERIA.has(name)) {
        this.problem(source, `Match ${name} is not evaluated by the import; the settings of this block were ignored (hosts needing it can use the OpenSSH transport)`);
        return null;
      }
      if (name === 'all' || name === 'canonical' || name === 'final') {
        out.push({ negate, name: name as Criterion['name'] });
        continue;
      }
      const arg = words[++i];
      if (arg === undefined) {
        this.problem(source, `Match ${name} needs an argument; the settings of this block were ignored`);
        return null;
      }
      out.push({ negate, name: name as Criterion['name'], arg });
    }
    if (out.length === 0) {
      this.problem(source, 'Match without criteria; the settings of this block were ignored');
      return null;
    }
    if (out.some((c) => c.name === 'exec') && !this.options.matchExec) this.problem(source, 'Match exec is not run by the import (hosts import --match-exec runs it), so its block is left out here; hosts it may apply to go through your own ssh (the OpenSSH transport), which runs it');
    return out;
  }

  /** Resolves and loads the files of one Include line (relative to ~/.ssh, globs in lexical order). */
  private include(patterns: string[], source: Source, depth: number, stack: string[]): LoadedFile[] {
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      this.problem(source, `Include nested more than ${MAX_INCLUDE_DEPTH} levels deep; not followed`);
      return [];
    }
    const files: LoadedFile[] = [];
    for (const raw of patterns) {
      const expanded = this.expandTilde(raw);
      const pattern = isAbsolute(expanded) ? expanded : join(this.options.home, '.ssh', expanded);
      const matches = hasGlob(pattern) ? expandGlob(pattern) : [pattern];
      for (const path of matches) {
        if (stack.includes(path)) {
          this.problem(source, `Include of ${path} loops back to a file that includes it; not followed`);
          continue;
        }
        let text: string;
        try {
          if (statSync(path).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
          text = readFileSync(path, 'utf8');
        } catch (e) {
          // OpenSSH ignores a glob that matches nothing, but a named file that cannot be read is worth saying.
          this.problem(source, `cannot read included file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          continue;
        }
        files.push(this.load(path, text, depth + 1, stack));
      }
    }
    return files;
  }

  /** One directive of interest, checked on its own (checks that depend on the host come later). */
  private setting(key: string, node: Directive, source: Source): Setting {
    const value = key === 'proxycommand' ? commandText(node) : values(node).join(' ');
    const s: Setting = { key, value, ...source };
    const fail = (message: string) => {
      s.invalid = message;
      this.problem(source, message);
    };
    if (value === '') fail(`${node.param} has no value`);
    else if (key === 'port' && !isPort(value)) fail(`Port "${value}" is not a number 1-65535`);
    else if (key === 'proxyjump' && value.toLowerCase() !== 'none') {
      const bad = value.split(',').find((hop) => !parseHop(hop));
      if (bad !== undefined) fail(`ProxyJump "${bad}" is not of the form [user@]host[:port]`);
    } else if (key === 'proxycommand' && /[\0\n\r]/.test(value)) {
      fail(`ProxyCommand must be one line`);
    }
    return s;
  }

  /** Concrete names of every Host line, across all included files, in document order. */
  private collectAliases(items: Item[]): void {
    for (const item of items) {
      if (item.kind === 'include') item.files.forEach((f) => this.collectAliases(f.items));
      if (item.kind === 'match') for (const b of item.body) if (b.kind === 'include') b.files.forEach((f) => this.collectAliases(f.items));
      if (item.kind !== 'host') continue;
      for (const p of item.patterns) {
        if (!isPattern(p) && !this.aliases.has(p)) this.aliases.set(p, item.source);
      }
      for (const b of item.body) if (b.kind === 'include') b.files.forEach((f) => this.collectAliases(f.items));
    }
  }

  // ---- computing one host ---------------------------------------------------------------

  /**
   * The settings `ssh NAME` would use, as OpenSSH reads its config: the first value of a keyword
   * wins (IdentityFile and CertificateFile add up), Host lines match the name as written, Match
   * lines are decided with what is set so far (host: the HostName so far with %h, or the name
   * lowercased; originalhost: the name as written; user: the User so far, or the local user);
   * a `Match final` or `canonical` anywhere asks for a second pass, in which Host lines match
   * the resolved host name and `final` matches. `Match exec` runs nothing and never matches here.
   */
  private compute(name: string): Computed {
    const out: Computed = new Map();
    let seq = 0;
    const lower = name.toLowerCase();
    const state = { final: false, hostForPatterns: name };
    const hostNow = (): string => {
      const hn = out.get('hostname')?.[0];
      if (!hn || hn.invalid) return lower;
      const e = expandTokens(hn.value, { '%': '%', h: lower });
      return typeof e === 'string' ? e : lower;
    };
    const portNow = (): string => {
      const p = out.get('port')?.[0];
      return p && !p.invalid ? p.value : '22';
    };
    const userNow = (): string => {
      const u = out.get('user')?.[0];
      return u && !u.invalid ? u.value : this.localUser;
    };
    const set = (st: Setting) => {
      const list = out.get(st.key);
      if (MULTI_VALUED.has(st.key)) (list ?? out.set(st.key, []).get(st.key)!).push({ ...st, seq: seq++ });
      else if (!list) out.set(st.key, [{ ...st, seq: seq++ }]);
    };
    const matches = (criteria: Criterion[] | null): boolean => {
      if (!criteria) return false;
      // A Match exec whose other criteria hold could apply: only ssh, running it, can tell (unless it was run here).
      if (!this.options.matchExec && criteria.some((c) => c.name === 'exec') && criteria.filter((c) => c.name !== 'exec').every((c) => decide(c))) this.execDecides.add(name);
      return criteria.every((c) => decide(c));
    };
    const decide = (c: Criterion): boolean => {
      {
        let hit: boolean;
        switch (c.name) {
          case 'all':
            hit = true;
            break;
          case 'final':
            hit = state.final;
            break;
          case 'canonical':
            // No CanonicalizeHostname here: the host name is never canonicalised.
            hit = false;
            break;
          case 'exec':
            hit = this.options.matchExec === true && this.runExec(c.arg!, { '%': '%', h: hostNow(), n: name, p: portNow(), r: userNow(), u: this.localUser, d: this.options.home, l: localHostName(), L: localHostName().split('.')[0]!, C: '' });
            break;
          case 'host':
            hit = patternList(c.arg!, hostNow(), true);
            break;
          case 'originalhost':
            hit = patternList(c.arg!, name, true);
            break;
          case 'user':
            hit = patternList(c.arg!, userNow(), false);
            break;
          case 'localuser':
            hit = patternList(c.arg!, this.localUser, false);
            break;
        }
        return c.negate ? !hit : hit;
      }
    };
    const walk = (items: Item[]) => {
      for (const item of items) {
        if (item.kind === 'setting') set(item.setting);
        else if (item.kind === 'include') item.files.forEach((f) => walk(f.items));
        else if (item.kind === 'host' ? hostGlob(item.patterns, state.hostForPatterns) : matches(item.criteria)) walk(item.body);
      }
    };
    walk(this.root.items);
    if (this.wantsFinalPass) {
      // ssh fixes the host name before it reads the config again: HostName lines of the final
      // pass change nothing, and Host lines match that name.
      state.final = true;
      state.hostForPatterns = hostNow();
      if (!out.has('hostname')) out.set('hostname', [{ key: 'hostname', value: lower.replace(/%/g, '%%'), file: '', line: 0, seq: seq++ }]);
      walk(this.root.items);
    }
    return out;
  }

  /** Resolves a Host alias into an imported host (or a skip); returns its name, or undefined when skipped. */
  private resolveAlias(name: string, depth: number): string | undefined {
    if (this.resolved.has(name)) return name;
    if (this.skipped.has(name)) return undefined;
    const source = this.aliases.get(name)!;
    if (this.resolving.includes(name)) {
      const loop = [...this.resolving.slice(this.resolving.indexOf(name)), name].join(' → ');
      this.skip(name, `ProxyJump loop: ${loop}`);
      return undefined;
    }
    const badName = HostName.safeParse(name);
    if (!badName.success) {
      this.skip(name, `"${name}" cannot be a host name here: ${badName.error.issues[0]?.message} (${at(source)})`);
      return undefined;
    }
    this.resolving.push(name);
    try {
      const host = this.hostFrom(name, name, {}, source, depth, true);
      if (typeof host === 'string') {
        this.skip(name, host);
        return undefined;
      }
      this.resolved.set(name, host);
      return name;
    } finally {
      this.resolving.pop();
    }
  }

  private skip(name: string, reason: string): void {
    if (!this.skipped.has(name)) this.skipped.set(name, reason);
  }

  /**
   * Builds a host from the config as it reads for `lookup`, with a hop's user/port overrides.
   * `ownJump` says whether its own ProxyJump applies (it does not for the later hops of a chain,
   * which are reached through the previous hop). Returns a reason when it cannot be imported.
   */
  private hostFrom(name: string, original: string, override: { user?: string; port?: number }, source: Source, depth: number, ownJump: boolean): ImportedHost | string {
    // As ssh does: Host patterns match the name as written (case-sensitively); the default
    // HostName and %h are the name lowercased; %n is it as written.
    const lookup = original.toLowerCase();
    const settings = this.compute(original);
    for (const key of ['hostname', 'user', 'port']) {
      const first = settings.get(key)?.[0];
      if (first?.invalid) return `${first.invalid} (${at(first)})`;
    }
    const hostNameSetting = settings.get('hostname')?.[0];
    const address = hostNameSetting ? expandTokens(hostNameSetting.value, { '%': '%', h: lookup }) : lookup;
    if (typeof address !== 'string') return `HostName "${hostNameSetting!.value}" uses the unsupported token %${address.token} (${at(hostNameSetting!)})`;
    if (!Address.safeParse(address).success) return `"${address}" is not a host name or IP address${hostNameSetting ? ` (${at(hostNameSetting)})` : ''}`;
    const portSetting = settings.get('port')?.[0];
    const port = override.port ?? (portSetting ? Number(portSetting.value) : 22);
    const userSetting = settings.get('user')?.[0];
    let user = override.user;
    if (user === undefined && userSetting) {
      const u = expandTokens(userSetting.value, { '%': '%', h: address, n: original, u: this.localUser, d: this.options.home });
      if (typeof u !== 'string') return `User "${userSetting.value}" uses the unsupported token %${u.token} (${at(userSetting)})`;
      user = u;
    }
    if (user !== undefined && !UserName.safeParse(user).success) return `"${user}" is not a valid login name${userSetting ? ` (${at(userSetting)})` : ''}`;
    const identityFile = this.identity(settings.get('identityfile') ?? [], { address, lookup: original, port, user });
    const host: ImportedHost = { name, address, port, source, ...(user !== undefined ? { user } : {}), ...(identityFile ? { identityFile } : {}) };
    const carried = this.carried(settings, { address, lookup: original, port, user });
    if (carried.options) host.sshOptions = carried.options;
    if (carried.identitiesOnly) host.useAgent = false;
    if (this.aliases.has(original)) {
      // A key with its certificate beside it (KEY-cert.pub) is offered as a certificate by ssh too.
      const reasons = OPENSSH_ONLY.filter((k) => settings.get(k.key)?.some((v) => !v.invalid && k.applies(v.value))).map((k) => k.why);
      if (this.execDecides.has(original)) reasons.push('a Match exec line that may apply (ssh runs it)');
      // A host certificate vouched for by a CA line: only ssh checks host certificates.
      const ca = this.certAuthorityFor(carried.options?.knownHostsFiles ?? [join(this.options.home, '.ssh', 'known_hosts')], carried.options?.hostKeyAlias ?? address, port);
      if (ca) reasons.push(`a host certificate authority for it in ${ca} (@cert-authority)`);
      if (identityFile && existsSync(`${identityFile}-cert.pub`)) reasons.push(`a certificate beside its key (${identityFile}-cert.pub)`);
      host.sshAlias = original;
      if (reasons.length) host.opensshReason = reasons.join('; ');
    }
    if (!ownJump) return host;
    const hops = this.jumpHops(settings);
    if (typeof hops === 'string') return hops;
    if (hops.proxyCommand !== undefined) {
      host.proxyCommand = hops.proxyCommand;
      return host;
    }
    if (hops.hops.length) {
      if (depth >= MAX_JUMP_DEPTH) return `ProxyJump nested more than ${MAX_JUMP_DEPTH} levels deep (${at(hops.source)})`;
      const jump = this.resolveChain(hops.hops, hops.source, depth + 1);
      if (typeof jump !== 'string') return jump.reason;
      host.jump = jump;
    }
    return host;
  }

  /** The effective jump chain: ProxyJump, or ProxyCommand `ssh -W %h:%p HOST`, whichever came first (as OpenSSH). */
  private jumpHops(settings: Computed): { hops: Hop[]; source: Source; proxyCommand?: string } | string {
    const pj = settings.get('proxyjump')?.[0];
    const pc = settings.get('proxycommand')?.[0];
    const first = pj && pc ? (pj.seq < pc.seq ? pj : pc) : (pj ?? pc);
    if (!first || first.value.toLowerCase() === 'none') return { hops: [], source: { file: '', line: 0 } };
    if (first.invalid) return `${first.invalid} (${at(first)})`;
    if (first.key === 'proxycommand') {
      const hop = proxyCommandHop(first.value);
      return hop ? { hops: [hop], source: first } : { hops: [], source: first, proxyCommand: first.value };
    }
    return { hops: first.value.split(',').map((h) => parseHop(h)!), source: first };
  }

  /**
   * Runs a Match exec command as ssh does (`sh -c`, tokens expanded), with a time limit; true
   * when it exits 0. The same expanded command runs once per import.
   */
  private runExec(command: string, tokens: Record<string, string>): boolean {
    const expanded = expandTokens(command, tokens);
    if (typeof expanded !== 'string') return false;
    const hit = this.execResults.get(expanded);
    if (hit !== undefined) return hit;
    const r = spawnSync('/bin/sh', ['-c', expanded], { stdio: 'ignore', timeout: MATCH_EXEC_TIMEOUT_MS });
    const ok = r.status === 0;
    this.execResults.set(expanded, ok);
    return ok;
  }
  private readonly execResults = new Map<string, boolean>();

  /** The known_hosts file:line of an @cert-authority line that names the host, if any. */
  private certAuthorityFor(files: string[], name: string, port: number): string | undefined {
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      const lookup = knownHostsName(name, port);
      const hit = parseKnownHosts(text, file).entries.find((e) => e.marker === 'cert-authority' && entryMatches(e, lookup));
      if (hit) return `${file}:${hit.line}`;
    }
    return undefined;
  }

  /** The connection settings carried over (first value of each, tokens and ~ expanded as ssh does). */
  private carried(settings: Computed, h: { address: string; lookup: string; port: number; user?: string }): { options?: HostSshOptions; identitiesOnly: boolean } {
    const first = (k: string) => {
      const st = settings.get(k)?.[0];
      return st && !st.invalid ? st : undefined;
    };
    const path = (st: Setting, raw: string) => this.expandPath(st, raw, h, st.key, 'not carried');
    const seconds = (st: Setting): number | undefined => {
      // ssh's time format: seconds, or a sequence such as 1m30s (s m h d w).
      const v = st.value.trim();
      if (!/^(\d+[smhdw]?)+$/i.test(v)) {
        this.problem(st, `${st.key} "${st.value}" is not a time (seconds, or e.g. 1m30s); not carried`);
        return undefined;
      }
      const unit: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
      let total = 0;
      for (const m of v.matchAll(/(\d+)([smhdw]?)/gi)) total += Number(m[1]) * unit[m[2]!.toLowerCase()]!;
      return total * 1000;
    };
    const o: HostSshOptions = {};
    const known = first('userknownhostsfile');
    if (known) {
      const files = known.value.toLowerCase() === 'none' ? [] : known.value.split(/\s+/).filter(Boolean).map((f) => path(known, f));
      if (files.every((f) => f !== undefined)) o.knownHostsFiles = files as string[];
    }
    const alias = first('hostkeyalias');
    if (alias) o.hostKeyAlias = alias.value.toLowerCase();
    const agent = first('identityagent');
    if (agent) {
      if (agent.value.toLowerCase() === 'none') o.identityAgent = 'none';
      else if (agent.value === 'SSH_AUTH_SOCK') {
        // The default: the agent of $SSH_AUTH_SOCK.
      } else {
        const p = agent.value.startsWith('$') && !agent.value.startsWith('${') ? this.options.env[agent.value.slice(1)] : path(agent, agent.value);
        if (p) o.identityAgent = p;
      }
    }
    const ct = first('connecttimeout');
    if (ct && ct.value.toLowerCase() !== 'none') {
      const ms = seconds(ct);
      // 0 as written (ssh keeps it; the built-in transport then uses its own limit).
      if (ms !== undefined) o.connectTimeoutMs = ms;
    }
    const sa = first('serveraliveinterval');
    if (sa) {
      const ms = seconds(sa);
      if (ms !== undefined) o.serverAliveIntervalMs = ms;
    }
    const strict = first('stricthostkeychecking');
    if (strict && /^(no|off|accept-new)$/i.test(strict.value)) {
      this.problem(strict, `StrictHostKeyChecking ${strict.value} is not carried: Cronium never accepts a host key it has not been shown; trust it with cronium hosts trust NAME`);
    }
    const only = first('identitiesonly');
    return { ...(Object.keys(o).length ? { options: o } : {}), identitiesOnly: only !== undefined && /^(yes|true)$/i.test(only.value) };
  }

  /**
   * A path setting as ssh expands it: `~`, the tokens of the host (%d %u %h %n %p %r %i %l %L %%),
   * then `${VAR}`, relative to the home; undefined (with a problem naming `label` and what becomes
   * of the line) when a token is unsupported or a variable unset.
   */
  private expandPath(st: Setting, raw: string, h: { address: string; lookup: string; port: number; user?: string }, label: string, outcome: string): string | undefined {
    const tokens = { '%': '%', d: this.options.home, u: this.localUser, h: h.address, n: h.lookup, p: String(h.port), r: h.user ?? this.localUser, i: String(process.getuid?.() ?? ''), l: localHostName(), L: localHostName().split('.')[0]! };
    const expanded = expandTokens(this.expandTilde(raw), tokens);
    if (typeof expanded !== 'string') {
      this.problem(st, `${label} "${raw}" uses the unsupported token %${expanded.token}; ${outcome}`);
      return undefined;
    }
    const withEnv = expandEnv(expanded, this.options.env);
    if (typeof withEnv !== 'string') {
      this.problem(st, `${label} "${raw}" uses \${${withEnv.missing}}, which is not set; ${outcome}`);
      return undefined;
    }
    return isAbsolute(withEnv) ? withEnv : join(this.options.home, withEnv);
  }

  /** The first IdentityFile that exists, expanded; missing ones are reported, as ssh would skip them. */
  private identity(settings: Setting[], h: { address: string; lookup: string; port: number; user?: string }): string | undefined {
    for (const s of settings) {
      if (s.invalid) continue;
      if (s.value.toLowerCase() === 'none') return undefined;
      const path = this.expandPath(s, s.value, h, 'IdentityFile', 'ignored');
      if (path === undefined) continue;
      try {
        if (statSync(path).isFile()) return path;
      } catch {
        // reported below
      }
      this.problem(s, `IdentityFile ${path} does not exist; ignored`);
    }
    return undefined;
  }

  /**
   * Resolves the hops of a ProxyJump chain to inventory names, outermost first; returns the name of
   * the last hop (the target's jump host). A hop names an imported or existing host when it can;
   * otherwise (user@host:port forms, a hop reached through the previous one) a matching host is
   * reused or a jump host is synthesised.
   */
  private resolveChain(hops: Hop[], source: Source, depth: number): string | { reason: string } {
    let prev: string | undefined;
    for (const [i, hop] of hops.entries()) {
      const plain = hop.user === undefined && hop.port === undefined;
      let name: string | undefined;
      if (plain && (this.aliases.has(hop.host) || this.existing.has(hop.host))) {
        // An inventory host of that name wins over the config's: import never changes it.
        const existing = this.existing.get(hop.host);
        const aliasName = existing ? hop.host : this.resolveAlias(hop.host, depth);
        if (aliasName === undefined) return { reason: `its jump host "${hop.host}" was skipped: ${this.skipped.get(hop.host)}` };
        const base = existing ?? this.resolved.get(hop.host)!;
        if (i === 0 || (base.jump ?? undefined) === prev) name = aliasName;
        else {
          name = this.findOrSynthesise(`${hop.host}-via-${prev}`, { address: base.address, port: base.port, user: base.user ?? undefined, identityFile: base.identityFile ?? undefined, jump: prev }, source);
        }
      } else {
        const lookup = hop.host;
        const built = this.hostFrom('', lookup, { user: hop.user, port: hop.port }, source, depth, i === 0);
        if (typeof built === 'string') return { reason: `jump host "${formatHop(hop)}": ${built}` };
        const jump = i === 0 ? built.jump : prev;
        name = this.findOrSynthesise(syntheticName(hop), { address: built.address, port: built.port, user: built.user, identityFile: built.identityFile, jump }, source);
      }
      prev = name;
    }
    return prev!;
  }

  /** An existing, imported or already synthesised host with these exact settings, or a new one named after `base`. */
  private findOrSynthesise(base: string, h: Omit<ImportedHost, 'name' | 'source'>, source: Source): string {
    const same = (o: ExistingHost) =>
      // The same key too: a hop written as user@address offers the keys its own settings name, as
      // ssh does, never those of another host that happens to share the address.
      o.address === h.address && o.port === h.port && (o.user ?? undefined) === h.user && (o.jump ?? undefined) === h.jump && (o.identityFile ?? undefined) === h.identityFile;
    for (const o of [...this.existing.values(), ...this.resolved.values(), ...this.synthesised]) if (same(o)) return o.name;
    const taken = (n: string) => this.existing.has(n) || this.aliases.has(n) || this.synthesised.some((s) => s.name === n);
    let name = base.slice(0, 60);
    for (let k = 2; taken(name); k++) name = `${base.slice(0, 57)}-${k}`;
    const host: ImportedHost = { name, address: h.address, port: h.port, source, ...(h.user !== undefined ? { user: h.user } : {}), ...(h.identityFile ? { identityFile: h.identityFile } : {}), ...(h.jump ? { jump: h.jump } : {}) };
    this.synthesised.push(host);
    return name;
  }

  /** Hosts in config order, each jump host placed before the first host that uses it. */
  private ordered(): ImportedHost[] {
    const all = new Map<string, ImportedHost>();
    for (const name of this.aliases.keys()) {
      const h = this.resolved.get(name);
      if (h) all.set(name, h);
    }
    // Synthesised hops that only served skipped hosts are not imported.
    const out: ImportedHost[] = [];
    const placed = new Set<string>();
    const synth = new Map(this.synthesised.map((s) => [s.name, s]));
    const place = (h: ImportedHost) => {
      if (placed.has(h.name)) return;
      placed.add(h.name);
      const jump = h.jump ? (all.get(h.jump) ?? synth.get(h.jump)) : undefined;
      if (jump) place(jump);
      out.push(h);
    };
    for (const h of all.values()) place(h);
    return out;
  }

  private expandTilde(p: string): string {
    return expandTilde(p, this.options.home);
  }
}

/** Each node of a parsed config with its 1-based line, counted from the whitespace the parser keeps. */
function* withLineNumbers(config: SSHConfig): Generator<{ node: Line; line: number }> {
  let newlines = 0;
  const count = (s: string) => (s.match(/\n/g) ?? []).length;
  function* walk(lines: Line[]): Generator<{ node: Line; line: number }> {
    for (const node of lines) {
      newlines += count(node.before);
      yield { node, line: newlines + 1 };
      newlines += count(node.after);
      if ('config' in node) yield* walk(node.config);
    }
  }
  yield* walk(config);
}

/** The values of a directive as a list (the parser gives a string for one value). */
function values(node: Directive): string[] {
  return typeof node.value === 'string' ? (node.value === '' ? [] : [node.value]) : node.value.map((v) => v.val);
}

/** A command directive's text as written (quotes kept where the user put them). */
function commandText(node: Directive): string {
  if (typeof node.value === 'string') return node.value;
  return node.value
    .map(({ val, separator, quoted }, i) => `${i ? separator : ''}${quoted ? `"${val}"` : val}`)
    .join('')
    .trim();
}

/** Keywords whose every value counts (ssh adds them up); the others keep their first value. */
const MULTI_VALUED = new Set(['identityfile', 'certificatefile']);

/** Whether items (and what they include) hold a Match line with `final` or `canonical`. */
function hasFinal(items: Item[]): boolean {
  return items.some((i) => (i.kind === 'include' ? i.files.some((f) => hasFinal(f.items)) : i.kind === 'match' ? (i.criteria ?? []).some((c) => c.name === 'final' || c.name === 'canonical') || hasFinal(i.body) : i.kind === 'host' ? hasFinal(i.body) : false));
}

/**
 * OpenSSH's match_pattern_list: comma-separated patterns, `!` negating one; true when some
 * positive pattern matches and no negated one does. Host names compare case-insensitively.
 */
function patternList(list: string, value: string, hostname: boolean): boolean {
  const v = hostname ? value.toLowerCase() : value;
  let got = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = hostname ? (negated ? raw.slice(1) : raw).toLowerCase() : negated ? raw.slice(1) : raw;
    if (sshPatternMatch(pattern, v)) {
      if (negated) return false;
      got = true;
    }
  }
  return got;
}

/** OpenSSH's match_pattern: `*` any run of characters, `?` exactly one; the rest literal. */
function sshPatternMatch(pattern: string, text: string): boolean {
  let re = '';
  for (const c of pattern) re += c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  return new RegExp(`^${re}$`).test(text);
}

/**
 * Whether a Host line's patterns select `name` (as given to ssh), as OpenSSH matches them:
 * case-sensitively; a matching negated pattern (`!p`) rules the line out whatever else
 * matches; otherwise any matching pattern selects it.
 */
export function hostGlob(patterns: string[], name: string): boolean {
  const host = name;
  let selected = false;
  for (const raw of patterns.flatMap((p) => p.split(','))) {
    if (!raw) continue;
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (sshPatternMatch(pattern, host)) {
      if (negated) return false;
      selected = true;
    }
  }
  return selected;
}

function isPattern(p: string): boolean {
  return p.startsWith('!') || /[*?]/.test(p);
}

function isPort(v: string): boolean {
  return /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535;
}

/** Parses one ProxyJump hop. */
function parseHop(raw: string): Hop | undefined {
  const text = raw.trim().replace(/^ssh:\/\//, '');
  const m = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(text);
  if (!m) return undefined;
  if (m[3] !== undefined && !isPort(m[3])) return undefined;
  const host = m[2]!.replace(/^\[|\]$/g, '');
  return { host, ...(m[1] !== undefined ? { user: m[1] } : {}), ...(m[3] !== undefined ? { port: Number(m[3]) } : {}) };
}

function formatHop(h: Hop): string {
  return `${h.user ? `${h.user}@` : ''}${h.host}${h.port ? `:${h.port}` : ''}`;
}

/** A name for a synthesised jump host: the hop's host, with the user and port when given. */
function syntheticName(h: Hop): string {
  const base = [h.host, h.user, h.port].filter((x) => x !== undefined).join('-');
  return base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'jump';
}

/** The hop of `ProxyCommand ssh [-q] [-p N] [-l U] -W %h:%p HOST`, the pre-ProxyJump idiom; undefined for any other command. */
function proxyCommandHop(command: string): Hop | undefined {
  const words = command.replace(/"/g, '').trim().split(/\s+/);
  if (words[0] === 'exec') words.shift();
  if (!words[0] || !/(^|\/)ssh$/.test(words[0])) return undefined;
  let sawW = false;
  let host: string | undefined;
  let user: string | undefined;
  let port: number | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-W') {
      if (!/^(\[%h\]|%h):%p$/.test(words[++i] ?? '')) return undefined;
      sawW = true;
    } else if (w === '-p' || w === '-l') {
      const v = words[++i];
      if (v === undefined) return undefined;
      if (w === '-p') {
        if (!isPort(v)) return undefined;
        port = Number(v);
      } else user = v;
    } else if (/^-[qxTAaC46]+$/.test(w)) continue;
    else if (w.startsWith('-') || host !== undefined) return undefined;
    else host = w;
  }
  if (!sawW || host === undefined) return undefined;
  const hop = parseHop(host);
  if (!hop) return undefined;
  return { ...hop, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

/** Expands %-tokens; returns the first unsupported token instead when there is one. */
function expandTokens(value: string, tokens: Record<string, string>): string | { token: string } {
  let bad: string | undefined;
  const out = value.replace(/%(.?)/g, (all, t: string) => {
    if (Object.hasOwn(tokens, t)) return tokens[t]!;
    bad ??= t || '(end)';
    return all;
  });
  return bad === undefined ? out : { token: bad };
}

/** Expands `${VAR}`; returns the first unset variable instead when there is one. */
function expandEnv(value: string, env: Record<string, string | undefined>): string | { missing: string } {
  let missing: string | undefined;
  const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, v: string) => {
    const x = env[v];
    if (x === undefined) missing ??= v;
    return x ?? '';
  });
  return missing === undefined ? out : { missing };
}

function hasGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

/** glob(3) over absolute paths: `*`, `?` and `[...]` per path segment, no dotfiles for wildcards, sorted. */
function expandGlob(pattern: string): string[] {
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let bases = [segments[0] === '' ? '/' : segments[0]!];
  for (const seg of segments.slice(1)) {
    const next: string[] = [];
    for (const base of bases) {
      if (!hasGlob(seg)) {
        next.push(join(base, seg));
        continue;
      }
      let entries: string[];
      try {
        entries = readdirSync(base);
      } catch {
        continue;
      }
      const re = globRegExp(seg);
      for (const e of entries.sort()) if (re.test(e) && (seg.startsWith('.') || !e.startsWith('.'))) next.push(join(base, e));
    }
    bases = next;
  }
  return bases.filter((p) => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

function globRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function at(s: Source): string {
  return `${s.file}:${s.line}`;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/** What `hosts.import` returns. */
export type HostImportResult = MethodResult<'hosts.import'>;

/**
 * Imports the hosts of a config into the inventory: existing names are skipped (never
 * overwritten), jump hosts are added before the hosts that use them, and a host whose jump host
 * could not be added is skipped too. With `dryRun`, reports what would be added and writes nothing.
 */
export async function importHostsFromSshConfig(
  hosts: HostService,
  args: { path?: string; dryRun: boolean; tag: string[]; matchExec?: boolean },
  env: { home: string; env: Record<string, string | undefined> },
): Promise<HostImportResult> {
  const existing = await hosts.list();
  const path = args.path ?? join(env.home, '.ssh', 'config');
  const result = importSshConfig(path, { home: env.home, env: env.env, existing, matchExec: args.matchExec === true });
  const names = new Set(existing.map((h) => h.name));
  const added: string[] = [];
  const plan: HostImportResult['plan'] = [];
  const skipped = [...result.skipped];
  const failed = new Set(result.skipped.map((s) => s.name));
  for (const h of result.hosts) {
    if (names.has(h.name)) {
      skipped.push({ name: h.name, reason: 'a host with this name is already in the inventory (left unchanged)' });
      continue;
    }
    if (h.jump && failed.has(h.jump)) {
      skipped.push({ name: h.name, reason: `its jump host "${h.jump}" was not added` });
      failed.add(h.name);
      continue;
    }
    // The OpenSSH transport reads the same config: -F only when it is not ssh's default (which also reads /etc/ssh/ssh_config).
    const file = resolve(expandTilde(path, env.home));
    const viaSsh = h.sshAlias ? { sshAlias: h.sshAlias, ...(file !== join(env.home, '.ssh', 'config') ? { sshConfigFile: file } : {}), ...(h.opensshReason ? { opensshReason: h.opensshReason } : {}) } : {};
    const input: NewHost = { name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, jump: h.jump, ...(h.proxyCommand !== undefined ? { proxyCommand: h.proxyCommand } : {}), ...viaSsh, ...(h.sshOptions ? { sshOptions: h.sshOptions } : {}), ...(h.useAgent === false ? { useAgent: false } : {}), tags: [...new Set(args.tag)] };
    if (!args.dryRun) {
      try {
        await hosts.add(input);
      } catch (e) {
        if (!(e instanceof CroniumError)) throw e;
        skipped.push({ name: h.name, reason: e.message });
        failed.add(h.name);
        continue;
      }
    }
    names.add(h.name);
    added.push(h.name);
    plan.push({ name: h.name, address: h.address, port: h.port, user: h.user ?? null, identityFile: h.identityFile ?? null, jump: h.jump ?? null, ...(h.proxyCommand !== undefined ? { proxyCommand: h.proxyCommand } : {}), ...(h.opensshReason ? { transport: `openssh: ${h.opensshReason}` } : {}), source: h.source });
  }
  return { added, skipped, problems: result.problems, plan, dryRun: args.dryRun, path: resolve(expandTilde(path, env.home)) };
}

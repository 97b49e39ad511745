/**
 * One diagnosis of one host: every check of issue 3 in a fixed order, each with a status, a
 * measured fact and a concrete hint.
 *
 * Invariants: a diagnosis never throws for anything the host or the network does (an
 * unreachable host is a report with failed checks); it reaches the host over ONE pooled
 * connection, runs ONE combined remote probe (plus a tiny `date` whose timing must not be
 * skewed by the probe), and every remote step is bounded in time. A check that cannot run
 * because an earlier one failed says "not checked: <why>" and warns, so the one real failure
 * stands out.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import type { DiagnosticCheck as CheckSchema, DiagnosticReport } from '../../shared/api';
import { isCroniumError } from '../../shared/errors';
import type { HandshakeInfo, SshConnection, SshPool, SshTarget } from '../ssh/types';
import { channelProbesOf, type ProbeOutcome } from './channel-probes';
import { CACHE_LOCATIONS, cacheProblem, lastReason, parseProbe, PROBE_COMMAND, probeScript, type ProbeFacts } from './remote-probe';
import { LOCAL_CHECK_IDS, localChecks, type LocalSide } from './local-checks';
import { runnerTargetFor, type TargetMatch } from './runner-target';
import type { Elevation } from '../exec/elevation';
import { runDirect } from '../exec/direct';

/** One check of a report. */
export type Check = z.infer<typeof CheckSchema>;
/** A check's status. */
export type Status = Check['status'];

/** The runner deployment recorded for a host (table runner_deployments), newest first. */
export interface RecordedDeployment {
  version: string;
  target: string;
  path: string | null;
  sha256: string;
  status: 'deploying' | 'ready' | 'failed' | 'removed';
  error: string | null;
}

/** What a diagnosis needs. */
export interface DiagnoseOptions {
  pool: SshPool;
  /** The newest deployment recorded for the host, if any. */
  deployment?: RecordedDeployment;
  /** DNS lookup (tests inject failures). */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** Limit for the remote probe; default 20 s. */
  probeTimeoutMs?: number;
  /** Limit for each channel probe and DNS; default 5 s. */
  stepTimeoutMs?: number;
  /** The name the user knows the host by, for hints. */
  hostName?: string;
  /** This machine's side (data dir, key files, runner artifacts); without it the report has only the host's checks. */
  local?: LocalSide;
  /** The host's elevation setting: checked by becoming root once (`id -u`); undefined: not set. */
  elevation?: { elevation: Elevation; setting: string } | { error: string; hint: string; setting: string | null };
}

const HOST_CHECK_IDS = ['dns', 'tcp', 'ssh', 'auth', 'shell-noise', 'platform', 'interpreters', 'cache', 'sftp', 'forwarding', 'clock', 'elevation'] as const;
/** Check ids, in report order: the host's, this machine's (local-checks.ts), then the runner, which needs both. */
export const CHECK_IDS = [...HOST_CHECK_IDS, ...LOCAL_CHECK_IDS, 'runner'] as const;
type CheckId = (typeof HOST_CHECK_IDS)[number] | 'runner';

const TITLES: Record<CheckId, string> = {
  dns: 'DNS resolution',
  tcp: 'TCP connect',
  ssh: 'SSH handshake and host key',
  auth: 'Authentication',
  'shell-noise': 'Quiet login shell',
  platform: 'OS, kernel and architecture',
  interpreters: 'Interpreters',
  cache: 'Runner cache locations',
  sftp: 'SFTP subsystem',
  forwarding: 'TCP forwarding',
  clock: 'Clock skew',
  elevation: 'Elevation (sudo/doas)',
  runner: 'Deployed runner',
};

/** Clock skew above which a host is warned about, and failed. */
export const SKEW_WARN_MS = 2_000;
export const SKEW_FAIL_MS = 30_000;
/** Free space below which a cache location is warned about (a runner binary is a few MiB). */
const LOW_SPACE_KIB = 32 * 1024;

const RANK: Record<Status, number> = { pass: 0, warn: 1, fail: 2 };

/** The worst status of a list of checks. */
export function worst(checks: { status: Status }[]): Status {
  return checks.reduce<Status>((w, c) => (RANK[c.status] > RANK[w] ? c.status : w), 'pass');
}

function check(id: CheckId, status: Status, detail: string, hint: string | null = null, data?: Record<string, unknown>): Check {
  return { id, title: TITLES[id], status, detail, hint, ...(data ? { data } : {}) };
}

const notChecked = (id: CheckId, why: string) => check(id, 'warn', `not checked: ${why}`);

/** Runs every check against a target and returns them in report order. */
export async function diagnoseTarget(target: SshTarget, options: DiagnoseOptions): Promise<Pick<DiagnosticReport, 'status' | 'checks'>> {
  const checks = new Map<CheckId, Check>();
  const name = options.hostName ?? target.name;
  const stepMs = options.stepTimeoutMs ?? 5_000;

  const dns = await checkDns(target, options.lookup, stepMs);
  checks.set('dns', dns);

  let conn: SshConnection | undefined;
  if (dns.status === 'fail') {
    for (const id of ['tcp', 'ssh', 'auth'] as const) checks.set(id, notChecked(id, 'the address does not resolve'));
  } else {
    try {
      conn = await options.pool.connect(target);
    } catch (e) {
      for (const c of await connectFailure(target, options.pool, e)) checks.set(c.id as CheckId, c);
    }
  }

  if (conn) {
    const c = conn;
    const probes = channelProbesOf(c);
    const step = () => AbortSignal.timeout(stepMs);
    // The clock goes first and alone: its round trip is its error bar. Then sessions (the
    // probe, SFTP) go one after another so that MaxSessions 1 is no obstacle, while forwarding
    // and the jump legs, which need no session, run alongside.
    const clock = await measureClock(c, stepMs);
    const sessions = (async () => {
      const probe = await runProbe(c, options.deployment, options.probeTimeoutMs ?? 20_000);
      const sftp = c.alive ? await probes.sftp(step()) : undefined;
      return { probe, sftp };
    })();
    const forwards = Promise.all([probes.forwardOut('127.0.0.1', target.port, step()), probes.forwardIn(step())]);
    const legs = measureLegs(target, c, options.pool, stepMs);
    const [{ probe, sftp }, fwd, tcpLegs] = await Promise.all([sessions, forwards, legs]);

    checks.set('tcp', tcpPassed(target, c.info, tcpLegs));
    checks.set('ssh', sshPassed(c.info));
    checks.set('auth', authPassed(c.info));
    for (const x of remoteChecks(probe, options.deployment, name)) checks.set(x.id as CheckId, x);
    const noProbe = 'the connection was lost';
    if (c.info.transport === 'openssh') {
      // Your own ssh is not asked for SFTP or remote forwards: uploads stream over exec, helpers go in-band.
      checks.set('sftp', check('sftp', 'pass', 'not used through your own ssh: runner uploads and pushes stream over exec', null, { available: null }));
      const [out] = fwd;
      const local = out.ok ? 'allowed' : `${out.refused ? 'refused' : 'failed'} (${out.message})`;
      checks.set('forwarding', check('forwarding', out.ok ? 'pass' : 'warn', `local forwarding (ssh -W, as a jump host): ${local}; runtime helpers go in-band over the runner channel through your own ssh`, out.ok ? null : 'This host cannot be a jump host. To allow forwarding: AllowTcpForwarding yes (and no DisableForwarding) in sshd_config', { remote: null, local: out.ok, localError: out.ok ? null : out.message }));
    } else {
      checks.set('sftp', sftpCheck(sftp, noProbe));
      checks.set('forwarding', forwardingCheck(fwd, noProbe));
    }
    checks.set('clock', clock);
    checks.set('elevation', await elevationCheck(c, options.elevation, name, options.probeTimeoutMs ?? 20_000));
  } else {
    const why = checks.get('auth')?.status === 'fail' ? 'not logged in' : 'no SSH connection';
    for (const id of ['shell-noise', 'platform', 'interpreters', 'cache', 'sftp', 'forwarding', 'clock'] as const) checks.set(id, notChecked(id, why));
    // Nothing to check when the host is not set up to elevate; otherwise it needs the connection.
    const how = options.elevation;
    checks.set('elevation', !how || how.setting === null || how.setting === 'none' ? elevationUnset(how?.setting ?? null) : notChecked('elevation', why));
    checks.set('runner', runnerCheck(options.deployment, undefined, undefined, name, why));
  }
  const list: Check[] = [...HOST_CHECK_IDS].map((id) => checks.get(id) ?? notChecked(id, 'no result'));
  const runner = checks.get('runner') ?? notChecked('runner', 'no result');
  if (options.local) {
    const local = await localChecks(options.local, checks.get('platform')?.data?.target as string | undefined);
    list.push(...local.checks);
    // Runs cannot use the runner without this machine's artifacts, whatever the host has.
    const blocked = local.runnerBlocked;
    list.push(blocked ? check('runner', 'fail', `${blocked.detail}, so runs cannot use the runner (auto mode runs them directly); on the host: ${runner.detail}`, blocked.hint, runner.data) : runner);
  } else list.push(runner);
  return { status: worst(list), checks: list };
}

// ---- elevation ------------------------------------------------------------------------

function elevationUnset(setting: string | null): Check {
  return setting === null
    ? check('elevation', 'pass', 'not set: runs asked to be elevated (run --sudo) are refused on this host', null, { setting: null })
    : check('elevation', 'pass', 'set to none: runs asked to be elevated are refused on this host', null, { setting: 'none' });
}

/** Becomes root once the way an elevated run would (direct mode's path, `id -u`). */
async function elevationCheck(conn: SshConnection, how: DiagnoseOptions['elevation'], name: string, timeoutMs: number): Promise<Check> {
  if (!how || how.setting === null || how.setting === 'none') return elevationUnset(how?.setting ?? null);
  if ('error' in how) return check('elevation', 'fail', how.error, how.hint, { setting: how.setting });
  let out = '';
  const t0 = performance.now();
  const outcome = await runDirect(
    conn,
    { runId: 0, jobId: 0, host: name, interpreter: 'sh', script: 'id -u', mode: 'direct', elevation: how.elevation, ...(how.elevation.password ? { secrets: [how.elevation.password] } : {}) },
    { stdout: (b) => void (out += b.toString()), stderr: () => undefined, system: () => undefined },
    AbortSignal.timeout(timeoutMs),
    { t0, connectMs: 0, setupDeadline: t0 + timeoutMs, modeReason: null },
  );
  const ms = Math.round(performance.now() - t0);
  if (outcome.status === 'succeeded' && out.trim() === '0') return check('elevation', 'pass', `${how.setting}: became root in ${ms} ms`, null, { setting: how.setting, ms });
  if (outcome.errorCode === 'ELEVATION_FAILED') return check('elevation', 'fail', outcome.errorMessage ?? 'elevation failed', outcome.errorHint ?? null, { setting: how.setting });
  if (outcome.status === 'succeeded') return check('elevation', 'fail', `${how.setting} ran the check, but as uid ${out.trim() || '?'}, not root`, `check what ${how.setting === 'doas' ? 'doas' : 'sudo'} does for this user on the host`, { setting: how.setting });
  return check('elevation', 'warn', `not checked: ${outcome.errorMessage ?? outcome.status}`, null, { setting: how.setting });
}

// ---- connection checks ----------------------------------------------------------------

async function checkDns(target: SshTarget, lookup: DiagnoseOptions['lookup'], timeoutMs: number): Promise<Check> {
  const first = target.jumps[0] ?? target;
  const via = target.jumps.at(-1);
  const remoteNote = via && !isIP(target.address) ? `; ${target.address} is resolved by jump host ${via.name}` : '';
  if (isIP(first.address)) {
    return check('dns', 'pass', `${first.address} is an IP address, no lookup needed${first !== target ? ` (first hop ${first.name})` : ''}${remoteNote}`, null, { address: first.address, literal: true });
  }
  const t0 = performance.now();
  try {
    const run = lookup ?? ((h: string) => dnsLookup(h, { all: true }));
    const addresses = await withTimeout(run(first.address), timeoutMs, `no answer within ${timeoutMs} ms`);
    const ms = performance.now() - t0;
    const list = addresses.map((a) => a.address);
    return check('dns', 'pass', `${first.address} resolves to ${list.join(', ')} in ${fmtMs(ms)}${first !== target ? ` (first hop ${first.name})` : ''}${remoteNote}`, null, {
      address: first.address,
      addresses: list,
      ms: round(ms),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return check('dns', 'fail', `${first.address} does not resolve: ${code}`, `check the spelling of the address, your DNS server or VPN; or set the IP address: cronium hosts rm ${first.name} and add it again with --address IP`, {
      address: first.address,
      error: code,
    });
  }
}

/** Where a connect failure belongs, from the pool's error code and phase. */
function failedStage(e: unknown): 'dns' | 'tcp' | 'ssh' | 'auth' {
  if (!isCroniumError(e)) return 'ssh';
  const phase = e.details?.phase;
  const reason = e.details?.reason;
  if (e.code === 'AUTH_FAILED') return 'auth';
  if (e.code === 'HOST_KEY_UNKNOWN' || e.code === 'HOST_KEY_MISMATCH') return 'ssh';
  if (reason === 'dns') return 'dns';
  if (phase === 'tcp') return 'tcp';
  if (phase === 'auth' || phase === 'authentication') return 'auth';
  return 'ssh';
}

/** The connection checks when connecting failed: the failing stage fails, earlier ones pass, later ones are not checked. */
async function connectFailure(target: SshTarget, pool: SshPool, e: unknown): Promise<Check[]> {
  const stage = failedStage(e);
  const err = isCroniumError(e) ? e : undefined;
  const message = err?.message ?? `internal error: ${(e as Error)?.message ?? String(e)}`;
  const hint = err?.hint ?? 'this is a bug in Cronium; please report it';
  const data = { code: err?.code ?? 'INTERNAL', ...(err?.details ?? {}) };
  const out: Check[] = [];
  if (stage === 'dns') {
    // The pool's own lookup (or the jump host's) failed where ours succeeded: its verdict counts.
    return [check('dns', 'fail', message, hint, data), notChecked('tcp', 'the address does not resolve'), notChecked('ssh', 'no TCP connection'), notChecked('auth', 'no TCP connection')];
  }
  if (stage === 'tcp') return [check('tcp', 'fail', message, hint, data), notChecked('ssh', 'no TCP connection'), notChecked('auth', 'no TCP connection')];
  // TCP worked; a host-key scan (no authentication) measures it and names the server.
  const scan = await pool.scanHostKey(target, AbortSignal.timeout(10_000)).catch(() => undefined);
  out.push(scan ? check('tcp', 'pass', `${target.jumps.length ? `through ${target.jumps.map((j) => j.name).join(' → ')}, ` : ''}connected in ${fmtMs(scan.tcpConnectMs)}`, null, { ms: round(scan.tcpConnectMs) }) : check('tcp', 'pass', 'connected (the failure came later)'));
  if (stage === 'ssh') {
    const keyFacts = scan ? ` (server ${scan.serverIdent})` : '';
    out.push(check('ssh', 'fail', `${message}${keyFacts}`, hint, data), notChecked('auth', err?.code?.startsWith('HOST_KEY') ? 'the host key is not trusted' : 'no SSH session'));
    return out;
  }
  out.push(
    check('ssh', 'pass', scan ? `${scan.serverIdent}; host key ${scan.key.algorithm} ${scan.key.fingerprint} ${scan.state}${scan.source ? ` (${scan.source})` : ''}` : 'handshake completed', null, scan ? { serverIdent: scan.serverIdent, hostKey: scan.key.fingerprint, state: scan.state } : undefined),
    check('auth', 'fail', message, hint, data),
  );
  return out;
}

function tcpPassed(target: SshTarget, info: HandshakeInfo, legs: Leg[] | undefined): Check {
  // Your own ssh connects by itself: what it took is in the ssh check's handshake time.
  if (info.transport === 'openssh') return check('tcp', 'pass', `connected to ${target.sshAlias ?? `${target.address}:${target.port}`} by your own ssh (its ControlMaster)`, null, { ms: null });
  if (!target.jumps.length) {
    return check('tcp', 'pass', `connected to ${target.address}:${target.port} in ${fmtMs(info.tcpConnectMs)}`, null, { ms: round(info.tcpConnectMs) });
  }
  const parts = (legs ?? []).map((l) => (l.ms === undefined ? `${l.from ? `${l.from} → ` : ''}${l.to}: ${l.error}` : `${l.from ? `${l.from} → ` : ''}${l.to} in ${fmtMs(l.ms)}`));
  return check('tcp', 'pass', `through ${target.jumps.map((j) => j.name).join(' → ')}: ${parts.join('; ')}`, null, { legs: legs ?? [] });
}

interface Leg {
  from?: string;
  to: string;
  ms?: number;
  error?: string;
}

/** TCP connect time of each leg of a jump chain: the first hop's socket, then each tunnel opened from the hop before. */
async function measureLegs(target: SshTarget, conn: SshConnection, pool: SshPool, stepMs: number): Promise<Leg[] | undefined> {
  if (!target.jumps.length) return undefined;
  const nodes = [...target.jumps.map((j, i) => ({ ...j, jumps: target.jumps.slice(0, i) })), target];
  const legs: Leg[] = [];
  let prev: SshConnection | undefined;
  for (const [i, node] of nodes.entries()) {
    const to = `${node.name} ${node.address}:${node.port}`;
    if (i === 0) {
      // The pool already holds the first hop's connection (the target was reached through it).
      prev = await pool.connect(node).catch(() => undefined);
      legs.push(prev ? { to, ms: round(prev.info.tcpConnectMs) } : { to, error: 'connection to the first hop is gone' });
      continue;
    }
    const probes = prev ? channelProbesOf(prev) : undefined;
    if (!probes) {
      legs.push({ from: nodes[i - 1]!.name, to, error: 'not measured' });
    } else {
      const t0 = performance.now();
      const outcome = await probes.forwardOut(node.address, node.port, AbortSignal.timeout(stepMs));
      legs.push(outcome.ok ? { from: nodes[i - 1]!.name, to, ms: round(performance.now() - t0) } : { from: nodes[i - 1]!.name, to, error: outcome.message });
    }
    prev = i === nodes.length - 1 ? conn : await pool.connect(node).catch(() => undefined);
  }
  return legs;
}

function sshPassed(info: HandshakeInfo): Check {
  const via = info.jumps.length ? ` through ${info.jumps.join(' → ')}` : '';
  return check(
    'ssh',
    'pass',
    `${info.serverIdent}${via}${info.transport === 'openssh' ? ' (through your own ssh)' : ''}; ${info.hostCertificate ? `${info.hostCertificate}, trusted by an @cert-authority line in known_hosts` : `host key ${info.hostKey.algorithm} ${info.hostKey.fingerprint} trusted (${info.hostKey.trust === 'pinned' ? 'pinned in Cronium' : 'in known_hosts'})`}; handshake ${fmtMs(info.handshakeMs)}`,
    null,
    { serverIdent: info.serverIdent, hostKey: info.hostKey, state: 'trusted', handshakeMs: round(info.handshakeMs) },
  );
}

function authPassed(info: HandshakeInfo): Check {
  const ok = info.authAttempts.find((a) => a.ok);
  const failed = info.authAttempts.filter((a) => !a.ok && a.method !== 'none');
  const describe = (a: { method: string; detail?: string; signature?: string }) => `${a.method}${a.detail || a.signature ? ` (${[a.detail, a.signature].filter(Boolean).join(', ')})` : ''}`;
  const detail = `the server offers ${info.authMethodsOffered.join(', ') || 'no method it named'}; ${ok ? `${describe(ok)} succeeded` : 'logged in'}${failed.length ? ` after ${failed.map(describe).join(', ')} failed` : ''}`;
  return check('auth', 'pass', detail, null, { offered: info.authMethodsOffered, attempts: info.authAttempts });
}

// ---- remote checks ----------------------------------------------------------------------

interface ProbeRun {
  facts?: ProbeFacts;
  error?: string;
  stderr: string;
  code: number | null;
}

async function runProbe(conn: SshConnection, deployment: RecordedDeployment | undefined, timeoutMs: number): Promise<ProbeRun> {
  const path = deployment?.status === 'ready' && deployment.path ? deployment.path : undefined;
  try {
    const r = await conn.exec(PROBE_COMMAND, { stdin: probeScript(path), signal: AbortSignal.timeout(timeoutMs) });
    return { facts: parseProbe(r.stdout), stderr: r.stderr.toString('utf8'), code: r.code };
  } catch (e) {
    const timedOut = (e as Error)?.name === 'TimeoutError';
    return { error: timedOut ? `the remote probe did not finish within ${timeoutMs} ms` : ((e as Error)?.message ?? String(e)), stderr: '', code: null };
  }
}

function remoteChecks(run: ProbeRun, deployment: RecordedDeployment | undefined, name: string): Check[] {
  const facts = run.facts;
  if (!facts) {
    const why = run.error ?? `the login shell did not run /bin/sh (exit ${run.code ?? 'by signal'}${run.stderr.trim() ? `: ${clip(run.stderr.trim(), 200)}` : ''})`;
    return [
      check('shell-noise', 'fail', why, 'check that the account has a working login shell and that /bin/sh exists; log in with ssh to see what happens'),
      notChecked('platform', 'the remote probe did not run'),
      notChecked('interpreters', 'the remote probe did not run'),
      notChecked('cache', 'the remote probe did not run'),
      runnerCheck(deployment, undefined, undefined, name, 'the remote probe did not run'),
    ];
  }
  const platform = platformCheck(facts);
  const target = platform.data?.target as string | undefined;
  return [shellNoiseCheck(facts, run.stderr), platform, interpretersCheck(facts), cacheCheck(facts), runnerCheck(deployment, facts, target, name)];
}

function shellNoiseCheck(facts: ProbeFacts, stderr: string): Check {
  const shell = facts.values.get('login_shell') || 'the login shell';
  const err = stderr.trim();
  const errNote = err ? ` (on stderr it printed ${Buffer.byteLength(err)} bytes: ${JSON.stringify(clip(err, 120))})` : '';
  if (facts.noise.length === 0) return check('shell-noise', 'pass', `${shell} printed nothing on stdout for a non-interactive command${errNote}`, null, { bytes: 0, shell });
  const text = facts.noise.toString('utf8');
  return check(
    'shell-noise',
    'warn',
    `${shell} printed ${facts.noise.length} bytes on stdout before the command ran: ${JSON.stringify(clip(text, 200))}${errNote}`,
    'output from shell startup files corrupts script output and the runner protocol: put `[ -z "$PS1" ] && return` at the top of ~/.bashrc (or `case $- in *i*) ;; *) return;; esac`), or move the output into the interactive section of ~/.bashrc, ~/.profile or ~/.zshrc',
    { bytes: facts.noise.length, text: clip(text, 1000), shell },
  );
}

function platformCheck(facts: ProbeFacts): Check {
  const os = facts.values.get('uname_s') ?? '';
  const machine = facts.values.get('uname_m') ?? '';
  const kernel = facts.values.get('uname_r') ?? '';
  const longBit = facts.values.get('long_bit');
  const pretty = facts.values.get('os');
  const match: TargetMatch = runnerTargetFor(os, machine, longBit);
  const from = facts.values.get('long_bit_from');
  const bits = longBit === '32' || longBit === '64' ? `${longBit}-bit userland${from === 'elf' ? " (from /bin/sh's ELF header: no getconf)" : ''}` : 'userland width unknown (no getconf, and /bin/sh unreadable)';
  const base = `${os} ${machine}, kernel ${kernel}, ${bits}${pretty ? ` (${pretty})` : ''}`;
  const data = { os, machine, kernel, longBit: longBit ? Number(longBit) : null, distribution: pretty ?? null, target: match.target ?? null };
  if (match.target) return check('platform', 'pass', `${base} → runner ${match.target}`, null, data);
  return check('platform', 'fail', `${base}: ${match.reason}`, 'the runner cannot run here; run scripts on this host with --mode direct', data);
}

function interpretersCheck(facts: ProbeFacts): Check {
  const by = new Map(facts.interpreters.map((i) => [i.name, i]));
  const works = (n: string) => {
    const i = by.get(n);
    return i !== undefined && i.status === 0 && i.output !== '';
  };
  const describe = (n: string): string => {
    const i = by.get(n);
    if (!i || i.status === 127 && !i.path) return `${n} missing`;
    if (!works(n)) return `${n} not runnable (${i.path}: ${lastReason(i.output) || `exit ${i.status}`})`;
    if (n === 'sh') return `sh ${i.path}${i.output && i.output !== i.path && i.output.startsWith('/') ? ` → ${i.output}` : ''}`;
    return `${n} ${i.output.replace(/\(.*$/, '')}`;
  };
  const detail = ['bash', 'sh', 'python3', 'node'].map(describe).join('; ');
  const data = Object.fromEntries(['bash', 'sh', 'python3', 'node'].map((n) => [n, works(n) ? { path: by.get(n)!.path, version: n === 'sh' ? null : by.get(n)!.output } : null]));
  if (!works('sh')) return check('interpreters', 'fail', detail, 'no working /bin/sh or sh in PATH: nothing can run on this host until sh works', data);
  // Both modes run a script with the interpreter it names (bash unless told otherwise), never another one.
  if (!works('bash')) return check('interpreters', 'warn', detail, `bash is missing: scripts for bash (the default interpreter) end INTERPRETER_MISSING here in either mode; run them with --interpreter sh (saved scripts: scripts save --interpreter sh), or install bash`, data);
  return check('interpreters', 'pass', detail, null, data);
}

function cacheCheck(facts: ProbeFacts): Check {
  const uid = facts.values.get('uid');
  const label = new Map<string, string>(CACHE_LOCATIONS.map((c) => [c.id, c.label]));
  const locations = CACHE_LOCATIONS.map((loc) => {
    const c = facts.caches.find((x) => x.id === loc.id);
    if (!c) return { id: loc.id, label: loc.label, path: null, usable: false, writable: false, executable: false, freeBytes: null, problem: 'not probed' };
    const problem = cacheProblem(c, uid);
    return {
      id: c.id,
      label: loc.label,
      path: c.path || null,
      usable: problem === undefined,
      writable: c.writable,
      executable: c.executable,
      existed: c.state === 'exists',
      freeBytes: c.freeKiB === undefined ? null : c.freeKiB * 1024,
      problem: problem ?? null,
    };
  });
  const chosen = locations.find((l) => l.usable);
  const describe = (l: (typeof locations)[number]) => `${l.path ?? label.get(l.id)}: ${l.usable ? `ok, ${fmtBytes(l.freeBytes)} free` : l.problem}`;
  const summary = locations.map(describe).join('; ');
  const data = { locations, selected: chosen?.id ?? null, selectedPath: chosen?.path ?? null };
  if (!chosen) {
    return check('cache', 'warn', `no location can hold and run the runner, so runs use direct mode. ${summary}`, 'give the runner one writable, executable place: unset noexec on /tmp or /dev/shm, make the home writable, or set XDG_CACHE_HOME to a directory on an exec mount (in ~/.ssh/environment or the shell profile)', data);
  }
  if (chosen.freeBytes !== null && chosen.freeBytes < LOW_SPACE_KIB * 1024) {
    return check('cache', 'warn', `the runner would use ${chosen.path}, but only ${fmtBytes(chosen.freeBytes)} is free there. ${summary}`, `free some space on the file system of ${chosen.path}`, data);
  }
  return check('cache', 'pass', `the runner would use ${chosen.path}. ${summary}`, null, data);
}

function runnerCheck(d: RecordedDeployment | undefined, facts: ProbeFacts | undefined, platformTarget: string | undefined, name: string, notCheckedWhy?: string): Check {
  const redeploy = `redeploy it: cronium runner deploy ${name}`;
  if (!d) return check('runner', 'pass', 'not deployed yet (the first run in runner mode deploys it)', null, { deployed: false });
  const what = `runner ${d.version} (${d.target})`;
  const data = { deployed: d.status === 'ready', version: d.version, target: d.target, path: d.path, expectedSha256: d.sha256, status: d.status };
  if (d.status === 'removed') return check('runner', 'pass', `not deployed (${what} was removed)`, null, data);
  if (d.status === 'failed') return check('runner', 'warn', `the last deployment of ${what} failed: ${d.error ?? 'no reason recorded'}`, `retry: cronium runner deploy ${name}`, data);
  if (d.status === 'deploying') return check('runner', 'warn', `a deployment of ${what} was started and never finished`, `retry: cronium runner deploy ${name}`, data);
  if (!d.path) return check('runner', 'warn', `${what} is recorded without a path on the host, so its checksum cannot be checked`, redeploy, data);
  if (notCheckedWhy || !facts) return check('runner', 'warn', `not checked: ${notCheckedWhy ?? 'the remote probe did not run'} (${what} recorded at ${d.path})`, null, data);
  const seen = facts.runner;
  if (!seen || seen.state === 'missing') return check('runner', 'warn', `${what} is recorded at ${d.path}, but the file is gone (cache cleared?)`, 'nothing to do: the next run in runner mode deploys it again', data);
  if (seen.state === 'not-a-file') return check('runner', 'fail', `${d.path} is not a regular file`, redeploy, data);
  if (!seen.sha256) return check('runner', 'warn', `${what} at ${d.path}: no sha256sum, shasum or sha256 on the host to check it with`, 'install coreutils (sha256sum) or perl (shasum) on the host', data);
  const actual = { ...data, actualSha256: seen.sha256 };
  if (seen.sha256 !== d.sha256.toLowerCase()) {
    return check('runner', 'fail', `${what} at ${d.path} does not match its checksum: expected SHA-256 ${d.sha256.slice(0, 16)}…, the host has ${seen.sha256.slice(0, 16)}…`, `the binary was changed on the host and will not be run; ${redeploy}`, actual);
  }
  if (platformTarget && platformTarget !== d.target) {
    return check('runner', 'warn', `${what} at ${d.path} matches its checksum, but this host needs ${platformTarget}`, redeploy, actual);
  }
  return check('runner', 'pass', `${what} at ${d.path}, SHA-256 matches`, null, actual);
}

function sftpCheck(o: ProbeOutcome | undefined, why: string): Check {
  if (!o) return notChecked('sftp', why);
  if (o.ok) return check('sftp', 'pass', 'the SFTP subsystem starts', null, { available: true });
  if (o.refused) return check('sftp', 'warn', `not checked: the server refused another session (${o.message})`, 'the server allows very few sessions per connection (MaxSessions); try again when no job runs', { available: null });
  return check('sftp', 'warn', `not available: ${o.message}`, o.hint ?? 'runner uploads fall back to a stream over exec (slower); to enable SFTP add `Subsystem sftp internal-sftp` to sshd_config', { available: false, error: o.message });
}

function forwardingCheck(o: [ProbeOutcome, ProbeOutcome] | undefined, why: string): Check {
  if (!o) return notChecked('forwarding', why);
  const [out, inn] = o;
  const say = (p: ProbeOutcome) => (p.ok ? 'allowed' : `${p.refused ? 'refused' : 'failed'} (${p.message})`);
  const detail = `remote forwarding (reverse tunnel for runtime helpers): ${say(inn)}; local forwarding (direct-tcpip, as a jump host): ${say(out)}`;
  const data = { remote: inn.ok, local: out.ok, remoteError: inn.ok ? null : inn.message, localError: out.ok ? null : out.message };
  if (inn.ok && out.ok) return check('forwarding', 'pass', detail, null, data);
  if (!inn.ok && out.ok && /GatewayPorts yes/.test(inn.message ?? '')) {
    return check('forwarding', 'warn', detail, 'set GatewayPorts no (or clientspecified) in sshd_config; until then runtime helpers go in-band over the runner channel, never through a port the network can reach', data);
  }
  return check(
    'forwarding',
    'warn',
    detail,
    `${inn.ok ? '' : 'runtime helpers fall back to in-band over the runner channel (and direct mode has none). '}${out.ok ? '' : 'This host cannot be a jump host. '}To allow forwarding: AllowTcpForwarding yes (and no DisableForwarding) in sshd_config`,
    data,
  );
}

/** Remote clock vs local: `date +%s%N`, corrected by half the round trip. */
async function measureClock(conn: SshConnection, timeoutMs: number): Promise<Check> {
  const t0 = Date.now();
  const p0 = performance.now();
  let out: string;
  try {
    const r = await conn.exec('date +%s%N', { signal: AbortSignal.timeout(timeoutMs) });
    out = r.stdout.toString('utf8');
  } catch (e) {
    return notChecked('clock', (e as Error)?.name === 'TimeoutError' ? `date did not answer within ${timeoutMs} ms` : (e as Error).message);
  }
  const rtt = performance.now() - p0;
  const localMid = t0 + rtt / 2;
  // Take the last line: a noisy login shell prints before it.
  const line = out.trim().split('\n').at(-1)?.trim() ?? '';
  let remoteMs: number;
  let precision = rtt / 2;
  if (/^\d{19}$/.test(line)) remoteMs = Number(BigInt(line) / 1_000_000n);
  else if (/^\d{9,11}%?N?$/.test(line)) {
    // No %N (BSD and macOS print "N", BusyBox "%N"): whole seconds, so up to a second more uncertainty.
    remoteMs = Number(line.replace(/%?N$/, '')) * 1000 + 500;
    precision += 500;
  } else return check('clock', 'warn', `cannot read the remote clock: date printed ${JSON.stringify(clip(line, 60))}`, null);
  const skew = remoteMs - localMid;
  const abs = Math.abs(skew);
  const detail = `the host's clock is ${fmtSkew(skew)} ${skew >= 0 ? 'ahead of' : 'behind'} this machine (±${fmtMs(precision)}, round trip ${fmtMs(rtt)})`;
  const data = { skewMs: round(skew), precisionMs: round(precision), rttMs: round(rtt) };
  const hint = 'turn on time synchronisation on the host and here (timedatectl set-ntp true, chrony or ntpd): schedules, token expiry and log order depend on it';
  if (abs > SKEW_FAIL_MS) return check('clock', 'fail', detail, hint, data);
  if (abs > SKEW_WARN_MS) return check('clock', 'warn', detail, hint, data);
  return check('clock', 'pass', detail, null, data);
}

// ---- small helpers ------------------------------------------------------------------------

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'ETIMEOUT' })), ms)))]).finally(() => clearTimeout(timer));
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function fmtMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function fmtSkew(ms: number): string {
  const a = Math.abs(ms);
  return a < 1000 ? `${Math.round(a)} ms` : `${(a / 1000).toFixed(1)} s`;
}

function fmtBytes(b: number | null): string {
  if (b === null) return 'unknown space';
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  return `${Math.round(b / 1024 ** 2)} MiB`;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

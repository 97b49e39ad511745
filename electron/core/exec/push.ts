/**
 * Files to many hosts (`cronium push`): one run of a push job sends the job's file to one host
 * over the pooled connection, in three steps.
 *
 * 1. Check (a direct-mode script, as root when the job is elevated): the target's SHA-256, mode
 *    and owner. The same content with the same mode (and owner, when one is asked for) is
 *    skipped: nothing is sent.
 * 2. Upload, as the SSH user: over SFTP, or `cat` on an exec channel where the host has no SFTP
 *    subsystem (TinySSH, Dropbear without sftp-server), streamed from the data dir's blob with
 *    progress in the run's log. Not elevated, the file goes straight into a temporary beside the
 *    target (`.NAME.cronium-RANDOM`, mode 0600); elevated, into the user's home first.
 * 3. Finish (a direct-mode script, as root when elevated): the temporary's SHA-256 must be the
 *    file's; then mode and owner are set on a temporary in the target's directory, which is
 *    renamed over the target (atomic: a reader sees the old file or the new, never a part).
 *    Any failure removes the temporaries.
 *
 * Hash tools, in order: sha256sum (GNU, BusyBox), shasum -a 256, sha256 -q (BSD), openssl.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';
import type { SshConnection } from '../ssh/types';
import { runDirect } from './direct';
import { shQuote } from './prelude';
import type { ExecOutcome, ExecRequest, ExecSinks } from './types';

/** What a push run sends. */
export interface PushSpec {
  /** The file's bytes on this machine (the data dir's blob). */
  blob: string;
  /** Its name, for messages. */
  name: string;
  sha256: string;
  size: number;
  /** Absolute path on the host. */
  to: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** `user` or `user:group` (needs root, or the SSH user itself). */
  owner?: string;
}

const HASH = `h() { if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1; elif command -v sha256 >/dev/null 2>&1; then sha256 -q "$1"; elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1; else echo none; fi; }`;
const STAT = `st() { stat -c '%a %U:%G' "$1" 2>/dev/null || stat -f '%Lp %Su:%Sg' "$1" 2>/dev/null; }`;

/** Step 1: what the host has at the target now. */
const CHECK = `${HASH}
${STAT}
dir=$(dirname "$D")
if [ ! -d "$dir" ]; then echo "@@push nodir"; exit 0; fi
if [ -d "$D" ]; then echo "@@push isdir"; exit 0; fi
if [ ! -e "$D" ]; then echo "@@push missing"; exit 0; fi
echo "@@push exists $(h "$D") $(st "$D")"
`;

/** Step 3: verify the temporary, set mode and owner, rename it over the target. */
const FINISH = `${HASH}
got=$(h "$T")
if [ "$got" = none ]; then rm -f "$T"; echo "@@push nohash"; exit 3; fi
if [ "$got" != "$S" ]; then rm -f "$T"; echo "@@push corrupt $got"; exit 3; fi
dir=$(dirname "$D"); n="$dir/.$(basename "$D").cronium-$$"
if [ "$T" != "$N" ]; then cp "$T" "$n" && rm -f "$T" || { rm -f "$T" "$n"; exit 4; }; else n=$T; fi
chmod "$M" "$n" || { rm -f "$n"; exit 4; }
if [ -n "$O" ]; then chown "$O" "$n" || { rm -f "$n"; exit 4; }; fi
mv -f "$n" "$D" || { rm -f "$n"; exit 4; }
echo "@@push done"
`;

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** One step as a direct-mode script (elevated as the job is); its @@push line and its outcome. */
async function step(conn: SshConnection, req: ExecRequest, script: string, env: Record<string, string>, cancel: AbortSignal, stderr: Buffer[]): Promise<{ line: string | undefined; outcome: ExecOutcome }> {
  let out = '';
  const t0 = performance.now();
  const outcome = await runDirect(
    conn,
    { runId: req.runId, jobId: req.jobId, host: req.host, interpreter: 'sh', script, env, mode: 'direct', ...(req.elevation ? { elevation: req.elevation } : {}), ...(req.secrets ? { secrets: req.secrets } : {}) },
    { stdout: (b) => void (out += b.toString('utf8')), stderr: (b) => void stderr.push(b), system: () => undefined },
    cancel,
    { t0, connectMs: 0, setupDeadline: t0 + 30_000, modeReason: null },
  );
  const line = out.split('\n').find((l) => l.startsWith('@@push '));
  return { line: line?.slice('@@push '.length), outcome };
}

/** Runs one push on an open connection. */
export async function runPush(conn: SshConnection, req: ExecRequest, spec: PushSpec, sinks: ExecSinks, cancel: AbortSignal, t: { t0: number; connectMs: number }): Promise<ExecOutcome> {
  const stderr: Buffer[] = [];
  const started = performance.now();
  const end = (o: Partial<ExecOutcome> & Pick<ExecOutcome, 'status'>): ExecOutcome => {
    const now = performance.now();
    return {
      exitCode: o.status === 'succeeded' ? 0 : null,
      signal: null,
      errorCode: null,
      errorMessage: null,
      retryable: false,
      mode: 'direct',
      modeReason: null,
      runnerVersion: null,
      timings: { connect: Math.round(t.connectMs), deploy: null, start: Math.round(started - t.t0 - t.connectMs), exec: Math.round(now - started), total: Math.round(now - t.t0) },
      ...o,
    };
  };
  const failed = (message: string, code = 'PUSH_FAILED', hint?: string) => {
    const said = Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(-3).join(' / ').slice(0, 500);
    return end({ status: 'failed', errorCode: code, errorMessage: said ? `${message}: ${said}` : message, ...(hint ? { errorHint: hint } : {}) });
  };
  const fromStep = (o: ExecOutcome): ExecOutcome | undefined => (o.status === 'succeeded' ? undefined : o.status === 'cancelled' ? end({ status: 'cancelled', errorMessage: 'cancelled' }) : end({ ...o, timings: end({ status: 'failed' }).timings }));

  // 1. What is there now.
  const check = await step(conn, req, CHECK, { D: spec.to }, cancel, stderr);
  const stopped = fromStep(check.outcome);
  if (stopped) return stopped;
  const [state, sha, mode, owner] = (check.line ?? '').split(' ');
  if (state === 'nodir') return failed(`the directory of ${spec.to} does not exist on ${req.host}`, 'PUSH_FAILED', 'create it first (cronium run --command "mkdir -p DIR"), or push to a directory that exists');
  if (state === 'isdir') return failed(`${spec.to} is a directory on ${req.host}`, 'PUSH_FAILED', `push to ${spec.to.replace(/\/$/, '')}/${spec.name}, or end --to with "/"`);
  if (state !== 'missing' && state !== 'exists') return failed(`could not look at ${spec.to} on ${req.host}`);
  const wantMode = spec.mode.toString(8);
  if (state === 'exists' && sha === spec.sha256 && mode === wantMode && (!spec.owner || ownerMatches(owner ?? '', spec.owner))) {
    sinks.system(`unchanged: ${spec.to} already has this content (sha256 ${spec.sha256.slice(0, 12)}…) and mode ${wantMode}; nothing sent`);
    return end({ status: 'succeeded', output: { skipped: true, sha256: spec.sha256, bytes: 0, via: 'none' } });
  }
  if (state === 'exists' && sha === 'none') return failed(`${req.host} has no SHA-256 tool (sha256sum, shasum, sha256 or openssl), so the file could not be verified`, 'PUSH_FAILED', 'install coreutils or openssl on the host');

  // 2. Upload as the SSH user: beside the target, or (elevated) into the home first.
  const rand = randomBytes(6).toString('hex');
  const dir = spec.to.slice(0, spec.to.lastIndexOf('/')) || '/';
  const base = spec.to.slice(spec.to.lastIndexOf('/') + 1);
  let tmp = `${dir === '/' ? '' : dir}/.${base}.cronium-${rand}`;
  if (req.elevation) {
    const home = await conn.exec('pwd', { signal: cancel }).catch(() => undefined);
    const h = home?.stdout.toString('utf8').trim();
    if (!h?.startsWith('/')) return failed(`could not find the SSH user's home on ${req.host} for the upload`);
    tmp = `${h}/.cronium-push-${rand}`;
  }
  const upT0 = performance.now();
  let sent = 0;
  let nextReport = 0.25;
  const progress = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      while (spec.size > 0 && sent / spec.size >= nextReport && nextReport < 1) {
        sinks.system(`uploading ${spec.name}: ${Math.round(nextReport * 100)}% of ${mb(spec.size)}`);
        nextReport += 0.25;
      }
      cb(null, chunk);
    },
  });
  let via: 'sftp' | 'exec' = 'sftp';
  try {
    let sftp;
    try {
      sftp = await conn.sftp(cancel);
    } catch {
      via = 'exec';
    }
    if (sftp) {
      try {
        await sftp.writeFile(tmp, createReadStream(spec.blob).pipe(progress), 0o600);
      } finally {
        await sftp.close();
      }
    } else {
      await execUpload(conn, tmp, spec.blob, progress, cancel);
    }
  } catch (e) {
    if (cancel.aborted) return end({ status: 'cancelled', errorMessage: 'cancelled during the upload' });
    await conn.exec(`rm -f ${shQuote(tmp)}`).catch(() => undefined);
    return failed(`the upload to ${req.host} failed (${via}): ${(e as Error).message}`, 'PUSH_FAILED', req.elevation ? undefined : `the SSH user may not write in ${dir}: push with --sudo, or to a directory it owns`);
  }
  const upMs = performance.now() - upT0;

  // 3. Verify on the host, set mode and owner, rename into place.
  const finish = await step(conn, req, FINISH, { T: tmp, N: req.elevation ? '' : tmp, D: spec.to, S: spec.sha256, M: wantMode, O: spec.owner ?? '' }, cancel, stderr);
  const [what, hash] = (finish.line ?? '').split(' ');
  if (what === 'corrupt') return failed(`the file on ${req.host} is not what was sent (sha256 ${hash?.slice(0, 12)}… instead of ${spec.sha256.slice(0, 12)}…); nothing was replaced`, 'PUSH_VERIFY_FAILED');
  if (what === 'nohash') return failed(`${req.host} has no SHA-256 tool (sha256sum, shasum, sha256 or openssl), so the file could not be verified; nothing was replaced`, 'PUSH_FAILED', 'install coreutils or openssl on the host');
  const finStopped = fromStep(finish.outcome);
  if (finStopped && finStopped.status === 'cancelled') return finStopped;
  if (what !== 'done' || finStopped) {
    await conn.exec(`rm -f ${shQuote(tmp)}`).catch(() => undefined);
    return failed(`could not put the file in place at ${spec.to} on ${req.host}${spec.owner ? ` (owner ${spec.owner})` : ''}`, 'PUSH_FAILED', spec.owner && !req.elevation ? 'setting another owner needs root: push with --sudo' : undefined);
  }
  sinks.system(`sent ${mb(spec.size)} in ${(upMs / 1000).toFixed(2)} s over ${via}; sha256 ${spec.sha256.slice(0, 12)}… verified on the host; ${spec.to} mode ${wantMode}${spec.owner ? ` owner ${spec.owner}` : ''}`);
  return end({ status: 'succeeded', output: { skipped: false, sha256: spec.sha256, bytes: spec.size, via } });
}

/** `user` matches `user:any`; `user:group` must match both. */
function ownerMatches(have: string, want: string): boolean {
  return want.includes(':') ? have === want : have.split(':')[0] === want;
}

/** The upload where there is no SFTP: `cat` into the temporary on an exec channel, with backpressure. */
async function execUpload(conn: SshConnection, tmp: string, blob: string, progress: Transform, cancel: AbortSignal): Promise<void> {
  const errs: Buffer[] = [];
  const h = await conn.execStream(`umask 077 && cat > ${shQuote(tmp)}`, { signal: cancel, keepStdinOpen: true, onStderr: (b) => void errs.push(b) });
  const src = createReadStream(blob).pipe(progress);
  for await (const chunk of src) {
    if (!h.write(chunk as Buffer)) await h.drain();
  }
  h.endStdin();
  const exit = await h.done;
  if (exit.code !== 0) throw new Error(`cat exited ${exit.code ?? exit.signal}: ${Buffer.concat(errs).toString('utf8').trim().slice(0, 300)}`);
}

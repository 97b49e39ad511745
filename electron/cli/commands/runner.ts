/** `cronium runner …`: the signed runner artifacts. */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CroniumError } from '../../shared/errors';
import { appVersion } from '../../core/version';
import { ensureDataDir, packageRoot } from '../../core/paths';
import type { BuildOutcome, RunnerManifest } from '../../core/runner/artifacts';
import type { CliContext } from '../context';
import { runnerSource } from '../../core/runner/release-key';
import { printJson, say, table } from '../output';

/** Where the artifacts of this process live (the installed ones, or CRONIUM_RUNNER_DIR): the same as deploy's. */
export function artifactsDir(): string {
  return runnerSource().dir;
}

async function readManifest(dir: string): Promise<RunnerManifest> {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw (await import('../../core/runner/artifacts')).runnerNotBuilt(dir);
  return JSON.parse(readFileSync(path, 'utf8')) as RunnerManifest;
}

/** Registers `runner` and its subcommands. */
export function registerRunner(program: Command, ctx: CliContext): void {
  const runner = program.command('runner').description('the signed runner binaries');

  runner
    .command('list')
    .description('list the runner artifacts of this installation')
    .option('--deployments', 'also list the deployments per host')
    .option('--host <name>', 'with --deployments: only this host')
    .action(async (o: { deployments?: boolean; host?: string }) => {
      const manifest = await readManifest(artifactsDir());
      const deployments = o.deployments ? await ctx.call('runner.deployments', { ...(o.host ? { name: o.host } : {}), limit: 10_000 }) : undefined;
      if (ctx.json) return printJson(deployments ? { ...manifest, deployments } : manifest);
      say(`runner ${manifest.version} (protocol ${manifest.protocol}), signed by a ${manifest.signer.kind} key ${manifest.signer.fingerprint.slice(0, 16)}…`);
      process.stdout.write(`${table(['TARGET', 'SIZE', 'SHA256'], manifest.artifacts.map((a) => [a.target, String(a.size), a.sha256]))}\n`);
      if (deployments) {
        const rows = deployments.map((d) => [d.host, d.version, d.target, d.status, d.path ?? '-', new Date(d.updatedAt).toISOString(), d.error ?? '']);
        process.stdout.write(`\n${table(['HOST', 'VERSION', 'TARGET', 'STATUS', 'PATH', 'UPDATED', 'ERROR'], rows)}\n`);
      }
    });

  runner
    .command('build')
    .description('cross-compile, hash and sign the runner for every target (needs Go)')
    .option('--target <id>', 'only this target (repeatable), e.g. linux-amd64', (v: string, p: string[] = []) => [...p, v])
    .option('--out <dir>', 'output folder (default: resources/runner)')
    .option('--if-stale', 'build only the targets that are missing or out of date (other sources, Go, version or key), keeping the rest')
    .option('--keep', 'keep the artifacts of the targets not built now (same version and key) in the manifest')
    .action(async (o: { target?: string[]; out?: string; ifStale?: boolean; keep?: boolean }) => {
      const started = Date.now();
      const outcome: BuildOutcome = { built: [], upToDate: [] };
      const { buildRunnerArtifacts } = await import('../../core/runner/artifacts');
      const manifest = await buildRunnerArtifacts(
        {
          outDir: o.out ?? join(packageRoot(), 'resources', 'runner'),
          version: appVersion(),
          dataDir: ensureDataDir(ctx.dataDir),
          runnerSrcDir: join(packageRoot(), 'runner'),
          ...(o.target ? { targets: o.target } : {}),
          ...(o.ifStale ? { ifStale: true } : {}),
          ...(o.keep ? { keep: true } : {}),
          onProgress: (msg) => say(msg),
        },
        outcome,
      );
      if (ctx.json) return printJson(manifest);
      if (outcome.built.length === 0) return say(`runner artifacts up to date (${outcome.upToDate.join(', ')}); nothing built`);
      say(`built ${outcome.built.length} runner artifact(s) (${outcome.built.join(', ')}; ${manifest.signer.kind} key) in ${((Date.now() - started) / 1000).toFixed(1)} s; the manifest lists ${manifest.artifacts.length}`);
    });

  runner
    .command('verify')
    .description('check every artifact\'s hash and signature')
    .option('--dir <dir>', 'artifacts folder (default: the installed ones)')
    .action(async (o: { dir?: string }) => {
      const source = runnerSource();
      if (!o.dir && source.notice) say(source.notice);
      const pinned = source.trustedPublicKeyPem;
      const { verifyRunnerArtifacts } = await import('../../core/runner/artifacts');
      const report = await verifyRunnerArtifacts(o.dir ?? source.dir, pinned ? { publicKeyPem: pinned } : {});
      if (ctx.json) printJson(report);
      else for (const r of report.results) say(`${r.ok ? 'ok  ' : 'FAIL'} ${r.target}${r.reason ? `: ${r.reason}` : ''}`);
      if (!report.ok) {
        throw new CroniumError('RUNNER_INTEGRITY_FAILED', 'one or more runner artifacts failed verification', 'rebuild them with `cronium runner build`, or reinstall Cronium');
      }
    });

  runner
    .command('deploy')
    .description('deploy the runner to a host')
    .argument('<host>', 'host name')
    .action(async (name: string) => {
      const r = await ctx.call('runner.deploy', { name });
      if (ctx.json) return printJson(r);
      if (r.integrityFailure) say(`RUNNER_INTEGRITY_FAILED: ${r.integrityFailure}`);
      const how = r.cached ? 'already deployed, SHA-256 verified on the host' : `uploaded ${(r.uploadedBytes / 1048576).toFixed(1)} MB by ${r.transport ?? '-'}, verified and installed`;
      say(`${name}: runner ${r.version} (${r.target}) at ${r.path}: ${how} in ${Math.round(r.timings.totalMs)} ms`);
      if (r.pruned.length) say(`removed older versions: ${r.pruned.join(', ')}`);
    });
  runner
    .command('clean')
    .description('remove cached runner versions from a host')
    .argument('<host>', 'host name')
    .action(async (name: string) => {
      const r = await ctx.call('runner.clean', { name });
      if (ctx.json) return printJson(r);
      say(r.removed.length ? `${name}: removed ${r.removed.map((x) => x.path).join(', ')}` : `${name}: no cached runner to remove`);
    });
}

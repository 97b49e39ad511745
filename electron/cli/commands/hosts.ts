/** `cronium hosts …`: the inventory. */
import { type Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { Host } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson, say, table } from '../output';
import { readSecret } from '../stdin';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Contract field names as the user typed them on the command line. */
const FLAG_OF: Record<string, string> = {
  name: 'NAME',
  address: '--address',
  port: '--port',
  user: '--user',
  identityFile: '--identity',
  password: '--password-stdin',
  passphrase: '--passphrase-stdin',
  useAgent: '--no-agent',
  jump: '--jump',
  proxyCommand: '--proxy-command',
  transport: '--transport',
  tags: '--tag',
  group: '--group',
  elevation: '--elevation',
  elevationPassword: '--elevation-password-stdin',
};

const ELEVATIONS = ['none', 'sudo', 'sudo-password', 'doas', 'su'];

/** Rewrites INVALID_INPUT messages to name the flag rather than the contract field. */
function withFlagNames<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((e: unknown) => {
    if (e instanceof CroniumError && e.code === 'INVALID_INPUT') {
      const fields = (e.details?.fields as { field: string; message: string }[] | undefined) ?? [];
      const first = fields[0];
      if (first) {
        const key = first.field.split('.')[0]!;
        const flag = FLAG_OF[key] ?? key;
        throw new CroniumError('INVALID_INPUT', `invalid ${flag}: ${first.message}`, e.hint ?? `see: cronium hosts add --help`, e.details);
      }
    }
    throw e;
  });
}

function describe(h: Host): string {
  const rows: [string, string][] = [
    ['name', h.name],
    ['address', h.address],
    ['port', String(h.port)],
    ['user', h.user ?? '(ssh default)'],
    ['identity', h.identityFile ?? '-'],
    ['password', h.hasPassword ? 'stored (encrypted)' : '-'],
    ['jump', h.jump ?? '-'],
    ['proxy', h.proxyCommand ?? '-'],
    ['transport', h.transport === 'auto' ? `auto (${h.opensshReason ? `openssh: ${h.opensshReason}` : 'built-in'})` : h.transport],
    ...(h.sshAlias ? ([['ssh alias', h.sshAlias]] as [string, string][]) : []),
    ...(h.sshOptions?.knownHostsFiles ? ([['known_hosts', h.sshOptions.knownHostsFiles.join(' ') || 'none']] as [string, string][]) : []),
    ...(h.sshOptions?.hostKeyAlias ? ([['key alias', h.sshOptions.hostKeyAlias]] as [string, string][]) : []),
    ...(h.sshOptions?.identityAgent ? ([['agent', h.sshOptions.identityAgent]] as [string, string][]) : []),
    ...(h.sshOptions?.connectTimeoutMs || h.sshOptions?.serverAliveIntervalMs !== undefined
      ? ([['timeouts', `connect ${h.sshOptions.connectTimeoutMs ? `${h.sshOptions.connectTimeoutMs / 1000} s` : 'default'}, keepalive every ${h.sshOptions.serverAliveIntervalMs !== undefined ? `${h.sshOptions.serverAliveIntervalMs / 1000} s` : 'default'}`]] as [string, string][])
      : []),
    ['tags', h.tags.join(', ') || '-'],
    ['group', h.group ?? '-'],
    ['elevation', h.elevation === null ? '- (elevated runs fail here)' : h.elevation === 'sudo-password' || h.elevation === 'su' ? `${h.elevation} (password ${h.hasElevationPassword ? 'stored, encrypted' : 'NOT stored'})` : h.elevation],
    ...(h.sftpUnavailable ? ([['sftp', `none (${h.sftpUnavailable}): runner uploads stream over exec; diagnose checks again`]] as [string, string][]) : []),
    ['added', new Date(h.createdAt).toISOString()],
  ];
  return rows.map(([k, v]) => `${k.padEnd(10)} ${v}`).join('\n');
}

/** Registers `hosts` and its subcommands. */
export function registerHosts(program: Command, ctx: CliContext): void {
  const hosts = program.command('hosts').description('the host inventory');

  hosts
    .command('add')
    .description('add a host (no connection is made)')
    .argument('<name>', 'a name for the host, used by --host')
    .requiredOption('--address <address>', 'DNS name or IP address')
    .option('--port <n>', 'SSH port', '22')
    .option('--user <user>', 'remote login name')
    .option('--identity <file>', 'private key file')
    .option('--password-stdin', 'read the password from stdin (stored encrypted)')
    .option('--passphrase-stdin', 'read the passphrase of the --identity key from stdin (stored encrypted)')
    .option('--no-agent', 'do not offer the keys of your ssh-agent to this host')
    .option('--jump <host>', 'reach this host through another host of the inventory (ProxyJump)')
    .option('--proxy-command <cmd>', 'reach it through a local command whose stdin/stdout carry the connection, as OpenSSH\'s ProxyCommand (%h %p %r %n %%)')
    .option('--transport <t>', 'the SSH client: auto (built-in unless the host needs OpenSSH), builtin, or openssh (your own ssh)')
    .option('--tag <tag>', 'tag the host (repeatable)', collect, [])
    .option('--group <group>', 'put the host in a group, e.g. "eu-west/db"')
    .option('--elevation <how>', `how runs asked to be elevated (run --sudo) become root: ${ELEVATIONS.join(', ')}`)
    .option('--elevation-password-stdin', 'read the elevation password from stdin (stored encrypted): the SSH user\'s own for sudo-password, root\'s for su')
    .option('--accept-new-host-key', 'connect once and trust the host key it presents (refused if it differs from a key already trusted)')
    .action(async (name: string, o: Record<string, unknown>) => {
      const port = /^\d+$/.test(String(o.port)) ? Number(o.port) : o.port;
      if ([o.passwordStdin, o.passphraseStdin, o.elevationPasswordStdin].filter(Boolean).length > 1 && !process.stdin.isTTY) {
        throw new CroniumError('INVALID_INPUT', 'invalid --passphrase-stdin: a piped stdin can carry only one secret', 'add the host with one of --password-stdin / --passphrase-stdin, or run it on a terminal to be prompted for both');
      }
      const password = o.passwordStdin ? await readSecret(`password for ${name}: `) : undefined;
      const passphrase = o.passphraseStdin ? await readSecret(`passphrase for ${String(o.identity ?? 'the identity file')}: `) : undefined;
      const elevationPassword = o.elevationPasswordStdin ? await readSecret(`sudo password of the SSH user on ${name}: `) : undefined;
      const host = await withFlagNames(
        ctx.call('hosts.add', { name, address: o.address, port, user: o.user, identityFile: o.identity, password, passphrase, useAgent: o.agent !== false, jump: o.jump, proxyCommand: o.proxyCommand, transport: o.transport, tags: o.tag, group: o.group, elevation: o.elevation, elevationPassword }),
      );
      if (!o.acceptNewHostKey) {
        if (ctx.json) printJson(host);
        else say(`added host ${host.name} (${host.user ? `${host.user}@` : ''}${host.address}:${host.port})`);
        return;
      }
      if (!ctx.json) say(`added host ${host.name} (${host.user ? `${host.user}@` : ''}${host.address}:${host.port}); checking its host key…`);
      const trusted = await acceptNewHostKey(ctx, host.name);
      if (ctx.json) printJson({ ...host, hostKey: trusted });
    });

  hosts
    .command('list')
    .description('list hosts')
    .option('--tag <tag>', 'only hosts with this tag')
    .option('--group <group>', 'only hosts in this group')
    .option('--search <text>', 'only hosts whose name, address, group or tag contains the text')
    .action(async (o: { tag?: string; group?: string; search?: string }) => {
      const list = await withFlagNames(ctx.call('hosts.list', { tag: o.tag, group: o.group, search: o.search }));
      if (ctx.json) return printJson(list);
      if (list.length === 0) return say('no hosts yet: add one with `cronium hosts add NAME --address ADDR`');
      process.stdout.write(
        `${table(
          ['NAME', 'ADDRESS', 'PORT', 'USER', 'JUMP', 'GROUP', 'TAGS'],
          list.map((h) => [h.name, h.address, String(h.port), h.user ?? '-', h.jump ?? '-', h.group ?? '-', h.tags.join(',') || '-']),
        )}\n`,
      );
    });

  hosts
    .command('set')
    .description('change hosts: one by name, or every host with --tag')
    .argument('[name]', 'host name (or --tag)')
    .option('--tag <tag>', 'change every host with this tag')
    .option('--address <address>', 'DNS name or IP address')
    .option('--port <n>', 'SSH port')
    .option('--user <user>', 'remote login name')
    .option('--proxy-command <cmd>', 'a local command carrying the connection (OpenSSH\'s ProxyCommand), or none')
    .option('--transport <t>', 'the SSH client: auto, builtin, or openssh (your own ssh)')
    .option('--add-tag <tag>', 'add a tag (repeatable)', collect, [])
    .option('--remove-tag <tag>', 'remove a tag (repeatable)', collect, [])
    .option('--elevation <how>', `how runs asked to be elevated (run --sudo) become root: ${ELEVATIONS.join(', ')}`)
    .option('--elevation-password-stdin', 'read the elevation password from stdin (stored encrypted): the SSH user\'s own for sudo-password, root\'s for su')
    .action(async (name: string | undefined, o: Record<string, unknown>) => {
      if ((name === undefined) === (o.tag === undefined)) throw new CroniumError('INVALID_INPUT', 'name one host, or pass --tag TAG for every host with it', 'see: cronium hosts set --help');
      const names = name !== undefined ? [name] : (await ctx.call('hosts.list', { tag: o.tag as string })).map((h) => h.name);
      if (names.length === 0) throw new CroniumError('NOT_FOUND', `no host has the tag "${String(o.tag)}"`, 'see the tags with: cronium hosts list');
      const port = o.port === undefined ? undefined : /^\d+$/.test(String(o.port)) ? Number(o.port) : o.port;
      // One secret for every host of the tag: the fleet's sudo password is usually one.
      const elevationPassword = o.elevationPasswordStdin ? await readSecret(`sudo password of the SSH user${names.length === 1 ? ` on ${names[0]}` : ` on ${names.length} hosts`}: `) : undefined;
      const patch = {
        ...(o.address !== undefined ? { address: o.address } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(o.user !== undefined ? { user: o.user } : {}),
        ...(o.proxyCommand !== undefined ? { proxyCommand: o.proxyCommand === 'none' ? null : o.proxyCommand } : {}),
        ...(o.transport !== undefined ? { transport: o.transport } : {}),
        ...((o.addTag as string[]).length ? { addTags: o.addTag } : {}),
        ...((o.removeTag as string[]).length ? { removeTags: o.removeTag } : {}),
        ...(o.elevation !== undefined ? { elevation: o.elevation } : {}),
        ...(elevationPassword !== undefined ? { elevationPassword } : {}),
      };
      if (Object.keys(patch).length === 0) throw new CroniumError('INVALID_INPUT', 'nothing to change', 'pass at least one of the options: see cronium hosts set --help');
      const changed: Host[] = [];
      for (const n of names) changed.push(await withFlagNames(ctx.call('hosts.update', { name: n, ...patch } as never)));
      if (ctx.json) return printJson(name !== undefined ? changed[0] : changed);
      for (const h of changed) say(`changed host ${h.name}${o.elevation !== undefined ? ` (elevation: ${h.elevation ?? '-'})` : ''}`);
    });

  hosts
    .command('show')
    .description('show one host')
    .argument('<name>', 'host name')
    .action(async (name: string) => {
      const host = await withFlagNames(ctx.call('hosts.get', { name }));
      if (ctx.json) printJson(host);
      else process.stdout.write(`${describe(host)}\n`);
    });

  hosts
    .command('rm')
    .alias('remove')
    .description('remove a host with its credentials (its run history stays)')
    .argument('<name>', 'host name')
    .action(async (name: string) => {
      await withFlagNames(ctx.call('hosts.remove', { name }));
      if (ctx.json) printJson({ removed: true, name });
      else say(`removed host ${name}`);
    });

  hosts
    .command('import')
    .description('import hosts from an OpenSSH client config (Host, HostName, User, Port, IdentityFile, ProxyJump, Include)')
    .option('--ssh-config <file>', 'config file (default: ~/.ssh/config)')
    .option('--dry-run', 'show what would be added; change nothing')
    .option('--tag <tag>', 'tag every imported host (repeatable)', collect, [])
    .option('--match-exec', "run the config's Match exec commands (5 s each) as ssh would; without it they are not run")
    .action(async (o: { sshConfig?: string; dryRun?: boolean; tag: string[]; matchExec?: boolean }) => {
      // The core resolves ~ and relative paths (against this process's working directory).
      const r = await ctx.call('hosts.import', { path: o.sshConfig, dryRun: o.dryRun === true, tag: o.tag, matchExec: o.matchExec === true }).catch((e: unknown) => {
        if (e instanceof CroniumError && e.code === 'INVALID_INPUT') {
          const field = ((e.details?.fields as { field: string }[] | undefined)?.[0]?.field ?? '').split('.')[0];
          if (field === 'path' && o.sshConfig === undefined) {
            throw new CroniumError('INVALID_INPUT', e.message.replace(/^invalid path: /, ''), 'there is no config at the default place; pass one with --ssh-config FILE', e.details);
          }
          const flag = field === 'path' ? '--ssh-config' : field === 'tag' ? '--tag' : undefined;
          if (flag) throw new CroniumError('INVALID_INPUT', e.message.replace(/^invalid \S+:/, `invalid ${flag}:`), e.hint ?? 'see: cronium hosts import --help', e.details);
        }
        throw e;
      });
      if (ctx.json) return printJson(r);
      const home = process.env.HOME ?? '';
      const short = (p: string) => (home && (p === home || p.startsWith(`${home}/`)) ? `~${p.slice(home.length)}` : p);
      const verb = r.dryRun ? 'would add' : 'added';
      for (const h of r.plan) {
        const route = h.jump ? ` via ${h.jump}` : h.proxyCommand ? ` via ProxyCommand ${h.proxyCommand}` : '';
        say(`${r.dryRun ? '+' : '✔'} ${verb} ${h.name} (${h.user ? `${h.user}@` : ''}${h.address}:${h.port}${route})  ${short(h.source.file)}:${h.source.line}${h.transport ? `\n    through your own ssh (${h.transport.replace(/^openssh: /, '')})` : ''}`);
      }
      for (const s of r.skipped) say(`- skipped ${s.name}: ${s.reason}`);
      for (const p of r.problems) say(`! ${short(p.file)}:${p.line}: ${p.message}`);
      const counts = [`${r.added.length} ${r.dryRun ? 'to add' : 'added'}`, `${r.skipped.length} skipped`, `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`];
      say(`${short(r.path)}: ${counts.join(', ')}${r.dryRun ? ' (dry run: nothing was changed)' : ''}`);
    });

  // Host certificate authorities trusted in Cronium.
  const ca = hosts.command('ca').description('host certificate authorities trusted in Cronium (hosts they sign for go through your own ssh)');
  ca.command('list')
    .description('list the trusted host CAs')
    .action(async () => {
      const list = await ctx.call('hostCas.list', {});
      if (ctx.json) return printJson(list);
      if (list.length === 0) return say('no host CA is trusted in Cronium (your known_hosts @cert-authority lines still count)');
      process.stdout.write(`${table(['ID', 'HOSTS', 'KEY', 'COMMENT'], list.map((c) => [String(c.id), c.patterns, `${c.algorithm} ${c.fingerprint}`, c.comment ?? '-']))}\n`);
    });
  ca.command('add')
    .description("trust a host CA for hosts matching known_hosts patterns: their host certificates signed by it are accepted")
    .argument('<pubkey-file>', "the CA's public key file (e.g. host_ca.pub)")
    .requiredOption('--hosts <patterns>', 'comma-separated known_hosts host patterns the CA signs for, e.g. *.prod.example,10.1.*')
    .action(async (file: string, o: { hosts: string }) => {
      let line: string;
      try {
        line = readFileSync(file, 'utf8').split('\n').find((l) => l.trim() && !l.startsWith('#')) ?? '';
      } catch (e) {
        throw new CroniumError('INVALID_INPUT', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, "give the CA's public key file");
      }
      const added = await ctx.call('hostCas.add', { patterns: o.hosts, publicKey: line }).catch((e: unknown) => {
        if (e instanceof CroniumError && e.code === 'INVALID_INPUT') throw new CroniumError('INVALID_INPUT', e.message.replace(/^invalid patterns:/, 'invalid --hosts:').replace(/^invalid publicKey:/, `invalid ${file}:`), e.hint, e.details);
        throw e;
      });
      if (ctx.json) return printJson(added);
      say(`trusting host CA ${added.algorithm} ${added.fingerprint} (id ${added.id}) for ${added.patterns}`);
    });
  ca.command('rm')
    .description('stop trusting a host CA')
    .argument('<id>', 'its id (cronium hosts ca list)')
    .action(async (id: string) => {
      if (!/^\d+$/.test(id)) throw new CroniumError('INVALID_INPUT', `invalid id: "${id}" is not a number`, 'see: cronium hosts ca list');
      const r = await ctx.call('hostCas.remove', { id: Number(id) });
      if (ctx.json) return printJson(r);
      say(`no longer trusting host CA ${id}`);
    });

  hosts
    .command('trust')
    .description('trust (pin) the host key a host presents now; a CHANGED key is replaced only with --fingerprint')
    .argument('<name>', 'host name')
    .option('--fingerprint <SHA256:...>', 'pin only if the host presents exactly this key (as ssh-keygen -l prints it)')
    .action(async (name: string, o: { fingerprint?: string }) => {
      let fingerprint = o.fingerprint;
      if (fingerprint === undefined) {
        // Without --fingerprint, running this command is the user's explicit decision to trust what the host shows now.
        const [scan] = await ctx.call('hosts.scanKeys', { names: [name] });
        if (!scan) throw new CroniumError('NOT_FOUND', `no host named "${name}"`, 'list the hosts with: cronium hosts list');
        if (scan.state === 'error' || !scan.fingerprint) throw errorOf(scan.error);
        if (scan.state === 'mismatch') {
          // A changed key is what an attacker in the middle shows: replacing it takes the new
          // fingerprint, checked by the user out of band, never the one this scan saw.
          throw new CroniumError(
            'HOST_KEY_MISMATCH',
            `the host key of ${name} CHANGED: it presents ${scan.algorithm} ${scan.fingerprint}, the ${scan.source === 'known_hosts' ? 'known_hosts' : 'pinned'} key is ${scan.previousFingerprint ?? '?'}; nothing was changed`,
            `if the host was reinstalled, check the new key on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and pin it with: cronium hosts trust ${name} --fingerprint ${scan.fingerprint}`,
            { fingerprint: scan.fingerprint, ...(scan.previousFingerprint ? { previousFingerprint: scan.previousFingerprint } : {}) },
          );
        }
        if (!ctx.json) say(`${name} presents ${scan.algorithm} ${scan.fingerprint}`);
        fingerprint = scan.fingerprint;
      }
      const r = await ctx.call('hosts.trust', { name, fingerprint }).catch((e: unknown) => {
        if (e instanceof CroniumError && e.code === 'INVALID_INPUT') throw new CroniumError('INVALID_INPUT', e.message.replace(/^invalid fingerprint:/, 'invalid --fingerprint:'), e.hint ?? 'see: cronium hosts trust --help', e.details);
        throw e;
      });
      if (ctx.json) return printJson(r);
      if (!r.pinned) say(`${name}: ${r.algorithm} ${r.fingerprint} was already trusted (${r.source === 'known_hosts' ? 'known_hosts' : 'pinned'}); nothing changed`);
      else say(`trusted ${name}: pinned ${r.algorithm} ${r.fingerprint}${r.previousFingerprint ? ` (replacing ${r.previousFingerprint})` : ''}`);
    });
}

/** Turns an error body from a per-host result back into a CroniumError. */
function errorOf(body: { code: string; message: string; hint?: string; details?: Record<string, unknown> } | undefined): CroniumError {
  if (!body) return new CroniumError('INTERNAL', 'the host key scan failed without an error');
  return new CroniumError(body.code as CroniumError['code'], body.message, body.hint, body.details);
}

/**
 * `hosts add --accept-new-host-key`: scans the new host and pins its key when no key is
 * trusted for it yet (OpenSSH's accept-new). A changed key is refused; an unreachable
 * host stays added and the command fails with the connect error.
 */
async function acceptNewHostKey(ctx: CliContext, name: string): Promise<{ algorithm: string; fingerprint: string; pinned: boolean; source: string }> {
  const later = `the host was added; trust its key once it is reachable: cronium hosts trust ${name}`;
  const [scan] = await ctx.call('hosts.scanKeys', { names: [name] });
  if (!scan || scan.state === 'error' || !scan.fingerprint) {
    const e = errorOf(scan?.error);
    throw new CroniumError(e.code, e.message, e.hint ? `${e.hint}. ${later}` : later, e.details);
  }
  const r = await ctx.call('hosts.trust', { name, fingerprint: scan.fingerprint, acceptNew: true });
  if (!ctx.json) {
    if (r.pinned) say(`trusted ${name}: pinned ${r.algorithm} ${r.fingerprint} (accepted on first connection)`);
    else say(`${name}: ${r.algorithm} ${r.fingerprint} is already trusted (${r.source === 'known_hosts' ? 'known_hosts' : 'pinned'})`);
  }
  return { algorithm: r.algorithm, fingerprint: r.fingerprint, pinned: r.pinned, source: r.source };
}

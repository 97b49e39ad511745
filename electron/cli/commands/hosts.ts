/** `cronium hosts …`: the inventory. */
import { type Command } from 'commander';
import type { Host } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson, say, table } from '../output';
import { readSecret } from '../stdin';
import { notImplemented } from './pending';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Contract field names as the user typed them on the command line. */
const FLAG_OF: Record<string, string> = {
  name: 'NAME',
  address: '--address',
  port: '--port',
  user: '--user',
  identityFile: '--identity',
  password: '--password-stdin',
  jump: '--jump',
  tags: '--tag',
};

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
    ['tags', h.tags.join(', ') || '-'],
    ['added', new Date(h.createdAt).toISOString()],
  ];
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n');
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
    .option('--jump <host>', 'reach this host through another host of the inventory (ProxyJump)')
    .option('--tag <tag>', 'tag the host (repeatable)', collect, [])
    .option('--accept-new-host-key', 'trust the host key seen on first connection')
    .action(async (name: string, o: Record<string, unknown>) => {
      if (o.acceptNewHostKey) notImplemented('hosts add --accept-new-host-key', 'host-key trust arrives with the SSH core; add the host without this flag for now');
      const port = /^\d+$/.test(String(o.port)) ? Number(o.port) : o.port;
      const password = o.passwordStdin ? await readSecret(`password for ${name}: `) : undefined;
      const host = await withFlagNames(
        ctx.call('hosts.add', { name, address: o.address, port, user: o.user, identityFile: o.identity, password, jump: o.jump, tags: o.tag }),
      );
      if (ctx.json) printJson(host);
      else say(`added host ${host.name} (${host.user ? `${host.user}@` : ''}${host.address}:${host.port})`);
    });

  hosts
    .command('list')
    .description('list hosts')
    .option('--tag <tag>', 'only hosts with this tag')
    .option('--search <text>', 'only hosts whose name, address or tag contains the text')
    .action(async (o: { tag?: string; search?: string }) => {
      const list = await withFlagNames(ctx.call('hosts.list', { tag: o.tag, search: o.search }));
      if (ctx.json) return printJson(list);
      if (list.length === 0) return say('no hosts yet: add one with `cronium hosts add NAME --address ADDR`');
      process.stdout.write(
        `${table(
          ['NAME', 'ADDRESS', 'PORT', 'USER', 'JUMP', 'TAGS'],
          list.map((h) => [h.name, h.address, String(h.port), h.user ?? '-', h.jump ?? '-', h.tags.join(',') || '-']),
        )}\n`,
      );
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
    .description('import hosts from an OpenSSH client config')
    .option('--ssh-config <file>', 'config file (default: ~/.ssh/config)')
    .action(() => notImplemented('hosts import', 'ssh_config import arrives with the SSH core'));

  hosts
    .command('trust')
    .description('trust the current host key of a host')
    .argument('<name>', 'host name')
    .action(() => notImplemented('hosts trust', 'host-key trust arrives with the SSH core'));
}

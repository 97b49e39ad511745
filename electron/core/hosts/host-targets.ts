/**
 * Turns an inventory host into an SshTarget: its own connection facts plus its jump
 * chain, resolved recursively (outermost hop first). A chain that loops back on
 * itself, or is absurdly long, is refused with INVALID_INPUT naming the chain.
 */
import { CroniumError } from '../../shared/errors';
import type { SshTarget } from '../ssh/types';

/** The connection facts of one host as stored. */
export interface TargetRecord {
  name: string;
  address: string;
  port: number;
  user: string | null;
  identityFile: string | null;
  useAgent: boolean;
  /** Name of its jump host, or null. */
  jump: string | null;
  /** OpenSSH's ProxyCommand (exclusive with jump), or null. */
  proxyCommand?: string | null;
  /** auto, builtin or openssh; with the reason auto would pick openssh (hosts import found it), and the ssh_config alias. */
  transport?: 'auto' | 'builtin' | 'openssh';
  opensshReason?: string | null;
  sshAlias?: string | null;
  sshConfigFile?: string | null;
  /** Connection settings carried from ssh_config (known_hosts files, host key alias, agent, time limits). */
  sshOptions?: { knownHostsFiles?: string[]; hostKeyAlias?: string; identityAgent?: string; connectTimeoutMs?: number; serverAliveIntervalMs?: number } | null;
}

/** The transport a host is reached with: as set, or for auto, OpenSSH only when the host needs it. */
export function transportOf(r: Pick<TargetRecord, 'transport' | 'opensshReason'>): 'builtin' | 'openssh' {
  if (r.transport === 'openssh' || r.transport === 'builtin') return r.transport;
  return r.opensshReason ? 'openssh' : 'builtin';
}

/** Secrets are handed over as openers, so they are decrypted only when a handshake needs them. */
export type SecretOpener = (name: string, kind: 'password' | 'key_passphrase') => () => string | undefined;

/** Longest jump chain accepted; OpenSSH has no limit, but anything near this is a mistake. */
export const MAX_JUMPS = 16;

/** Resolves a host and its jump chain; NOT_FOUND for an unknown host, INVALID_INPUT for a loop. */
export function resolveTarget(name: string, lookup: (name: string) => TargetRecord | undefined, secret: SecretOpener): SshTarget {
  const chain: TargetRecord[] = [];
  const seen = new Set<string>();
  let next: string | null = name;
  while (next !== null) {
    if (seen.has(next)) {
      const path = [...chain.map((r) => r.name), next].join(' → ');
      throw new CroniumError('INVALID_INPUT', `the jump chain of ${name} loops: ${path}`, `change the jump host of one of them so the chain ends at a host reached directly`, {
        fields: [{ field: 'jump', message: `loops: ${path}` }],
        chain: [...chain.map((r) => r.name), next],
      });
    }
    if (chain.length > MAX_JUMPS) {
      throw new CroniumError('INVALID_INPUT', `the jump chain of ${name} is longer than ${MAX_JUMPS} hops`, 'shorten the chain of jump hosts', { chain: chain.map((r) => r.name) });
    }
    const record = lookup(next);
    if (!record) {
      throw chain.length === 0
        ? new CroniumError('NOT_FOUND', `no host named "${next}"`, 'list the hosts with: cronium hosts list')
        : new CroniumError('INVALID_INPUT', `the jump host "${next}" of ${chain.at(-1)!.name} is not in the inventory`, `add ${next}, or change the jump host of ${chain.at(-1)!.name}`);
    }
    seen.add(next);
    chain.push(record);
    next = record.jump;
  }
  // chain: [target, its jump, its jump's jump, ...]; jumps are listed outermost first.
  const toTarget = (r: TargetRecord, jumps: SshTarget[]): SshTarget => ({
    name: r.name,
    address: r.address,
    port: r.port,
    ...(r.user ? { user: r.user } : {}),
    ...(r.identityFile ? { identityFile: r.identityFile, passphrase: secret(r.name, 'key_passphrase') } : {}),
    password: secret(r.name, 'password'),
    useAgent: r.useAgent,
    jumps,
    ...(r.proxyCommand ? { proxyCommand: r.proxyCommand } : {}),
    ...(transportOf(r) === 'openssh' ? { transport: 'openssh' as const } : {}),
    ...(r.sshAlias ? { sshAlias: r.sshAlias } : {}),
    ...(r.sshConfigFile ? { sshConfigFile: r.sshConfigFile } : {}),
    ...(r.sshOptions ? { options: r.sshOptions } : {}),
  });
  const hops: SshTarget[] = [];
  for (let i = chain.length - 1; i >= 1; i--) hops.push(toTarget(chain[i]!, [...hops]));
  return toTarget(chain[0]!, hops);
}

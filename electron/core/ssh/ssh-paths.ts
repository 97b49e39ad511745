/**
 * Where the user's OpenSSH files are, and which agent to ask, as each OS's own OpenSSH
 * does: on Windows the config, keys and known_hosts live in %USERPROFILE%\.ssh whatever
 * HOME says (Git Bash and MSYS set HOME to other places), and the agent is the OpenSSH
 * Authentication Agent service's named pipe, or Pageant when that is not running;
 * elsewhere ~/.ssh ($HOME) and $SSH_AUTH_SOCK. Pure functions of the environment and
 * platform (injected in tests). Remote paths never come from here: they are POSIX always.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** The named pipe of Windows' OpenSSH Authentication Agent service. */
export const WINDOWS_OPENSSH_AGENT_PIPE = '\\\\.\\pipe\\openssh-ssh-agent';

/** The local path module for a platform. */
function local(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** The home OpenSSH uses: %USERPROFILE% on Windows, $HOME elsewhere. */
export function sshHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return env.USERPROFILE || homedir();
  return env.HOME || homedir();
}

/** The user's .ssh folder. */
export function sshDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return local(platform).join(sshHome(env, platform), '.ssh');
}

/** The user's known_hosts. */
export function userKnownHosts(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return local(platform).join(sshDir(env, platform), 'known_hosts');
}

/** The user's client config. */
export function userSshConfig(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return local(platform).join(sshDir(env, platform), 'config');
}

/** Expands a leading `~` (followed by a separator of the platform, or alone) to the OpenSSH home. */
export function expandTilde(p: string, home: string, platform: NodeJS.Platform = process.platform): string {
  return p.replace(platform === 'win32' ? /^~(?=$|[\\/])/ : /^~(?=$|\/)/, () => home);
}

/**
 * The agent to ask: $SSH_AUTH_SOCK when set (as OpenSSH's ssh does, on every OS); on
 * Windows else the OpenSSH agent's named pipe when the service runs, else Pageant
 * (ssh2 speaks both). `exists` is injected in tests.
 */
export function defaultAgentSocket(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  exists: (p: string) => boolean = existsSync,
): string | undefined {
  if (env.SSH_AUTH_SOCK) return env.SSH_AUTH_SOCK;
  if (platform !== 'win32') return undefined;
  return exists(WINDOWS_OPENSSH_AGENT_PIPE) ? WINDOWS_OPENSSH_AGENT_PIPE : 'pageant';
}

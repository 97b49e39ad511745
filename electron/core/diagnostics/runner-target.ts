/** Which runner build a host needs, from what `uname -s`, `uname -m` and `getconf LONG_BIT` say. */

/** The runner's build targets (DESIGN.md "Runner"). */
export const RUNNER_TARGETS = ['linux-amd64', 'linux-arm64', 'linux-armv7', 'linux-386', 'darwin-amd64', 'darwin-arm64', 'freebsd-amd64'] as const;
/** A runner build target. */
export type RunnerTarget = (typeof RUNNER_TARGETS)[number];

/** The mapping, or why there is none. */
export type TargetMatch = { target: RunnerTarget; userland: 32 | 64 } | { target: undefined; reason: string };

/**
 * Maps a platform to its runner target. A 64-bit kernel with a 32-bit userland (LONG_BIT 32,
 * common on Raspberry Pi OS and old x86 installs) needs the 32-bit build: the kernel would run a
 * 64-bit binary, but nothing else on such a host is 64-bit and the app would be the odd one out.
 */
export function runnerTargetFor(os: string, machine: string, longBit: string | undefined): TargetMatch {
  const sys = os.trim().toLowerCase();
  const m = machine.trim().toLowerCase();
  const bits = longBit?.trim() === '32' ? 32 : longBit?.trim() === '64' ? 64 : undefined;
  if (sys === 'linux') {
    if (m === 'x86_64' || m === 'amd64') return bits === 32 ? { target: 'linux-386', userland: 32 } : { target: 'linux-amd64', userland: 64 };
    if (/^i[3-6]86$/.test(m)) return { target: 'linux-386', userland: 32 };
    if (m === 'aarch64' || m === 'arm64') return bits === 32 ? { target: 'linux-armv7', userland: 32 } : { target: 'linux-arm64', userland: 64 };
    if (m === 'armv7l' || m === 'armv8l' || m === 'armv7') return { target: 'linux-armv7', userland: 32 };
    return { target: undefined, reason: `no runner build for Linux on ${machine || 'an unknown CPU'}` };
  }
  if (sys === 'darwin') {
    if (m === 'arm64') return { target: 'darwin-arm64', userland: 64 };
    if (m === 'x86_64') return { target: 'darwin-amd64', userland: 64 };
    return { target: undefined, reason: `no runner build for macOS on ${machine || 'an unknown CPU'}` };
  }
  if (sys === 'freebsd') {
    if ((m === 'amd64' || m === 'x86_64') && bits !== 32) return { target: 'freebsd-amd64', userland: 64 };
    return { target: undefined, reason: `no runner build for FreeBSD on ${machine || 'an unknown CPU'}${bits === 32 ? ' with a 32-bit userland' : ''}` };
  }
  return { target: undefined, reason: `no runner build for ${os || 'an unknown OS'}` };
}

#!/usr/bin/env node
// Builds the installers for this OS with electron-builder (--publish never; the release
// workflow publishes). Code signing and notarization read their secrets from the
// environment and are skipped, with a line saying so, when they are absent:
//   macOS: CSC_LINK + CSC_KEY_PASSWORD (Developer ID Application, .p12), then notarization
//          with APPLE_ID + APPLE_APP_SPECIFIC_PASSWORD + APPLE_TEAM_ID;
//   Windows: WIN_CSC_LINK + WIN_CSC_KEY_PASSWORD (Authenticode, .pfx), or CSC_LINK;
//   Linux: nothing to sign (AppImage and deb are checked by sha512 in the update feed).
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRETS = ['CSC_LINK', 'CSC_KEY_PASSWORD', 'WIN_CSC_LINK', 'WIN_CSC_KEY_PASSWORD', 'APPLE_ID', 'APPLE_APP_SPECIFIC_PASSWORD', 'APPLE_TEAM_ID'];

/**
 * What signing does on a platform given the environment: the environment to run
 * electron-builder with (empty secrets removed: a workflow passes unset secrets as ""),
 * the extra config flags, and the lines to print.
 */
export function signingPlan(env, platform) {
  const clean = { ...env };
  for (const k of SECRETS) if (!clean[k]) delete clean[k];
  const flags = [];
  const lines = [];
  if (platform === 'darwin') {
    if (!clean.CSC_LINK) {
      // Without this, electron-builder would sign with any identity it finds in the keychain.
      clean.CSC_IDENTITY_AUTO_DISCOVERY = 'false';
      flags.push('-c.mac.identity=null', '-c.mac.notarize=false');
      lines.push('Code signing: skipped, CSC_LINK is not set (the app is unsigned: Gatekeeper warns, and it cannot update itself)');
      lines.push('Notarization: skipped, the app is not signed');
    } else {
      lines.push('Code signing: with the Developer ID certificate in CSC_LINK');
      const missing = ['APPLE_ID', 'APPLE_APP_SPECIFIC_PASSWORD', 'APPLE_TEAM_ID'].filter((k) => !clean[k]);
      if (missing.length) {
        flags.push('-c.mac.notarize=false');
        lines.push(`Notarization: skipped, ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set`);
      } else lines.push('Notarization: with APPLE_ID and APPLE_TEAM_ID');
    }
  } else if (platform === 'win32') {
    if (!clean.WIN_CSC_LINK && !clean.CSC_LINK) lines.push('Code signing: skipped, WIN_CSC_LINK is not set (SmartScreen warns, and updates cannot check the publisher)');
    else lines.push(`Code signing: with the Authenticode certificate in ${clean.WIN_CSC_LINK ? 'WIN_CSC_LINK' : 'CSC_LINK'}`);
  } else {
    lines.push('Code signing: none on Linux (the update feed carries each file\u2019s sha512)');
  }
  return { env: clean, flags, lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const plan = signingPlan(process.env, process.platform);
  for (const l of plan.lines) console.log(l);
  const r = spawnSync(process.execPath, [`${ROOT}/node_modules/electron-builder/cli.js`, '--config', 'electron-builder.yml', '--publish', 'never', ...plan.flags], {
    cwd: ROOT,
    env: plan.env,
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

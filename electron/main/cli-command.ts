/**
 * The menu's "Install 'cronium' Command in PATH" and "Uninstall 'cronium' Command from
 * PATH" (macOS, AppImage, unpacked Linux builds; the deb and the Windows installer put the
 * command on the PATH themselves). Carries out the plans of cli-install.ts: a symlink, made
 * through the system's administrator prompt (osascript) when the folder is not writable,
 * as VS Code does; or, for an AppImage, a small script. Never replaces a file it did not write.
 */
import { app, dialog } from 'electron';
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { appLayout, COMMAND, installPlan, linkCommand, onPath, osascriptAdminArgs, ownsTarget, unlinkCommand, type AppLayout, type InstallPlan } from './cli-install';

const run = promisify(execFile);

/** The running app's layout. */
export function currentLayout(): AppLayout {
  return appLayout({ platform: process.platform, execPath: process.execPath, packaged: app.isPackaged, env: process.env });
}

function existing(target: string): { symlinkTo?: string; content?: string } | null {
  try {
    const st = lstatSync(target);
    if (st.isSymbolicLink()) return { symlinkTo: readlinkSync(target) };
    return { content: st.size < 64 * 1024 ? readFileSync(target, 'utf8') : '' };
  } catch {
    return null;
  }
}

async function asAdmin(shellCommand: string, why: string): Promise<void> {
  await run('/usr/bin/osascript', osascriptAdminArgs(shellCommand, why));
}

function needsAdmin(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

async function place(plan: Extract<InstallPlan, { action: 'symlink' | 'script' }>): Promise<void> {
  try {
    mkdirSync(dirname(plan.target), { recursive: true });
    rmSync(plan.target, { force: true });
    if (plan.action === 'symlink') symlinkSync(plan.source, plan.target);
    else writeFileSync(plan.target, plan.content, { mode: 0o755 });
  } catch (e) {
    if (plan.action !== 'symlink' || !plan.admin || !needsAdmin(e)) throw e;
    await asAdmin(linkCommand(plan.source, plan.target), `${app.getName()} wants to install the '${COMMAND}' command in ${dirname(plan.target)}.`);
  }
}

async function remove(plan: Extract<InstallPlan, { action: 'symlink' | 'script' }>): Promise<void> {
  try {
    rmSync(plan.target, { force: true });
  } catch (e) {
    if (plan.action !== 'symlink' || !plan.admin || !needsAdmin(e)) throw e;
    await asAdmin(unlinkCommand(plan.target), `${app.getName()} wants to remove the '${COMMAND}' command from ${dirname(plan.target)}.`);
  }
}

/** Installs or removes the command, telling the user what happened. */
export async function installCliCommand(install: boolean): Promise<void> {
  const plan = installPlan(currentLayout(), homedir());
  const title = install ? `Install '${COMMAND}' command` : `Uninstall '${COMMAND}' command`;
  if (plan.action === 'none') {
    await dialog.showMessageBox({ type: 'info', title, message: plan.message });
    return;
  }
  if (!ownsTarget(existing(plan.target), plan)) {
    await dialog.showMessageBox({ type: 'warning', title, message: `${plan.target} exists and was not installed by ${app.getName()}, so it was left alone.`, detail: 'Remove it yourself first if you want this one.' });
    return;
  }
  try {
    if (install) await place(plan);
    else await remove(plan);
  } catch (e) {
    // A cancelled administrator prompt lands here too (osascript exits with "User canceled").
    await dialog.showMessageBox({ type: 'error', title, message: `Could not ${install ? 'install' : 'remove'} ${plan.target}.`, detail: (e as Error).message });
    return;
  }
  const dir = dirname(plan.target);
  const hint = install && !onPath(process.env.PATH, dir, process.platform) ? `\n\n${dir} is not on your PATH: add it in your shell's profile (export PATH="${dir}:$PATH").` : '';
  await dialog.showMessageBox({
    type: 'info',
    title,
    message: install ? `The '${COMMAND}' command is installed in ${dir}.` : `The '${COMMAND}' command was removed from ${dir}.`,
    detail: install ? `Open a new terminal and run \`${COMMAND} --help\`. While the app runs, the command talks to it.${hint}` : '',
  });
}

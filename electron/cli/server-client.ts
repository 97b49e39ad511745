/**
 * The `cronium` command as a client of a team server (issue #16): `cronium server login URL`
 * signs in (POST /auth/sign-in, no Origin: the session token comes back) and keeps a profile in
 * the data dir's servers.json (mode 0600: it holds the session token, as ~/.ssh holds keys);
 * `--server NAME` (or CRONIUM_SERVER) then sends every API call of a command to that server
 * over its WebSocket with `Authorization: Bearer`, where the person's role applies as in the
 * browser. A server with its own CA is trusted through `--ca FILE` (kept by path).
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { z } from 'zod';
import type { EventName, UserInfo } from '../shared/api';
import { CroniumError, type ApiErrorBody } from '../shared/errors';
import { PendingCalls, type AppClient } from './app-client';

const Profile = z.object({ url: z.url(), user: z.string(), token: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/), expiresAt: z.number(), ca: z.string().optional() });
export type Profile = z.infer<typeof Profile>;
const ProfilesFile = z.object({ servers: z.record(z.string(), Profile) });
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Where the profiles are kept. */
export function profilesPath(dataDir: string): string {
  return join(dataDir, 'servers.json');
}

/** The saved profiles (none when the file does not exist); a damaged file is an error, not an empty list. */
export function readProfiles(dataDir: string): Record<string, Profile> {
  const file = profilesPath(dataDir);
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new CroniumError('INVALID_INPUT', `${file} is not JSON`, 'remove it and sign in again: cronium server login URL --user NAME');
  }
  const parsed = ProfilesFile.safeParse(raw);
  if (!parsed.success) throw new CroniumError('INVALID_INPUT', `${file} is not a list of servers`, 'remove it and sign in again: cronium server login URL --user NAME');
  return parsed.data.servers;
}

/** Saves the profiles, readable by this user only. */
export function writeProfiles(dataDir: string, servers: Record<string, Profile>): void {
  const file = profilesPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ servers }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** The profile `--server` names: a saved profile's name, or the URL of one. */
export function findProfile(dataDir: string, nameOrUrl: string): { name: string; profile: Profile } {
  const servers = readProfiles(dataDir);
  const byName = Object.hasOwn(servers, nameOrUrl) ? servers[nameOrUrl] : undefined;
  if (byName) return { name: nameOrUrl, profile: byName };
  const normal = (u: string) => u.replace(/\/+$/, '');
  const byUrl = Object.entries(servers).find(([, p]) => normal(p.url) === normal(nameOrUrl));
  if (byUrl) return { name: byUrl[0], profile: byUrl[1] };
  throw new CroniumError('NOT_FOUND', `no server "${nameOrUrl}" is signed in`, 'sign in first: cronium server login URL --user NAME (cronium server list shows the saved ones)');
}

/** A profile name for a URL: its host, unless given. */
export function profileName(url: string, given?: string): string {
  const name = given ?? new URL(url).hostname;
  if (!PROFILE_NAME.test(name)) throw new CroniumError('INVALID_INPUT', `invalid --name: ${JSON.stringify(name)}`, 'use letters, digits, ".", "_" and "-"');
  return name;
}

function post(url: string, path: string, body: unknown, headers: Record<string, string>, ca?: Buffer): Promise<{ status: number; body: Record<string, unknown> }> {
  const target = new URL(path, url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request(target, { method: 'POST', timeout: 15_000, ...(ca ? { ca } : {}), headers: { ...(text ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        data += d;
        if (data.length > 1_000_000) req.destroy();
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: {} });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new CroniumError('CONNECT_FAILED', `${target.origin} cannot be reached: ${e.message}`, 'check the URL, and that the team server runs (with --ca FILE for a server with its own certificate authority)')));
    req.end(text);
  });
}

function errorOf(body: Record<string, unknown>, status: number): CroniumError {
  const e = body.error as ApiErrorBody | undefined;
  return e ? new CroniumError(e.code, e.message, e.hint, e.details) : new CroniumError('INTERNAL', `the server answered ${status}`, 'is this the URL of a Cronium team server?');
}

/** Signs in to a team server; the profile to keep. */
export async function login(args: { url: string; user: string; password: string; code?: string; ca?: string }): Promise<{ profile: Profile; user: UserInfo }> {
  let url: URL;
  try {
    url = new URL(args.url);
  } catch {
    throw new CroniumError('INVALID_INPUT', `invalid URL: ${JSON.stringify(args.url)}`, 'e.g. https://cronium.example.com:8443');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CroniumError('INVALID_INPUT', 'invalid URL: not http(s)', 'e.g. https://cronium.example.com:8443');
  const loopback = /^(127\.|localhost$|\[::1\]$)/.test(url.hostname);
  if (url.protocol === 'http:' && !loopback) throw new CroniumError('INVALID_INPUT', 'invalid URL: a password is never sent in clear over a network', 'use the https:// address of the team server');
  const ca = args.ca ? readCa(args.ca) : undefined;
  const r = await post(url.origin, '/auth/sign-in', { name: args.user, password: args.password, ...(args.code ? { code: args.code } : {}) }, {}, ca);
  if (r.status !== 200 || typeof r.body.token !== 'string') throw errorOf(r.body, r.status);
  const profile = Profile.parse({ url: url.origin, user: (r.body.user as UserInfo).name, token: r.body.token, expiresAt: r.body.expiresAt, ...(args.ca ? { ca: args.ca } : {}) });
  return { profile, user: r.body.user as UserInfo };
}

/** Ends the profile's session on its server (a server that is gone or a session already ended is fine). */
export async function logout(profile: Profile): Promise<void> {
  await post(profile.url, '/auth/sign-out', undefined, { Authorization: `Bearer ${profile.token}` }, profile.ca ? readCa(profile.ca) : undefined).catch(() => undefined);
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    throw new CroniumError('INVALID_INPUT', `invalid --ca: ${file} cannot be read`, "give the team server's CA certificate (PEM)");
  }
}

/** Opens the API of a team server as the profile's person. */
export function connectServer(profile: Profile, name: string): Promise<AppClient> {
  const wsUrl = `${profile.url.replace(/^http/, 'ws')}/api`;
  const ws = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${profile.token}` }, ...(profile.ca ? { ca: readCa(profile.ca) } : {}), handshakeTimeout: 15_000, maxPayload: 64 * 1024 * 1024 });
  const calls = new PendingCalls('the server refused the call');
  let onEvent: ((event: EventName, payload: unknown) => void) | undefined;
  const signedOut = () => new CroniumError('SIGNED_OUT', `the session with ${name} has ended`, `sign in again: cronium server login ${profile.url} --user ${profile.user}`);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      reject(res.statusCode === 401 ? signedOut() : new CroniumError('CONNECT_FAILED', `${profile.url} refused the connection (${res.statusCode})`));
      ws.terminate();
    });
    ws.once('error', (e) => reject(new CroniumError('CONNECT_FAILED', `${profile.url} cannot be reached: ${e.message}`, 'check that the team server runs')));
    ws.on('close', (code) => calls.failAll(code === 4401 ? signedOut() : new CroniumError('DISCONNECTED', `the connection to ${name} was lost`)));
    ws.on('message', (data) => {
      let msg: { type?: string; id?: number; ok?: boolean; result?: unknown; error?: ApiErrorBody; event?: EventName; payload?: unknown };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'reply') calls.reply(msg);
      else if (msg.type === 'event' && msg.event) onEvent?.(msg.event, msg.payload);
    });
    ws.once('open', () =>
      resolve({
        pid: 0,
        call: (method, args) => calls.call(method, args, (m) => ws.send(m)),
        // Every event of the server comes to every connection; the listener picks.
        subscribe: (_events, listener) => {
          onEvent = listener as (event: EventName, payload: unknown) => void;
        },
        close: () => ws.close(),
      }),
    );
  });
}

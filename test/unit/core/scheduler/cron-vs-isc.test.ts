/**
 * Schedules fire when ISC cron would: seeded cron expressions, compared with ISC/Vixie cron's own
 * scheduling loop (Debian's cron 3.0pl1 compiled around a simulated clock, see
 * test/reference/isc-cron/harness.c) over both DST transitions of ten zones (30-minute DST,
 * negative DST, a 2-hour jump, transitions at midnight and at 02:45) and over two months of days
 * for the day-of-month / day-of-week rule. Fires are compared as distinct (expression, minute)
 * pairs; the agreement is printed and must be total.
 *   CRONIUM_CRON_SEED=N replays a run; CRONIUM_CRON_SCALE=K multiplies the number of expressions.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { nextRun } from '../../../../electron/core/scheduler/cron';
import { buildIscCronSim } from '../../../reference/isc-cron/build';

const SEED = Number(process.env.CRONIUM_CRON_SEED ?? Date.now() % 1_000_000);
const SCALE = Math.max(1, Number(process.env.CRONIUM_CRON_SCALE ?? 1));
const ZONES = ['America/New_York', 'Europe/Berlin', 'Europe/Dublin', 'Australia/Sydney', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Havana', 'Antarctica/Troll', 'America/St_Johns', 'Pacific/Auckland'];
const HOUR = 3_600_000;

let sim = '';
let dir = '';
before(async () => {
  sim = await buildIscCronSim();
  dir = mkdtempSync(join(tmpdir(), 'cronium-isc-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T,>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** One field: a value, a list, a range, a stepped range, `*` or a stepped `*`, within [lo, hi] and near `focus`. */
function field(r: Rand, lo: number, hi: number, focus: number[], starWeight: number): string {
  const near = () => (r() < 0.7 && focus.length ? pick(r, focus) : int(r, lo, hi));
  const k = r();
  if (k < starWeight) return r() < 0.5 ? '*' : `*/${int(r, 2, Math.min(hi - lo, 20))}`;
  if (k < starWeight + 0.3) return String(near());
  if (k < starWeight + 0.5) {
    const vs = [...new Set([near(), near(), int(r, lo, hi)])].sort((a, b) => a - b);
    return vs.join(',');
  }
  const a = Math.max(lo, near() - int(r, 0, 2));
  const b = Math.min(hi, a + int(r, 1, Math.max(1, Math.floor((hi - lo) / 3))));
  return r() < 0.5 ? `${a}-${b}` : `${a}-${b}/${int(r, 2, 7)}`;
}

/** An expression aimed at the hours around a DST transition (local hours `hours`). */
function dstExpr(r: Rand, hours: number[]): string {
  const minute = field(r, 0, 59, [0, 15, 30, 45, 59, 1], 0.25);
  // Keep every-minute schedules rare: they add thousands of fires and test nothing more.
  const hour = minute.startsWith('*') && !minute.includes('/') ? String(pick(r, hours)) : field(r, 0, 23, hours, 0.25);
  const dom = r() < 0.85 ? '*' : field(r, 1, 31, [1, 8, 15, 28], 0.3);
  const dow = r() < 0.8 ? '*' : field(r, 0, 7, [0, 1, 6], 0.3);
  return `${minute} ${hour} ${dom} * ${dow}`;
}

/** An expression for the day fields: dom/dow with stars, steps, lists and ranges (ISC's AND/OR rule). */
function dayExpr(r: Rand): string {
  const minute = String(int(r, 0, 59));
  const hour = r() < 0.5 ? String(int(r, 0, 23)) : `${int(r, 0, 11)},${int(r, 12, 23)}`;
  const dom = field(r, 1, 31, [1, 13, 15, 29, 30, 31], 0.4);
  const month = r() < 0.7 ? '*' : field(r, 1, 12, [1, 2, 3], 0.3);
  const dow = r() < 0.3 ? pick(r, ['MON', 'MON-FRI', 'SAT,SUN', 'sun', '1-5/2']) : field(r, 0, 7, [0, 1, 5, 7], 0.4);
  return `${minute} ${hour} ${dom} ${month} ${dow}`;
}

/** Runs ISC cron's loop over [start, end] (ms) in `tz`; returns the distinct "id minute" fires. */
function iscFires(exprs: string[], tz: string, start: number, end: number): Set<string> {
  const tab = join(dir, 'crontab');
  writeFileSync(tab, exprs.map((e, i) => `${e} ${i}\n`).join(''));
  // Cron wakes at minute + 1 s; starting 30 s into the minute, its first tick is the next minute.
  const out = execFileSync(sim, [], { env: { TZ: tz, CRON_SIM_TAB: tab, CRON_SIM_START: String(start / 1000 + 30), CRON_SIM_END: String(end / 1000) }, maxBuffer: 1 << 28, encoding: 'utf8' });
  const fires = new Set<string>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [id, s] = line.split(' ');
    fires.add(`${id} ${Math.floor(Number(s) / 60) * 60_000}`);
  }
  return fires;
}

/** Cronium's fires for the same expressions and window. */
function ourFires(exprs: string[], tz: string, start: number, end: number): Set<string> {
  const fires = new Set<string>();
  exprs.forEach((e, i) => {
    let at = new Date(start);
    for (;;) {
      const n = nextRun(e, tz, at);
      if (!n || n.getTime() >= end) break; // cron-sim stops before it wakes for `end`
      fires.add(`${i} ${n.getTime()}`);
      at = n;
    }
  });
  return fires;
}

/** The zone's 2026 transitions, as the system's tzdata (zdump) has them; these windows are checked against Node's too. */
function transitions(tz: string): number[] {
  const out = execFileSync('zdump', ['-v', '-c', '2026,2027', tz], { encoding: 'utf8' });
  const ts: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^\S+\s+(\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4}) UT = .* isdst=\d gmtoff=(-?\d+)$/.exec(line);
    if (m) ts.push(Date.parse(`${m[1]} UTC`));
  }
  // zdump prints each transition as two lines (a second before, and at); keep the instants it changes at.
  return ts.filter((_, i) => i % 2 === 1);
}

function compare(label: string, exprs: string[], tz: string, start: number, end: number, misses: string[]): { fires: number; agreed: number } {
  const ref = iscFires(exprs, tz, start, end);
  const ours = ourFires(exprs, tz, start, end);
  const bad = new Set<number>();
  for (const f of ref) if (!ours.has(f)) bad.add(Number(f.split(' ')[0]));
  for (const f of ours) if (!ref.has(f)) bad.add(Number(f.split(' ')[0]));
  for (const i of bad) {
    if (misses.length >= 12) break;
    const only = (a: Set<string>, b: Set<string>) => [...a].filter((f) => f.startsWith(`${i} `) && !b.has(f)).slice(0, 3).map((f) => new Date(Number(f.split(' ')[1])).toISOString());
    misses.push(`${label} ${tz} "${exprs[i]}": ISC only ${only(ref, ours).join(',') || '-'}; ours only ${only(ours, ref).join(',') || '-'}`);
  }
  return { fires: ref.size, agreed: exprs.length - bad.size };
}

test('tzdata: Node and the system agree on every transition the comparison uses', () => {
  for (const tz of ZONES) {
    const ts = transitions(tz);
    assert.ok(ts.length >= 2, `${tz}: zdump lists ${ts.length} transitions in 2026`);
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
    const off = (t: number) => fmt.formatToParts(new Date(t)).find((p) => p.type === 'timeZoneName')!.value;
    for (const t of ts) assert.notEqual(off(t - 1000), off(t), `${tz}: Node's ICU has no transition at ${new Date(t).toISOString()} (tzdata differs; update Node or the system's tzdata)`);
  }
});

test('DST transitions of ten zones: fires agree with ISC cron for every expression', () => {
  const r = prng(SEED);
  const n = 60 * SCALE;
  const misses: string[] = [];
  let total = 0;
  let agreed = 0;
  let fires = 0;
  for (const tz of ZONES) {
    for (const tr of transitions(tz)) {
      // Local hours around the transition, where fixed-time and wildcard jobs differ.
      const h = Number(new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', hourCycle: 'h23' }).format(new Date(tr - 1000)));
      const hours = [...new Set([h - 2, h - 1, h, h + 1].map((x) => (x + 24) % 24))];
      const exprs = Array.from({ length: n }, () => dstExpr(r, hours));
      const res = compare('dst', exprs, tz, tr - 26 * HOUR, tr + 26 * HOUR, misses);
      total += exprs.length;
      agreed += res.agreed;
      fires += res.fires;
    }
  }
  console.log(`ISC cron agreement (DST): ${agreed}/${total} expressions, ${fires} fires, seed ${SEED}`);
  assert.deepEqual(misses, [], `seed ${SEED}`);
  assert.equal(agreed, total);
});

test('day of month and day of week over two months: fires agree with ISC cron for every expression', () => {
  const r = prng(SEED ^ 0x5eed);
  const exprs = Array.from({ length: 150 * SCALE }, () => dayExpr(r));
  const misses: string[] = [];
  let total = 0;
  let agreed = 0;
  let fires = 0;
  for (const tz of ['UTC', 'Europe/Berlin']) {
    const res = compare('days', exprs, tz, Date.UTC(2026, 0, 25), Date.UTC(2026, 2, 31), misses);
    total += exprs.length;
    agreed += res.agreed;
    fires += res.fires;
  }
  console.log(`ISC cron agreement (days): ${agreed}/${total} expressions, ${fires} fires, seed ${SEED}`);
  assert.deepEqual(misses, [], `seed ${SEED}`);
});

test('the two departures the review found are gone', () => {
  const iso = (e: string, tz: string, from: string, k: number) => {
    const out: string[] = [];
    let at = new Date(from);
    for (let i = 0; i < k; i++) {
      const x = nextRun(e, tz, at)!;
      out.push(x.toISOString());
      at = x;
    }
    return out;
  };
  // */2 in the day field starts with *, so ISC ANDs it with Monday: odd-day Mondays only.
  assert.deepEqual(iso('0 0 */2 * MON', 'UTC', '2026-01-01T00:00:00Z', 3), ['2026-01-05T00:00:00.000Z', '2026-01-19T00:00:00.000Z', '2026-02-09T00:00:00.000Z']);
  // A list of minutes is fixed-time: 02:00 and 02:30 are skipped on 2026-03-08 in New York and fire at 03:00 EDT.
  assert.deepEqual(iso('0,30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 2), ['2026-03-08T07:00:00.000Z', '2026-03-09T06:00:00.000Z']);
  // ...and fires once in the repeated hour of 2026-11-01.
  assert.deepEqual(iso('30 1,13 * * *', 'America/New_York', '2026-11-01T00:00:00Z', 2), ['2026-11-01T05:30:00.000Z', '2026-11-01T18:30:00.000Z']);
});

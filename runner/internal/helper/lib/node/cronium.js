'use strict';
/**
 * Cronium runtime helpers for node scripts run by cronium-runner (CommonJS,
 * Node >= 12, no dependencies). Synchronous:
 *
 *   const cronium = require('cronium');
 *   const data = cronium.input();            // the job's input (null when none)
 *   cronium.output({ rows: 12 });            // the run's output (any JSON value)
 *   const v = cronium.getVariable('API_URL'); // a string, null when unset
 *   cronium.setVariable('LAST_RUN', 'ok');   // values are strings
 *   cronium.setCondition(true);              // picks the conditional follow-ups
 *   const info = cronium.event();            // job, run, host, script, trigger...
 *
 * Each call runs the `cronium raw OP` command ($CRONIUM_HELPER_BIN) with the
 * request body on its stdin: values and the token (which it reads from the
 * environment) never appear on a command line. Failures throw CroniumError
 * with .code, .message and .hint.
 */
const { execFileSync } = require('child_process');

class CroniumError extends Error {
  constructor(code, message, hint) {
    super(code + ': ' + message + (hint ? '\nhint: ' + hint : ''));
    this.name = 'CroniumError';
    this.code = code;
    this.hint = hint;
  }
}

function call(op, body) {
  const bin = process.env.CRONIUM_HELPER_BIN;
  if (!bin) {
    throw new CroniumError('HELPER_UNAVAILABLE', 'CRONIUM_HELPER_BIN is not set', 'cronium helpers work only in scripts run by cronium-runner');
  }
  let input;
  try {
    input = JSON.stringify(body);
  } catch (e) {
    throw new CroniumError('INVALID_INPUT', 'the value is not JSON: ' + e.message);
  }
  let out;
  try {
    out = execFileSync(bin, ['raw', op], { input: input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 8 << 20, windowsHide: true });
  } catch (e) {
    const stderr = e && e.stderr ? String(e.stderr).trim() : '';
    throw new CroniumError('HELPER_UNAVAILABLE', 'the cronium command failed: ' + (stderr || (e && e.message) || 'unknown error'));
  }
  let res;
  try {
    res = JSON.parse(out);
  } catch (e) {
    throw new CroniumError('INTERNAL', "the helper relay's answer is not understood");
  }
  if (!res || typeof res.status !== 'number' || !res.body || typeof res.body !== 'object') {
    throw new CroniumError('INTERNAL', "the helper relay's answer is not understood");
  }
  if (res.status < 200 || res.status > 299) {
    const err = res.body.error && typeof res.body.error === 'object' ? res.body.error : {};
    throw new CroniumError(err.code || 'INTERNAL', err.message || 'status ' + res.status, err.hint);
  }
  return res.body;
}

/** The job's input as a JSON value; null when the run has none. */
function input() {
  const v = call('input', {}).value;
  return v === undefined ? null : v;
}

/** Stores value (any JSON value; undefined is null) as the run's output. */
function output(value) {
  call('output', { value: value === undefined ? null : value });
}

/** The value of a variable (a string), or null when it is not set. */
function getVariable(key) {
  const res = call('getVariable', { key: key });
  return res.found ? res.value : null;
}

/** Sets a variable; value must be a string. */
function setVariable(key, value) {
  if (typeof value !== 'string') throw new TypeError('setVariable value must be a string, not ' + typeof value);
  call('setVariable', { key: key, value: value });
}

/** Sets the run's condition, which starts the follow-ups waiting for it. */
function setCondition(value) {
  if (typeof value !== 'boolean') throw new TypeError('setCondition value must be a boolean, not ' + typeof value);
  call('setCondition', { value: value });
}

/** What this run is: jobId, runId, host, script, schedule, attempt, trigger, parentJobId. */
function event() {
  return call('event', {});
}

module.exports = { CroniumError, input, output, getVariable, setVariable, setCondition, event };

/**
 * The runtime helpers of direct mode, which offers input and output only (issue 6): the same
 * names as in runner mode — a `cronium` command for shells, `cronium` modules for python3 and
 * node — where `input` reads the job's input (the file the prelude wrote, also on stdin) and
 * `output` prints the `@@cronium:output <json>` line the app takes out of the log. Every other
 * helper fails with HELPER_UNAVAILABLE and a hint to use runner mode, so a script learns at
 * once why, instead of meeting "command not found".
 *
 * The prelude (prelude.ts) finds them in the account's ~/.cache/cronium/direct-<digest>, else
 * writes them beside the run's script, and puts them first on PATH, PYTHONPATH and NODE_PATH.
 * Where that dir is noexec the `cronium` command cannot run (the modules still work:
 * interpreters read them as files).
 */

const UNAVAILABLE = 'is not available in direct mode, which offers input and output only';
const HINT = 'run the job in runner mode (--mode runner) for variables, conditions and events';

/** `cronium` for bash and sh. */
export const DIRECT_CRONIUM_SH = `#!/bin/sh
# Cronium helpers, direct mode: input and output only.
case "$1" in
  input) if [ -s "$CRONIUM_INPUT_FILE" ]; then cat "$CRONIUM_INPUT_FILE"; else echo null; fi ;;
  output)
    if [ "$#" -ne 2 ]; then echo "cronium: INVALID_INPUT: usage: cronium output JSON (or - to read stdin)" >&2; exit 2; fi
    if [ "$2" = - ]; then v=$(cat); else v=$2; fi
    printf '@@cronium:output %s\\n' "$(printf '%s' "$v" | tr '\\n' ' ')" ;;
  get-var|set-var|condition|event) echo "cronium: HELPER_UNAVAILABLE: cronium $1 ${UNAVAILABLE}" >&2; echo "hint: ${HINT}" >&2; exit 3 ;;
  *) echo "usage: cronium input | output JSON   (direct mode: input and output only)" >&2; exit 2 ;;
esac
`;

/** The python3 module. */
export const DIRECT_CRONIUM_PY = `"""Cronium helpers, direct mode: input() and output(v) only."""
import json as _json
import os as _os
import sys as _sys


class CroniumError(Exception):
    def __init__(self, code, message, hint=None):
        Exception.__init__(self, "%s: %s" % (code, message))
        self.code, self.message, self.hint = code, message, hint


def input():
    try:
        with open(_os.environ.get("CRONIUM_INPUT_FILE", "")) as f:
            text = f.read().strip()
    except (OSError, IOError):
        return None
    return _json.loads(text) if text else None


def output(value):
    _sys.stdout.write("@@cronium:output " + _json.dumps(value) + "\\n")
    _sys.stdout.flush()


def _unavailable(name):
    def call(*_args, **_kwargs):
        raise CroniumError("HELPER_UNAVAILABLE", name + " ${UNAVAILABLE}", "${HINT}")
    return call


getVariable = _unavailable("getVariable")
setVariable = _unavailable("setVariable")
setCondition = _unavailable("setCondition")
event = _unavailable("event")
`;

/** The node module (CommonJS). */
export const DIRECT_CRONIUM_JS = `'use strict';
// Cronium helpers, direct mode: input() and output(v) only.
const fs = require('fs');
class CroniumError extends Error {
  constructor(code, message, hint) { super(code + ': ' + message); this.code = code; this.hint = hint; }
}
function input() {
  let text = '';
  try { text = fs.readFileSync(process.env.CRONIUM_INPUT_FILE || '', 'utf8').trim(); } catch (e) { return null; }
  return text ? JSON.parse(text) : null;
}
function output(value) { fs.writeSync(1, '@@cronium:output ' + JSON.stringify(value) + '\\n'); }
const unavailable = (name) => () => { throw new CroniumError('HELPER_UNAVAILABLE', name + ' ${UNAVAILABLE}', '${HINT}'); };
module.exports = { CroniumError, input, output, getVariable: unavailable('getVariable'), setVariable: unavailable('setVariable'), setCondition: unavailable('setCondition'), event: unavailable('event') };
`;

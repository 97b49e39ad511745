"""Cronium runtime helpers for python3 scripts run by cronium-runner.

    import cronium
    data = cronium.input()                 # the job's input (None when there is none)
    cronium.output({"rows": 12})           # the run's output (any JSON value)
    v = cronium.getVariable("API_URL")     # a variable's value, None when unset
    cronium.setVariable("LAST_RUN", "ok")  # values are strings
    cronium.setCondition(True)             # picks the conditional follow-ups
    info = cronium.event()                 # job, run, host, script, trigger...

Every call goes to the runner's relay on the unix socket in
CRONIUM_HELPER_SOCKET, with the run's token from CRONIUM_HELPER_TOKEN (the
token is only ever in the environment). Failures raise CroniumError with
.code, .message and .hint. Standard library only; python3 >= 3.6.
"""

import json
import os
import socket

__all__ = ["CroniumError", "input", "output", "getVariable", "setVariable", "setCondition", "event"]

_TIMEOUT = 60.0
_MAX_ANSWER = 4 << 20


class CroniumError(Exception):
    """A helper call failed: .code is a stable code (HELPER_UNAVAILABLE, INVALID_INPUT, ...)."""

    def __init__(self, code, message, hint=None):
        Exception.__init__(self, "%s: %s" % (code, message) + ("\nhint: %s" % hint if hint else ""))
        self.code = code
        self.message = message
        self.hint = hint


def _call(op, body):
    path = os.environ.get("CRONIUM_HELPER_SOCKET")
    if not path:
        raise CroniumError("HELPER_UNAVAILABLE", "CRONIUM_HELPER_SOCKET is not set",
                           "cronium helpers work only in scripts run by cronium-runner")
    try:
        line = json.dumps({"op": op, "token": os.environ.get("CRONIUM_HELPER_TOKEN", ""), "body": body},
                          allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise CroniumError("INVALID_INPUT", "the value is not JSON: %s" % e)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(_TIMEOUT)
        try:
            s.connect(path)
        except (OSError, socket.error) as e:
            raise CroniumError("HELPER_UNAVAILABLE", "no helper relay at %s (%s)" % (path, e),
                               "the run has ended or lost its connection to the app")
        try:
            s.sendall((line + "\n").encode("utf-8"))
            chunks, size = [], 0
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                size += len(b)
                if b.endswith(b"\n") or size > _MAX_ANSWER:
                    break
        except socket.timeout:
            raise CroniumError("HELPER_TIMEOUT", "the helper relay did not answer within %ds" % _TIMEOUT)
        except (OSError, socket.error) as e:
            raise CroniumError("HELPER_UNAVAILABLE", "the helper relay closed the connection (%s)" % e)
    finally:
        s.close()
    try:
        res = json.loads(b"".join(chunks).decode("utf-8"))
        status, rbody = int(res["status"]), res["body"]
    except Exception:
        raise CroniumError("INTERNAL", "the helper relay's answer is not understood")
    if not isinstance(rbody, dict):
        raise CroniumError("INTERNAL", "the helper relay's answer is not an object")
    if status < 200 or status > 299:
        err = rbody.get("error") if isinstance(rbody.get("error"), dict) else {}
        raise CroniumError(err.get("code") or "INTERNAL", err.get("message") or ("status %d" % status), err.get("hint"))
    return rbody


def input():  # noqa: A001 (the helper's name in every language)
    """The job's input as a JSON value, None when the run has none."""
    return _call("input", {}).get("value")


def output(value):
    """Stores value (any JSON value) as the run's output."""
    _call("output", {"value": value})


def getVariable(key):
    """The value of variable key (a string), or None when it is not set."""
    res = _call("getVariable", {"key": key})
    return res.get("value") if res.get("found") else None


def setVariable(key, value):
    """Sets variable key to value, which must be a str."""
    if not isinstance(value, str):
        raise TypeError("setVariable value must be a str, not %s" % type(value).__name__)
    _call("setVariable", {"key": key, "value": value})


def setCondition(value):
    """Sets the run's condition, which starts the follow-ups waiting for it."""
    if not isinstance(value, bool):
        raise TypeError("setCondition value must be a bool, not %s" % type(value).__name__)
    _call("setCondition", {"value": value})


def event():
    """What this run is: jobId, runId, host, script, schedule, attempt, trigger, parentJobId."""
    return _call("event", {})

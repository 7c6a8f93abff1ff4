"""OCPP-J RPC framing: build CALL / CALLRESULT / CALLERROR, parse incoming frames, and check
payloads against a compact field table (see schemas.py).

Error codes (OCPP-J 1.6 section 4.2.3) used for what arrives:
  frame is not JSON, or no uniqueId can be read       -> ignored (no id to answer to)
  a CALL's uniqueId over 36 characters                -> FormationViolation, with that id
  array too short for its MessageTypeId               -> ProtocolError
  other frame shape errors, unknown MessageTypeId     -> FormationViolation
  payload field missing                               -> OccurenceConstraintViolation
  payload field of the wrong JSON type / bad dateTime -> TypeConstraintViolation
  value outside its enum, range or length             -> PropertyConstraintViolation
  action not known to OCPP 1.6                        -> NotImplemented
Unknown properties are ignored (be liberal in what you accept)."""
import json
from .wallclock import parse_iso

CALL, RESULT, ERROR = 2, 3, 4
MAX_UID = 36  # OCPP-J: uniqueId is at most 36 characters

FORMATION = "FormationViolation"
PROTOCOL = "ProtocolError"
OCCURENCE = "OccurenceConstraintViolation"  # sic, the spec's spelling
TYPE = "TypeConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
INTERNAL = "InternalError"


class CallError(Exception):
    """A handler's refusal as a CALLERROR: CallError(code, description)."""


def call(uid, action, payload):
    return json.dumps([CALL, uid, action, payload])


def result(uid, payload):
    return json.dumps([RESULT, uid, payload])


def error(uid, code, desc="", details=None):
    return json.dumps([ERROR, uid, code, desc[:255], details or {}])


def parse(text):
    """One frame -> a tuple:
      (CALL, uid, action, payload)  (RESULT, uid, payload)  (ERROR, uid, code, desc, details)
      (None, uid or None, code, description) for a bad frame (answer it when uid is not None)."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = text.decode()
        msg = json.loads(text)
    except Exception:  # ValueError, UnicodeError, and RecursionError for '[[[[...' on CPython
        return (None, None, FORMATION, "not JSON")
    if not isinstance(msg, list):
        return (None, None, FORMATION, "not a JSON array")
    uid = msg[1] if len(msg) > 1 and isinstance(msg[1], str) and msg[1] else None
    if not msg or not isinstance(msg[0], int) or isinstance(msg[0], bool):
        return (None, uid, FORMATION, "MessageTypeId is not an integer")
    mt = msg[0]
    if len(msg) < 2 or uid is None:
        return (None, None, FORMATION, "no valid uniqueId")
    if mt == CALL:
        if len(uid) > MAX_UID:  # 4.2.3: "unique identifier too long" is a CALLERROR, with the id it got
            return (None, uid, FORMATION, "uniqueId over 36 characters")
        return _parse_call(msg, uid)
    if mt in (RESULT, ERROR):
        return _parse_answer(msg, uid)
    return (None, uid, FORMATION, "unknown MessageTypeId %r" % (mt,))


def _parse_call(msg, uid):
    if len(msg) < 4:
        return (None, uid, PROTOCOL, "CALL needs 4 elements")
    if len(msg) > 4:
        return (None, uid, FORMATION, "CALL has more than 4 elements")
    if not isinstance(msg[2], str) or not msg[2]:
        return (None, uid, FORMATION, "Action is not a string")
    if not isinstance(msg[3], dict):
        return (None, uid, FORMATION, "payload is not an object")
    return (CALL, uid, msg[2], msg[3])


def _parse_answer(msg, uid):
    """A CALLRESULT or CALLERROR; a bad one has no uid: an answer is never answered."""
    if msg[0] == RESULT:
        if len(msg) != 3 or not isinstance(msg[2], dict):
            return (None, None, FORMATION, "bad CALLRESULT")
        return (RESULT, uid, msg[2])
    if len(msg) < 4 or not isinstance(msg[2], str):
        return (None, None, FORMATION, "bad CALLERROR")
    desc = msg[3] if isinstance(msg[3], str) else ""
    details = msg[4] if len(msg) > 4 and isinstance(msg[4], dict) else {}
    return (ERROR, uid, msg[2], desc, details)


def _type_ok(v, t):
    if t == "i":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "n":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t in ("s", "t"):
        return isinstance(v, str)
    if t == "b":
        return isinstance(v, bool)
    if t == "o":
        return isinstance(v, dict)
    if t == "l":
        return isinstance(v, list)
    return False


def check(payload, spec, where=""):
    """None when `payload` fits `spec`, else (error code, description).
    spec: tuple of (name, type, required, rule); types i n s b t o l; rule: (lo, hi) for numbers,
    max length for s, tuple of strings for an enum, a nested spec for o, (item type, item rule)
    for l."""
    for name, t, required, rule in spec:
        path = where + name
        if name not in payload:
            if required:
                return (OCCURENCE, path + " is required")
            continue
        v = payload[name]
        if not _type_ok(v, t):
            return (TYPE, path + " has the wrong type")
        bad = _check_rule(v, t, rule, path)
        if bad:
            return bad
    return None


def _check_rule(v, t, rule, path):
    if rule is None:
        return None
    if t == "t":
        return None if parse_iso(v) is not None else (TYPE, path + " is not a dateTime")
    if t in ("i", "n"):
        lo, hi = rule
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return (PROPERTY, path + " out of range")
    elif t == "s":
        if isinstance(rule, int):
            if len(v) > rule:
                return (PROPERTY, path + " too long")
        elif v not in rule:
            return (PROPERTY, path + " not one of " + ",".join(rule))
    elif t == "o":
        return check(v, rule, path + ".")
    elif t == "l":
        return _check_items(v, rule[0], rule[1], path)
    return None


def _check_items(v, it, irule, path):
    for i, item in enumerate(v):
        p = "%s[%d]" % (path, i)
        if not _type_ok(item, it):
            return (TYPE, p + " has the wrong type")
        bad = _check_rule(item, it, irule, p)
        if bad:
            return bad
    return None


def sniff_uid(prefix):
    """The uniqueId of a CALL whose frame was too large to keep: from '[2,"<id>",' in its first bytes."""
    try:
        s = bytes(prefix[:64]).decode()
    except UnicodeError:
        return None
    s = s.replace(" ", "")
    if not s.startswith('[2,"'):
        return None
    end = s.find('"', 4)
    uid = s[4:end] if end > 4 else ""
    return uid if 0 < len(uid) <= MAX_UID and "\\" not in uid else None

"""The bench scenario language (../shared/reference/bench-contract.md): a pure parser.

    cmds = parse(text)            # list of Command, or raises ScenarioError(line, reason)
    p = Parser(); p.feed(line)    # one line at a time (a serial console): Command or None

Runs under CPython and MicroPython (the bench-vehicle firmware parses the same files), so it uses
no re, no typing, no dataclasses. It checks words and numbers only; what a command does is up to
the executor (tools.bench on the host, the bench-vehicle board on a real bench).

Parsed arguments (`Command.args`, a tuple), per verb:
    wait S                  (seconds,)                              float
    config K=V ...          ((key, value), ...)                     value: int/float/bool/None/str
    plug [OHMS]             (ohms or None,)                         None: the executor's default
    unplug                  ()
    ev A|B|C|D|OHMS         (letter or None, ohms or None)          A -> ('A', None); 1000 -> (None, 1000.0)
    diode short|ok          (word,)
    cp short|ok             (word,)
    draw AMPS [PHASES]      (amps, phases)                          float, int 1..3
    draw follow [MAX]       ('follow', max or None)                 None: the executor's default
    button press|release    (word,)
    pp OHMS|open            (ohms or None,)                         None: open
    rcd MA [ac|dc]          (ma, kind)                              kind default 'ac'
    rcd broken|ok           (None, word)                            extension: the monitor trips on nothing
    weld on|off             (True|False,)
    temp C                  (celsius,)
    noise V [glitch P]      (volts, p)                              extension: glitch probability, default 0
    power off|on            (word,)
    limit AMPS              (amps,)
    expect WHAT [within S]  (what, value, tol, within)              within: seconds or None
        state NAME          ('state', NAME, None, w)
        contactor open|closed ('contactor', word, None, w)
        duty PCT [±TOL]     ('duty', pct, tol, w)                   tol default DUTY_TOL; ±, +-, +/-
        current AMPS [±TOL] ('current', amps, tol, w)               extension: tol, default CURRENT_TOL
        fault NAME          ('fault', NAME, None, w)
        no fault            ('fault', None, None, w)
"""

from evse.core import vocab as V

DUTY_TOL = 0.1              # contract: default duty tolerance, percent
AMPS_MAX = 80               # `limit`: the pilot offers 80 A at most (J3400; the charger's limits.AMPS_MAX)
CURRENT_TOL = 0.05          # advertised current tolerance, amps (0.1 A resolution of the core)
EV_LETTERS = {"A": None, "B": 2740, "C": 882, "D": 246}
# what `expect state` and `expect fault` may name: the core's own words
STATES = tuple(getattr(V, n) for n in dir(V) if n.startswith("ST_"))
FAULTS = tuple(getattr(V, n) for n in dir(V) if n.startswith("FAULT_"))
VERBS = ("wait", "config", "plug", "unplug", "ev", "diode", "cp", "draw", "button", "pp", "rcd",
         "weld", "temp", "noise", "power", "limit", "expect")
MAX_PHASES = 3
_DIGITS = "0123456789"


class ScenarioError(Exception):
    def __init__(self, line, reason):
        super().__init__("line %d: %s" % (line, reason))
        self.line = line
        self.reason = reason


class Command:
    __slots__ = ("line", "verb", "args", "text")

    def __init__(self, line, verb, args, text):
        self.line = line        # 1-based line number in the file (comments and blanks counted)
        self.verb = verb
        self.args = args
        self.text = text        # the command as written, comment and outer blanks stripped

    def __eq__(self, other):
        return (isinstance(other, Command) and self.line == other.line and self.verb == other.verb
                and self.args == other.args and self.text == other.text)

    def __repr__(self):
        return "Command(%d, %r, %r, %r)" % (self.line, self.verb, self.args, self.text)


def number(word, line, what="number", lo=None, hi=None):
    """A plain decimal (optional sign, digits, one point): no exponent, inf or nan."""
    s = word
    if s[:1] in ("-", "+"):
        s = s[1:]
    ok = len(s) > 0 and s != "." and s.count(".") <= 1
    if ok:
        for c in s:
            if c != "." and c not in _DIGITS:
                ok = False
                break
    if not ok:
        raise ScenarioError(line, "%s expected, got %r" % (what, word))
    v = float(word)
    if v - v != 0:                   # 400 digits read as inf: refused like a written inf
        raise ScenarioError(line, "%s %s too large" % (what, word[:12] + "..."))
    if lo is not None and v < lo:
        raise ScenarioError(line, "%s %s below %s" % (what, word, lo))
    if hi is not None and v > hi:
        raise ScenarioError(line, "%s %s above %s" % (what, word, hi))
    return v


def config_value(s):
    """KEY=VALUE's value: JSON where it parses (numbers, true/false/null, "quoted"), else the text."""
    import json
    try:
        return json.loads(s)
    except (ValueError, TypeError):
        return s


def _one_of(word, words, line, what):
    """The one of `words` that `word` is, in any case: the word as `words` writes it (B2, boot)."""
    for w in words:
        if w.lower() == word.lower():
            return w
    raise ScenarioError(line, "%s: expected %s, got %r" % (what, "|".join(words), word))


def _count(args, n_min, n_max, line, usage):
    if len(args) < n_min or len(args) > n_max:
        raise ScenarioError(line, "usage: " + usage)


def _tolerance(words, i, line):
    """Parse an optional `±TOL` / `+- TOL` / `+/-TOL` at words[i]; returns (tol or None, next i)."""
    if i >= len(words):
        return None, i
    w = words[i]
    for mark in ("+/-", "+-", "\u00b1"):
        if w.startswith(mark):
            rest = w[len(mark):]
            if rest:
                return number(rest, line, "tolerance", 0), i + 1
            if i + 1 >= len(words):
                raise ScenarioError(line, "tolerance expected after " + mark)
            return number(words[i + 1], line, "tolerance", 0), i + 2
    return None, i


def _split_tol(word):
    """`50±0.5` written without blanks -> ['50', '±0.5']."""
    for mark in ("+/-", "+-", "\u00b1"):
        k = word.find(mark)
        if k > 0:
            return [word[:k], word[k:]]
    return [word]


def _expect(a, line):
    usage = ("expect state NAME | contactor open|closed | duty PCT [±TOL] | current AMPS [±TOL]"
             " | fault NAME | no fault  [within S]")
    within = None
    if len(a) >= 2 and a[-2] == "within":
        within = number(a[-1], line, "seconds", 0)
        a = a[:-2]
    if not a:
        raise ScenarioError(line, "usage: " + usage)
    what = a[0]
    if what == "no":
        if len(a) != 2 or a[1] != "fault":
            raise ScenarioError(line, "usage: expect no fault [within S]")
        return ("fault", None, None, within)
    if what == "state":
        _count(a, 2, 2, line, "expect state NAME [within S]")
        return ("state", _one_of(a[1], STATES, line, "state"), None, within)
    if what == "contactor":
        _count(a, 2, 2, line, "expect contactor open|closed [within S]")
        return ("contactor", _one_of(a[1], ("open", "closed"), line, "contactor"), None, within)
    if what == "fault":
        _count(a, 2, 2, line, "expect fault NAME [within S]")
        return ("fault", _one_of(a[1], FAULTS, line, "fault"), None, within)
    if what in ("duty", "current"):
        words = []
        for w in a[1:]:
            words.extend(_split_tol(w))
        if not words:
            raise ScenarioError(line, "usage: expect %s VALUE [±TOL] [within S]" % what)
        if what == "duty":
            v = number(words[0], line, "duty percent", 0, 100)
        else:
            v = number(words[0], line, "amps", 0)
        tol, i = _tolerance(words, 1, line)
        if i != len(words):
            raise ScenarioError(line, "unexpected %r" % words[i])
        if tol is None:
            tol = DUTY_TOL if what == "duty" else CURRENT_TOL
        return (what, v, tol, within)
    raise ScenarioError(line, "expect what? " + usage)


def _args(verb, a, line):
    n = len(a)
    if verb == "wait":
        _count(a, 1, 1, line, "wait SECONDS")
        return (number(a[0], line, "seconds", 0),)
    if verb == "config":
        if not a:
            raise ScenarioError(line, "usage: config KEY=VALUE ...")
        out = []
        for kv in a:
            k = kv.find("=")
            if k <= 0:
                raise ScenarioError(line, "KEY=VALUE expected, got %r" % kv)
            out.append((kv[:k], config_value(kv[k + 1:])))
        return tuple(out)
    if verb == "plug":
        _count(a, 0, 1, line, "plug [OHMS]")
        return (number(a[0], line, "ohms", 0) if n else None,)
    if verb == "unplug":
        _count(a, 0, 0, line, "unplug")
        return ()
    if verb == "ev":
        _count(a, 1, 1, line, "ev A|B|C|D|OHMS")
        w = a[0].upper()
        if w in EV_LETTERS:
            return (w, EV_LETTERS[w])
        return (None, number(a[0], line, "ev: A|B|C|D or ohms", 0))
    if verb in ("diode", "cp"):
        _count(a, 1, 1, line, verb + " short|ok")
        return (_one_of(a[0], ("short", "ok"), line, verb),)
    if verb == "draw":
        _count(a, 1, 2, line, "draw AMPS [PHASES] | draw follow [MAX]")
        if a[0] == "follow":
            return ("follow", number(a[1], line, "amps", 0) if n > 1 else None)
        amps = number(a[0], line, "amps", 0)
        ph = number(a[1], line, "phases", 1, MAX_PHASES) if n > 1 else 1
        if ph != int(ph):
            raise ScenarioError(line, "phases: 1, 2 or 3")
        return (amps, int(ph))
    if verb == "button":
        _count(a, 1, 1, line, "button press|release")
        return (_one_of(a[0], ("press", "release"), line, "button"),)
    if verb == "pp":
        _count(a, 1, 1, line, "pp OHMS|open")
        return (None,) if a[0] == "open" else (number(a[0], line, "pp: ohms or open", 0),)
    if verb == "rcd":
        _count(a, 1, 2, line, "rcd MA [ac|dc] | rcd broken|ok")
        if n == 1 and a[0] in ("broken", "ok"):
            return (None, a[0])
        kind = _one_of(a[1], ("ac", "dc"), line, "rcd") if n > 1 else "ac"
        return (number(a[0], line, "milliamps", 0), kind)
    if verb == "weld":
        _count(a, 1, 1, line, "weld on|off")
        return (_one_of(a[0], ("on", "off"), line, "weld") == "on",)
    if verb == "temp":
        _count(a, 1, 1, line, "temp CELSIUS")
        return (number(a[0], line, "celsius"),)
    if verb == "noise":
        if n == 3 and a[1] == "glitch":
            return (number(a[0], line, "volts", 0), number(a[2], line, "glitch probability", 0, 1))
        _count(a, 1, 1, line, "noise VOLTS [glitch P]")
        return (number(a[0], line, "volts", 0), 0.0)
    if verb == "power":
        _count(a, 1, 1, line, "power off|on")
        return (_one_of(a[0], ("off", "on"), line, "power"),)
    if verb == "limit":
        _count(a, 1, 1, line, "limit AMPS")
        return (number(a[0], line, "amps", 0, AMPS_MAX),)
    if verb == "expect":
        return _expect(a, line)
    raise ScenarioError(line, "unknown command %r" % verb)


class Parser:
    """Line-at-a-time parser; remembers whether a `wait` has been seen (config comes before)."""

    def __init__(self):
        self.line = 0
        self.waited = False

    def feed(self, raw, line=None):
        """Parse one line; returns a Command, or None for a blank or comment line."""
        self.line = line if line is not None else self.line + 1
        k = raw.find("#")
        text = (raw if k < 0 else raw[:k]).strip()
        if not text:
            return None
        words = text.split()
        verb = words[0].lower()
        if verb not in VERBS:
            raise ScenarioError(self.line, "unknown command %r" % words[0])
        if verb == "config" and self.waited:
            raise ScenarioError(self.line, "config only before the first wait")
        a = words[1:]
        if verb != "config":               # its words in any case, as the verb (not config's values)
            a = [w.lower() for w in a]
        args = _args(verb, a, self.line)
        if verb == "wait":
            self.waited = True
        return Command(self.line, verb, args, text)


def parse(text):
    """The whole scenario: a list of Command; ScenarioError(line, reason) on the first bad line."""
    p = Parser()
    out = []
    for raw in text.split("\n"):
        c = p.feed(raw.rstrip("\r"))
        if c is not None:
            out.append(c)
    return out

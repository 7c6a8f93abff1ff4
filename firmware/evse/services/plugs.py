# The phases and volts a plug carries: a setting no J1772 or NACS plug can carry is refused (the
# settings' check imports this only when one is in doubt: it costs heap).
#
# SAE J1772 (IEC 62196-2 Type 1: rated 250 V; AC Level 2 is 208-240 V) and SAE J3400 (NACS: AC up to
# 277 V) carry one phase (facts 5); Type 2 carries one to three.
J1772_MAX_V = 250
NACS_MAX_V = 277


def one_phase(cfg, errors, blocked, not_applied):
    """More phases on a one-phase plug would close the second contactor and cut a watt limit's amps
    to a third. Either key may be the wrong one (a three-phase Type 2 cable set as j1772 gets three
    times a watt limit's amps with phases 1): no value is safe, so both are named and nothing is
    offered (as for any guarded key), the defaults' consistent pair standing meanwhile."""
    conn = cfg["connector"]
    most = J1772_MAX_V if conn == "j1772" else NACS_MAX_V
    keys = ["connector"]
    if cfg["phases"] != 1:
        keys.append("phases")
    if cfg["nominal_volts"] > most:
        keys.append("nominal_volts")
    if len(keys) > 1 and "connector" not in blocked:
        msg = "%s: %s carries one phase of at most %d V (%s)" % (", ".join(keys), conn, most, not_applied)
        errors.append(msg)
        from .settings import SCHEMA
        for k in keys:
            cfg[k] = SCHEMA[k][1]
            blocked[k] = msg

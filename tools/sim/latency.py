"""Opening latency on the virtual bench: from the vehicle's change at the connector to the contactor
coil pin, in virtual time, swept over the advertised duty, the instant of the change within the
control tick, and the cause. `make bench` prints the sweep; host_tests/test_latency.py holds it to
the facts sheet's 20 ms (detection plus command, IEC 61851-1 Table A.6 seq 8.1 allows 100 ms)."""
from tools.sim import mock_machine as mm
from tools.sim.drive import Drive

TICK_US = 10000


def _to_f(d):
    d.world.source_pos = -12.0          # the pilot held at -12 V
    d.world.recompute()
    return mm.clock.us


CAUSES = {
    "c_to_b": lambda d: d.ev("B"),
    "unplug": lambda d: d.unplug(),
    "state_e": lambda d: d.set(cp_short=True),
    "state_f": _to_f,
    "diode": lambda d: d.set(diode_ok=False),
}

# Currents whose duty spans 10-96 %: 6 A = 10 %, 9 A = 15 %, 51 A = 85 %, 64 A = 89.6 %, 80 A = 96 %.
LIMITS_A = (6, 7, 8, 9, 12, 18, 24, 32, 40, 48, 51, 54, 60, 64, 66, 70, 75, 80)
CT_3_PHASE = {"meter": "ct", "meter_phases": 3}


def at_instant(d, t_us, action):
    """Apply `action(d)` at exactly t_us of virtual time, in the middle of an ADC burst if one runs
    then (the pilot ADC's source applies it at the first read at or after t_us). Returns t_us."""
    pin = d.rig.board.PILOT_ADC_PIN
    before = mm.adc_sources[pin]
    fired = []

    def source(now_us):
        if not fired and now_us >= t_us:
            fired.append(action(d))          # the world installs the new pilot source
            return mm.adc_sources[pin](now_us)
        return before(now_us)
    mm.adc_sources[pin] = source
    d.rig.run_until(t_us)
    if not fired:                            # between two bursts
        fired.append(action(d))
    return t_us


def open_latency_us(cause, limit_a, phase_us, config=None, seed=1):
    """Charge at `limit_a`; `phase_us` after a control tick starts, the cause happens; time to the
    coil."""
    cfg = {"max_current": 80}
    cfg.update(config or {})
    d = Drive(config=cfg, seed=seed)
    d.charger.set_limit("console", limit_a)
    d.run(0.5).charge()
    d.run(0.3)
    t = at_instant(d, d.rig.next_tick_us + phase_us, CAUSES[cause])
    d.run(0.1)
    closed_again = d.coil_change(0, t)
    return closed_again - t if closed_again is not None else None


def sweep(causes=None, limits=LIMITS_A, phases=20, config=None):
    """{cause: [(limit_a, phase_us, latency_us)]}; phases spread evenly over one tick."""
    out = {}
    for cause in causes or CAUSES:
        rows = out[cause] = []
        for limit in limits:
            for i in range(phases):
                phase = i * TICK_US // phases
                rows.append((limit, phase, open_latency_us(cause, limit, phase, config)))
    return out

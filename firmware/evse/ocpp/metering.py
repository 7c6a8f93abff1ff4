"""MeterValues: sampled values from the meter, sent every MeterValueSampleInterval during a
transaction (kept on flash with it) and on ClockAlignedDataInterval wall-clock boundaries; the
StopTxnSampledData and StopTxnAlignedData samples the StopTransaction carries (RAM only: a power
cut's StopTransaction has none).
Functions take the service (chargepoint.OcppService)."""
from .config import CONNECTOR
from .wallclock import format_iso


# StopTxnSampled/AlignedData values kept in RAM per transaction: about 210 bytes of heap each on a
# 32-bit port (424 on the 64-bit unix port, measured); past it the oldest samples after the first go.
TX_VALUES_MAX = 24
ALIGNED_RECHECK_S = 60  # the clock-aligned slot is read again at least this often
# The sample's time kept for a PowerLoss StopTransaction (state.json) at least this often: a cut
# stamps the stop at most this much before the last sample.
STATE_TS_S = 60


def _energy(svc, m, name, context, sv):
    hi = svc.state.get("hi")
    sv.append({"value": str(svc.meter_wh()), "context": context, "measurand": name, "unit": "Wh"})
    if svc.state.get("hi") != hi:  # a register above any handed out: on flash before it is sent
        svc.save()


def _current(svc, m, name, context, sv):
    for i, a in enumerate((getattr(m, "amps", None) or [])[:3]):
        sv.append({"value": "%.1f" % (a or 0), "context": context, "measurand": name,
                   "phase": "L%d" % (i + 1), "unit": "A"})


def _power(svc, m, name, context, sv):
    sv.append({"value": "%d" % (getattr(m, "power_w", 0) or 0), "context": context,
               "measurand": name, "unit": "W"})


def _voltage(svc, m, name, context, sv):
    v = getattr(m, "volts", None)
    for i, x in enumerate(v[:3] if isinstance(v, list) else ([v] if v is not None else [])):
        sv.append({"value": "%.1f" % x, "context": context, "measurand": name,
                   "phase": "L%d-N" % (i + 1), "unit": "V"})


def offered_amps(svc):
    """What the pilot offers the car now (0 without PWM): the core's advertised current."""
    out = getattr(svc.charger, "out", None)
    return (out.amps_x10 if out is not None else 0) / 10


def _current_offered(svc, m, name, context, sv):
    sv.append({"value": "%.1f" % offered_amps(svc), "context": context, "measurand": name, "unit": "A"})


def _power_offered(svc, m, name, context, sv):
    s = svc.settings
    w = offered_amps(svc) * s.get("nominal_volts", 230) * s.get("phases", 1)
    sv.append({"value": "%d" % w, "context": context, "measurand": name, "unit": "W"})


_READERS = {"Energy.Active.Import.Register": _energy, "Current.Import": _current,
            "Power.Active.Import": _power, "Voltage": _voltage,
            "Current.Offered": _current_offered, "Power.Offered": _power_offered}
OFFERED = ("Current.Offered", "Power.Offered")  # known without a meter


def sample(svc, measurands, context):
    """sampledValue list for a comma-separated list of measurands (only the offered ones without a
    meter). A meter that lost its reading (ok False) publishes sentinels (-1.0 A and V, 0 W), not
    measurements: then only its energy register, whose count is kept, is reported."""
    sv = []
    m = svc.meter
    lost = m is not None and not getattr(m, "ok", True)
    for name in measurands.split(","):
        read = _READERS.get(name)
        if read is not None and (name in OFFERED or m is not None and not (lost and read is not _energy)):
            read(svc, m, name, context, sv)
    return sv


def keep_tx_data(svc, measurands, context, now_ms):
    """One StopTxnSampledData/StopTxnAlignedData sample for the transaction's StopTransaction."""
    sv = sample(svc, measurands, context) if measurands and svc.tx else None
    if not sv:
        return
    meta = svc.meta(now_ms)
    t = meta["ts"]
    data = svc.tx_data
    # no wall clock yet: its tick count, turned into its time when the StopTransaction is made (tx_data)
    data.append({"timestamp": format_iso(t) if t is not None else meta["tk"], "sampledValue": sv})
    while len(data) > 2 and sum(len(d["sampledValue"]) for d in data) > TX_VALUES_MAX:
        data.pop(1)  # the transaction's first sample stays


def tx_data(svc):
    """The transaction's samples for its StopTransaction, each with its own time: one taken before
    the wall clock was known gets it from its tick count now (in RAM: the same boot), else the stop's."""
    data = svc.tx_data
    svc.tx_data = []
    for d in data:
        tk = d["timestamp"]
        if not isinstance(tk, str):
            t = svc.wall.at(tk)
            d["timestamp"] = format_iso(t) if t is not None else "@T"
    return data


def values_payload(sv, txid=None, connector=CONNECTOR):
    """A MeterValues payload, for connector 1 unless told (transactionId when given)."""
    p = {"connectorId": connector, "meterValue": [{"timestamp": "@T", "sampledValue": sv}]}
    if txid is not None:
        p["transactionId"] = txid
    return p


def report(svc, measurands, context, now_ms, in_tx):
    """One MeterValues: on the transaction queue when `in_tx`, else sent only when online."""
    sv = sample(svc, measurands, context)
    if not sv:
        return
    if in_tx and svc.tx:
        svc.queue_tx("MeterValues", values_payload(sv), svc.tx["ref"], now_ms)
    elif svc.accepted:  # values outside a transaction are not kept offline
        svc.queue_call("MeterValues", values_payload(sv, svc.tx and svc.tx.get("txid")), None, now_ms)


def next_sample(svc, now_ms):
    """The next periodic value MeterValueSampleInterval from now (none while it is 0)."""
    iv = svc.config.get("MeterValueSampleInterval")
    svc.next_sample_ms = svc.ticks_add(now_ms, iv * 1000) if iv else None


def poll(svc, now_ms):
    """Periodic values during a transaction, then clock-aligned ones."""
    cfg = svc.config
    if svc.tx and svc.next_sample_ms is not None and svc.ticks_diff(now_ms, svc.next_sample_ms) >= 0:
        next_sample(svc, now_ms)
        tx, hi = svc.tx, svc.state.get("hi")
        tx["last_wh"] = svc.meter_wh()
        ts = svc.meta(now_ms)["ts"]
        if svc.state.get("hi") != hi or ts is not None and (
                tx.get("last_ts") is None or abs(ts - tx["last_ts"]) >= STATE_TS_S):
            tx["last_ts"] = ts
            svc.save()  # the register's ceiling on flash before it is sent (chargepoint.meter_wh)
        report(svc, cfg.get("MeterValuesSampledData"), "Sample.Periodic", now_ms, True)
        keep_tx_data(svc, cfg.get("StopTxnSampledData"), "Sample.Periodic", now_ms)
    iv = cfg.get("ClockAlignedDataInterval")
    due = svc.aligned_due
    if not iv or (due is not None and 0 < svc.ticks_diff(due, now_ms) <= ALIGNED_RECHECK_S * 1000):
        return   # epoch seconds are long ints on the boards (> 2**30): not read every 10 ms
    t = svc.wall.now(now_ms)
    if t is None:
        return
    t = int(t)  # the day's intervals start at midnight (section 9.1.2), iv dividing 86400 or not
    day = t % 86400
    slot = t - day + day // iv
    if svc._aligned_slot is not None and slot != svc._aligned_slot:
        report(svc, cfg.get("MeterValuesAlignedData"), "Sample.Clock", now_ms, svc.tx is not None)
        keep_tx_data(svc, cfg.get("StopTxnAlignedData"), "Sample.Clock", now_ms)
    svc._aligned_slot = slot
    # the next boundary (or midnight) is at least left - 1 s away: no read before (the clock moved:
    # connection._set_wall clears it)
    left = min((day // iv + 1) * iv, 86400) - day
    svc.aligned_due = svc.ticks_add(now_ms, min(left - 1, ALIGNED_RECHECK_S) * 1000)

"""MeterValues: sampled values from the meter, sent every MeterValueSampleInterval during a
transaction (kept on flash with it) and on ClockAlignedDataInterval wall-clock boundaries.
Functions take the service (chargepoint.OcppService)."""
from evse.ocpp.config import CONNECTOR


def sample(svc, measurands, context):
    """sampledValue list for a comma-separated list of measurands (empty without a meter)."""
    sv = []
    m = svc.meter
    if m is None:
        return sv
    for name in measurands.split(","):
        if name == "Energy.Active.Import.Register":
            sv.append({"value": str(svc.meter_wh()), "context": context, "measurand": name, "unit": "Wh"})
        elif name == "Current.Import":
            for i, a in enumerate((getattr(m, "amps", None) or [])[:3]):
                sv.append({"value": "%.1f" % (a or 0), "context": context, "measurand": name,
                           "phase": "L%d" % (i + 1), "unit": "A"})
        elif name == "Power.Active.Import":
            sv.append({"value": "%d" % (getattr(m, "power_w", 0) or 0), "context": context,
                       "measurand": name, "unit": "W"})
        elif name == "Voltage":
            v = getattr(m, "volts", None)
            for i, x in enumerate(v[:3] if isinstance(v, list) else ([v] if v is not None else [])):
                sv.append({"value": "%.1f" % x, "context": context, "measurand": name,
                           "phase": "L%d-N" % (i + 1), "unit": "V"})
    return sv


def values_payload(sv, txid=None):
    """A MeterValues payload for connector 1 (transactionId when given)."""
    p = {"connectorId": CONNECTOR, "meterValue": [{"timestamp": "@T", "sampledValue": sv}]}
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


def poll(svc, now_ms):
    """Periodic values during a transaction, then clock-aligned ones."""
    cfg = svc.config
    if svc.tx and svc.next_sample_ms is not None and svc.ticks_diff(now_ms, svc.next_sample_ms) >= 0:
        iv = cfg.get("MeterValueSampleInterval")
        svc.next_sample_ms = svc.ticks_add(now_ms, iv * 1000) if iv else None
        report(svc, cfg.get("MeterValuesSampledData"), "Sample.Periodic", now_ms, True)
        svc.tx["last_wh"] = svc.meter_wh()
        svc.tx["last_ts"] = svc.meta(now_ms)["ts"]
        svc.save()  # the last known meter value survives a power cut
    iv = cfg.get("ClockAlignedDataInterval")
    t = svc.wall.now(now_ms)
    if iv and t is not None:
        slot = int(t) // iv
        if svc._aligned_slot is not None and slot != svc._aligned_slot:
            report(svc, cfg.get("MeterValuesAlignedData"), "Sample.Clock", now_ms, svc.tx is not None)
        svc._aligned_slot = slot

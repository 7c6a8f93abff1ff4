# The OCPP offline queue's file (txq.log) on both interpreters: a line torn by a power cut is
# skipped and the next message queued after the reboot (a StopTransaction) is kept, on its own line.
import json
import os

from tools.sim.rig import new_flash_dir
from evse.ocpp.txqueue import TxQueue

import upytest


def test_a_torn_line_never_swallows_the_next_message():
    path = new_flash_dir() + "/txq.log"
    q = TxQueue(path)
    q.push("StartTransaction", {"idTag": "CARD1", "meterStart": 0}, 1)
    line = json.dumps(["q", 2, "MeterValues", {"connectorId": 1, "meterValue": []}, 1, {}])
    for keep in (1, 9, len(line) - 1, len(line)):      # cut inside the line and before its newline
        p = path + str(keep)
        with open(path) as src:
            text = src.read()
        with open(p, "w") as dst:
            dst.write(text + line[:keep])
        booted = TxQueue(p)
        booted.push("StopTransaction", {"meterStop": 5, "reason": "PowerLoss"}, 1)
        actions = [r[1] for r in TxQueue(p).records]
        assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction", (keep, actions)
        os.remove(p)


if __name__ == "__main__":
    upytest.run(globals())

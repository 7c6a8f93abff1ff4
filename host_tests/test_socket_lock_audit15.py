"""A cable kept locked in a Type 2 socket (UnlockConnectorOnEVSideDisconnect false) against other
people's cards (the fifteenth audit), as bench scenarios on the virtual board with a lock wired.
OCPP 1.6 section 4.9's Finishing, which the connector reports while the cable is kept: "not yet
available for a new user, e.g. the cable has not been removed". Only its owner's card (or a card of
the owner's group, as a stop takes them: section 3.5.1) lets it go."""
from ocpp.v16 import call_result

from host_tests.test_ocpp_cs import statuses
from host_tests.test_socket_lock_audit12 import status_lock
from host_tests.test_socket_lock_audit13 import KEY, booted, car_side_out, charging, with_central_system

GROUP = {"GOOD": "HOME", "MATE": "HOME", "NEIGHBOUR": "NEXTDOOR", "OTHER": None}


def _central_system_knows_the_groups(cs):
    """Authorize and StartTransaction answer each card's parentIdTag (the charger's list and cache
    know none of them: each is asked for)."""
    def info(tag):
        if tag not in GROUP:
            return {"status": "Invalid"}
        return {"status": "Accepted", "parentIdTag": GROUP[tag]} if GROUP[tag] else {"status": "Accepted"}

    def start(kw):
        cs.next_txid += 1
        cs.open_tx[cs.next_txid] = kw
        return call_result.StartTransaction(transaction_id=cs.next_txid, id_tag_info=info(kw["id_tag"]))
    cs.overrides["Authorize"] = lambda kw: call_result.Authorize(id_tag_info=info(kw["id_tag"]))
    cs.overrides["StartTransaction"] = start


def test_another_users_valid_card_starts_nothing_on_a_kept_cable(tmp_path):
    """Before, a card the central system accepts, not the owner's, was authorized as on a free
    connector: the next car plugged into the kept cable charged on that card, with the owner's cable.
    Now, the owner having no group, it is answered busy at once: no Authorize, no transaction, the
    cable kept, Finishing."""
    async def main(cs):
        _central_system_knows_the_groups(cs)
        b = await booted(cs, tmp_path, ocpp_config={KEY: False, "MeterValueSampleInterval": 1})
        try:
            await charging(b, "OTHER")
            await car_side_out(b)
            asked = len(cs.actions("Authorize"))
            r = await b.reply({"cmd": "authorize", "id_tag": "GOOD"})
            assert r["ocpp"] == "busy"
            await b.wait(1.0)
            assert statuses(cs)[-1] == "Finishing", statuses(cs)
            b.d.ev("C")                                  # a car into the kept cable
            await b.wait(3.0)
            assert len(cs.actions("StartTransaction")) == 1 and not b.d.coil
            assert len(cs.actions("Authorize")) == asked and b.d.world.lock_holds()
        finally:
            await b.stop()
    with_central_system(main)


def test_a_card_of_the_owners_group_unknown_here_releases_the_kept_cable_once_accepted(tmp_path):
    """The owner's group is known from StartTransaction's answer (HOME); a household's second card
    the charger has never seen is asked for (Authorize) and, accepted with the same parentIdTag,
    lets the cable go: before, it was authorized for a session of its own and had to be presented a
    second time. A neighbour's card (another group) gets nothing."""
    async def main(cs):
        _central_system_knows_the_groups(cs)
        b = await booted(cs, tmp_path, ocpp_config={KEY: False, "MeterValueSampleInterval": 1,
                                                     "AuthorizationCacheEnabled": False})
        try:
            await charging(b)
            await car_side_out(b)
            r = await b.reply({"cmd": "authorize", "id_tag": "NEIGHBOUR"})
            assert r["ocpp"] == "pending"
            await b.until(lambda: cs.actions("Authorize") and cs.actions("Authorize")[-1]["idTag"] == "NEIGHBOUR",
                          what="the neighbour's card asked for")
            b.d.ev("C")                                  # the neighbour's car into the kept cable
            await b.wait(3.0)
            assert b.d.world.lock_holds() and status_lock(b.d) == "locked" and not b.d.coil
            b.d.ev("A")
            await b.wait(1.0)
            r = await b.reply({"cmd": "authorize", "id_tag": "MATE"})
            assert r["ocpp"] == "pending"
            await b.until(lambda: status_lock(b.d) == "unlocked", 4, "unlocked on the first presentation")
            assert not b.d.world.lock_holds() and len(cs.actions("StartTransaction")) == 1
        finally:
            await b.stop()
    with_central_system(main)

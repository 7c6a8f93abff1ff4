"""The tenth audit: the web page and API against one greedy client on the home network and a
password guesser, and the times the page shows. Two source addresses on the loopback (127.0.0.1,
127.0.0.2: Linux answers all of 127/8) stand for the owner's phone and another machine."""
import asyncio
import socket
import time

from test_websec_audit5 import _get, _upy_board

OWNER = "127.0.0.1"          # the owner's phone
GREEDY = "127.0.0.2"         # a machine on the LAN that opens every connection it can


def said(s, wait=0.3):
    """What the charger sent back on s so far ("" for nothing yet, "closed" for a reset)."""
    s.settimeout(wait)
    try:
        return s.recv(4096).decode(errors="replace") or "closed"
    except socket.timeout:
        return ""
    except OSError:
        return "closed"


def _from(addr, port, first=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(addr, 0))
    if first:
        s.sendall(first)
    return s


def _flood(port, addr, n):
    """n silent connections from addr (what a stuck script or a scanner holds open)."""
    socks = []
    for _ in range(n):
        try:
            socks.append(_from(addr, port))
        except OSError:
            break
    return socks


def test_one_address_holding_every_connection_leaves_the_owners_phone_served(tmp_path):
    """Stop 44 capped the connections at CONN_MAX (16), the next answered 503: one machine holding
    16 silent connections then kept the owner's phone from opening the page to stop a charge (503
    for as long as it held them, re-opened every IDLE_S). Now, all held, the owner's request closes
    the greedy machine's oldest silent connection and is served; the greedy one's next are 503."""
    from evse.services import web as W
    from test_web_https import Board
    b = Board(tmp_path)

    def clients():
        greedy = _flood(b.port, GREEDY, W.CONN_MAX + 4)
        time.sleep(0.3)
        held = b.web.http.conns
        answers = [said(s, 0.05) for s in greedy]
        owner = _get(b.port)
        first = said(greedy[0], 0.5)
        for s in greedy:
            s.close()
        return held, answers, owner, first
    held, answers, owner, first = asyncio.run(b.serve(clients))
    busy = [a for a in answers if a.startswith("HTTP/1.0 503")]
    assert owner == 200
    assert held == W.CONN_MAX and len(busy) == 4, answers
    assert first == "closed"                  # the greedy one's oldest: closed for the owner
    assert b.web.http.conns == 0 and not b.web.http.peers


def test_three_addresses_filling_the_cap_give_way_to_a_fourth(tmp_path):
    """Three machines holding silent connections (6, 6 and 4) fill CONN_MAX together: the next
    address is served, the oldest silent connection of the address holding most closed for it."""
    from evse.services import web as W
    from test_web_https import Board
    b = Board(tmp_path)

    def clients():
        socks = []
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            socks += _flood(b.port, a, 6)
            time.sleep(0.2)
        held = b.web.http.conns
        owner = _get(b.port)
        first = said(socks[0], 0.5)
        for s in socks:
            s.close()
        return held, owner, first
    held, owner, first = asyncio.run(b.serve(clients))
    assert held == W.CONN_MAX
    assert owner == 200
    assert first == "closed"                  # the oldest of 127.0.0.2's: closed for the owner
    assert b.web.http.conns == 0 and not b.web.http.peers


def test_on_the_micropython_port_a_greedy_address_leaves_the_owner_served_within_the_heap(tmp_path):
    """The board's case, on the unix port's sockets and 384 KB heap: one address opens 50 connections
    and sends nothing; the owner's phone gets the status meanwhile, and the heap stays within the
    budget of test_web_audit9."""
    from test_web_audit9 import BOARD_FREE, CONN_BUDGET
    p, out, port = _upy_board(tmp_path)
    try:
        time.sleep(1.0)
        base = int([x for x in out if x.startswith("GAP")][-1].split()[3])
        mark = len(out)
        greedy = _flood(port, GREEDY, 50)
        time.sleep(1.0)
        owner = _get(port)
        answers = [said(s, 0.05) for s in greedy]
        for s in greedy:
            s.close()
        free = min(int(x.split()[3]) for x in out[mark:] if x.startswith("GAP"))
    finally:
        p.kill()
        p.wait()
    text = "".join(out)
    busy = [a for a in answers if a.startswith("HTTP/1.0 503") or a == "closed"]
    print("free heap %d B before, least %d B with 50 connections from one address; owner %s" % (base, free, owner))
    assert "Traceback" not in text, text[-2000:]
    assert owner == 200
    assert base > BOARD_FREE and base - free < CONN_BUDGET
    assert len(busy) >= 50 - 16, answers

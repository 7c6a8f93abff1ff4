"""The REST API against docs/openapi.json, from what an audit with schemathesis (property-based
requests generated from the file) found: each test a request a client sends, the answer it must get
(a documented status, a body the documented schema accepts) and nothing changed when it is refused."""
import asyncio
import json

import pytest

from test_web_upy import Bench, PW
from test_web_openapi import DOC, check

NO_BODY = ("enable", "disable", "stop", "clear")


def send(b, method, path, body=None, headers=None, auth=True):
    h = dict(headers or {})
    if auth and b.auth:
        h["Authorization"] = b.auth
    r = asyncio.run(b.client.request(method, path, headers=h, body=body))
    b.rig.run(0.1)
    return r.status_code, r.json


def op(path, method):
    return DOC["paths"][path][method.lower()]


@pytest.mark.parametrize("cmd", NO_BODY)
def test_a_command_sent_with_no_body_is_taken_and_the_document_says_so(cmd):
    """evcc, Home Assistant's rest_command and curl -X POST send these with no body at all."""
    b = Bench()
    b.login()
    code, r = send(b, "POST", "/api/v1/" + cmd)
    assert code == 200, r
    check(op("/api/v1/" + cmd, "post"), code, r)
    assert op("/api/v1/" + cmd, "post")["requestBody"]["required"] is False


@pytest.mark.parametrize("path, method, body", [
    ("/api/v1/limit", "POST", {"amps": 10, "phases": 1}),
    ("/api/v1/limit", "POST", {"amps": 10, "id": 7}),
    ("/api/v1/authorize", "POST", {"id_tag": "web", "connector": 1}),
    ("/api/v1/disable", "POST", {"now": True}),
    ("/api/v1/stop", "POST", {"reason": "x"}),
    ("/api/v1/settings", "PUT", {"values": {"max_current": 16}, "reboot": True}),
    ("/api/v1/login", "POST", {"password": PW, "user": "admin"}),
])
def test_an_unknown_field_is_refused_and_nothing_changes(path, method, body):
    """A field the document does not list (a misspelt or guessed one) is refused with 400, as the
    schema (additionalProperties false, or no properties at all) says, never ignored."""
    b = Bench()
    b.login()
    limits, enabled = dict(b.app.charger.limits), b.app.charger.enabled
    with open(b.app.flash_dir + "/settings.a", "rb") as f:
        saved = f.read()
    tokens = len(b.web.tokens)
    code, r = send(b, method, path, body)
    assert code == 400, r
    check(op(path, method), code, r)
    assert json.dumps(sorted(body)[-1]) in r["error"] or "unknown field" in r["error"], r
    assert b.app.charger.limits == limits and b.app.charger.enabled == enabled
    assert b.app.console.id_tag is None and len(b.web.tokens) == tokens
    with open(b.app.flash_dir + "/settings.a", "rb") as f:
        assert f.read() == saved
    schema = op(path, method)["requestBody"]["content"]["application/json"]["schema"]
    assert schema.get("additionalProperties") is False or schema.get("maxProperties") == 0


def test_the_documented_fields_alone_are_still_taken():
    b = Bench()
    b.login()
    assert send(b, "POST", "/api/v1/limit", {"amps": 10})[0] == 200
    assert send(b, "POST", "/api/v1/enable", {})[0] == 200
    assert send(b, "POST", "/api/v1/authorize", {"id_tag": "web"})[0] == 200
    assert send(b, "PUT", "/api/v1/settings", {"values": {"max_current": 16}})[0] == 200


OPS = [(p, m.upper()) for p in sorted(DOC["paths"]) for m in DOC["paths"][p]]
BAD = [
    ("Transfer-Encoding", "", {"Transfer-Encoding": "chunked"}, 501),
    ("negative Content-Length", "", {"Content-Length": "-1"}, 400),
    ("another site's page", "", {"Origin": "http://evil.example"}, 403),
    ("body over 512 KB", "", {"Content-Length": str(600 * 1024)}, 413),
]


@pytest.mark.parametrize("path, method", OPS)
def test_every_refusal_of_an_unreadable_or_foreign_request_is_documented(path, method):
    """What the service refuses before any handler (docs/web.md) is refused on every operation, so
    each operation's responses list it, with the Error body: a client generated from the file
    (or schemathesis) meets no status the file does not name."""
    b = Bench()
    b.login()
    for why, query, headers, want in BAD:
        code, r = send(b, method, path + query, headers=headers)
        assert code == want, (why, code, r)
        assert str(code) in op(path, method)["responses"], (why, code)
        check(op(path, method), code, r)
        assert r["ok"] is False, why


def test_a_query_string_that_is_no_utf8_is_refused_on_every_operation_as_documented(tmp_path):
    """On real sockets (microdot's test client cannot even send it): 400 in the Error shape."""
    import base64
    import http.client
    from test_web_https import Board
    b = Board(tmp_path)
    basic = "Basic " + base64.b64encode(("admin:" + PW).encode()).decode()

    def client():
        out = []
        for path, method in OPS:
            c = http.client.HTTPConnection("127.0.0.1", b.port, timeout=10)
            try:
                c.request(method, path + "?n=%ff", headers={"Authorization": basic})
                r = c.getresponse()
                out.append((path, method, r.status, json.loads(r.read() or b"null")))
            finally:
                c.close()
        return out
    for path, method, code, r in asyncio.run(b.serve(client)):
        assert code == 400, (path, method, code, r)
        check(op(path, method), code, r)


def test_a_character_above_u_ffff_sent_as_python_json_dumps_writes_it_is_taken():
    """requests' json=, Home Assistant's aiohttp: json.dumps escapes an emoji as a UTF-16 pair
    ("\\ud83d\\ude00", RFC 8259 7), valid JSON a schema's string takes; it was refused (400, 'half a
    character'). Half of a pair alone is still refused, and nothing saved."""
    b = Bench()
    b.login()
    ssid = "Bob's \U0001f600 net"
    code, r = send(b, "PUT", "/api/v1/settings", json.dumps({"values": {"wifi_ssid": ssid}}).encode(),
                   headers={"Content-Type": "application/json"})
    assert code == 200 and r["saved"] == {"wifi_ssid": ssid}, r
    check(op("/api/v1/settings", "put"), code, r)
    code, r = send(b, "POST", "/api/v1/authorize", json.dumps({"id_tag": "\U0001f511"}).encode())
    assert code == 200, r
    assert b.app.console.id_tag == "\U0001f511"
    with open(b.app.flash_dir + "/settings.a", "rb") as f:
        saved = f.read()
    for half in (b'{"values": {"serial": "SN\\ud83d"}}', b'{"values": {"serial": "SN\\ude00\\ud83d"}}'):
        code, r = send(b, "PUT", "/api/v1/settings", half)
        assert code == 400 and "UTF-8" in r["error"], r
        check(op("/api/v1/settings", "put"), code, r)
    with open(b.app.flash_dir + "/settings.a", "rb") as f:
        assert f.read() == saved


def test_pairs_joins_every_escaped_pair_python_writes_and_leaves_the_rest():
    """core.credentials.pairs against CPython's own json: any text json.dumps writes (pairs for
    the characters above U+FFFF, escaped backslashes before "ud..") reads back as that text."""
    from hypothesis import given, settings, strategies as st
    from evse.core.credentials import pairs, surrogate

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(max_size=8), st.text(max_size=40) | st.lists(st.text(max_size=5)), max_size=6))
    def same_text(obj):
        raw = pairs(json.dumps(obj).encode())
        assert surrogate(raw) is None
        assert json.loads(raw.decode()) == obj
    same_text()
    for lone in (b'"\\ud83d"', b'"\\ude00\\ud83d"', b'"\\ud83d\\u0041"', b'"\\ud8_1\\udc00"'):
        assert surrogate(pairs(lone)), lone
    assert pairs(b'"\\\\ud83d\\\\ude00"') == b'"\\\\ud83d\\\\ude00"'       # text, no escapes


def test_a_grid_reading_out_of_the_documented_range_is_refused_and_the_range_is_documented():
    b = Bench(config=op("/api/v1/grid", "post").get("x-settings"))
    b.login()
    w = op("/api/v1/grid", "post")["requestBody"]["content"]["application/json"]["schema"]["properties"]["watts"]
    assert (w["minimum"], w["maximum"]) == (-1000000, 1000000)
    for watts, code in ((1000000, 200), (-1000000, 200), (1000001, 400), (-1e308, 400)):
        got, r = send(b, "POST", "/api/v1/grid", {"watts": watts})
        assert got == code, (watts, r)
        check(op("/api/v1/grid", "post"), got, r)
    got, r = send(b, "POST", "/api/v1/grid", b'{"watts": 1e999}')
    assert got == 400 and "finite" in r["error"], r


def test_the_body_is_read_as_json_whatever_its_content_type_and_a_form_is_refused():
    """Home Assistant's rest_command (text/plain unless told) and curl -d (a form type) are taken as
    the document says; a real form body is not JSON: 400, nothing changed."""
    b = Bench()
    b.login()
    for ctype in ("text/plain; charset=utf-8", "application/x-www-form-urlencoded"):
        code, r = send(b, "POST", "/api/v1/limit", b'{"amps": 10}', headers={"Content-Type": ctype})
        assert code == 200 and r["limit"] == 10, (ctype, r)
    code, r = send(b, "POST", "/api/v1/limit", b"amps=6", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 400 and r["error"] == "not JSON", r
    check(op("/api/v1/limit", "post"), code, r)
    assert b.status()["limit_a"] == 10 and b.status()["limit_by"] == "rest"
    assert "whatever its Content-Type" in DOC["info"]["description"]

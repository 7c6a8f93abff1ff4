"""docs/openapi.json against the web service: every documented operation answers, with a status the
document lists and a body its schema accepts; every route the service serves is documented."""
import asyncio
import json
import os

import jsonschema
import pytest

from test_web_upy import Bench, PW
from evse.services import web as W
from tools.sim.rig import board_with_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
    DOC = json.load(f)
OPS = [(p, m) for p in sorted(DOC["paths"]) for m in sorted(DOC["paths"][p])]


def inline(node):
    """The schema with its #/components/schemas refs written out (the document has no cycles)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref:
            return inline(DOC["components"]["schemas"][ref.split("/")[-1]])
        return dict((k, inline(v)) for k, v in node.items())
    if isinstance(node, list):
        return [inline(v) for v in node]
    return node


def check(op, code, body):
    resp = op["responses"].get(str(code))
    assert resp is not None, "status %d is not documented (%s)" % (code, sorted(op["responses"]))
    content = resp.get("content", {}).get("application/json")
    if content is not None:
        jsonschema.Draft202012Validator(inline(content["schema"])).validate(body)


def test_the_document_is_openapi_3_and_its_schemas_are_valid():
    assert DOC["openapi"].startswith("3.")
    for p, m in OPS:
        op = DOC["paths"][p][m]
        for r in op["responses"].values():
            for c in r.get("content", {}).values():
                if "schema" in c:
                    jsonschema.Draft202012Validator.check_schema(inline(c["schema"]))
        for c in op.get("requestBody", {}).get("content", {}).values():
            jsonschema.Draft202012Validator(inline(c["schema"])).validate(c["example"])


def test_every_route_served_is_documented_and_every_documented_path_is_served():
    b = Bench()
    served = set()
    for methods, pattern, *_ in b.web.http.url_map:
        for m in methods:
            if m in ("HEAD", "OPTIONS"):
                continue
            paths = [pattern.url_pattern.replace("<cmd>", c) for c in W.WRITE_CMDS] \
                if "<cmd>" in pattern.url_pattern else [pattern.url_pattern]
            served.update((p, m.lower()) for p in paths)
    assert served == set(OPS)


def _raw_body(op):
    return "application/octet-stream" in op.get("requestBody", {}).get("content", {})


@pytest.mark.parametrize("path, method", [op for op in OPS if not DOC["paths"][op[0]][op[1]].get("x-websocket")
                                          and not _raw_body(DOC["paths"][op[0]][op[1]])])
def test_each_operation_answers_as_documented(path, method, tmp_path):
    op = DOC["paths"][path][method]
    b = Bench(config=op.get("x-settings"),          # the settings the operation needs (grid: solar mode)
              board=board_with_lock() if op.get("x-board") == "LOCK_PINS" else "sim")   # (unlock: a plug lock)
    from tools import webfiles
    webfiles.page_gz(os.path.join(b.app.flash_dir, webfiles.PAGE_ON_FLASH))
    example = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
    if op.get("security"):
        code, r = call(b, method, path, example)        # no credentials: refused, in the Error shape
        check(op, code, r)
        assert code == 401
        b.login(PW)
    code, r = call(b, method, path, example)
    assert code == 200, (code, r)
    if path == "/":
        return
    check(op, code, r)
    if "requestBody" in op and op["requestBody"]["content"]["application/json"]["schema"].get("required"):
        code, r = call(b, method, path, {})              # a required field missing: refused
        assert code == 400
        check(op, code, r)


def call(b, method, path, body):
    h = {"Authorization": b.auth} if b.auth else {}
    r = asyncio.run(b.client.request(method.upper(), path, headers=h, body=body))
    return r.status_code, r.json


def test_status_documented_fields_are_every_field():
    b = Bench()
    b.plug(882)
    code, r = call(b, "get", "/api/v1/status", None)
    schema = DOC["components"]["schemas"]["Status"]
    assert sorted(r) == sorted(schema["properties"]) == sorted(schema["required"])
    check(DOC["paths"]["/api/v1/status"]["get"], code, r)


def test_the_firmware_upload_answers_as_documented():
    """POST /api/v1/firmware takes the bundle's bytes (not JSON): refused without the password, a
    damaged bundle refused with the reason, a good one staged, a second one while it waits refused."""
    from test_web_fw_upy import VERSION_NEW, call_raw, fast, make_bundle
    op = DOC["paths"]["/api/v1/firmware"]["post"]
    b = fast(Bench())
    b.plug(882)                                          # a session: the install waits for its end
    r = call_raw(b, "POST", "firmware", make_bundle(VERSION_NEW), auth=False)
    check(op, r.status_code, r.json)
    assert r.status_code == 401
    b.login(PW)
    for data, code in ((make_bundle(VERSION_NEW, damage=True), 400), (b"", 400)):
        r = call_raw(b, "POST", "firmware", data)
        check(op, r.status_code, r.json)
        assert r.status_code == code

    async def upload_twice():
        first = await b.client.request("POST", "/api/v1/firmware", body=make_bundle(VERSION_NEW),
                                       headers={"Authorization": b.auth})
        second = await b.client.request("POST", "/api/v1/firmware", body=make_bundle("9.9.10"),
                                        headers={"Authorization": b.auth})
        return first, second
    first, second = asyncio.run(upload_twice())
    check(op, first.status_code, first.json)
    check(op, second.status_code, second.json)
    assert (first.status_code, first.json["install"], second.status_code) == (200, "when the session ends", 409)

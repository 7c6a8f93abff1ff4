# The Wi-Fi set-up page (docs/network.md): served by the web service while the set-up access point is
# up and no network is joined: on first boot, and when the configured network cannot be joined
# (evse/shell/net.py reopens the access point). Imported with the web service on a board with Wi-Fi.
# The network's name and password are saved by the console's own `set` (one validation, one save);
# the Wi-Fi (evse/shell/net.py) reads them on its next poll and joins at once, the access point
# staying up until it has. Who may: whoever joined the WPA2 access point (its password is the gate),
# and, when a web_password is set, only with it, as for every change. Once joined: 404 for everyone.
from ..shell.hal import ticks_ms

PATH = "/setup"
PAGE = """<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content="width=device-width">
<title>evse: Wi-Fi</title><main><h1>Join a Wi-Fi network</h1><form id=f>
<p><label>Network name <input name=ssid maxlength=32 required></label>
<p><label>Password <input name=password type=password maxlength=64></label>
<p><label>Web password (if one is set) <input name=web type=password></label>
<p><button>Join</button></form><p id=m role=status></p></main><script>
var f=document.getElementById('f'),m=document.getElementById('m');
function show(t){m.textContent=t}
function poll(){fetch('/setup/net').then(function(r){return r.json()}).then(function(n){
if(n.ip){show('Joined '+n.ssid+': the charger is at http://'+n.ip+'/ . This access point closes in a minute: '
+'join '+n.ssid+' again and open that address.');return}
show(n.wifi=='connecting'?'Joining '+n.ssid+'...':'Not joined yet ('+n.wifi+'): check the password and send it again.');
setTimeout(poll,2000)}).catch(function(){setTimeout(poll,2000)})}
f.onsubmit=function(e){e.preventDefault();var h={'Content-Type':'application/json'};
if(f.web.value)h.Authorization='Basic '+btoa('web:'+f.web.value);
fetch('/setup',{method:'POST',headers:h,body:JSON.stringify({ssid:f.ssid.value,password:f.password.value})})
.then(function(r){return r.json()}).then(function(r){show(r.ok?r.next:r.error);if(r.ok)poll()})}
</script>"""


def setup_net(st):
    """The Wi-Fi part of the status while the set-up access point is up, else None."""
    n = st.get("net")
    return n if n is not None and "setup_ap" in n else None


def is_open(st):
    n = setup_net(st)
    return n is not None and n["wifi"] != "connected"


class Setup:
    def __init__(self, app, http, check, ask, body):
        """await check(req): None or the refusal (web_password); ask(req_obj): the console's (reply,
        code); body(req): the request's JSON object (web.py's own)."""
        self.app, self.check, self.ask, self.body = app, check, ask, body
        http.route(PATH)(self._page)
        http.route(PATH, methods=["POST"])(self._save)
        http.route(PATH + "/net")(self._net)
        http.errorhandler(404)(self._elsewhere)

    def _status(self):
        return self.app.status(ticks_ms())

    async def _page(self, req):
        if not is_open(self._status()):
            return "no set-up: the charger has joined its network", 404
        from .web import PAGE_HEADERS      # loaded already: the set-up page is served by it
        h = dict(PAGE_HEADERS)             # its form takes passwords: framed by no other site, nor kept
        h["Content-Type"] = "text/html; charset=utf-8"
        h["Cache-Control"] = "no-store"
        return PAGE, 200, h

    async def _elsewhere(self, req):
        """While set-up is open, any other address (a phone's captive-portal check) leads to the page."""
        if is_open(self._status()):
            return "", 302, {"Location": PATH}
        return "not found", 404

    async def _net(self, req):
        n = setup_net(self._status())
        if n is None:
            return {"ok": False, "error": "the set-up access point is closed"}, 404
        r = {"ok": True, "wifi": n["wifi"], "ssid": n["ssid"]}
        if "ip" in n:
            r["ip"] = n["ip"]
        return r

    async def _save(self, req):
        if not is_open(self._status()):
            return {"ok": False, "error": "no set-up: the charger has joined its network"}, 404
        if self.app.cfg["web_password"]:
            bad = await self.check(req)
            if bad is not None:
                return bad
        try:
            body = self.body(req)
        except ValueError as e:
            return {"ok": False, "error": str(e)}, 400
        ssid = body.get("ssid")
        if ssid == "" or ssid is None:
            return {"ok": False, "error": "give the network's name (ssid)"}, 400
        r, code = self.ask({"cmd": "set", "values": {"wifi_ssid": ssid,
                                                     "wifi_password": body.get("password", "")}})
        if code == 200:
            r = {"ok": True, "next": "saved: the charger joins %s now. This page says when it has, "
                                     "and its address there" % ssid}
        return r, code

# The web page over HTTPS (the setting web_tls, docs/web.md): the server's TLS context from the
# certificate and key on flash, and plain http:// on REDIRECT_PORT sending a browser on to https://.
# Imported by evse.services.web only when web_tls is on: off, it costs no heap.
from microdot import Response

CERT = "certs/web_cert.pem"      # the page's certificate (its chain after it) and key on flash, PEM or DER
KEY = "certs/web_key.pem"
REDIRECT_PORT = 80               # with HTTPS on another port, plain http:// here only redirects to it


def context(app, cert, key, port):
    """(server TLS context or None, what the status says). A certificate or key missing or damaged
    is said in the status and the log, and the page is served over plain http:// rather than not
    at all (the owner could not reach the charger to mend it)."""
    from ..shell.tls import make_server_context, SlowKey
    try:
        return make_server_context(cert, key), "on"
    except SlowKey as e:          # named as the owner put it on the flash
        why = "failed: %s; serving plain http:// on port %d" % (str(e).replace(key, KEY), port)
    except Exception as e:
        why = "failed: %s and %s missing or damaged (%r); serving plain http:// on port %d" % (
            CERT, KEY, e, port)
    app.report("web", "https " + why)
    return None, why


async def redirects(app, port):
    """Plain http:// on REDIRECT_PORT (unless HTTPS is there itself), for a browser given the
    charger's bare address: a GET is sent on to the same path over HTTPS; nothing else is answered
    (no password accepted in the clear). Temporary (302): a browser does not keep redirecting once
    web_tls is off."""
    if port == REDIRECT_PORT:
        return
    from .web import _Http            # its connections bounded as the page's (CONN_MAX, IDLE_S, HEAD_MAX)
    r = _Http()

    async def moved(req, path=""):
        url = https_url(req.headers.get("Host"), port, req.url)
        return ("give the Host", 400) if url is None else Response.redirect(url)
    r.route("/")(moved)
    r.route("/<path:path>")(moved)
    try:
        await r.start_server(host="0.0.0.0", port=REDIRECT_PORT)
    except OSError as e:       # the port taken: https:// still works, typed in full
        app.report("web", "no http:// redirect on port %d: %r" % (REDIRECT_PORT, e))


def https_url(host, port, url):
    """https://HOST[:port]URL for the Host header of a plain request (its port dropped), or None."""
    if not host:
        return None
    i = host.rfind(":")
    if i > host.rfind("]"):           # a port (an IPv6 literal [::1] has colons of its own)
        host = host[:i]
    return "https://%s%s%s" % (host, "" if port == 443 else ":%d" % port, url)

# The OCPP Basic auth password and security profile rules (OCPP 1.6 security whitepaper), apart
# from limits.py: only a URL or a password that is set needs them (settings, OCPP, the web's
# password), so a charger with neither never loads them.
from micropython import const

# --- OCPP Basic auth password (OCPP 1.6 security whitepaper, profiles 1 and 2) ---
_PASSWORD_MIN = const(16)
_PASSWORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-_=:+|@."


def security_profile_error(url, profile, password):
    """Why an OCPP security profile cannot be met with this URL and Basic auth password, or None
    (the settings' check and the SecurityProfile key's)."""
    if profile >= 2 and not url.startswith("wss://"):
        return "ocpp_security_profile %d needs a wss:// ocpp_url" % profile
    if profile in (1, 2) and not password:
        return "ocpp_security_profile %d needs an ocpp_password" % profile
    return None


def password_error(v):
    """Why v is no Basic auth password (ocpp_password, web_password), or None."""
    if not _PASSWORD_MIN <= len(v) <= 40 or any(c not in _PASSWORD_CHARS for c in v):
        return "must be %d-40 characters of a-z A-Z 0-9 %s" % (_PASSWORD_MIN, _PASSWORD_CHARS[62:])
    return None

# An RSA private key on the RP2040 (the web page's HTTPS key, OCPP security profile 3's client key):
# one signature is one mbedtls call of about 4.2 s there (measured on the emulated chip, MicroPython
# v1.28 with its mbedtls), past the watchdog's 2 s, so every handshake would reset the board. Such a
# key is refused with a plain reason before any TLS is set up; an EC P-256 key (0.29 s) is taken,
# and on other CPUs (the ESP32's big-number hardware, a PC) an RSA key too. Runs on CPython and on
# the MicroPython unix port (the key's form read by the firmware's own code, PEM or DER).
import binascii
import os

from evse.ocpp import x509
from evse.shell import tls

import upytest

# Test keys (RSA-1024 and EC P-256; a key's form is what is read, not its size)
KEYS = {
    "rsa_pkcs1": (
        "3082025d02010002818100e2d43b46753961c5812dc2b735fc761f268aeab6df93e78db822f234e3e1b7d61ec80a4383"
        "967dd322c5a794ce18d2281fd217258b8a9da900f424aad8e84c628318592596ebba5267abcd2fbdb66cb06574364c3f"
        "042f8f1fb0ce168c87ffeb8d0480773257cfad69b32d2b825ea28f9cc7827cc55a1623822d9b880f16cffb0203010001"
        "0281802c3395557694770408d7450174c8bcaff74fcccb54283b503798bfc024c42091de2fb7284ee52da1ce3ddc1938"
        "4c47efbfbbadfd08033c13e9f6a98a8d783f21f96089c016ae84a194c56f31e06bc23897aa54de5e102296e58a7771ea"
        "8e081aae0f99d5606542039221df1ec14f0316308a331836cc4ae7b354e99f486d8e21024100f5c0cf24de9c0cf92290"
        "353f15641a85dddae1b2ddb93269490a9e2686771d5c7fb82aa4bb6679db5947d062654d12897d3a5b8638ed35b0b9f2"
        "353f18e381ab024100ec496caf10fae0f6b2d6095eef5ead15c8f2d29210999d2b72d5f4acf8c6e2581587fe1573a99f"
        "e44d72e4fb4c75ec0c62890cdb0c629450e691891eb99b3af1024100831b08a77fc73ab892b2e265343142611659963d"
        "0942aadd36655eb7e8d695286acec2993d8ccf07b15ab99634bae85fc71a2207ba48fa72bcd0b58d62e6c49f02403c62"
        "173035faa6fae480e62c28a7dd3baffabded2de8d3cd82af42b3e16f91f048b054324f388defde0afa916ddcc4d1f56c"
        "68a8a1e59f597d52bbe3ea32cd41024100c1ada1eeede2f0e265e5ed57e8d5929d22d9baef9a62da49ca9eb4559388db"
        "dac49585921f966531f05cf6d64a261ca93c76a7169c14cd0670198ed2f3b9a4ee"
    ),
    "rsa_pkcs8": (
        "30820277020100300d06092a864886f70d0101010500048202613082025d02010002818100e2d43b46753961c5812dc2"
        "b735fc761f268aeab6df93e78db822f234e3e1b7d61ec80a4383967dd322c5a794ce18d2281fd217258b8a9da900f424"
        "aad8e84c628318592596ebba5267abcd2fbdb66cb06574364c3f042f8f1fb0ce168c87ffeb8d0480773257cfad69b32d"
        "2b825ea28f9cc7827cc55a1623822d9b880f16cffb02030100010281802c3395557694770408d7450174c8bcaff74fcc"
        "cb54283b503798bfc024c42091de2fb7284ee52da1ce3ddc19384c47efbfbbadfd08033c13e9f6a98a8d783f21f96089"
        "c016ae84a194c56f31e06bc23897aa54de5e102296e58a7771ea8e081aae0f99d5606542039221df1ec14f0316308a33"
        "1836cc4ae7b354e99f486d8e21024100f5c0cf24de9c0cf92290353f15641a85dddae1b2ddb93269490a9e2686771d5c"
        "7fb82aa4bb6679db5947d062654d12897d3a5b8638ed35b0b9f2353f18e381ab024100ec496caf10fae0f6b2d6095eef"
        "5ead15c8f2d29210999d2b72d5f4acf8c6e2581587fe1573a99fe44d72e4fb4c75ec0c62890cdb0c629450e691891eb9"
        "9b3af1024100831b08a77fc73ab892b2e265343142611659963d0942aadd36655eb7e8d695286acec2993d8ccf07b15a"
        "b99634bae85fc71a2207ba48fa72bcd0b58d62e6c49f02403c62173035faa6fae480e62c28a7dd3baffabded2de8d3cd"
        "82af42b3e16f91f048b054324f388defde0afa916ddcc4d1f56c68a8a1e59f597d52bbe3ea32cd41024100c1ada1eeed"
        "e2f0e265e5ed57e8d5929d22d9baef9a62da49ca9eb4559388dbdac49585921f966531f05cf6d64a261ca93c76a7169c"
        "14cd0670198ed2f3b9a4ee"
    ),
    "ec_sec1": (
        "30770201010420161589bedd49e16c1c78bfe7adbe35ac1a045dc2696220a427f5eb1825cda8d8a00a06082a8648ce3d"
        "030107a1440342000495cb1df568fa1dc44fbc758bedf525360b7c09758548d72a676d12715ba706f52b2bc95c7bef0b"
        "55ba63933d24e50dc98b9b71e4c91e7c1beec19c0f20dd3ec5"
    ),
    "ec_pkcs8": (
        "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420161589bedd49e16c1c78bfe7"
        "adbe35ac1a045dc2696220a427f5eb1825cda8d8a1440342000495cb1df568fa1dc44fbc758bedf525360b7c09758548"
        "d72a676d12715ba706f52b2bc95c7bef0b55ba63933d24e50dc98b9b71e4c91e7c1beec19c0f20dd3ec5"
    ),
}
RP2040 = "Raspberry Pi Pico W with RP2040"
ESP32 = "Generic ESP32 module with ESP32"
DIR = "/tmp/evse-tls-keys-%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/evse-tls-keys"


# What openssl's pkcs12 export writes before a key's PEM block
BAG = b"Bag Attributes\n    localKeyID: 01 00 00 00 \nKey Attributes: <No Attributes>\n"


def key_files():
    """(path, is RSA) for each key as DER, as PEM, and as PEM after openssl's attribute lines,
    written once."""
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    labels = {"rsa_pkcs1": "RSA PRIVATE KEY", "rsa_pkcs8": "PRIVATE KEY",
              "ec_sec1": "EC PRIVATE KEY", "ec_pkcs8": "PRIVATE KEY"}
    out = []
    for name in sorted(KEYS):
        der = binascii.unhexlify("".join(KEYS[name]))
        pem = x509.to_pem(der, labels[name]).encode()
        for form, data in (("der", der), ("pem", pem), ("bag", BAG + pem)):
            path = "%s/%s.%s" % (DIR, name, form)
            with open(path, "wb") as f:
                f.write(data)
            out.append((path, name.startswith("rsa")))
    return out


def on(cpu, fn):
    """fn() with the firmware told it runs on `cpu`."""
    was = tls.machine_name
    tls.machine_name = lambda: cpu
    try:
        return fn()
    finally:
        tls.machine_name = was


def refused(path, cpu):
    try:
        on(cpu, lambda: tls.check_key(path))
    except tls.SlowKey as e:
        return str(e)
    return None


def test_each_form_of_rsa_key_is_told_from_an_ec_one():
    for path, rsa in key_files():
        with open(path, "rb") as f:
            assert tls.is_rsa_key(tls.pem_to_der(f.read())) == rsa, path


def test_an_rsa_key_is_refused_on_the_rp2040_with_the_reason():
    for path, rsa in key_files():
        why = refused(path, RP2040)
        if rsa:
            assert why is not None and path in why and "RP2040" in why and "EC P-256" in why, why
        else:
            assert why is None, (path, why)


def test_any_key_is_taken_where_the_cpu_signs_in_time():
    for path, rsa in key_files():
        assert refused(path, ESP32) is None and refused(path, "") is None


def test_the_web_page_and_ocpp_contexts_refuse_it_before_any_tls():
    rsa = DIR + "/rsa_pkcs1.pem"
    key_files()
    for make in (lambda: tls.make_server_context(DIR + "/no-cert.pem", rsa),
                 lambda: tls.make_tls_context(None, DIR + "/no-cert.pem", rsa)):
        try:
            on(RP2040, make)
            assert False, "taken"
        except tls.SlowKey:
            pass


if __name__ == "__main__":
    upytest.run(globals())

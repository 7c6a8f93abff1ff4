# The firmware's version, defined once for the whole project: OCPP BootNotification, the console's
# help reply and package.json (tools/flash.py --package-json reads it from this file).
VERSION = "0.1.0"

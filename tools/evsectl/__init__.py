"""Host side of the JSON-lines console (docs/console.md): `python -m tools.evsectl --help`."""
from tools.evsectl.link import Link, LinkError, open_port  # noqa: F401

"""What the web service needs on flash: PyPI's microdot (from build/microdot, installed by
`make microdot`, never in the repository) and the page, gzipped, small, the same bytes every build."""
import gzip
import os

from tools import flash as F, webfiles

ROOT = F.ROOT
PAGE_GZ_MAX = 8192          # bytes on flash for the whole page (HTML, CSS and JS inline)


def test_flash_brings_microdot_and_the_gzipped_page():
    files = dict((dst, src) for src, dst in F.build("esp32_devkitc"))
    for f in webfiles.MICRODOT_FILES:
        assert "lib/microdot/" + f[:-3] + ".mpy" in files
    gz = files[webfiles.PAGE_ON_FLASH]
    with open(gz, "rb") as f:
        data = f.read()
    assert len(data) < PAGE_GZ_MAX
    with open(webfiles.PAGE_SRC, "rb") as f:
        assert gzip.decompress(data) == f.read()


def test_the_page_is_the_same_bytes_every_build(tmp_path):
    a = webfiles.page_gz(str(tmp_path / "a.gz"))
    b = webfiles.page_gz(str(tmp_path / "b.gz"))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_microdot_is_not_in_the_repository():
    for d, _, names in os.walk(os.path.join(ROOT, "firmware")):
        assert "microdot.py" not in names and os.path.basename(d) != "microdot"


def test_manifest_freezes_microdot_from_the_installed_package():
    calls = []
    ns = {"__file__": os.path.join(ROOT, "manifest.py")}
    for fn in ("include", "package", "module", "require", "freeze"):
        ns[fn] = (lambda name: lambda *a, **k: calls.append((name, a, k)))(fn)
    with open(os.path.join(ROOT, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), ns)
    md = [c for c in calls if c[0] == "package" and c[1][0] == "microdot"]
    assert md and md[0][2]["base_path"] == webfiles.MICRODOT_DIR
    assert sorted(md[0][2]["files"]) == sorted(webfiles.MICRODOT_FILES)

"""The member check, versions and index answers of `videohub.distribution`, on small archives made here (the
end-to-end run with a real server and the stock client is tests/hub/test_index.py)."""
import io
import json
import tarfile
from pathlib import Path

import pytest

from videohub.distribution.archive import UnsafeArchiveError, check_archive, safe_extract
from videohub.distribution.index import build_index, search, write_index
from videohub.distribution.server import IndexApp
from videohub.distribution.versions import in_range, matches, parse_range

MODULE_PY = '''from paddlehub.module.module import moduleinfo


@moduleinfo(name="{name}", version="{version}", summary="{summary}", author="me", author_email="",
            type="video/classification", meta=object)
class M:
    pass
'''


def _archive(path: Path, name="demo", version="1.0.0", summary="a demo video module", extra=(), card=None):
    """extra: (TarInfo fields dict, bytes) members added after module.py."""
    with tarfile.open(path, "w:gz") as tar:
        for member, data in [({"name": f"{name}/module.py"},
                               MODULE_PY.format(name=name, version=version, summary=summary).encode()),
                              *([({"name": f"{name}/card.json"}, json.dumps(card).encode())] if card else []),
                              *extra]:
            info = tarfile.TarInfo(member["name"])
            for k, v in member.items():
                setattr(info, k, v)
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


@pytest.mark.parametrize("member, why", [
    ({"name": "/etc/evil"}, "has an absolute path"),
    ({"name": "demo/../../evil"}, "has a '..' path component"),
    ({"name": "demo//x"}, "has an empty or '.' path component"),
    ({"name": "demo\\..\\x"}, "has a backslash"),
    ({"name": "demo/link", "type": tarfile.SYMTYPE, "linkname": "/tmp"}, "is a symbolic link"),
    ({"name": "demo/inside", "type": tarfile.SYMTYPE, "linkname": "module.py"}, "is a symbolic link"),
    ({"name": "demo/hard", "type": tarfile.LNKTYPE, "linkname": "demo/module.py"}, "is a hard link"),
    ({"name": "demo/fifo", "type": tarfile.FIFOTYPE}, "is not a regular file or folder"),
    ({"name": "demo/suid", "mode": 0o4755}, "setuid"),
    ({"name": "other/x"}, "more than one top-level folder"),
])
def test_member_check_refuses_what_could_escape_or_surprise(tmp_path, member, why):
    path = _archive(tmp_path / "a.tar.gz", extra=[(member, b"x")])
    with pytest.raises(UnsafeArchiveError, match="^a.tar.gz: ") as err:
        safe_extract(path, tmp_path / "out")
    assert why in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_good_archive_unpacks_and_declares_its_module(tmp_path):
    card = {"requires": {"paddle_version": "[3.0.0, 3.9.0]"}}
    facts, folder = safe_extract(_archive(tmp_path / "a.tar.gz", version="1.2", card=card), tmp_path / "out")
    assert (facts.name, facts.version, facts.author, facts.weights) == ("demo", "1.2", "me", False)
    assert facts.requires == card["requires"] and (folder / "module.py").is_file()


@pytest.mark.parametrize("make, why", [
    (lambda p: p.write_bytes(b"not an archive"), "not a readable module archive"),
    (lambda p: p.write_bytes(_archive(p).read_bytes()[:-40]), "not a readable module archive"),  # truncated
    (lambda p: _tar_named(p, "demo", "other"), "module.py declares the module 'other'"),
    (lambda p: _archive(p, version="1.0.0-beta"), "not dotted numbers"),
])
def test_broken_or_mislabelled_archives_are_refused(tmp_path, make, why):
    path = tmp_path / "a.tar.gz"
    make(path)
    with pytest.raises(UnsafeArchiveError, match=why):
        check_archive(path)


def _tar_named(path: Path, folder: str, declared: str) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = MODULE_PY.format(name=declared, version="1.0.0", summary="s").encode()
        info = tarfile.TarInfo(f"{folder}/module.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_versions_conditions_and_ranges_read_like_paddlehub():
    assert matches("1.0.0", "1.0") and matches("1.0.0", "==1.0.0") and matches("1.1.0", ">=1.0,<2")
    assert not matches("1.1.0", "<=1.0.9") and matches("2.0", None) and not matches("1.10", "<1.9")
    assert parse_range("[3.0.0, 99.0.0]") == ((3,), None) and parse_range("[-1.0.0, 2.1.0]") == (None, (2, 1))
    assert in_range("3.3.1", "[3.0.0, 99.0.0]") and not in_range("2.1.0", "[3.0.0, 99.0.0]")
    assert in_range("3.0.0rc1", "[3.0.0, 3.0.0]") and in_range("2.4.0", "")
    with pytest.raises(ValueError):
        matches("1.0", ">=one")


def test_index_leaves_out_refused_and_duplicate_archives_and_search_picks_the_newest(tmp_path):
    _archive(tmp_path / "demo-1.0.0.tar.gz", version="1.0.0")
    _archive(tmp_path / "demo-1.1.0.tar.gz", version="1.1.0", card={"requires": {"paddle_version": "[3.1.0, 99.0.0]"}})
    _archive(tmp_path / "zzz-copy.tar.gz", version="1.1")  # the same version again
    _archive(tmp_path / "other-1.0.0.tar.gz", name="other", summary="features (c++)")
    _archive(tmp_path / "evil.tar.gz", extra=[({"name": "/abs"}, b"")])
    index, refused = build_index(tmp_path)
    assert [(e["name"], e["version"]) for e in index["modules"]] == [("demo", "1.0.0"), ("demo", "1.1.0"),
                                                                        ("other", "1.0.0")]
    assert [r.split(":")[0] for r in refused] == ["evil.tar.gz", "zzz-copy.tar.gz"]
    entries = index["modules"]
    assert [e["version"] for e in search(entries, "demo")] == ["1.1.0"]
    assert [e["version"] for e in search(entries, "demo", paddle_version="3.0.0")] == ["1.0.0"]
    assert [e["name"] for e in search(entries, "c++")] == ["other"]          # not a regex: searched literally
    assert [e["name"] for e in search(entries, "OTHER")] == ["other"]
    assert [e["name"] for e in search(entries, "^dem")] == ["demo"]
    assert [e["name"] for e in search(entries, "other|demo")] == ["demo", "other"]


def test_the_server_publishes_only_archives_that_match_the_index(tmp_path):
    good = _archive(tmp_path / "demo-1.0.0.tar.gz")
    _archive(tmp_path / "other-1.0.0.tar.gz", name="other")
    index, _ = build_index(tmp_path)
    index["modules"][1]["sha256"] = "0" * 64                      # the index and the file disagree
    index["modules"].append({**index["modules"][0], "file": "../demo-1.0.0.tar.gz", "version": "2.0.0"})
    write_index(tmp_path, index)
    logged = []
    app = IndexApp(tmp_path, base_url="http://hub.example", log=logged.append)
    assert [e["name"] for e in app.index.entries()] == ["demo"]
    assert any("other-1.0.0.tar.gz: its sha256" in line for line in logged)
    assert any("not a file of this folder" in line for line in logged)

    def get(path, query=""):
        status = []
        body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query},
                            lambda s, h: status.append(int(s.split()[0]))))
        return status[0], body

    status, body = get("/search", "word=demo&paddle_version=3.3.1&hub_version=2.4.0")
    assert status == 200 and json.loads(body)["data"][0]["url"] == "http://hub.example/archives/demo-1.0.0.tar.gz"
    assert get("/archives/demo-1.0.0.tar.gz") == (200, good.read_bytes())
    good.write_bytes(good.read_bytes() + b"\0")                  # changed after it was indexed
    status, body = get("/archives/demo-1.0.0.tar.gz")
    assert status == 409 and "refusing to serve it" in json.loads(body)["msg"]
    assert get("/archives/other-1.0.0.tar.gz")[0] == 404

"""A full disk raises StorageFullError, keeps every committed row, and recovers once space is freed.

The data folder sits on a real 2 MiB tmpfs (the machine runs the tests as root). Where mounting is
not allowed, the same SQLite SQLITE_FULL path is reached through the database size cap
(``storage.max_db_mb``), and "freeing space" raises the cap. Both paths run when mounting works.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware.config import Paths, StorageConfig
from firmware.errors import StorageFullError
from firmware.store.db import open_plain
from firmware.store.store import Store

DETAILS = "x" * 4096


def try_mount(target: Path) -> bool:
    target.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(target)], capture_output=True
    )
    return done.returncode == 0


@dataclass
class FullDisk:
    """A data folder that fills up at about 1 MiB, and a way to free space."""

    paths: Paths
    storage: StorageConfig
    free: Callable[[], StorageConfig]


@pytest.fixture(params=["tmpfs", "size-cap"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FullDisk]:
    mount = tmp_path / "disk"
    if request.param == "size-cap" or not try_mount(mount):
        mount.mkdir(exist_ok=True)
        request.node.user_properties.append(("full_disk", "max_db_mb"))
        yield FullDisk(Paths(mount / "data"), StorageConfig(max_db_mb=1), lambda: StorageConfig(max_db_mb=4))
        return
    request.node.user_properties.append(("full_disk", "tmpfs"))
    ballast = mount / "ballast"
    ballast.write_bytes(b"\0" * (256 * 1024))

    def free() -> StorageConfig:
        ballast.unlink()  # as the retention job or an operator would
        return StorageConfig()

    try:
        yield FullDisk(Paths(mount / "data"), StorageConfig(), free)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(store: Store) -> tuple[list[int], StorageFullError]:
    acked: list[int] = []
    for n in range(10_000):
        try:
            acked.append(store.log_system_event("fill", f"{n}:{DETAILS}"))
        except StorageFullError as err:
            return acked, err
    raise AssertionError("the disk never filled up")


def rows(paths: Paths) -> list[str]:
    conn = open_plain(paths.database)
    try:
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        return [
            str(r[0]).split(":")[0] for r in conn.execute("SELECT details FROM system_events WHERE event_type = 'fill'")
        ]
    finally:
        conn.close()


def test_full_disk_keeps_committed_rows(full_disk: FullDisk) -> None:
    paths, storage = full_disk.paths, full_disk.storage
    store = Store.open(paths, storage)
    acked, err = fill(store)
    assert isinstance(err, OSError)
    assert "full" in str(err)
    assert len(acked) > 10
    with pytest.raises(StorageFullError):  # still full: refused again, not half-written
        store.log_system_event("fill", f"late:{DETAILS}")
    store.close()

    kept = rows(paths)
    assert kept == [str(n) for n in range(len(acked))], "committed rows lost or a failed row kept"
    with Store.open(paths, full_disk.free()) as again:
        again.log_system_event("after", "space freed")
        with again.reader() as conn:
            assert conn.execute("SELECT count(*) FROM system_events WHERE event_type = 'after'").fetchone()[0] == 1


def test_full_disk_fails_a_whole_group_of_callers(full_disk: FullDisk) -> None:
    paths, storage = full_disk.paths, full_disk.storage
    store = Store.open(paths, storage)
    acked: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def caller(t: int) -> None:
        for n in range(2000):
            try:
                store.log_system_event("fill", f"{t}-{n}:{DETAILS}")
            except Exception as err:
                with lock:
                    failures.append(err)
                return
            with lock:
                acked.append(f"{t}-{n}")

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert len(failures) == 8 and all(isinstance(f, StorageFullError) for f in failures), failures
    full_disk.free()
    assert sorted(rows(paths)) == sorted(acked)


def test_ballast_is_released_once_and_the_event_recorded(tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    if not try_mount(mount):
        pytest.fail("this test needs a tmpfs mount (run as root, as CI does)")
    try:
        paths = Paths(mount / "data")
        store = Store.open(paths, StorageConfig(ballast_kib=128))
        assert paths.ballast.exists() and paths.ballast.stat().st_blocks * 512 >= 128 * 1024  # really allocated
        acked, err = fill(store)
        assert isinstance(err, StorageFullError)
        assert not paths.ballast.exists()
        store.close()
        conn = open_plain(paths.database)
        try:
            full_events = list(conn.execute("SELECT details FROM system_events WHERE event_type = 'disk_full'"))
        finally:
            conn.close()
        assert len(full_events) == 1 and "released 131072 bytes" in str(full_events[0][0])
        assert rows(paths) == [str(n) for n in range(len(acked))]
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)

"""The local object store measured as docs/media.md quotes it: moto's S3 server started
the way the local stack starts it (Stack.start_objectstore, its requests recorded), a
20 MiB object put and read back through socialdesk.objectstore, the server stopped and
started again (the recording replayed), and what survived.

    .venv/bin/python bench/objectstore_bench.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from socialdesk.objectstore import ObjectStore, ObjectStoreSettings
from socialdesk_tools.stack import Stack, StackPorts, free_port, port_open, wait_for

MIB = 1024 * 1024


async def plain_moto() -> None:
    """moto's server as it comes (in memory, no recorder): what a restart keeps."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = free_port()

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: port_open(port), 30, "moto")
        return proc

    proc = start()
    store = ObjectStore(ObjectStoreSettings(s3_endpoint_url=f"http://127.0.0.1:{port}"))
    body = os.urandom(20 * MIB)
    t = time.perf_counter()
    await store.put("attachments/a/i/big", body, "image/jpeg")
    put = time.perf_counter() - t
    t = time.perf_counter()
    got = await store.get("attachments/a/i/big")
    get = time.perf_counter() - t
    print(f"plain moto: put 20 MiB {put:.2f} s, get {get:.2f} s, equal: {got and got.body == body}")
    proc.terminate()
    proc.wait()
    proc = start()
    again = ObjectStore(ObjectStoreSettings(s3_endpoint_url=f"http://127.0.0.1:{port}"))
    print(f"plain moto after restart: {len(await again.list_prefix('attachments/'))} objects")
    proc.terminate()
    proc.wait()


async def measure(stack: Stack) -> None:
    started = time.perf_counter()
    stack.start_objectstore()
    print(f"start (empty): {time.perf_counter() - started:.2f} s")
    store = ObjectStore(ObjectStoreSettings(s3_endpoint_url=stack.objectstore_url))
    body = os.urandom(20 * MIB)
    t = time.perf_counter()
    await store.put("attachments/a/i/big", body, "image/jpeg")
    put = time.perf_counter() - t
    t = time.perf_counter()
    got = await store.get("attachments/a/i/big")
    get = time.perf_counter() - t
    assert got is not None and got.body == body
    print(f"put 20 MiB: {put:.2f} s, get 20 MiB: {get:.2f} s, bytes equal: {got.body == body}")
    for n in range(200):
        await store.put(f"attachments/b/i/{n}", os.urandom(100 * 1024), "image/png")
    await store.put("attachments/c/i/gone", b"x", "image/png")
    print(f"delete_prefix: {await store.delete_prefix('attachments/c/')} object(s)")
    recording = stack.objectstore_dir / "recording.jsonl"
    print(f"recording: {recording.stat().st_size / MIB:.1f} MiB for 39.5 MiB stored")

    stack.stop_objectstore()
    t = time.perf_counter()
    proc = stack.start_objectstore()
    print(f"restart with replay: {time.perf_counter() - t:.2f} s")
    again = ObjectStore(ObjectStoreSettings(s3_endpoint_url=stack.objectstore_url))
    kept = await again.get("attachments/a/i/big")
    left = await again.list_prefix("attachments/")
    print(
        f"after restart: 20 MiB object equal: {kept is not None and kept.body == body}; "
        f"{len(left)} objects (201 expected); deleted stays deleted: "
        f"{await again.head('attachments/c/i/gone') is None}"
    )
    if proc is not None:
        status = Path(f"/proc/{proc.pid}/status").read_text()  # noqa: ASYNC240 - once
        peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
        print(f"moto server peak RSS after the replay: {peak:.0f} MiB")
    stack.stop_objectstore()


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(plain_moto())
        asyncio.run(measure(Stack(Path(root), ports=StackPorts.free())))


if __name__ == "__main__":
    main()

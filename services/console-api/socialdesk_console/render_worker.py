"""Reply templates rendered in worker processes, never on the console's event loop.

An edited template is hostile input: a nested loop can burn seconds of CPU, and Python
cannot stop a thread. So each render goes to a small pool of child processes (`python -m
socialdesk_console.render_worker`, one JSON line in, one out); a render that passes its
time limit has its process killed and replaced, and the caller gets a TemplateProblem.
The child also caps its own memory and output (replies.render_limited), runs at a lower
CPU priority than the services, and never writes the template or its variables anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from typing import Any

from socialdesk_console.replies import TemplateProblem

log = logging.getLogger(__name__)

RENDER_TIMEOUT_S = 1.0
SPAWN_TIMEOUT_S = 60.0  # a cold start on a loaded 2-core machine takes seconds
WORKER_MEMORY_BYTES = 512 * 1024 * 1024
_LINE_LIMIT = 4 * 1024 * 1024


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, request: bytes) -> bytes:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(request)
        await self.proc.stdin.drain()
        return await self.proc.stdout.readline()

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), timeout=5)


class TemplateRenderer:
    """Renders template sources in `workers` child processes, each request limited to
    `timeout_s` once a worker is ready; callers beyond the pool's size wait their turn
    (that wait counts). Starting a worker does not count: on a busy machine a fresh
    Python process can take seconds to import, and that is not the template's fault."""

    def __init__(self, workers: int = 2, timeout_s: float = RENDER_TIMEOUT_S) -> None:
        self.size = workers
        self.timeout_s = timeout_s
        self._idle: asyncio.Queue[_Worker] | None = None
        self._started = 0
        self._lock = asyncio.Lock()
        self.killed = 0

    def _queue(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
        return self._idle

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "socialdesk_console.render_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        worker = _Worker(proc)
        try:
            assert proc.stdout is not None
            ready = await asyncio.wait_for(proc.stdout.readline(), SPAWN_TIMEOUT_S)
            if json.loads(ready or b"{}").get("ready") is not True:
                raise OSError("the template renderer did not start")
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def _reserve(self, only_if_none_idle: bool = True) -> bool:
        """Claim a slot for a new worker if the pool is not full (and, for a caller
        that wants one now, no started worker is idle)."""
        async with self._lock:
            idle_ok = not only_if_none_idle or self._queue().empty()
            if idle_ok and self._started < self.size:
                self._started += 1
                return True
            return False

    async def _new_worker(self) -> _Worker:
        try:
            return await self._spawn()
        except BaseException:
            async with self._lock:
                self._started -= 1
            raise

    async def warm(self) -> None:
        """Start the whole pool now (at start-up), so the first preview does not wait."""
        while await self._reserve(only_if_none_idle=False):
            try:
                worker = await self._new_worker()
            except Exception as exc:
                log.warning("template renderer did not start", extra={"error": repr(exc)})
                return
            self._queue().put_nowait(worker)

    async def _take(self) -> _Worker:
        if await self._reserve():
            try:
                return await self._new_worker()
            except Exception as exc:
                raise TemplateProblem("the template renderer could not start") from exc
        try:
            return await asyncio.wait_for(self._queue().get(), timeout=self.timeout_s)
        except TimeoutError as exc:
            raise TemplateProblem("the template renderer is busy; try again in a moment") from exc

    async def render(self, source: str, variables: dict[str, Any]) -> str:
        """The rendered text, or TemplateProblem for any failure, a time-out included."""
        request = json.dumps({"source": source, "variables": variables}).encode() + b"\n"
        worker = await self._take()
        try:
            line = await asyncio.wait_for(worker.ask(request), self.timeout_s)
            reply = json.loads(line) if line else None
        except (TimeoutError, ValueError, ConnectionError, OSError) as exc:
            await self._replace(worker)
            if isinstance(exc, TimeoutError):
                raise TemplateProblem(
                    f"template took longer than {self.timeout_s:g} s to render; simplify it"
                ) from exc
            raise TemplateProblem("template error: the renderer stopped") from exc
        except BaseException:
            await self._replace(worker)  # cancelled mid-render: the worker may be busy
            raise
        if not isinstance(reply, dict):
            await self._replace(worker)
            raise TemplateProblem("template error: the renderer stopped")
        self._queue().put_nowait(worker)
        if reply.get("ok"):
            return str(reply["text"])
        raise TemplateProblem(str(reply.get("error") or "template error"))

    async def _replace(self, worker: _Worker) -> None:
        self.killed += 1
        await worker.kill()
        async with self._lock:
            self._started -= 1  # the next caller starts a fresh worker

    async def close(self) -> None:
        if self._idle is None:
            return
        while not self._idle.empty():
            await self._idle.get_nowait().kill()


def _serve() -> None:  # pragma: no cover - runs in the child process
    """The child: one JSON request per line on stdin, one JSON answer per line on stdout."""
    import resource
    import signal

    from socialdesk_console.replies import render_limited, sandbox

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    with contextlib.suppress(OSError):
        os.nice(5)
    env = sandbox()
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')  # imports done: renders are timed from here
    out.flush()
    for raw in sys.stdin.buffer:
        try:
            req = json.loads(raw)
            text = render_limited(env, str(req["source"]), dict(req["variables"]))
            answer: dict[str, Any] = {"ok": True, "text": text}
        except TemplateProblem as exc:
            answer = {"ok": False, "error": str(exc)}
        except Exception as exc:  # a malformed request: say so, never echo it
            answer = {"ok": False, "error": f"template error: {type(exc).__name__}"}
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()


if __name__ == "__main__":  # pragma: no cover
    _serve()

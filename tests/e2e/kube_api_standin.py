"""A Kubernetes API to test harness/kube.py against offline: kmock's emulator plus a port-forward stand-in.

REST: kmock 0.8 (PyPI, by Kopf's author), `kmock.KubernetesEmulator`, a real HTTP server that keeps
objects in memory and answers discovery, create, get, list, patch and delete on every built-in
resource path, the way the kubernetes client calls them. It filters nothing by label or field selector
and gives subresources no meaning (`pods/log` is scripted per test with kmock's DSL).

The port-forward stand-in (this file's own code, because kmock serves no websockets): an aiohttp server
in front of kmock that answers `GET /api/v1/namespaces/{ns}/pods/{pod}/portforward?ports=N` with the
`v4.channel.k8s.io` protocol as the kubelet's streaming server speaks it (per port: a data and an error
channel, each opened by a frame carrying the port number little-endian; then `channel byte + payload`
frames; the client's side is kubernetes/stream/ws_client.py PortForward), relaying the data channel to
a TCP address a test assigns to that pod and port, and forwards every other request to kmock.

What none of it can prove: scheduling, a real rollout controller (tests write Deployment status
themselves, as the controller would), kubelet probes, Services routing to endpoints, authentication,
admission, RBAC, or that a real API server accepts the objects: those need a cluster (`make e2e`).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import aiohttp
import kmock
from aiohttp import web
from kubernetes import client

from harness.kube import Cluster

PORTFORWARD_PROTOCOL = "v4.channel.k8s.io"


@dataclass
class KubeApiStandin:
    """kmock's emulator behind the port-forward stand-in, served from a thread of its own."""

    pod_targets: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict)
    url: str = ""

    def start(self) -> KubeApiStandin:
        ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)), daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the Kubernetes API stand-in did not start within 30s")
        return self

    def stop(self) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def cluster(self) -> Cluster:
        return Cluster(client.ApiClient(client.Configuration(host=self.url)))

    def react(self, method_and_path: str, text: str) -> None:
        """Script one plain-text answer of kmock (a pod's log, /readyz), from the test's thread."""
        asyncio.run_coroutine_threadsafe(self._react(method_and_path, text), self._loop).result(10)

    async def _react(self, method_and_path: str, text: str) -> None:
        # text/plain, as the API server answers pods/log and /readyz.
        self.emulator[method_and_path] << kmock.headers({"Content-Type": "text/plain; charset=utf-8"}) << text.encode()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as backend:
            self.emulator = emulator
            self._backend = str(backend.url).rstrip("/")
            app = web.Application()
            app.router.add_get("/api/v1/namespaces/{namespace}/pods/{pod}/portforward", self._portforward)
            app.router.add_route("*", "/{tail:.*}", self._proxy)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            async with aiohttp.ClientSession() as self._session:
                ready.set()
                await self._stopping.wait()
            await runner.cleanup()

    async def _proxy(self, request: web.Request) -> web.Response:
        async with self._session.request(request.method, self._backend + request.rel_url.path_qs,
                                         headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                                         data=await request.read()) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                headers={"Content-Type": answer.headers.get("Content-Type", "application/json")})

    async def _portforward(self, request: web.Request) -> web.WebSocketResponse:
        ports = [int(p) for p in request.query.get("ports", "").split(",") if p]
        socket = web.WebSocketResponse(protocols=(PORTFORWARD_PROTOCOL,))
        await socket.prepare(request)
        if len(ports) != 1:
            await socket.close()
            return socket  # the harness forwards one port per stream; more is not stood in for
        port = ports[0]
        for channel in (0, 1):
            await socket.send_bytes(bytes([channel]) + port.to_bytes(2, "little"))
        target = self.pod_targets.get((request.match_info["namespace"], request.match_info["pod"], port))
        if target is None:
            await socket.send_bytes(b"\x01" + f"error forwarding port {port}: no such pod or port".encode())
            await socket.close()
            return socket
        reader, writer = await asyncio.open_connection(*target)

        async def pod_to_client() -> None:
            while data := await reader.read(65536):
                await socket.send_bytes(b"\x00" + data)
            await socket.close()

        relay = asyncio.ensure_future(pod_to_client())
        async for message in socket:
            if message.type == aiohttp.WSMsgType.BINARY and message.data[:1] == b"\x00":
                writer.write(message.data[1:])
                await writer.drain()
        writer.close()
        relay.cancel()
        return socket

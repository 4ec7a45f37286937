"""A TLS-terminating TCP proxy for tests: TLS (and mTLS with --client-ca) on one side, plaintext to a
server that has none (the Temporal dev server) on the other. It offers ALPN `h2`, which gRPC clients
built on tonic (Temporal's SDK core) insist on, and which Debian's socat 1.7 and stunnel 5.68 do not
negotiate.

    python -m tests.tls_proxy --listen 127.0.0.1:PORT --to 127.0.0.1:PORT --cert C --key K [--client-ca CA]

Prints `ready` once listening; runs until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError, RuntimeError):
            writer.close()


def _split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


async def serve(listen: str, to: str, context: ssl.SSLContext) -> None:
    target_host, target_port = _split(to)

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))

    host, port = _split(listen)
    server = await asyncio.start_server(handle, host, port, ssl=context, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print("ready", flush=True)
        await stop.wait()


def context(cert: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.to, context(args.cert, args.key, args.client_ca)))


@dataclass
class TlsProxy:
    """The proxy as a child process of a test."""

    listen: str
    to: str
    cert: Path
    key: Path
    client_ca: Path | None = None
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def start(self) -> TlsProxy:
        argv = [sys.executable, "-m", "tests.tls_proxy", "--listen", self.listen, "--to", self.to]
        argv += ["--cert", str(self.cert), "--key", str(self.key)]
        if self.client_ca is not None:
            argv += ["--client-ca", str(self.client_ca)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until listening, or EOF if it failed
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"the TLS proxy did not start (exit {self.process.returncode})")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> TlsProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()

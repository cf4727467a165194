"""Serving TLS, with the certificate reloaded when its files change.

``SSLContext.load_cert_chain`` on the live context applies to every handshake after it, so a
renewed certificate (cert-manager, certbot) takes effect without a restart or a dropped
connection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from gatekeeper.errors import ConfigError

log = logging.getLogger("gatekeeper.tls")


class ServerTLS:
    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._stamp = self._file_stamp()
        try:
            self.context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from exc

    def _file_stamp(self) -> tuple[int, int]:
        try:
            return (self.cert.stat().st_mtime_ns, self.key.stat().st_mtime_ns)
        except OSError:
            return (-1, -1)

    def reload(self) -> bool:
        self._stamp = self._file_stamp()
        try:
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            log.error("TLS certificate reload failed, keeping the current one: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.cert)
        return True

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self._file_stamp() != self._stamp:
                self.reload()

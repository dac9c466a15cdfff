"""What a command gets to work with: the server connection (opened on first use) and the output."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TextIO

from droidft.call_options import Tls
from droidft.client import Client


class CommandError(Exception):
    """A problem on the user's side (a missing flag, an unreadable file); printed, exit code 3."""


@dataclass
class Session:
    server: str
    out: TextIO
    token: str | None = field(default=None, repr=False)
    tls: Tls | None = None
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.server, token=self.token, tls=self.tls)
        return self._client

    @property
    def interactive(self) -> bool:
        """True when the output is a terminal, where a progress bar can redraw itself."""
        return self.out.isatty()

    @property
    def width(self) -> int:
        return shutil.get_terminal_size().columns

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

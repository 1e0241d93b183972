"""The send journal: what a worker was doing with its claimed messages when it died.

Why it is built this way, and what it guarantees: docs/design.md, "The send journal"."""
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

_local = threading.local()
_process = {"pid": None, "token": None}


class Journal:
    """One thread's journal file (the thread that claims and records a group; its sending threads write the
    `sent` lines into it)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{socket.gethostname()}-{os.getpid()}-{_process_token()}-" \
                                     f"{threading.get_ident()}.journal"
        self.fd = None
        self._open()

    def _open(self):
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def claimed(self, entries):
        """Start a group: forget the last one, note these (id, attempt) pairs as ours."""
        if not self.path.exists():  # removed by a sweep while this worker sat idle for a long time
            os.close(self.fd)
            self._open()
        os.ftruncate(self.fd, 0)
        os.write(self.fd, ("claimed " + " ".join(f"{i}:{a}" for i, a in entries) + "\n").encode())

    def sent(self, notification_id, attempt):
        os.write(self.fd, f"sent {notification_id}:{attempt}\n".encode())

    def done(self):
        """The group's outcomes are committed: nothing of it can be in doubt any more."""
        os.ftruncate(self.fd, 0)


def for_thread(directory):
    """This thread's journal in `directory` (a forked child gets a file of its own)."""
    journal = getattr(_local, "journal", None)
    if journal is None or journal.directory != Path(directory) or not journal.path.name.startswith(
            f"{socket.gethostname()}-{os.getpid()}-"):
        journal = _local.journal = Journal(directory)
    return journal


def _process_token():
    # pid numbers are reused; a token per process start keeps an old file from passing for a new worker's.
    if _process["pid"] != os.getpid():
        _process.update(pid=os.getpid(), token=secrets.token_hex(4))
    return _process["token"]


def read(directory):
    """{(id, attempt): sent?} for every message some journal file in `directory` holds claimed."""
    decided = {}
    directory = Path(directory)
    if not directory.is_dir():
        return decided
    for path in directory.glob("*.journal"):
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            log.warning("send journal %s unreadable: %s", path, exc)
            continue
        claimed, sent = set(), set()
        for line in lines:
            kind, _, rest = line.partition(" ")
            pairs = {_pair(token) for token in rest.split()} - {None}
            if kind == "claimed":
                claimed |= pairs
            elif kind == "sent":
                sent |= pairs
        for pair in claimed:
            decided[pair] = pair in sent
    return decided


def _pair(token):
    notification_id, _, attempt = token.partition(":")
    try:
        return int(notification_id), int(attempt)
    except ValueError:
        return None  # a line cut short by the kill


def prune(directory, older_than):
    """Remove journal files nobody has written for `older_than` seconds: their groups were settled or
    recovered long ago (a live worker rewrites its file with every group and reopens it if it is gone)."""
    cutoff = time.time() - older_than
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob("*.journal"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed

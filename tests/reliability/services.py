"""Servers of our own for fault tests: a redis-server, and a private PostgreSQL instance, each on a free port
in a temporary directory, that a test may stop and start again (never the machine's shared ones)."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis

REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout} s")


class RedisServer:
    def __init__(self, directory):
        self.directory = str(directory)
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self):
        try:
            return redis.Redis(port=self.port, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ping, 10, "redis-server answering")
        return self

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


def postgres_bin():
    """The directory of Debian's PostgreSQL server binaries (the newest), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


class PostgresServer:
    """initdb + pg_ctl as the `postgres` OS user (the server refuses to run as root), trust auth on loopback."""

    def __init__(self):
        self.bin = postgres_bin()
        # Not under pytest's tmp_path: that is private to root, and the server runs as `postgres`.
        self.directory = tempfile.mkdtemp(prefix="msss-pg-")
        self.data = os.path.join(self.directory, "data")
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")

    @property
    def url(self):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args):
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr.strip()}")

    def init(self):
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self):
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-t", "60", "-l",
                  os.path.join(self.directory, "log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory} "
                  "-c fsync=off", "start")
        return self

    def stop(self, mode="fast"):
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-m", mode, "stop")

    def remove(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self):
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-m", "fast", "restart", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory} "
                  "-c fsync=off")

"""The cache generation of the embedded default, kept in a file (app.cache reads and writes it)."""
import os
import secrets
import threading


def generation_file(config):
    """Embedded default only: the in-process Redis stand-in is no one else's, so a `flask plan import` run beside
    `make run` could not reach the server's generation, which kept serving the old pages. There the generation
    lives in a file beside the SQLite database both processes use. None with a real Redis or no database file."""
    from sqlalchemy.engine import make_url

    if not config["REDIS_URL"].startswith("memory://"):
        return None
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database + ".cache-generation"


def file_generation(path, new=None):
    """The generation in `path`, created when missing; with `new`, replaced by it (atomically)."""
    if new is None:
        try:
            with open(path, encoding="ascii") as f:
                token = f.read().strip()
            if token:
                return token
        except FileNotFoundError:
            pass
        new = str(secrets.randbits(62))  # as app.cache's own tokens
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}"
    with open(temporary, "w", encoding="ascii") as f:
        f.write(new)
    os.replace(temporary, path)
    return new

"""Who and what the current unit of work is: the request id and the client's address.

Set by the WSGI layer for each request (app.ops.telemetry) and by the job runners for each job (the id of the
request that enqueued it); read by the log formatter and by audit rows. Never an input to a decision: service
functions take what they decide on as arguments.
"""
from contextlib import contextmanager
from contextvars import ContextVar

request_id = ContextVar("request_id", default=None)
client_ip = ContextVar("client_ip", default=None)


@contextmanager
def bound(request_id_value=None, client_ip_value=None):
    """Within the block, the current request id and client address are these."""
    tokens = (request_id.set(request_id_value), client_ip.set(client_ip_value))
    try:
        yield
    finally:
        client_ip.reset(tokens[1])
        request_id.reset(tokens[0])

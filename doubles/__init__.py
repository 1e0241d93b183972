"""Doubles of the outside services the app talks to, for development (`make run`), tests and bench/.

Each double is a real HTTP server on loopback that answers like the service it stands in for, so the app's own
SDK calls run unchanged against it; only the far end is simulated. Production code (app/) never imports this
package: the app reaches a double only through the service's URL in its settings, and the development wiring
(app/cli.py's `dev serve`, tests/conftest.py) is the only code that knows a double is there.

Layout — one subpackage per service, each split the same way:

    doubles/http.py            the asyncio HTTP/1.1 server every double is served by (shared)
    doubles/<service>/state.py     what the double remembers, and its control operations (force, reset, ...)
    doubles/<service>/handlers.py  the service's API: a table of routes, path -> (method, handler(state, call))
    doubles/<service>/server.py    the double as an object (state + handlers + server in a thread) and its CLI
    doubles/<service>/__main__.py  `python -m doubles.<service> --port N`: the double as a process of its own

Today: `doubles.wechat` (the WeChat API). 企业微信 and SMS doubles go beside it as `doubles/wecom/`,
`doubles/sms/`.
"""

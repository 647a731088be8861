"""Support shared by the tests and the benchmarks: real servers, the stack, logins, issuers.

`tests/` and `bench/` both import from here and never from each other.

- `servers`: `LiveServer`, an ASGI app under uvicorn in this process on a free loopback port.
- `processes`: `ManagedProcess`, a server as a child process (benchmarks, the load test).
- `redis_server`: `RedisServer`, a real redis-server of a test's own.
- `issuer`: `TestIssuer`, a minimal token issuer (discovery, JWKS, signing) for the API.
- `dpop`: `DpopKey`, a DPoP client key making valid or broken proofs (RFC 9449).
- `tenant`: the dev tenant as a `LiveServer`, and the code flow scripted without the app.
- `login`: the demo users and the one scripted login, through the tenant's form.
- `live_stack`: tenant, API and app as `LiveServer`s in this process (`LiveStack`).
- `process_stack`: tenant, API and app as child processes (`ProcessStack`).
- `sessions`: read and age the app's server-side session records.
"""

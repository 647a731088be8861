// Auth0's Express "Call an API" sample API: the reference our FastAPI API must match.
//
// The routes and messages follow Auth0's Express API sample (01-Authorization-RS256)
// and the /api/external route of its SPA samples' api-server.js.  The conformance
// test (tests/api/test_conformance.py) and the benchmark (bench/api.py) run it beside
// our API against the same test issuer.
//
// Environment:
//   ISSUER_BASE_URL  the issuer (http:// works on loopback: the library only refuses
//                    http issuers when NODE_ENV=production)
//   AUDIENCE         the API identifier
//   PORT             port to listen on (default 3010), HOST (default 127.0.0.1)
//   DPOP             allowed (the library's default and our API's), required or disabled
'use strict';

const express = require('express');
const { auth, requiredScopes } = require('express-oauth2-jwt-bearer');

const DEFAULT_PORT = 3010;
const DEFAULT_HOST = '127.0.0.1';

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

// express-oauth2-jwt-bearer's `dpop` option for each of our API's DPOP_MODE values.
const DPOP_MODES = {
  allowed: { enabled: true, required: false },
  required: { enabled: true, required: true },
  disabled: { enabled: false },
};
const dpopMode = process.env.DPOP || 'allowed';
if (!(dpopMode in DPOP_MODES)) {
  console.error(`DPOP must be one of ${Object.keys(DPOP_MODES).join(', ')}`);
  process.exit(2);
}

const checkJwt = auth({
  issuerBaseURL: requiredEnv('ISSUER_BASE_URL'),
  audience: requiredEnv('AUDIENCE'),
  dpop: DPOP_MODES[dpopMode],
});
const checkScopes = requiredScopes('read:messages');

const app = express();
app.disable('x-powered-by');
// RFC 6750 section 2.2: the library reads `access_token` from a form-encoded body,
// but only if something has parsed the body.
app.use(express.urlencoded({ extended: false }));

app.get('/api/public', (req, res) => {
  res.json({
    message: "Hello from a public endpoint! You don't need to be authenticated to see this.",
  });
});

// GET in the sample; POST too so the conformance test can send a token in a form body.
app.all('/api/private', checkJwt, (req, res) => {
  res.json({
    message: 'Hello from a private endpoint! You need to be authenticated to see this.',
  });
});

app.get('/api/private-scoped', checkJwt, checkScopes, (req, res) => {
  res.json({
    message:
      'Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this.',
  });
});

app.get('/api/external', checkJwt, (req, res) => {
  res.json({ msg: 'Your access token was successfully validated!' });
});

// Like the sample's error middleware: keep the library's status and WWW-Authenticate
// challenge, and add a JSON body.  Errors without an OAuth code (no token at all, a
// malformed Authorization header) still get a readable `error`.
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  const status = err.status || 500;
  const fallback = status === 400 ? 'invalid_request' : status === 401 ? 'unauthorized' : 'server_error';
  if (err.headers) {
    res.set(err.headers);
  }
  res.status(status).json({
    error: err.code || fallback,
    error_description: status >= 500 ? 'Internal server error' : err.message,
  });
});

const port = Number(process.env.PORT || DEFAULT_PORT);
const host = process.env.HOST || DEFAULT_HOST;
app.listen(port, host, () => {
  console.log(`express reference listening on http://${host}:${port}`);
});

#!/usr/bin/env node
// A request to this container's own admin port, for the places that cannot run curl (the image has
// none): the Docker HEALTHCHECK (`node scripts/admin-request.mjs live`) and Kubernetes' preStop hook
// (`node scripts/admin-request.mjs drain`, i.e. POST /admin/drain with the ADMIN_TOKEN bearer).
//
// The port: ADMIN_PORT (the game server's), else HANGAR_ADMIN__PORT (the services' admin.port
// override), else 9090. Exit 0 on a 2xx answer, 1 otherwise, with the reason on stderr.

const action = process.argv[2];
const routes = {
  live: { method: 'GET', path: '/health/live' },
  ready: { method: 'GET', path: '/health/ready' },
  startup: { method: 'GET', path: '/health/startup' },
  drain: { method: 'POST', path: '/admin/drain' },
};
const route = routes[action];
if (!route) {
  process.stderr.write(`usage: node scripts/admin-request.mjs ${Object.keys(routes).join('|')}\n`);
  process.exit(2);
}
const port = process.env.ADMIN_PORT || process.env.HANGAR_ADMIN__PORT || '9090';
const url = `http://127.0.0.1:${port}${route.path}`;
const headers = {};
if (action === 'drain' && process.env.ADMIN_TOKEN) headers.authorization = `Bearer ${process.env.ADMIN_TOKEN}`;
// Drain answers once in-flight work has been let go; the probes must answer at once.
const timeoutMs = action === 'drain' ? 25_000 : 3_000;

try {
  const res = await fetch(url, { method: route.method, headers, signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) {
    process.stderr.write(`${route.method} ${url}: ${res.status} ${body.slice(0, 200)}\n`);
    process.exit(1);
  }
  if (action === 'drain') process.stdout.write(`${route.method} ${url}: ${res.status} ${body.slice(0, 200)}\n`);
} catch (err) {
  process.stderr.write(`${route.method} ${url}: ${err.cause?.code ?? err.name}: ${err.message}\n`);
  process.exit(1);
}

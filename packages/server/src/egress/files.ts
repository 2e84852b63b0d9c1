/**
 * Where the egress gateway's pieces live, for the gateway that writes them and the container plan
 * that points the workspace at them. Pure names: no I/O.
 */

/** The per-workspace host directory, bind-mounted read-only here: the socket and the CA. */
export const EGRESS_SOCKET_MOUNT = '/run/berth-egress';
export const SOCKET_NAME = 'egress.sock';
export const CA_FILE = 'ca.pem';
/** The public roots plus the workspace CA, for tools that take one bundle (SSL_CERT_FILE). */
export const CA_BUNDLE_FILE = 'ca-bundle.pem';

/** Files written into /configs before every start (paths relative to /configs). */
export const CONFIG_FILES = {
  /** The workspace's gateway token, re-read by the forwarder for each connection. */
  token: '.berth/egress-token',
  /** NUL-terminated `KEY=value` records: grant placeholders and secretEnv, loaded by berth-helper. */
  env: '.berth/env',
} as const;

/** The line berth-helper's forwarder sends before the proxied bytes. */
export const PREAMBLE = 'BERTH-EGRESS ';

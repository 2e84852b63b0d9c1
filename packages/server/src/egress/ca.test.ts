import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createWorkspaceCa, LeafIssuer } from './ca.js';

describe('workspace CA (X5)', () => {
  it('issues leaf certificates that a client trusting only the CA accepts for that host alone', async () => {
    const ca = await createWorkspaceCa('ws_test', 3_600_000);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(Date.parse(caCert.validTo)).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1000);
    const issuer = new LeafIssuer(ca.certPem, ca.keyPem, ca.notAfter);
    const leaf = await issuer.issue('api.example.test');
    expect(await issuer.issue('api.example.test')).toBe(leaf); // cached
    expect(new X509Certificate(leaf.cert).checkIssued(caCert)).toBe(true);

    const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const get = (servername: string) =>
      new Promise<string>((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port, servername, ca: ca.certPem, headers: { host: servername } },
            (res) => {
              let body = '';
              res.on('data', (d: Buffer) => (body += d.toString()));
              res.on('end', () => resolve(body));
            },
          )
          .on('error', reject);
      });
    try {
      // Node checks the certificate against `servername`: right for the issued host only.
      expect(await get('api.example.test')).toBe('ok');
      await expect(get('other.example.test')).rejects.toThrow(/altnames/);
      // Another CA's client does not trust it.
      const other = await createWorkspaceCa('ws_other', 3_600_000);
      await expect(
        new Promise((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', port, servername: 'api.example.test', ca: other.certPem }, resolve)
            .on('error', reject);
        }),
      ).rejects.toThrow(/certificate/);
    } finally {
      server.close();
    }
  });
});

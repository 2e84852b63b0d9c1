// @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs the Reflect polyfill.
import 'reflect-metadata';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Per-workspace certificate authorities (X5): an ECDSA P-256 CA made at each start, valid for a
 * short time, whose key only the gateway holds. The gateway signs leaf certificates with it for the
 * granted hosts it terminates TLS for; the workspace trusts the CA's certificate and nothing more.
 */

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface WorkspaceCa {
  certPem: string;
  /** PKCS#8 PEM: sealed before it is stored. */
  keyPem: string;
  notAfter: Date;
}

const serial = () => `01${randomBytes(15).toString('hex')}`;

export async function createWorkspaceCa(workspaceId: string, ttlMs: number): Promise<WorkspaceCa> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(Date.now() + ttlMs);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Berth egress CA for ${workspaceId}, O=Berth`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { certPem: cert.toString('pem'), keyPem, notAfter };
}

/** Issues (and caches) leaf certificates for one workspace CA. */
export class LeafIssuer {
  private readonly cache = new Map<string, Promise<{ cert: string; key: string }>>();
  private leafKeys: Promise<{ pair: CryptoKeyPair; pem: string }> | null = null;
  private readonly ca: Promise<{ cert: x509.X509Certificate; key: CryptoKey }>;

  constructor(
    caCertPem: string,
    caKeyPem: string,
    readonly notAfter: Date,
  ) {
    this.ca = importKey(caKeyPem).then((key) => ({ cert: new x509.X509Certificate(caCertPem), key }));
    this.ca.catch(() => {}); // surfaced by issue()
  }

  /** A certificate for `host` (a DNS name) and its key, PEM. */
  issue(host: string): Promise<{ cert: string; key: string }> {
    let leaf = this.cache.get(host);
    if (!leaf) {
      if (this.cache.size >= 256) this.cache.clear();
      leaf = this.make(host);
      leaf.catch(() => this.cache.delete(host));
      this.cache.set(host, leaf);
    }
    return leaf;
  }

  private async make(host: string): Promise<{ cert: string; key: string }> {
    const ca = await this.ca;
    this.leafKeys ??= (async () => {
      const pair = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
      const pem = KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
      return { pair, pem };
    })();
    const keys = await this.leafKeys;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${host}`,
      issuer: ca.cert.subject,
      notBefore: new Date(Date.now() - 5 * 60_000),
      notAfter: this.notAfter,
      publicKey: keys.pair.publicKey,
      signingKey: ca.key,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }]),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      ],
    });
    return { cert: cert.toString('pem'), key: keys.pem };
  }
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return crypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
}

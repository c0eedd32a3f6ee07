import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SIP digest authentication (RFC 2617 as used by RFC 3261 §22, RFC 8760 SHA-256). Hand-written:
 * it is 60 lines over node:crypto, and the npm SIP digest helpers come with whole stacks.
 */

type Algo = 'MD5' | 'SHA-256';
const h = (algo: Algo, s: string) => createHash(algo === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

export interface Challenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

let nc = 0;

/** The Authorization / Proxy-Authorization value answering a challenge. */
export function authorize(ch: Challenge, creds: Credentials, method: string, uri: string): string {
  const algo: Algo = /sha-?256/i.test(ch.algorithm ?? '') ? 'SHA-256' : 'MD5';
  const ha1 = h(algo, `${creds.username}:${ch.realm}:${creds.password}`);
  const ha2 = h(algo, `${method}:${uri}`);
  const parts = [`username="${creds.username}"`, `realm="${ch.realm}"`, `nonce="${ch.nonce}"`, `uri="${uri}"`];
  const qop = ch.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  let response: string;
  if (qop) {
    const cnonce = randomBytes(8).toString('hex');
    const ncHex = (++nc).toString(16).padStart(8, '0');
    response = h(algo, `${ha1}:${ch.nonce}:${ncHex}:${cnonce}:${qop}:${ha2}`);
    parts.push(`qop=${qop}`, `nc=${ncHex}`, `cnonce="${cnonce}"`);
  } else {
    response = h(algo, `${ha1}:${ch.nonce}:${ha2}`);
  }
  parts.push(`response="${response}"`, `algorithm=${algo}`);
  if (ch.opaque) parts.push(`opaque="${ch.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

/** Server side: stateless nonces (timestamp + HMAC), valid for `ttlMs`. */
export class DigestVerifier {
  private readonly key = randomBytes(32);

  constructor(readonly realm: string, private readonly ttlMs = 5 * 60_000) {}

  challenge(): string {
    const ts = Date.now().toString(16);
    const mac = createHmac('sha256', this.key).update(ts).digest('hex').slice(0, 32);
    return `Digest realm="${this.realm}", nonce="${ts}.${mac}", algorithm=MD5, qop="auth"`;
  }

  private nonceValid(nonce: string): boolean {
    const [ts, mac] = nonce.split('.');
    if (!ts || !mac) return false;
    const want = createHmac('sha256', this.key).update(ts).digest('hex').slice(0, 32);
    if (want.length !== mac.length || !timingSafeEqual(Buffer.from(want), Buffer.from(mac))) return false;
    return Date.now() - parseInt(ts, 16) < this.ttlMs;
  }

  /** True when `params` (parsed Authorization) proves knowledge of `password`. */
  verify(params: Record<string, string>, method: string, password: string): boolean {
    if (params.realm !== this.realm || !params.nonce || !this.nonceValid(params.nonce) || !params.response) return false;
    const algo: Algo = /sha-?256/i.test(params.algorithm ?? '') ? 'SHA-256' : 'MD5';
    const ha1 = h(algo, `${params.username}:${this.realm}:${password}`);
    const ha2 = h(algo, `${method}:${params.uri}`);
    const want = params.qop
      ? h(algo, `${ha1}:${params.nonce}:${params.nc}:${params.cnonce}:${params.qop}:${ha2}`)
      : h(algo, `${ha1}:${params.nonce}:${ha2}`);
    return want.length === params.response.length && timingSafeEqual(Buffer.from(want), Buffer.from(params.response));
  }
}

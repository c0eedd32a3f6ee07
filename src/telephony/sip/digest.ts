import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseUri } from './message.js';

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

/**
 * Server side: nonces are a timestamp and an HMAC over it and the client's address, so one captured
 * from another source or past `ttlMs` is refused without any state. Replays within the lifetime are
 * refused by nonce-count: with qop=auth each nonce's nc must grow, without qop a nonce works once.
 */
export class DigestVerifier {
  private readonly key = randomBytes(32);
  /** Highest nc accepted per nonce (Infinity: a qop-less nonce already used). Pruned as nonces expire. */
  private readonly used = new Map<string, number>();
  private prunedAt = 0;

  constructor(readonly realm: string, private readonly ttlMs = 5 * 60_000, private readonly now: () => number = Date.now) {}

  private mac(ts: string, source: string): string {
    return createHmac('sha256', this.key).update(`${ts}|${source}`).digest('hex').slice(0, 32);
  }

  /** A challenge for a request from `source` (its IP address); `stale` when only the nonce was wrong. */
  challenge(source: string, stale = false): string {
    const ts = this.now().toString(16);
    return `Digest realm="${this.realm}", nonce="${ts}.${this.mac(ts, source)}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  private nonceValid(nonce: string, source: string): boolean {
    const [ts, mac] = nonce.split('.');
    if (!ts || !mac || !/^[0-9a-f]{1,13}$/.test(ts)) return false;
    const want = this.mac(ts, source);
    if (want.length !== mac.length || !timingSafeEqual(Buffer.from(want), Buffer.from(mac))) return false;
    const age = this.now() - parseInt(ts, 16);
    return age >= 0 && age < this.ttlMs;
  }

  /**
   * True when `params` (parsed Authorization) proves knowledge of `password` for this request
   * (method and Request-URI) from this source, and is not a replay.
   */
  verify(params: Record<string, string>, method: string, password: string, source: string, requestUri?: string): boolean {
    if (params.realm !== this.realm || !params.nonce || !params.response || !this.nonceValid(params.nonce, source)) return false;
    if (requestUri !== undefined && !sameTarget(params.uri, requestUri)) return false;
    const algo: Algo = /sha-?256/i.test(params.algorithm ?? '') ? 'SHA-256' : 'MD5';
    const ha1 = h(algo, `${params.username}:${this.realm}:${password}`);
    const ha2 = h(algo, `${method}:${params.uri}`);
    const want = params.qop
      ? h(algo, `${ha1}:${params.nonce}:${params.nc}:${params.cnonce}:${params.qop}:${ha2}`)
      : h(algo, `${ha1}:${params.nonce}:${ha2}`);
    if (want.length !== params.response.length || !timingSafeEqual(Buffer.from(want), Buffer.from(params.response))) return false;
    this.prune();
    const last = this.used.get(params.nonce) ?? 0;
    const nc = params.qop ? Number.parseInt(params.nc ?? '', 16) : Number.POSITIVE_INFINITY;
    if (!(nc > last) || (!params.qop && this.used.has(params.nonce))) return false;
    this.used.set(params.nonce, nc);
    return true;
  }

  /** True when the nonce was ours and only its age failed (the client should retry: stale=true). */
  isStale(params: Record<string, string>, source: string): boolean {
    const [ts, mac] = (params.nonce ?? '').split('.');
    if (!ts || !mac || this.mac(ts, source) !== mac) return false;
    return !this.nonceValid(params.nonce!, source);
  }

  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    for (const nonce of this.used.keys()) {
      if (now - parseInt(nonce.split('.')[0]!, 16) >= this.ttlMs) this.used.delete(nonce);
    }
  }
}

/** The digest-uri names the request's host and port (phones differ on whether they include the user). */
function sameTarget(digestUri: string | undefined, requestUri: string): boolean {
  if (!digestUri) return false;
  try {
    const a = parseUri(digestUri);
    const b = parseUri(requestUri);
    return a.host.toLowerCase() === b.host.toLowerCase() && (a.port ?? 5060) === (b.port ?? 5060);
  } catch {
    return false;
  }
}

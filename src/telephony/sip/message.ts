/**
 * SIP messages (RFC 3261 §7, §25): a strict parser and a serializer. Written here because the npm
 * `sip` package (2019-era, lenient, throws TypeErrors on bad input) and `drachtio-sip` (a lenient
 * fork of it) both accept garbage we must answer with 400; this one rejects with a reason and is
 * fuzzed in tests/sip/parser-fuzz.test.ts.
 */

export class SipParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SipParseError';
  }
}

export const LIMITS = {
  maxMessageBytes: 65_535,
  maxHeaderLines: 128,
  maxLineBytes: 8_192,
} as const;

const COMPACT: Record<string, string> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type',
  k: 'supported', s: 'subject', e: 'content-encoding', r: 'refer-to', b: 'referred-by', o: 'event', u: 'allow-events',
  x: 'session-expires',
};

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', 'mime-version': 'MIME-Version',
  'rseq': 'RSeq', 'rack': 'RAck', 'min-se': 'Min-SE',
};

export function canonicalName(lower: string): string {
  return CANONICAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** Headers in arrival order; names lower-cased; a header may repeat. */
export class Headers {
  readonly list: [string, string][] = [];

  get(name: string): string | undefined {
    const n = name.toLowerCase();
    for (const [k, v] of this.list) if (k === n) return v;
    return undefined;
  }

  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const out: string[] = [];
    for (const [k, v] of this.list) if (k === n) out.push(...splitList(v));
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  add(name: string, value: string): this {
    this.list.push([name.toLowerCase(), value]);
    return this;
  }

  set(name: string, value: string): this {
    this.delete(name);
    return this.add(name, value);
  }

  delete(name: string): void {
    const n = name.toLowerCase();
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0] === n) this.list.splice(i, 1);
  }
}

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: Headers;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: Headers;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const REQUIRED = ['via', 'from', 'to', 'call-id', 'cseq'] as const;

/** Splits a comma-separated header value, respecting quotes and <...>. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((s) => s.length > 0);
}

/** Where the header block ends (index of the blank line's CRLFCRLF), or -1. */
export function headerEnd(buf: Buffer, from = 0): number {
  return buf.indexOf('\r\n\r\n', from, 'latin1');
}

/** Parses one whole SIP message (a UDP datagram, or one framed TCP message). */
export function parseMessage(buf: Buffer): SipMessage {
  if (buf.length > LIMITS.maxMessageBytes) throw new SipParseError('message too large');
  const end = headerEnd(buf);
  if (end < 0) throw new SipParseError('no end of headers');
  const head = buf.toString('latin1', 0, end);
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(head)) throw new SipParseError('control characters in headers');
  const rawLines = head.split('\r\n');
  const startLine = rawLines[0]!;
  if (startLine.length > LIMITS.maxLineBytes) throw new SipParseError('start line too long');

  const headers = new Headers();
  let current: [string, string] | undefined;
  let count = 0;
  for (let i = 1; i < rawLines.length; i++) {
    const line = rawLines[i]!;
    if (line.length > LIMITS.maxLineBytes) throw new SipParseError('header line too long');
    if (/^[ \t]/.test(line)) {
      // RFC 3261 §7.3.1 line folding: a continuation of the previous header.
      if (!current) throw new SipParseError('continuation line before any header');
      current[1] = `${current[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`malformed header line "${line.slice(0, 40)}"`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new SipParseError(`bad header name "${name.slice(0, 40)}"`);
    if (++count > LIMITS.maxHeaderLines) throw new SipParseError('too many headers');
    const lower = name.toLowerCase();
    current = [COMPACT[lower] ?? lower, line.slice(colon + 1).trim()];
    headers.list.push(current);
  }

  let body = buf.subarray(end + 4);
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    if (!/^\d{1,6}$/.test(cl)) throw new SipParseError('bad Content-Length');
    const n = Number(cl);
    if (n > body.length) throw new SipParseError('body shorter than Content-Length');
    body = body.subarray(0, n);
  }

  for (const h of REQUIRED) if (!headers.has(h)) throw new SipParseError(`missing ${canonicalName(h)} header`);
  const cseq = parseCSeq(headers.get('cseq')!);
  if (!headers.get('call-id')) throw new SipParseError('empty Call-ID');
  parseVia(headers.get('via')!);
  parseNameAddr(headers.get('from')!);
  parseNameAddr(headers.get('to')!);

  const status = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/.exec(startLine);
  if (status) return { kind: 'response', status: Number(status[1]), reason: status[2] ?? '', headers, body };
  const req = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/.exec(startLine);
  if (!req) throw new SipParseError(`bad start line "${startLine.slice(0, 60)}"`);
  const method = req[1]!;
  if (cseq.method !== method) throw new SipParseError('CSeq method does not match the request method');
  parseUri(req[2]!);
  return { kind: 'request', method, uri: req[2]!, headers, body };
}

export function serialize(m: SipMessage): Buffer {
  const lines = [m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`];
  for (const [k, v] of m.headers.list) {
    if (k === 'content-length') continue;
    lines.push(`${canonicalName(k)}: ${v}`);
  }
  lines.push(`Content-Length: ${m.body.length}`, '', '');
  const head = Buffer.from(lines.join('\r\n'), 'latin1');
  return m.body.length ? Buffer.concat([head, m.body]) : head;
}

// ---- header values ----------------------------------------------------------------------------

export type Params = Record<string, string | true>;

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user: string | undefined;
  host: string;
  port: number | undefined;
  params: Params;
}

function parseParams(s: string): Params {
  const params: Params = {};
  for (const part of s.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    const k = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (!TOKEN.test(k)) throw new SipParseError(`bad parameter "${k.slice(0, 30)}"`);
    params[k] = eq < 0 ? true : p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return params;
}

export function parseUri(raw: string): SipUri {
  const m = /^(sips?|tel):(?:([^@;?]+)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-_]+)?(?::(\d{1,5}))?((?:;[^?]*)?)(\?.*)?$/.exec(raw.trim());
  if (!m) throw new SipParseError(`bad URI "${raw.slice(0, 60)}"`);
  const scheme = m[1]!.toLowerCase() as SipUri['scheme'];
  if (scheme === 'tel') {
    const number = raw.trim().slice(4).split(';')[0]!;
    return { scheme, user: number, host: '', port: undefined, params: parseParams(m[5] ?? '') };
  }
  if (!m[3]) throw new SipParseError(`URI without host "${raw.slice(0, 60)}"`);
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new SipParseError('bad URI port');
  let user: string | undefined;
  try {
    user = m[2] ? decodeURIComponent(m[2]) : undefined;
  } catch {
    throw new SipParseError('bad escape in URI user part');
  }
  return { scheme, user, host: m[3].replace(/^\[|\]$/g, ''), port, params: parseParams(m[5] ?? '') };
}

export interface NameAddr {
  display: string | undefined;
  uri: string;
  params: Params;
}

export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  const lt = v.indexOf('<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('unclosed <');
    const display = v.slice(0, lt).trim().replace(/^"(.*)"$/, '$1') || undefined;
    const uri = v.slice(lt + 1, gt).trim();
    if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(uri)) throw new SipParseError('bad URI in name-addr');
    return { display, uri, params: parseParams(v.slice(gt + 1)) };
  }
  const semi = v.indexOf(';');
  const uri = semi < 0 ? v : v.slice(0, semi);
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError(`bad address "${v.slice(0, 60)}"`);
  return { display: undefined, uri, params: semi < 0 ? {} : parseParams(v.slice(semi)) };
}

export function formatNameAddr(a: NameAddr): string {
  const params = Object.entries(a.params).map(([k, v]) => (v === true ? `;${k}` : `;${k}=${v}`)).join('');
  return `${a.display ? `"${a.display.replace(/"/g, '')}" ` : ''}<${a.uri}>${params}`;
}

export interface Via {
  transport: string;
  host: string;
  port: number | undefined;
  params: Params;
}

export function parseVia(value: string): Via {
  const first = splitList(value)[0] ?? '';
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-_]+)(?::(\d{1,5}))?\s*((?:;.*)?)$/.exec(first);
  if (!m) throw new SipParseError('bad Via');
  return { transport: m[1]!.toUpperCase(), host: m[2]!.replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : undefined, params: parseParams(m[4] ?? '') };
}

export function parseCSeq(value: string): { seq: number; method: string } {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m || Number(m[1]) > 2 ** 31 - 1) throw new SipParseError('bad CSeq');
  return { seq: Number(m[1]), method: m[2]! };
}

/** Parses `Digest realm="x", nonce="y", ...` (WWW-Authenticate, Authorization and friends). */
export function parseAuth(value: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\S+)\s+(.*)$/.exec(value.trim());
  if (!m) throw new SipParseError('bad auth header');
  const params: Record<string, string> = {};
  for (const part of splitList(m[2]!)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { scheme: m[1]!, params };
}

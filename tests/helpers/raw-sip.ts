import { createSocket, type Socket } from 'node:dgram';

export async function udp(address = '127.0.0.1'): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, r));
  return s;
}

/** A raw SIP peer: sends what it is told and collects every datagram it gets back. */
export class RawPeer {
  /** Datagrams received and not yet taken by next(). */
  readonly replies: string[] = [];
  private waiters: { match: RegExp; resolve: (m: string) => void }[] = [];
  constructor(readonly sock: Socket, private readonly target: number) {
    sock.on('message', (m) => {
      const text = m.toString('latin1');
      const w = this.waiters.find((x) => x.match.test(text));
      if (!w) {
        this.replies.push(text);
        return;
      }
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(text);
    });
  }

  static async open(target: number, address = '127.0.0.1'): Promise<RawPeer> {
    return new RawPeer(await udp(address), target);
  }

  get address(): string {
    return this.sock.address().address;
  }

  send(text: string): Promise<void> {
    return new Promise((r) => this.sock.send(text, this.target, '127.0.0.1', () => r()));
  }

  next(match: RegExp): Promise<string> {
    const seen = this.replies.find((x) => match.test(x));
    if (seen) {
      this.replies.splice(this.replies.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  close(): void {
    this.sock.close();
  }
}

let seq = 0;

export interface RawRequest {
  method?: string;
  callId?: string;
  fromTag?: string;
  toTag?: string;
  cseq?: number;
  branch?: string;
  auth?: string;
  /** false: no SDP (delayed offer, BYE, ACK). */
  sdp?: boolean;
}

/** A request from `peer` to the endpoint on `target` (an INVITE with SDP unless told otherwise). */
export function request(peer: RawPeer, target: number, opts: RawRequest = {}): string {
  const n = ++seq;
  const method = opts.method ?? 'INVITE';
  const port = peer.sock.address().port;
  const callId = opts.callId ?? `raw-${n}@test`;
  const sdp = opts.sdp === false ? '' : `v=0\r\no=- 1 1 IN IP4 ${peer.address}\r\ns=-\r\nc=IN IP4 ${peer.address}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
  return [
    `${method} sip:+15125550100@127.0.0.1:${target} SIP/2.0`,
    `Via: SIP/2.0/UDP ${peer.address}:${port};branch=${opts.branch ?? `z9hG4bKraw${n}`};rport`,
    `From: <sip:101@${peer.address}>;tag=${opts.fromTag ?? `t${n}`}`,
    `To: <sip:+15125550100@127.0.0.1:${target}>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${callId}`,
    `CSeq: ${opts.cseq ?? 1} ${method}`,
    `Contact: <sip:101@${peer.address}:${port}>`,
    'Max-Forwards: 70',
    ...(opts.auth ? [`Authorization: ${opts.auth}`] : []),
    ...(sdp ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

export function invite(peer: RawPeer, target: number, opts: { callId?: string; auth?: string; branch?: string } = {}): string {
  return request(peer, target, opts);
}

/** The tag a response put in its To header. */
export function toTagOf(response: string): string {
  return /^To:.*;tag=([^;\s>]+)/im.exec(response)![1]!;
}

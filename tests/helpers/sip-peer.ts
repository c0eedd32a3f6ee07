import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

/**
 * A raw SIP peer on a UDP socket, for sending what no well-behaved UA would (bad SDP, bad Contact,
 * fuzzed requests) and reading exactly what came back.
 */

export interface Received {
  text: string;
  status: number | undefined;
  method: string | undefined;
  callId: string | undefined;
  header(name: string): string | undefined;
}

function parse(text: string): Received {
  const start = text.slice(0, text.indexOf('\r\n'));
  const status = /^SIP\/2\.0 (\d{3})/.exec(start)?.[1];
  const method = /^([A-Z]+) /.exec(start)?.[1];
  const header = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'im').exec(text)?.[1]?.trim();
  return { text, status: status ? Number(status) : undefined, method, callId: header('call-id'), header };
}

export class SipPeer {
  readonly messages: Received[] = [];
  private waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];
  private constructor(readonly socket: Socket, readonly port: number, readonly rtp: Socket, readonly rtpPort: number) {
    socket.on('message', (buf) => {
      const m = parse(buf.toString('latin1'));
      this.messages.push(m);
      // In-dialog requests from the endpoint (BYE) get a 200, as a phone would send.
      if (m.method && m.method !== 'ACK') this.send(okFor(m.text));
      for (const w of [...this.waiters]) {
        if (w.match(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }

  static async open(): Promise<SipPeer> {
    const bind = async () => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      return s;
    };
    const sip = await bind();
    const rtp = await bind();
    return new SipPeer(sip, sip.address().port, rtp, rtp.address().port);
  }

  target = 0;

  send(text: string | Buffer): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, this.target, '127.0.0.1');
  }

  /** The next message (already received or still to come) that matches. */
  wait(match: (m: Received) => boolean, from = 0): Promise<Received> {
    const had = this.messages.slice(from).find(match);
    if (had) return Promise.resolve(had);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** A final response for one Call-ID. */
  final(callId: string, method = 'INVITE'): Promise<Received> {
    return this.wait((m) => m.callId === callId && (m.status ?? 0) >= 200 && new RegExp(` ${method}$`).test(m.header('cseq') ?? ''));
  }

  close(): void {
    this.socket.close();
    this.rtp.close();
  }
}

function okFor(req: string): string {
  const lines = req.split('\r\n');
  const keep = lines.filter((l) => /^(via|v|from|f|to|t|call-id|i|cseq)\s*:/i.test(l));
  return ['SIP/2.0 200 OK', ...keep, 'Content-Length: 0', '', ''].join('\r\n');
}

export function sdp(opts: { port: number; address?: string; extra?: string; direction?: string } = { port: 4000 }): string {
  const address = opts.address ?? '127.0.0.1';
  return [
    'v=0', `o=peer 1 1 IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0',
    `m=audio ${opts.port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', `a=${opts.direction ?? 'sendrecv'}`,
    ...(opts.extra ? [opts.extra] : []), '',
  ].join('\r\n');
}

export interface InviteOpts {
  peer: SipPeer;
  callId?: string;
  contact?: string | undefined;
  body?: string;
  cseq?: number;
  extraHeaders?: string[];
}

export function newCallId(): string {
  return `${randomBytes(6).toString('hex')}@peer`;
}

/** A plain INVITE from the peer; fields can be replaced with bad ones. */
export function invite(o: InviteOpts): { text: string; callId: string; branch: string; fromTag: string } {
  const callId = o.callId ?? newCallId();
  const branch = `z9hG4bK${randomBytes(5).toString('hex')}`;
  const fromTag = randomBytes(4).toString('hex');
  const body = o.body ?? sdp({ port: o.peer.rtpPort });
  const lines = [
    `INVITE sip:+15125550100@127.0.0.1:${o.peer.target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${o.peer.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:+15125550177@127.0.0.1:${o.peer.port}>;tag=${fromTag}`,
    `To: <sip:+15125550100@127.0.0.1:${o.peer.target}>`,
    `Call-ID: ${callId}`,
    `CSeq: ${o.cseq ?? 1} INVITE`,
    ...(o.contact === undefined ? [`Contact: <sip:peer@127.0.0.1:${o.peer.port}>`] : o.contact === '' ? [] : [`Contact: ${o.contact}`]),
    ...(o.extraHeaders ?? []),
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ];
  return { text: lines.join('\r\n'), callId, branch, fromTag };
}

/** An in-dialog request for a call the endpoint answered (To carries its tag). */
export function inDialog(o: { peer: SipPeer; method: string; callId: string; fromTag: string; toHeader: string; cseq: number; body?: string; type?: string }): string {
  const body = o.body ?? '';
  return [
    `${o.method} sip:frontdesk@127.0.0.1:${o.peer.target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${o.peer.port};branch=z9hG4bK${randomBytes(5).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:+15125550177@127.0.0.1:${o.peer.port}>;tag=${o.fromTag}`,
    `To: ${o.toHeader}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    `Contact: <sip:peer@127.0.0.1:${o.peer.port}>`,
    ...(body ? [`Content-Type: ${o.type ?? 'application/sdp'}`] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n');
}

export function options(peer: SipPeer): { text: string; callId: string } {
  const callId = newCallId();
  const text = [
    `OPTIONS sip:frontdesk@127.0.0.1:${peer.target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${randomBytes(5).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1:${peer.port}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:frontdesk@127.0.0.1:${peer.target}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
  return { text, callId };
}

import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';

/**
 * Hands out even UDP ports from the configured RTP range, drawn at random: the next call's port
 * cannot be guessed from the last one's. With `rtcp`, the odd port above is bound too (RFC 3550
 * §11: RTCP on RTP + 1); a pair is handed out only when both halves are free.
 */
export class PortAllocator {
  private readonly first: number;
  private readonly span: number;
  private readonly inUse = new Set<number>();

  constructor(private readonly min: number, private readonly max: number) {
    this.first = min % 2 === 0 ? min : min + 1;
    this.span = Math.max(1, Math.floor((max - this.first) / 2) + 1);
  }

  /** Binds a UDP socket on a free even port of the range (and its RTCP neighbour with `rtcp`). */
  async bind(address: string, opts: { rtcp?: boolean } = {}): Promise<{ socket: Socket; port: number; rtcpSocket?: Socket }> {
    const span = this.span;
    // A random start and a random stride coprime with the span visit every port once, in no order.
    const start = randomInt(span);
    let stride = 1 + randomInt(Math.max(1, span - 1));
    while (gcd(stride, span) !== 1) stride++;
    for (let tries = 0; tries < span; tries++) {
      const port = this.first + ((start + tries * stride) % span) * 2;
      if (port > this.max) continue;
      if (this.inUse.has(port)) continue;
      const socket = await tryBind(address, port);
      if (!socket) continue;
      if (!opts.rtcp) {
        this.inUse.add(port);
        return { socket, port };
      }
      const rtcpSocket = port + 1 <= 65535 ? await tryBind(address, port + 1) : undefined;
      if (rtcpSocket) {
        this.inUse.add(port);
        return { socket, port, rtcpSocket };
      }
      socket.close();
    }
    throw new Error(`no free RTP port in ${this.min}-${this.max}`);
  }

  release(port: number): void {
    this.inUse.delete(port);
  }

  get used(): number {
    return this.inUse.size;
  }

  /** Ports of the range not handed out (one may still turn out to be taken by another program). */
  get free(): number {
    let n = this.span;
    if (this.first + (this.span - 1) * 2 > this.max) n--;
    return Math.max(0, n - this.inUse.size);
  }
}

async function tryBind(address: string, port: number): Promise<Socket | undefined> {
  const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, address, () => resolve(true));
  });
  socket.removeAllListeners('error');
  if (ok) return socket;
  socket.close();
  return undefined;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

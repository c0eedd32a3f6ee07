import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';

/**
 * Hands out even UDP ports from the configured RTP range (RTCP convention keeps odd ones free),
 * drawn at random: the next call's port cannot be guessed from the last one's.
 */
export class PortAllocator {
  private readonly first: number;
  private readonly span: number;
  private readonly inUse = new Set<number>();

  constructor(private readonly min: number, private readonly max: number) {
    this.first = min % 2 === 0 ? min : min + 1;
    this.span = Math.max(1, Math.floor((max - this.first) / 2) + 1);
  }

  /** Binds a UDP socket on a free even port of the range. */
  async bind(address: string): Promise<{ socket: Socket; port: number }> {
    const span = this.span;
    // A random start and a random stride coprime with the span visit every port once, in no order.
    const start = randomInt(span);
    let stride = 1 + randomInt(Math.max(1, span - 1));
    while (gcd(stride, span) !== 1) stride++;
    for (let tries = 0; tries < span; tries++) {
      const port = this.first + ((start + tries * stride) % span) * 2;
      if (port > this.max) continue;
      if (this.inUse.has(port)) continue;
      const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(port, address, () => resolve(true));
      });
      if (ok) {
        this.inUse.add(port);
        socket.removeAllListeners('error');
        return { socket, port };
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

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

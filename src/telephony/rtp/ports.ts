import { createSocket, type Socket } from 'node:dgram';

/** Hands out even UDP ports from the configured RTP range (RTCP convention keeps odd ones free). */
export class PortAllocator {
  private next: number;
  private readonly inUse = new Set<number>();

  constructor(private readonly min: number, private readonly max: number) {
    this.next = min % 2 === 0 ? min : min + 1;
  }

  /** Binds a UDP socket on a free even port of the range. */
  async bind(address: string): Promise<{ socket: Socket; port: number }> {
    const span = Math.floor((this.max - this.min) / 2) + 1;
    for (let tries = 0; tries < span; tries++) {
      const port = this.next;
      this.next += 2;
      if (this.next > this.max) this.next = this.min % 2 === 0 ? this.min : this.min + 1;
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
}

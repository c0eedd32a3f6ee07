import { createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * drachtio-server's admin socket and FreeSWITCH's event socket, as far as connecting goes, on
 * their documented wire formats: enough for drachtio-srf and drachtio-fsmrf to log in, and for
 * tests to see how many connections a client holds, to refuse, drop and restart them.
 *
 * drachtio: frames are `<byte length>#<msg id>|<verb>|…`; the client sends
 * `authenticate|<secret>|<tags>` and `route|<verb>`, the server answers `response|<msg id>|OK|…`.
 * ESL: header blocks ending in a blank line; the server opens with auth/request, answers
 * `auth <password>` with a command/reply, `api …` with an api/response (Content-Length body).
 */

abstract class FakeSocketServer {
  private server: Server | undefined;
  readonly sockets = new Set<Socket>();
  /** Connections ever accepted. */
  accepted = 0;
  port = 0;

  protected abstract onConnection(sock: Socket): void;

  /** Listens (again: on the same port after stop()). */
  async start(port = this.port): Promise<void> {
    const server = createServer((sock) => {
      this.accepted++;
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => sock.destroy());
      this.onConnection(sock);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** The server goes away: connections reset, the port refuses. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((r) => server.close(r));
  }

  /** Open connections from clients. */
  get open(): number {
    return this.sockets.size;
  }
}

export class FakeDrachtioServer extends FakeSocketServer {
  constructor(readonly secret: string) {
    super();
  }

  protected onConnection(sock: Socket): void {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      for (;;) {
        const hash = buf.indexOf('#');
        if (hash < 0) return;
        const len = Number(buf.slice(0, hash));
        if (buf.length < hash + 1 + len) return;
        const msg = buf.slice(hash + 1, hash + 1 + len);
        buf = buf.slice(hash + 1 + len);
        const [id, verb, arg] = msg.split('|');
        if (verb === 'authenticate') {
          this.reply(sock, arg === this.secret ? `response|${id}|OK|udp/127.0.0.1:5060|v0.9.4` : `response|${id}|NOK|incorrect secret`);
        } else if (verb === 'route') this.reply(sock, `response|${id}|OK`);
        else if (verb === 'ping') this.reply(sock, `response|${id}|OK`);
      }
    });
  }

  private reply(sock: Socket, body: string): void {
    const s = `${randomUUID()}|${body}`;
    sock.write(`${Buffer.byteLength(s)}#${s}`);
  }
}

export class FakeEslServer extends FakeSocketServer {
  /** What `sofia status` lists: without the drachtio_mrf profile, drachtio-fsmrf cannot start. */
  profileUp = true;
  /** What `module_exists` says yes to. */
  readonly modules = new Set(['mod_sofia', 'mod_event_socket', 'mod_audio_fork']);

  constructor(readonly password: string) {
    super();
  }

  /** A FreeSWITCH that accepts connections and never says anything (hung, or half started). */
  silent = false;

  protected onConnection(sock: Socket): void {
    if (this.silent) return;
    sock.write('Content-Type: auth/request\n\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const cmd = buf.slice(0, end).trim();
        buf = buf.slice(end + 2);
        this.command(sock, cmd);
      }
    });
  }

  private command(sock: Socket, cmd: string): void {
    if (cmd.startsWith('auth ')) {
      if (cmd.slice(5) === this.password) sock.write('Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
      else {
        sock.write('Content-Type: command/reply\nReply-Text: -ERR invalid\n\n');
        sock.end();
      }
    } else if (cmd.startsWith('event') || cmd.startsWith('events')) {
      sock.write('Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n');
    } else if (cmd.startsWith('api ')) {
      const mod = /^api module_exists (\S+)$/.exec(cmd);
      const body = cmd === 'api sofia status' ? this.sofiaStatus() : mod ? String(this.modules.has(mod[1]!)) : '-ERR no such command\n';
      sock.write(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
    } else if (cmd === 'exit') {
      sock.write('Content-Type: command/reply\nReply-Text: +OK bye\n\n');
      sock.end();
    }
  }

  private sofiaStatus(): string {
    const lines = ['                     Name\t   Type\t                                      Data\tState', '================================================================================================='];
    if (this.profileUp) lines.push('         drachtio_mrf\tprofile\t          sip:mod_sofia@127.0.0.1:5080\tRUNNING (0)');
    lines.push('=================================================================================================', `${this.profileUp ? 1 : 0} profile 0 alias`, '');
    return lines.join('\n');
  }
}

import net from 'node:net';
import { parseResponseHead } from './http-wire';

const MAX_HEAD_BYTES = 64 * 1024;

export interface ConnectionEvents {
  /** the socket is open (first time or again) and nothing is in flight */
  connected(c: Connection): void;
  /** a whole answer arrived; `c.idle` tells whether the socket can carry the next request */
  answered(c: Connection, status: number, body: Buffer): void;
  /**
   * The socket is gone. `lostRequest` is why the request in flight got no answer (socket error,
   * close, unparsable answer, timeout), or undefined when nothing was in flight.
   */
  closed(c: Connection, lostRequest: string | undefined, error: string | undefined, wasConnected: boolean): void;
}

/** One keep-alive HTTP/1.1 socket with at most one request in flight (no pipelining). */
export class Connection {
  private socket: net.Socket | undefined;
  private open = false;
  private established = false; // this socket connected at some point
  private busy = false;
  private pending: Buffer | undefined; // bytes of the answer read so far
  private status = 0;
  private bodyStart = -1; // where the body starts in `pending`, once the head is parsed
  private bodyLength = 0;
  private closeAfter = false;
  private failure: string | undefined;
  /** when the request in flight was written (performance.now()) */
  sentAt = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly events: ConnectionEvents,
  ) {}

  get idle() {
    return this.open && !this.busy;
  }

  get inFlight() {
    return this.busy;
  }

  connect() {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.failure = undefined;
    this.established = false;
    socket.on('connect', () => {
      this.open = true;
      this.established = true;
      this.events.connected(this);
    });
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.failure ??= error.code ?? error.message;
    });
    socket.on('close', () => {
      const lost = this.busy ? (this.failure ?? 'closed before the answer') : undefined;
      this.open = false;
      this.busy = false;
      this.pending = undefined;
      this.socket = undefined;
      this.events.closed(this, lost, this.failure, this.established);
    });
  }

  send(bytes: string, now: number) {
    if (!this.idle || !this.socket) throw new Error('send on a connection that is not idle');
    this.busy = true;
    this.sentAt = now;
    this.bodyStart = -1;
    this.socket.write(bytes);
  }

  /** Drops the socket; a request in flight is reported lost with `reason`. */
  abort(reason: string) {
    this.failure ??= reason;
    this.socket?.destroy();
  }

  private read(chunk: Buffer) {
    if (!this.busy) return this.abort('bytes while no request was in flight');
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.bodyStart < 0) {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) return this.abort('answer head too large');
        this.pending = data;
        return;
      }
      const head = parseResponseHead(data.toString('latin1', 0, end));
      if ('error' in head) return this.abort(head.error);
      this.status = head.status;
      this.bodyLength = head.bodyLength;
      this.closeAfter = head.close;
      this.bodyStart = end + 4;
    }
    const total = this.bodyStart + this.bodyLength;
    if (data.length < total) {
      this.pending = data;
      return;
    }
    if (data.length > total) return this.abort('bytes after the answer');
    this.pending = undefined;
    this.busy = false;
    if (this.closeAfter) {
      // the answer counts; the socket does not carry another request (`closed` follows, nothing lost)
      this.open = false;
      this.socket?.destroy();
    }
    this.events.answered(this, this.status, data.subarray(this.bodyStart, total));
  }
}

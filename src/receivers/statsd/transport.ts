/**
 * The three ways StatsD arrives: UDP datagrams (the default), newline-framed
 * TCP streams, and Unix datagram sockets. Each hands whole lines to `onData`
 * as a Buffer (a datagram, or the complete lines of a TCP chunk).
 *
 * A listener calls whatever `handlers` currently holds, so a live reload can
 * move the socket (and a TCP listener's open connections) to a new receiver
 * without closing it: see `../../service/handover.ts`.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { TributaryError } from '../../errors.ts';
import { parseHostPort } from '../../config/types.ts';

export interface ListenHandlers {
  onData(buf: Buffer): void;
  /** A TCP line longer than maxLineLength (its text is cut short). */
  onTooLong(head: Buffer): void;
  onError(err: Error): void;
}

export interface Listener {
  /** `host:port` actually bound, or the socket path. */
  readonly address: string;
  /** Socket type (`udp4`, `udp6`, `tcp`, `unixgram`): a reload hands the socket over only to a receiver wanting the same. */
  readonly kind: string;
  /** Where data goes; replaced synchronously on handover. */
  handlers: ListenHandlers;
  /** Apply the socket settings a new owner asks for (those that can change on an open socket). */
  adjust(opts: ListenOptions): void;
  close(): Promise<void>;
}

export interface ListenOptions extends ListenHandlers {
  endpoint: string;
  receiveBufferSize: number;
  socketMode: number;
  maxLineLength: number;
  logger: Logger;
}

function handlersOf(opts: ListenHandlers): ListenHandlers {
  return { onData: opts.onData, onTooLong: opts.onTooLong, onError: opts.onError };
}

function startFailed(what: string, err: unknown): TributaryError {
  const e = err as NodeJS.ErrnoException;
  const why = e?.code === 'EADDRINUSE' ? 'address already in use' : e?.code === 'EACCES' ? 'permission denied' : (e?.message ?? String(err));
  return new TributaryError('TRIB_START_FAILED', `listen ${what}: ${why}`, { cause: err });
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The socket type a listener for `endpoint` is, as `Listener.kind` names it. */
export function listenerKind(transport: 'udp' | 'tcp' | 'unixgram', endpoint: string, family?: 4 | 6): string {
  if (transport === 'unixgram') return 'unixgram';
  if (transport === 'tcp') return family === undefined ? 'tcp' : `tcp${family}`;
  const host = parseHostPort(endpoint)?.host ?? '';
  return family === 6 || (family === undefined && host.includes(':')) ? 'udp6' : 'udp4';
}

export function listenUdp(opts: ListenOptions, family?: 4 | 6): Promise<Listener> {
  const hp = parseHostPort(opts.endpoint)!;
  const host = hp.host === '' ? '0.0.0.0' : hp.host;
  const type = listenerKind('udp', opts.endpoint, family) as 'udp4' | 'udp6';
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, recvBufferSize: opts.receiveBufferSize > 0 ? opts.receiveBufferSize : undefined });
    const onStartError = (err: Error) => reject(startFailed(`udp ${opts.endpoint}`, err));
    const listener: Listener & { address: string } = {
      address: opts.endpoint,
      kind: type,
      handlers: handlersOf(opts),
      adjust(next) {
        if (next.receiveBufferSize > 0) {
          try {
            socket.setRecvBufferSize(next.receiveBufferSize);
          } catch {
            /* keeps the size it has */
          }
        }
      },
      close: () => new Promise<void>((r) => socket.close(() => r())),
    };
    socket.once('error', onStartError);
    socket.on('message', (msg: Buffer) => listener.handlers.onData(msg));
    socket.bind(hp.port, host, () => {
      socket.off('error', onStartError);
      socket.on('error', (err) => listener.handlers.onError(err));
      let granted = 0;
      try {
        granted = socket.getRecvBufferSize();
      } catch {
        /* not available on every platform */
      }
      const a = socket.address();
      const address = formatHostPort(a.address, a.port);
      // Linux grants at most net.core.rmem_max (and reports double what it books).
      const log = granted > 0 && granted < opts.receiveBufferSize ? opts.logger.warn.bind(opts.logger) : opts.logger.info.bind(opts.logger);
      log(
        { address, requestedReceiveBuffer: opts.receiveBufferSize, grantedReceiveBuffer: granted },
        granted > 0 && granted < opts.receiveBufferSize
          ? 'statsd: UDP receive buffer smaller than asked for (raise net.core.rmem_max to avoid drops under bursts)'
          : 'statsd: listening on UDP',
      );
      listener.address = address;
      resolve(listener);
    });
  });
}

export function listenTcp(opts: ListenOptions, family?: 4 | 6): Promise<Listener> {
  const hp = parseHostPort(opts.endpoint)!;
  const host = hp.host === '' ? (family === 6 ? '::' : '0.0.0.0') : hp.host;
  const sockets = new Set<net.Socket>();
  let maxLineLength = opts.maxLineLength;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    // Lines go to the current handlers, so open connections follow a handover too.
    const framer = new LineFramer({
      maxLineLength,
      onData: (buf) => listener.handlers.onData(buf),
      onTooLong: (head) => listener.handlers.onTooLong(head),
    });
    sock.on('data', (chunk: Buffer) => framer.push(chunk));
    sock.on('end', () => framer.end());
    sock.on('error', () => {
      /* a client vanishing is not our error; the socket closes */
    });
    sock.on('close', () => sockets.delete(sock));
  });
  const listener: Listener & { address: string } = {
    address: opts.endpoint,
    kind: listenerKind('tcp', opts.endpoint, family),
    handlers: handlersOf(opts),
    adjust(next) {
      // Applies to connections accepted from now on.
      maxLineLength = next.maxLineLength;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Clients that keep their connection open must not hold up shutdown.
        for (const s of sockets) s.end();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 1000).unref();
      }),
  };
  return new Promise((resolve, reject) => {
    const onStartError = (err: Error) => reject(startFailed(`tcp ${opts.endpoint}`, err));
    server.once('error', onStartError);
    server.listen(hp.port, host, () => {
      server.off('error', onStartError);
      server.on('error', (err) => listener.handlers.onError(err));
      const a = server.address() as net.AddressInfo;
      listener.address = formatHostPort(a.address, a.port);
      opts.logger.info({ address: listener.address }, 'statsd: listening on TCP');
      resolve(listener);
    });
  });
}

/**
 * Cuts a TCP stream into whole lines. A chunk's complete lines are handed on
 * as one Buffer (no per-line copies); a partial last line waits for the next
 * chunk; a line longer than maxLineLength is reported once and skipped.
 */
export class LineFramer {
  private pending: Buffer | null = null;
  private skipping = false;
  private readonly opts: Pick<ListenOptions, 'maxLineLength' | 'onData' | 'onTooLong'>;

  constructor(opts: Pick<ListenOptions, 'maxLineLength' | 'onData' | 'onTooLong'>) {
    this.opts = opts;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl === -1) return;
      this.skipping = false;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last < start) {
      this.hold(chunk.subarray(start));
      return;
    }
    if (this.pending !== null) {
      const firstNl = chunk.indexOf(10, start);
      const head = Buffer.concat([this.pending, chunk.subarray(start, firstNl + 1)]);
      this.pending = null;
      if (head.length - 1 > this.opts.maxLineLength) this.opts.onTooLong(head.subarray(0, 256));
      else this.opts.onData(head);
      start = firstNl + 1;
    }
    if (last >= start) this.checkLines(chunk.subarray(start, last + 1));
    if (last + 1 < chunk.length) this.hold(chunk.subarray(last + 1));
  }

  end(): void {
    if (this.pending !== null && !this.skipping) this.opts.onData(this.pending);
    this.pending = null;
  }

  private checkLines(lines: Buffer): void {
    // Lines within one chunk are bounded by the chunk size (64KiB by default), so
    // only an unusually small limit needs the per-line check.
    if (this.opts.maxLineLength >= lines.length) {
      this.opts.onData(lines);
      return;
    }
    let from = 0;
    while (from < lines.length) {
      const nl = lines.indexOf(10, from);
      const end = nl === -1 ? lines.length : nl;
      if (end - from > this.opts.maxLineLength) this.opts.onTooLong(lines.subarray(from, Math.min(end, from + 256)));
      else if (end > from) this.opts.onData(lines.subarray(from, end));
      from = end + 1;
    }
  }

  private hold(part: Buffer): void {
    const size = (this.pending?.length ?? 0) + part.length;
    if (size > this.opts.maxLineLength) {
      this.opts.onTooLong((this.pending ?? part).subarray(0, 256));
      this.pending = null;
      this.skipping = true;
      return;
    }
    // Copy: a slice would keep the whole chunk alive until the line completes.
    this.pending = this.pending === null ? Buffer.from(part) : Buffer.concat([this.pending, part]);
  }
}

interface UnixDgramSocket {
  bind(path: string): void;
  close(): void;
  on(event: string, fn: (...args: any[]) => void): void;
  once(event: string, fn: (...args: any[]) => void): void;
  removeAllListeners(event: string): void;
}

/**
 * Node has no AF_UNIX SOCK_DGRAM support of its own; the `unix-dgram` native
 * module (already a dependency of the hot-shots client) provides it. It is
 * loaded only when this transport is configured.
 */
export async function listenUnixgram(opts: ListenOptions): Promise<Listener> {
  let unix: { createSocket(type: string, onMessage: (buf: Buffer) => void): UnixDgramSocket };
  try {
    unix = createRequire(import.meta.url)('unix-dgram');
  } catch (err) {
    throw new TributaryError('TRIB_START_FAILED', `listen unixgram ${opts.endpoint}: the unix-dgram native module is not available for this Node.js (${(err as Error).message.split('\n')[0]})`, {
      cause: err,
    });
  }
  const path = opts.endpoint;
  removeStaleSocket(path);
  const socket = unix.createSocket('unix_dgram', (buf: Buffer) => listener.handlers.onData(buf));
  const listener: Listener = {
    address: path,
    kind: 'unixgram',
    handlers: handlersOf(opts),
    adjust(next) {
      try {
        fs.chmodSync(path, next.socketMode);
      } catch (err) {
        next.logger.warn({ address: path, err: (err as Error).message }, 'statsd: cannot change the socket file mode');
      }
    },
    close: async () => {
      socket.close();
      removeStaleSocket(path);
    },
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (err: Error) => reject(startFailed(`unixgram ${path}`, err)));
    socket.once('listening', () => resolve());
    socket.bind(path);
  });
  socket.removeAllListeners('error');
  socket.on('error', (err: Error) => listener.handlers.onError(err));
  try {
    fs.chmodSync(path, opts.socketMode);
  } catch (err) {
    socket.close();
    throw startFailed(`unixgram ${path}`, err);
  }
  opts.logger.info({ address: path, mode: opts.socketMode.toString(8) }, 'statsd: listening on unix datagram socket');
  return listener;
}

/** A socket file left by a previous run would make bind fail; anything else at that path is left alone. */
function removeStaleSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    /* absent */
  }
}

/**
 * Two listeners on one address are found before anything starts (Vector's
 * `resources()` idea): same transport and port, and equal hosts or one of
 * them the wildcard. Each conflict is reported at both places.
 */
import type { ListenAddress } from '../component.ts';
import type { KeyPath } from './positions.ts';
import { formatPath } from './positions.ts';
import { parseHostPort } from './types.ts';

export interface Listener extends ListenAddress {
  /** Full key path in the config, for the message and the position. */
  path: KeyPath;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]', '*']);

export function checkListenConflicts(listeners: Listener[]): Array<{ path: KeyPath; message: string }> {
  const out: Array<{ path: KeyPath; message: string }> = [];
  for (let i = 0; i < listeners.length; i++) {
    for (let j = i + 1; j < listeners.length; j++) {
      const a = listeners[i];
      const b = listeners[j];
      if (!conflict(a, b)) continue;
      out.push({ path: a.path, message: `listen address ${a.address} (${a.transport}) is also used by ${formatPath(b.path)} (${b.address})` });
      out.push({ path: b.path, message: `listen address ${b.address} (${b.transport}) is also used by ${formatPath(a.path)} (${a.address})` });
    }
  }
  return out;
}

function conflict(a: Listener, b: Listener): boolean {
  if (a.transport !== b.transport) return false;
  if (a.transport === 'unix' || a.transport === 'unixgram') return a.address === b.address;
  const ha = parseHostPort(a.address);
  const hb = parseHostPort(b.address);
  // Port 0 asks the OS for a free port: never a conflict.
  if (!ha || !hb || ha.port === 0 || ha.port !== hb.port) return false;
  const x = normalHost(ha.host);
  const y = normalHost(hb.host);
  return x === y || WILDCARDS.has(x) || WILDCARDS.has(y);
}

function normalHost(h: string): string {
  const l = h.toLowerCase();
  return l === 'localhost' ? '127.0.0.1' : l;
}

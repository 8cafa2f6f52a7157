/** Helpers for component unit tests: settings with a silent logger and fresh self-metrics. */
import type { ComponentKind, CreateSettings, Host } from '../component.ts';
import { parseComponentId } from '../component.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { silentLogger } from '../telemetry/logger.ts';

export function testSettings(kind: ComponentKind, id: string, pipeline = '', telemetry = new PipelineTelemetry()): CreateSettings {
  const cid = parseComponentId(id);
  if (!cid) throw new Error(`bad component id ${id}`);
  return { id: cid, kind, pipeline, logger: silentLogger(), telemetry };
}

export function testHost(): Host & { errors: Array<[string, unknown]> } {
  const errors: Array<[string, unknown]> = [];
  return { errors, sockets: new Map(), reportError: (id, err) => errors.push([id, err]) };
}

/** Attribute values as the vendor exporters' tag and dimension text. */
import type { AttributeValue } from '../../model/metrics.ts';

/** Strings as they are, bytes as base64, arrays and maps as JSON, null as ''. */
export function attributeText(v: AttributeValue): string {
  if (typeof v === 'string') return v;
  if (v === null) return '';
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * A product's key with lookupKey sourceId: its source and sourceId, the source escaped so that the first `:` separates
 * them (a sourceId may hold any character).
 */
export const sourceKey = (source: string, sourceId: string) => `${source.replaceAll('%', '%25').replaceAll(':', '%3A')}:${sourceId}`;

/** The source and sourceId a key was made of: sourceKey's inverse, so a chunk is grouped by source without parsing its bodies. */
export function sourceOfKey(key: string): [source: string, sourceId: string] {
  const at = key.indexOf(':');
  return [key.slice(0, at).replace(/%3A|%25/g, (code) => (code === '%3A' ? ':' : '%')), key.slice(at + 1)];
}

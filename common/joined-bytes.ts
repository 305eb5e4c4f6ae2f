/**
 * A request body made of products' JSON bodies between a head and a tail (`[` … `]`), joined by commas, as UTF-8
 * bytes written once into one Buffer. A 10 MB body never becomes a string, which would wait in the JavaScript heap
 * for a full garbage collection, where a Buffer's memory is freed as soon as it is dropped.
 */
export function joinedBytes(head: string, count: number, bodyOf: (index: number) => string | Uint8Array, tail: string): Buffer {
  let bytes = Buffer.byteLength(head) + Buffer.byteLength(tail) + Math.max(0, count - 1);
  for (let i = 0; i < count; i++) {
    const body = bodyOf(i);
    bytes += typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  }
  const out = Buffer.allocUnsafe(bytes);
  let at = out.write(head);
  for (let i = 0; i < count; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    const body = bodyOf(i);
    if (typeof body === 'string') at += out.write(body, at);
    else {
      out.set(body, at);
      at += body.byteLength;
    }
  }
  out.write(tail, at);
  return out;
}

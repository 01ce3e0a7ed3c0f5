// RFC 6962 / RFC 9162 Merkle proofs, checked in the browser with WebCrypto: a page shows an audit entry only
// with the hash it recomputed from the entry's exact text, and checks that hash is in a signed checkpoint.

const encoder = new TextEncoder();

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

/** SHA-256(0x00 ‖ entry): the leaf hash of an entry's canonical text. */
export function leafHash(canonical: string): Promise<Uint8Array> {
  return sha256(new Uint8Array([0]), encoder.encode(canonical));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(new Uint8Array([1]), left, right);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Whether `proof` shows `leaf` at `index` in the tree of `size` leaves whose root is `root` (RFC 9162 2.1.3.2).
 *  Sizes stay below 2^53, so halving is arithmetic, not 32-bit shifts. */
export async function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: Uint8Array[],
                                      root: Uint8Array): Promise<boolean> {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let hash = leaf;
  for (const sibling of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      hash = await nodeHash(sibling, hash);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      hash = await nodeHash(hash, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(hash, root);
}

/** The size and root a signed checkpoint note states (its body: origin, size, base64 root), or null. */
export function checkpointOf(note: string): { origin: string; size: number; root: Uint8Array } | null {
  const [origin, size, root] = note.split("\n");
  if (!origin || !size || !/^(0|[1-9][0-9]{0,15})$/.test(size) || !root) return null;
  try {
    const bytes = fromBase64(root);
    return bytes.length === 32 ? { origin, size: Number(size), root: bytes } : null;
  } catch {
    return null;
  }
}

/**
 * Masks secret values in a byte stream, including a secret split across two chunks:
 * the last (longest secret - 1) bytes of each chunk are held back until the next
 * chunk (or the end) shows whether they start a secret. Guards the invariant that a
 * secret variable's value never reaches the store or a live view.
 */

/** What a masked secret is replaced with. */
export const MASK = Buffer.from('***');

/** Masks one stream; one instance per stream of a run. */
export class SecretMasker {
  private readonly secrets: Buffer[];
  private readonly holdBack: number;
  private pending = Buffer.alloc(0);

  constructor(secrets: readonly string[]) {
    // Longest first, so that a secret containing another is masked whole. Very short
    // values would mask ordinary output ("1", "on") and protect nothing: skip them.
    this.secrets = [...new Set(secrets.filter((s) => s.length >= 3))].map((s) => Buffer.from(s)).sort((a, b) => b.length - a.length);
    this.holdBack = Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  /** Whether there is anything to mask at all (the fast path skips all copying). */
  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** Masks a chunk; returns what can be released now (possibly less than was given). */
  push(chunk: Buffer): Buffer {
    if (!this.active) return chunk;
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const masked = this.mask(data);
    // Hold back a tail that could be the start of a secret, unless it is already masked output.
    const keep = Math.min(this.holdBack, masked.length);
    let cut = masked.length - keep;
    if (keep > 0 && !this.couldStartSecret(masked.subarray(cut))) cut = masked.length;
    this.pending = Buffer.from(masked.subarray(cut));
    return masked.subarray(0, cut);
  }

  /** Releases what was held back, at the end of the stream. */
  end(): Buffer {
    const rest = this.active ? this.mask(this.pending) : this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  private mask(data: Buffer): Buffer {
    let out = data;
    for (const secret of this.secrets) {
      let at = out.indexOf(secret);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at >= 0) {
        parts.push(out.subarray(from, at), MASK);
        from = at + secret.length;
        at = out.indexOf(secret, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  /** Whether some suffix of `tail` is a proper prefix of a secret. */
  private couldStartSecret(tail: Buffer): boolean {
    for (let i = 0; i < tail.length; i++) {
      const suffix = tail.subarray(i);
      if (this.secrets.some((s) => s.length > suffix.length && s.subarray(0, suffix.length).equals(suffix))) return true;
    }
    return false;
  }
}

/**
 * A JSON value (a run's `output`) with every occurrence of a secret, in its strings and its
 * keys, replaced by ***: an output is stored and shown like the log, so it is masked like it.
 */
export function maskSecretsInValue(value: unknown, secrets: readonly string[]): unknown {
  const list = [...new Set(secrets.filter((x) => x.length >= 3))].sort((a, b) => b.length - a.length);
  if (list.length === 0) return value;
  const text = (str: string) => list.reduce((acc, secret) => acc.split(secret).join('***'), str);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) Object.defineProperty(out, text(k), { value: walk(inner), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return v;
  };
  return walk(value);
}

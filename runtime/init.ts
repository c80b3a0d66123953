/** Seeded parameter initialisation (He, Glorot) with a small, portable PRNG. */
import type { InitSpec } from '../dsl/spec.ts';

/** splitmix32: a tiny deterministic generator; returns floats in [0, 1). */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/** Fisher–Yates shuffle of 0..n-1 drawn from `rng`. */
export function shuffledIndices(n: number, rng: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** A standard normal sample (Box–Muller). */
export function normal(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A 32-bit hash of a string, to give every parameter its own stream from one seed. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * He: variance 2/fanIn (for ReLU). Glorot: variance 2/(fanIn + fanOut). Uniform variants draw
 * from [-limit, limit] with the same variance.
 */
export function initialValues(init: InitSpec, size: number, seed: number, name: string): Float32Array {
  const rng = createRng((seed ^ hashString(name)) >>> 0);
  const out = new Float32Array(size);
  const variance =
    init.kind.startsWith('he') ? 2 / init.fanIn : init.kind.startsWith('glorot') ? 2 / (init.fanIn + init.fanOut) : 0;
  const std = Math.sqrt(variance);
  const limit = Math.sqrt(3 * variance);
  for (let i = 0; i < size; i++) {
    switch (init.kind) {
      case 'he_normal':
      case 'glorot_normal':
        out[i] = std * normal(rng);
        break;
      case 'he_uniform':
      case 'glorot_uniform':
        out[i] = (2 * rng() - 1) * limit;
        break;
      case 'zeros':
        out[i] = 0;
        break;
      case 'ones':
        out[i] = 1;
        break;
      case 'constant':
        out[i] = init.value ?? 0;
        break;
    }
  }
  return out;
}

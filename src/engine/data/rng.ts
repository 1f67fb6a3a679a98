// Seeded pseudo-random numbers for every random draw of a run (data order, initialisation, sampling).
// A run must be fully determined by (config, seed) in a browser tab, a Web Worker and Node alike, so
// everything here is 32-bit integer arithmetic (Math.imul, shifts) plus exact float scaling: no
// Math.random, no transcendental functions whose last bits differ between JS engines.
//
// Generator: xoshiro128** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c),
// seeded through splitmix32 as its authors recommend, so that nearby seeds (0, 1, 2, …) give
// unrelated states.

/** 2^32 as a double; u32 / 2^32 is exact in a double, which keeps nextFloat identical everywhere. */
const TWO_POW_32 = 4294967296;

/** The golden-ratio increment of splitmix's Weyl sequence (2^32 / φ, odd). */
const GOLDEN_GAMMA = 0x9e3779b9;

/** The splitmix32 output function. Each step (xor-shift, multiply by an odd constant) is invertible
 *  modulo 2^32, so this is a bijection on 32-bit words with strong avalanche (constants from
 *  Chris Wellons' hash prospector). */
export function mix32(word: number): number {
  let x = word | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** splitmix32: a Weyl sequence passed through mix32. Used only to expand a 32-bit seed into the
 *  128-bit xoshiro state. */
export class SplitMix32 {
  private counter: number;

  constructor(seed: number) {
    this.counter = seed >>> 0;
  }

  next(): number {
    this.counter = (this.counter + GOLDEN_GAMMA) >>> 0;
    return mix32(this.counter);
  }
}

function rotateLeft(x: number, bits: number): number {
  return (x << bits) | (x >>> (32 - bits));
}

/** FNV-1a over the UTF-16 code units of the label, tagged with its type so that fork(1) and
 *  fork('1') are different streams, then avalanched by mix32. */
function hashForkLabel(label: string | number): number {
  const text = typeof label === 'number' ? `number:${label}` : `string:${label}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return mix32(hash);
}

/** Array-likes that shuffle() can permute: plain arrays and typed arrays. */
export interface WritableArrayLike<T> {
  length: number;
  [index: number]: T;
}

export class Rng {
  // The xoshiro128** state, kept as int32 values.
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** The state this generator started from. fork() derives children from it rather than from the
   *  current state, so a child stream does not depend on how many draws the parent has made. */
  private readonly forkKey = new Uint32Array(4);

  /** @param seed an integer in [0, 2^32). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
      throw new RangeError(`Rng seed must be an integer in [0, 2^32), got ${seed}`);
    }
    const expander = new SplitMix32(seed);
    this.start([expander.next(), expander.next(), expander.next(), expander.next()]);
  }

  /** A generator that starts from the given raw xoshiro128** state (four uint32 words, not all
   *  zero). Meant for checking the generator against the reference implementation's outputs. */
  static fromState(words: ArrayLike<number>): Rng {
    if (words.length !== 4) {
      throw new RangeError(`Rng.fromState needs 4 words, got ${words.length}`);
    }
    const state = [words[0], words[1], words[2], words[3]];
    if (state.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO_POW_32)) {
      throw new RangeError(`Rng.fromState needs uint32 words, got [${state.join(', ')}]`);
    }
    if (state.every((w) => w === 0)) {
      throw new RangeError('Rng.fromState: the all-zero state is invalid for xoshiro128**');
    }
    const rng = new Rng(0);
    rng.start(state);
    return rng;
  }

  private start(words: number[]): void {
    if (words.every((w) => w >>> 0 === 0)) {
      // The all-zero state is the one fixed point of xoshiro: it would output zeros forever.
      // splitmix never produces it (mix32 is a bijection of four distinct inputs); this guards
      // the astronomically unlikely fork collision. fromState rejects it before getting here.
      words[0] = GOLDEN_GAMMA;
    }
    for (let i = 0; i < 4; i++) this.forkKey[i] = words[i] >>> 0;
    this.s0 = words[0] | 0;
    this.s1 = words[1] | 0;
    this.s2 = words[2] | 0;
    this.s3 = words[3] | 0;
  }

  /** The current xoshiro128** state as four uint32 words: Rng.fromState(rng.state()) continues with
   *  the same draws, which is how a training checkpoint keeps the data loader's position. (Its fork()
   *  streams differ: fork keys on the starting state, so only stream positions are saved this way.) */
  state(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** A uniformly distributed integer in [0, 2^32). */
  nextU32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const shifted = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= shifted;
    this.s3 = rotateLeft(this.s3, 11);
    return result;
  }

  /** A uniformly distributed float in [0, 1), with 32 random bits (u32 / 2^32 is exact). */
  nextFloat(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** A uniformly distributed integer in [0, n), for an integer n in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.nextInt(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    // Rejection sampling: plain u % n favours small residues whenever n does not divide 2^32.
    // Accepting only u below the largest multiple of n gives every residue the same number of
    // preimages. At most half of the draws are rejected (when n is just above 2^31).
    const acceptBelow = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.nextU32();
      if (u < acceptBelow) return u % n;
    }
  }

  /** Fisher–Yates: permutes the array in place, every permutation equally likely. Returns it. */
  shuffle<A extends WritableArrayLike<unknown>>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const held = array[i];
      array[i] = array[j];
      array[j] = held;
    }
    return array;
  }

  /** An independent generator derived deterministically from this generator's starting state and
   *  the label. It ignores draws already made, and making draws on it does not advance this
   *  generator, so e.g. root.fork('data') yields the same batches however initialisation draws
   *  change. The same label always gives the same stream; use distinct labels for distinct uses. */
  fork(label: string | number): Rng {
    const labelStream = new SplitMix32(hashForkLabel(label));
    const words: number[] = [];
    // Each child word mixes a parent word, a label word and the previous child word, so every
    // child word depends on the label and on all earlier parent words.
    let previous = 0;
    for (let i = 0; i < 4; i++) {
      previous = mix32(this.forkKey[i] ^ labelStream.next() ^ rotateLeft(previous, 13));
      words.push(previous);
    }
    const child = new Rng(0);
    child.start(words);
    return child;
  }
}

// Fuzz tests of checkpoint reading: an uploaded or --load'ed file can be anything (another format, cut
// short by a download, a header edited by hand), and must either load or raise one CheckpointError
// that says what is wrong, never a RangeError from a typed array or a TypeError from the header.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config';
import { CheckpointError, type CheckpointTensor, decodeSafetensors, encodeSafetensors } from './checkpoint';
import { checkCheckpointConsistent, checkpointTensorShapes, runFromCheckpoint } from './run-checkpoint';

const RUNS = { numRuns: 1000 };

function expectCheckpointError(read: () => unknown, says?: RegExp): string {
  try {
    read();
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw new Error(`threw ${String(e)} instead of a CheckpointError`);
    expect(e.message.trim()).not.toBe('');
    if (says) expect(e.message).toMatch(says);
    return e.message;
  }
  throw new Error(`no error${says ? ` (expected one matching ${says})` : ''}`);
}

/** Reads, or fails the property on anything but a CheckpointError. */
function readsOrRejects(read: () => unknown): void {
  try {
    read();
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw new Error(`threw ${String(e)} instead of a CheckpointError`);
    expect(e.message.trim()).not.toBe('');
  }
}

// ---- building files by hand ----

interface HeaderEntry {
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
}

/** A safetensors file from a header object (serialised as given) and a data section. */
function fileFrom(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  return fileFromHeaderBytes(json, data, headerLength);
}

function fileFromHeaderBytes(json: Uint8Array, data: Uint8Array, headerLength = BigInt(json.length)): Uint8Array {
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function headerOf(file: Uint8Array): { header: Record<string, HeaderEntry | Record<string, string>>; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))), data: file.subarray(8 + n) };
}

const tensorArb: fc.Arbitrary<CheckpointTensor> = fc
  .tuple(fc.stringMatching(/^[a-z_.0-9]{1,16}$/), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return fc.float32Array({ minLength: size, maxLength: size, noNaN: true }).map((data) => ({ name, shape, data }));
  });
const metadataArb = fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 16 }), { maxKeys: 4 });
const fileArb = fc
  .record({
    tensors: fc.uniqueArray(tensorArb, { selector: (t) => t.name, minLength: 1, maxLength: 5 }),
    metadata: metadataArb,
  })
  .filter((c) => c.tensors.some((t) => t.data.length > 0) && !c.tensors.some((t) => t.name === '__metadata__'));

/** A valid file and the names of its tensors that own bytes. */
const nonEmptyNames = (c: { tensors: CheckpointTensor[] }) => c.tensors.filter((t) => t.data.length > 0).map((t) => t.name);

// ---- safetensors ----

describe('decodeSafetensors (fuzz)', () => {
  it('reads back every file it writes', () => {
    fc.assert(
      fc.property(fileArb, (c) => {
        const back = decodeSafetensors(encodeSafetensors(c));
        expect(back.metadata).toEqual(c.metadata);
        // The header is a JSON object: a reader sees integer-like names ("0") first, so compare by name.
        const byName = (ts: CheckpointTensor[]) => Object.fromEntries(ts.map((t) => [t.name, [t.shape, Array.from(t.data)]]));
        expect(byName(back.tensors)).toEqual(byName(c.tensors));
      }),
      RUNS,
    );
  });

  it('rejects random bytes, and random bytes behind a plausible header length', () => {
    const random = fc.uint8Array({ maxLength: 256 });
    const plausible = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.uint8Array({ maxLength: 256 })).map(([n, rest]) => {
      const out = new Uint8Array(8 + rest.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
      out.set(rest, 8);
      return out;
    });
    fc.assert(fc.property(fc.oneof(random, plausible), (bytes) => readsOrRejects(() => decodeSafetensors(bytes, 'random.bin'))), RUNS);
  });

  it('rejects every truncation of a valid file', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), (c, at) => {
        const bytes = encodeSafetensors(c);
        const cut = bytes.subarray(0, at % bytes.length);
        expectCheckpointError(() => decodeSafetensors(cut, 'cut.safetensors'), cut.length < 8 ? /shorter than the 8-byte header/ : /truncated/);
      }),
      RUNS,
    );
  });

  it('rejects a header that is not JSON, not UTF-8, or not an object', () => {
    const notJson = fc.oneof(
      fc.string({ maxLength: 30 }).map((s) => new TextEncoder().encode(s)).filter((b) => {
        try {
          const v = JSON.parse(new TextDecoder().decode(b));
          return v === null || typeof v !== 'object' || Array.isArray(v);
        } catch {
          return true;
        }
      }),
      fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => Uint8Array.from([0x7b, ...b, 0xff])),
    );
    fc.assert(fc.property(notJson, (json) => void expectCheckpointError(() => decodeSafetensors(fileFromHeaderBytes(json, new Uint8Array(16))), /header/)), RUNS);
  });

  it('rejects a header length larger than the file', () => {
    fc.assert(
      fc.property(fileArb, fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (c, extra) => {
        const bytes = encodeSafetensors(c).slice();
        const rest = BigInt(bytes.length - 8);
        const claimed = rest + extra > 2n ** 64n - 1n ? 2n ** 64n - 1n : rest + extra;
        new DataView(bytes.buffer).setBigUint64(0, claimed, true);
        expectCheckpointError(() => decodeSafetensors(bytes), /header claims \d+ bytes but only \d+ follow/);
      }),
      RUNS,
    );
  });

  it('rejects offsets out of range, reversed, fractional, not matching the dtype size, or overlapping', () => {
    type Edit = { kind: 'beyond' | 'reversed' | 'malformed' | 'size' | 'overlap'; a: number; b: number; junk: unknown };
    const edit: fc.Arbitrary<Edit> = fc.record({
      kind: fc.constantFrom('beyond', 'reversed', 'malformed', 'size', 'overlap'),
      a: fc.integer({ min: 1, max: 1e6 }),
      b: fc.nat(),
      junk: fc.constantFrom(-4, 1.5, '0', null, Number.NaN, 2 ** 64, [0]),
    });
    const says = { beyond: /truncated: tensor .* ends at byte/, reversed: /invalid data_offsets/, malformed: /invalid data_offsets|malformed shape or data_offsets|truncated/, size: /bytes for shape/, overlap: /overlap/ };
    fc.assert(
      fc.property(fileArb, edit, (c, e) => {
        const { header, data } = headerOf(encodeSafetensors(c));
        const names = nonEmptyNames(c);
        const name = names[e.b % names.length];
        const t = header[name] as HeaderEntry;
        const [begin, end] = t.data_offsets as number[];
        if (e.kind === 'beyond') t.data_offsets = [data.length + e.a - (end - begin), data.length + e.a];
        if (e.kind === 'reversed') t.data_offsets = [end, begin];
        if (e.kind === 'malformed') t.data_offsets = e.b % 2 ? [e.junk, end] : [begin, e.junk];
        if (e.kind === 'size') {
          // A few bytes more or fewer than the shape needs, still inside the data section.
          const d = 1 + (e.a % 3);
          t.data_offsets = [begin, end + d <= data.length ? end + d : end - d];
        }
        if (e.kind === 'overlap') {
          // A copy of the tensor under another name, starting inside its bytes.
          const shift = (e.a % ((end - begin) / 4)) * 4;
          if (begin + shift + (end - begin) > data.length) header[`${name}.copy`] = { ...t, data_offsets: [begin, end] };
          else header[`${name}.copy`] = { ...t, data_offsets: [begin + shift, begin + shift + (end - begin)] };
        }
        expectCheckpointError(() => decodeSafetensors(fileFrom(header, data), 'edited.safetensors'), says[e.kind]);
      }),
      RUNS,
    );
  });

  it('rejects other dtypes, absurd shapes, non-object entries and malformed metadata', () => {
    const badDtype = fc.oneof(fc.string({ maxLength: 6 }).filter((s) => s !== 'F32'), fc.constantFrom('F16', 'BF16', 'I8', 'f32', null, 4, {}, []));
    const badShape = fc.oneof(
      fc.array(fc.integer({ min: 2 ** 20, max: 2 ** 40 }), { minLength: 2, maxLength: 4 }),
      fc.constantFrom([-1], [1.5], ['4'], [[2]], 'x', null, {}, [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], [2 ** 53 + 2]),
    );
    const badMetadata = fc.oneof(
      fc.constantFrom(null, 3, 'text', [], [['a', 'b']], true),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 1 }), fc.boolean()), { minKeys: 1, maxKeys: 3 }),
    );
    const edit = fc.oneof(
      badDtype.map((v) => ({ field: 'dtype' as const, v })),
      badShape.map((v) => ({ field: 'shape' as const, v })),
      fc.constantFrom(null, 4, 'F32', [1, 2]).map((v) => ({ field: 'entry' as const, v })),
      badMetadata.map((v) => ({ field: 'metadata' as const, v })),
    );
    const says = { dtype: /has dtype .*only F32/, shape: /shape/, entry: /is not an object with dtype, shape and data_offsets/, metadata: /metadata/ };
    fc.assert(
      fc.property(fileArb, edit, fc.nat(), (c, e, pick) => {
        const { header, data } = headerOf(encodeSafetensors(c));
        const name = c.tensors[pick % c.tensors.length].name;
        if (e.field === 'metadata') header.__metadata__ = e.v as unknown as Record<string, string>;
        else if (e.field === 'entry') header[name] = e.v as unknown as HeaderEntry;
        else (header[name] as HeaderEntry)[e.field] = e.v;
        expectCheckpointError(() => decodeSafetensors(fileFrom(header, data)), says[e.field]);
      }),
      RUNS,
    );
  });
});

// ---- checkpoints of a run ----

const modelArb: fc.Arbitrary<ModelConfig> = fc
  .record({
    nLayer: fc.integer({ min: 1, max: 2 }),
    nHead: fc.integer({ min: 1, max: 2 }),
    headSize: fc.integer({ min: 1, max: 4 }),
    dFF: fc.integer({ min: 1, max: 8 }),
    contextLength: fc.integer({ min: 1, max: 8 }),
    vocabSize: fc.integer({ min: 1, max: 12 }),
    positionalEncoding: fc.constantFrom('learned' as const, 'sinusoidal' as const),
  })
  .map(({ headSize, ...m }) => ({ architecture: 'decoder' as const, activation: 'gelu' as const, layerNormEps: 1e-5, ...m, dModel: m.nHead * headSize }));

interface RunFile {
  model: ModelConfig;
  metadata: Record<string, string>;
  tensors: CheckpointTensor[];
}

/** What checkpointFromRun writes for a model (zero weights; the reader does not look at values). */
const runFileArb: fc.Arbitrary<RunFile> = fc.tuple(modelArb, fc.nat({ max: 100_000 })).map(([model, step]) => {
  const tensors = [...checkpointTensorShapes(model)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
  const chars = Array.from({ length: model.vocabSize }, (_, i) => String.fromCodePoint(0x61 + i));
  const metadata = { format: 'pt', producer: 'fuzz', model_config: JSON.stringify(model), train_config: '{}', tokenizer: JSON.stringify({ type: 'char', chars }), dataset: 'names', step: String(step) };
  return { model, metadata, tensors };
});

const encodeRun = (r: RunFile) => encodeSafetensors({ tensors: r.tensors, metadata: r.metadata });

describe('runFromCheckpoint and checkCheckpointConsistent (fuzz)', () => {
  it('loads what a run writes', () => {
    fc.assert(
      fc.property(runFileArb, (r) => {
        const loaded = checkCheckpointConsistent(runFromCheckpoint(encodeRun(r), 'run.safetensors'), 'run.safetensors');
        expect(loaded.model).toEqual(r.model);
        expect(loaded.tokenizer.chars).toHaveLength(r.model.vocabSize);
        expect(loaded.step).toBe(Number(r.metadata.step));
      }),
      RUNS,
    );
  });

  it('rejects missing or wrong metadata and tensors that do not fit the model config, saying which', () => {
    type Edit = (r: RunFile, n: number) => RegExp;
    const field = (k: string, v: unknown) => (r: RunFile) => {
      const m = JSON.parse(r.metadata.model_config);
      m[k] = v;
      r.metadata.model_config = JSON.stringify(m);
    };
    const edits: Edit[] = [
      (r, n) => {
        const key = ['model_config', 'tokenizer'][n % 2];
        delete r.metadata[key];
        return new RegExp(`no "${key}" in its metadata`);
      },
      (r, n) => {
        const key = ['model_config', 'tokenizer'][n % 2];
        r.metadata[key] = ['{', '{"a":', 'undefined', "{'a':1}", ''][n % 5];
        return new RegExp(`metadata "${key}" is not valid JSON`);
      },
      (r, n) => {
        r.metadata.model_config = ['null', '3', '"decoder"', '[]', 'true'][n % 5];
        return /metadata "model_config" is not an object/;
      },
      (r, n) => {
        const [k, v] = ([['nLayer', 0], ['dModel', -8], ['nHead', 'two'], ['dFF', 1.5], ['contextLength', null], ['vocabSize', 1e-3], ['activation', 'tanh'], ['layerNormEps', 0], ['architecture', 'encoder']] as const)[n % 9];
        field(k, v)(r);
        return /its model config is invalid/;
      },
      (r) => {
        const m = JSON.parse(r.metadata.model_config) as ModelConfig;
        field('dModel', m.dModel * 3 + 1)(r);
        field('nHead', 1)(r);
        return /tensor \S+ has shape \[[\d,]+\] but its model config needs/;
      },
      (r) => {
        field('nLayer', JSON.parse(r.metadata.model_config).nLayer + 1)(r);
        return /has no tensor transformer\.h\.\d+\.ln_1\.weight/;
      },
      (r, n) => {
        r.tensors.splice(n % r.tensors.length, 1);
        return /has no tensor/;
      },
      (r, n) => {
        r.metadata.tokenizer = ['{"type":"char","chars":"abc"}', '{"type":"bpe","chars":["a"]}', '{"type":"char","chars":["ab"]}', '{"type":"char","chars":["a","a"]}', '{"type":"char","chars":[1]}', 'null', '{"type":"char","chars":[]}'][n % 7];
        return /metadata "tokenizer" is malformed/;
      },
      (r) => {
        const chars = JSON.parse(r.metadata.tokenizer).chars as string[];
        r.metadata.tokenizer = JSON.stringify({ type: 'char', chars: [...chars, '\u2603'] });
        return /tokenizer has \d+ characters but its model config has vocab \d+/;
      },
      (r, n) => {
        r.metadata.step = ['-1', '1.5', 'ten', '', ' ', 'NaN', '1e400'][n % 7];
        return /metadata "step" must be a non-negative integer/;
      },
    ];
    fc.assert(
      fc.property(runFileArb, fc.integer({ min: 0, max: edits.length - 1 }), fc.nat(), (r, which, n) => {
        const says = edits[which](r, n);
        expectCheckpointError(() => checkCheckpointConsistent(runFromCheckpoint(encodeRun(r), 'edited.safetensors'), 'edited.safetensors'), says);
      }),
      RUNS,
    );
  });

  it('never throws anything but a CheckpointError for arbitrary metadata', () => {
    const json = fc.oneof(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(runFileArb, fc.dictionary(fc.constantFrom('model_config', 'tokenizer', 'step', 'dataset'), json), (r, meta) => {
        Object.assign(r.metadata, meta);
        readsOrRejects(() => checkCheckpointConsistent(runFromCheckpoint(encodeRun(r), 'arbitrary.safetensors'), 'arbitrary.safetensors'));
      }),
      RUNS,
    );
  });
});

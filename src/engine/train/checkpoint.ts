// Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header, raw data),
// with nanoGPT/GPT-2 tensor names and PyTorch shapes, so a model trained here loads in PyTorch and back.
// The run's model config and tokenizer travel in the header's __metadata__ (string values only).

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  tensors: CheckpointTensor[];
  metadata: Record<string, string>;
}

/** A file that is not a readable checkpoint; the message says what is wrong with it. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function encodeSafetensors(c: Checkpoint): Uint8Array {
  // No prototype: a tensor named "__proto__" must become a key of the header, not replace its prototype.
  const header: Record<string, unknown> = Object.create(null);
  header.__metadata__ = c.metadata;
  let offset = 0;
  for (const t of c.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new RangeError(`${t.name}: shape [${t.shape}] holds ${size} values, data has ${t.data.length}`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (the format allows trailing spaces).
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of c.tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

function describeDtype(dtype: unknown): string {
  if (typeof dtype === 'string') return dtype.length > 16 ? `${dtype.slice(0, 16)}…` : dtype;
  return dtype === undefined ? '(none)' : `of type ${dtype === null ? 'null' : typeof dtype}`;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  if (bytes.length < 8) throw new CheckpointError(`${source} is truncated or not a safetensors file: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Compared as a BigInt: a random u64 is far beyond 2^53, where a Number would print rounded.
  const claimedLength = view.getBigUint64(0, true);
  if (claimedLength > BigInt(bytes.length - 8)) {
    throw new CheckpointError(`${source} is truncated or not a safetensors file: its header claims ${claimedLength} bytes but only ${bytes.length - 8} follow`);
  }
  const headerLength = Number(claimedLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new CheckpointError(`${source} has an unreadable header (not JSON); is it a safetensors file?`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError(`${source} has a malformed header: it is JSON but not an object of tensors`);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: CheckpointTensor[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      // The format's metadata is a map of strings to strings; anything else was not written by a
      // safetensors writer, and String() would turn it into "[object Object]" silently.
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new CheckpointError(`${source}: __metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new CheckpointError(`${source}: metadata "${k}" must be a string, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new CheckpointError(`${source}: tensor ${name} is not an object with dtype, shape and data_offsets`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw new CheckpointError(`${source}: tensor ${name} has dtype ${describeDtype(e.dtype)}; only F32 checkpoints are read`);
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(offsets) || offsets.length !== 2) {
      throw new CheckpointError(`${source}: tensor ${name} has a malformed shape or data_offsets`);
    }
    const [begin, end] = offsets as number[];
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end >= begin)) {
      throw new CheckpointError(`${source}: tensor ${name} has invalid data_offsets [${String(begin)}, ${String(end)}]`);
    }
    if (end > dataLength) {
      throw new CheckpointError(`${source} is truncated: tensor ${name} ends at byte ${end} of the data section, which has only ${dataLength} bytes`);
    }
    if (end - begin !== size * 4) throw new CheckpointError(`${source}: tensor ${name} has ${end - begin} bytes for shape [${shape}] (needs ${size * 4})`);
    spans.push({ name, begin, end });
    // Copy: the data section need not be 4-byte aligned in the caller's buffer.
    const data = new Float32Array(size);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.push({ name, shape: shape as number[], data });
  }
  // Two tensors sharing bytes means a corrupt or hand-made header: one of them would load the other's
  // values. (Empty tensors own no bytes and cannot overlap.)
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: (typeof spans)[number] | null = null;
  for (const span of spans) {
    if (span.begin === span.end) continue;
    if (previous && span.begin < previous.end) {
      throw new CheckpointError(`${source}: tensors ${previous.name} and ${span.name} overlap (bytes [${previous.begin}, ${previous.end}) and [${span.begin}, ${span.end}) of the data section)`);
    }
    previous = span;
  }
  return { tensors, metadata };
}

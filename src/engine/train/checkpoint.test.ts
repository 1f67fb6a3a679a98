// The safetensors layout, read back byte by byte as another implementation would (8-byte little-endian
// header length, JSON header, contiguous little-endian data), and the errors for broken files.
import { describe, expect, it } from 'vitest';
import { CheckpointError, decodeSafetensors, encodeSafetensors } from './checkpoint';

const tensors = [
  { name: 'transformer.wte.weight', shape: [3, 2], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) },
  { name: 'transformer.ln_f.bias', shape: [5], data: Float32Array.from([0.25, 0.5, 0.75, 1, 1.25]) },
];

describe('safetensors', () => {
  const bytes = encodeSafetensors({ tensors, metadata: { format: 'pt', model_config: '{"nLayer":2}' } });

  it('writes the format: u64 header length, JSON header, 8-byte aligned data', () => {
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect((8 + n) % 8).toBe(0);
    expect(header.__metadata__).toEqual({ format: 'pt', model_config: '{"nLayer":2}' });
    let expectedOffset = 0;
    for (const t of tensors) {
      const e = header[t.name];
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual(t.shape);
      expect(e.data_offsets).toEqual([expectedOffset, expectedOffset + 4 * t.data.length]);
      const view = new DataView(bytes.buffer, 8 + n + e.data_offsets[0]);
      t.data.forEach((v, i) => expect(view.getFloat32(4 * i, true)).toBe(v));
      expectedOffset += 4 * t.data.length;
    }
    expect(bytes.length).toBe(8 + n + expectedOffset);
  });

  it('reads back what it wrote', () => {
    const c = decodeSafetensors(bytes);
    expect(c.metadata.model_config).toBe('{"nLayer":2}');
    expect(c.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    c.tensors.forEach((t, i) => {
      expect(t.shape).toEqual(tensors[i].shape);
      expect(Array.from(t.data)).toEqual(Array.from(tensors[i].data));
    });
  });

  it('says what is wrong with a broken file', () => {
    const err = (b: Uint8Array) => {
      try {
        decodeSafetensors(b, 'x.safetensors');
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        return (e as Error).message;
      }
      throw new Error('no error thrown');
    };
    expect(err(bytes.subarray(0, 5))).toMatch(/shorter than the 8-byte header length/);
    expect(err(bytes.subarray(0, 30))).toMatch(/truncated/);
    expect(err(bytes.subarray(0, bytes.length - 4))).toMatch(/truncated: tensor transformer.ln_f.bias ends at byte/);
    const garbage = new Uint8Array(64);
    garbage[0] = 16;
    expect(err(garbage)).toMatch(/not JSON/);
  });
});

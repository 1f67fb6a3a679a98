import { describe, expect, it } from 'vitest';
import { DEFAULT_COMPARISON, DEFAULT_CONFIG, trainConfigFor } from './config';
import { parseUrl, toSearch } from './url';

describe('parseUrl', () => {
  it('reads readable keys into the config', () => {
    const s = parseUrl('?preset=small&precision=int4&dataset=sort&steps=200&seed=7&forward=lsq&backward=bitsplit&bits=3&hadamard=16&lr=0.001&batch=8&eval=25&measure=5&samples=2&sampleEvery=50');
    expect(s.problems).toEqual([]);
    expect(s.config).toEqual({
      ...DEFAULT_CONFIG, preset: 'small', precision: 'int4', dataset: 'sort', steps: 200, seed: 7, forwardQuantizer: 'lsq',
      backwardQuantizer: 'bitsplit', bits: 3, hadamardBlock: 16, lr: 0.001, batchSize: 8, evalEvery: 25, measureEvery: 5, samples: 2, sampleEvery: 50,
    });
  });

  it('keeps the default and reports a problem for each unusable value', () => {
    const s = parseUrl('precision=int3&steps=-5&seed=1.5&lr=0&hadamard=3&bits=9&colour=red');
    expect(s.config).toEqual(DEFAULT_CONFIG);
    expect(s.problems).toHaveLength(7);
    expect(s.problems[0]).toContain('precision=int3');
    expect(s.problems[0]).toContain('fp32');
    expect(s.problems.join(' ')).toContain('unknown URL parameter "colour"');
  });

  it('reads hide= and compare= lists, dropping unknown names with a message', () => {
    const s = parseUrl('?hide=precision,advanced,frobnicate&compare=fp32,int4:bitsplit,fp64');
    expect(s.hidden).toEqual(['precision', 'advanced']);
    expect(s.compare).toEqual(['fp32', 'int4:bitsplit']);
    expect(s.problems).toHaveLength(2);
    expect(parseUrl('').compare).toEqual(DEFAULT_COMPARISON);
  });
});

describe('toSearch', () => {
  it('writes dataset, preset and precision always, other fields only when not default', () => {
    expect(toSearch({ config: DEFAULT_CONFIG, hidden: [], compare: [...DEFAULT_COMPARISON] })).toBe('?dataset=names&preset=tiny&precision=int4');
    const search = toSearch({ config: { ...DEFAULT_CONFIG, steps: 200, seed: 3 }, hidden: ['precision', 'advanced'], compare: ['fp32', 'int4'] });
    expect(search).toBe('?dataset=names&preset=tiny&precision=int4&steps=200&seed=3&compare=fp32,int4&hide=precision,advanced');
  });

  it('hadamard=auto asks for the per-layer block search, and reaches the engine config', () => {
    const s = parseUrl('?precision=int4&hadamard=auto');
    expect(s.problems).toEqual([]);
    expect(s.config.hadamardBlock).toBe('auto');
    expect(trainConfigFor(s.config)).toMatchObject({ hadamardSearch: true });
    expect(trainConfigFor(parseUrl('?hadamard=16').config)).toMatchObject({ hadamardSearch: false, hadamardBlock: 16 });
    expect(toSearch({ config: s.config, hidden: [], compare: [...DEFAULT_COMPARISON] })).toContain('hadamard=auto');
  });

  it('attentionKernel= and tuning= choose the GPU kernels and reach the engine config; absent = the engine default; bad values say what to give', () => {
    const s = parseUrl('?attentionKernel=separate&tuning=off');
    expect(s.problems).toEqual([]);
    expect(trainConfigFor(s.config)).toMatchObject({ attentionKernel: 'separate', matmulTuning: 'off' });
    expect(toSearch({ config: s.config, hidden: [], compare: [...DEFAULT_COMPARISON] })).toContain('attentionKernel=separate&tuning=off');
    expect(trainConfigFor(parseUrl('?').config)).toMatchObject({ attentionKernel: 'auto', matmulTuning: 'auto' });
    const bad = parseUrl('?attentionKernel=flash');
    expect(bad.problems.join(' ')).toMatch(/attentionKernel.*flash.*auto, fused, separate/);
    expect(bad.config.attentionKernel).toBeUndefined();
  });

  it('round-trips through parseUrl', () => {
    const state = {
      config: { ...DEFAULT_CONFIG, dataset: 'addmod' as const, precision: 'int4-lsq-luq' as const, bits: 5, lr: 0.0025, batchSize: 16, measureEvery: 0 },
      hidden: ['seed' as const],
      compare: ['fp16' as const, 'int4-minmax' as const],
    };
    const back = parseUrl(toSearch(state));
    expect(back.problems).toEqual([]);
    expect(back.config).toEqual(state.config);
    expect(back.hidden).toEqual(state.hidden);
    expect(back.compare).toEqual(state.compare);
  });
});

describe('architectures in the URL', () => {
  const write = (config: typeof DEFAULT_CONFIG) => toSearch({ config, hidden: [], compare: [...DEFAULT_COMPARISON] });

  it('reads arch=, context=, sourceLength= and attention=, and writes them back', () => {
    const s = parseUrl('?arch=encoder-decoder&dataset=numbers&preset=tiny&precision=fp32&context=20&sourceLength=4&attention=5');
    expect(s.problems).toEqual([]);
    expect(s.config).toEqual({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'numbers', precision: 'fp32', contextLength: 20, sourceLength: 4, attentionEvery: 5 });
    const search = write(s.config);
    expect(search).toBe('?arch=encoder-decoder&dataset=numbers&preset=tiny&context=20&sourceLength=4&precision=fp32&attention=5');
    expect(parseUrl(search).config).toEqual(s.config);
    // The command line's name of the encoder-decoder reads too.
    expect(parseUrl('?arch=encdec&dataset=sort').config).toMatchObject({ architecture: 'encoder-decoder', dataset: 'sort' });
    expect(parseUrl('?arch=encoder&dataset=sentiment').config).toMatchObject({ architecture: 'encoder', dataset: 'sentiment' });
  });

  it('reads links from before architectures as the GPT, and writes the GPT without arch=', () => {
    const old = parseUrl('?dataset=reverse&preset=tiny&precision=int4&steps=200');
    expect(old.problems).toEqual([]);
    expect(old.config.architecture).toBe('decoder');
    expect(old.config.dataset).toBe('reverse');
    expect(write(old.config)).toBe('?dataset=reverse&preset=tiny&precision=int4&steps=200');
  });

  it("uses the architecture's default dataset without dataset=, and reports a dataset of another architecture", () => {
    const enc = parseUrl('?arch=encoder');
    expect(enc.problems).toEqual([]);
    expect(enc.config.dataset).toBe('majority');
    expect(parseUrl('?arch=encoder-decoder').config.dataset).toBe('reverse');
    const wrong = parseUrl('?dataset=majority');
    expect(wrong.config).toEqual(DEFAULT_CONFIG);
    expect(wrong.problems).toEqual(['dataset=majority is not a dataset of arch=decoder (names, reverse, sort, addmod), so names was used; for majority add arch=encoder']);
    const names = parseUrl('?arch=encoder-decoder&dataset=names');
    expect(names.config.dataset).toBe('reverse');
    expect(names.problems[0]).toMatch(/dataset=names is not a dataset of arch=encoder-decoder .*; for names add arch=decoder/);
  });

  it('refuses a bad arch and a source length without the encoder-decoder', () => {
    const bad = parseUrl('?arch=gpt&dataset=sort');
    expect(bad.config).toMatchObject({ architecture: 'decoder', dataset: 'sort' });
    expect(bad.problems).toEqual(['arch=gpt was ignored: expected choose one of decoder, encoder, encoder-decoder (or encdec)']);
    const source = parseUrl('?sourceLength=10');
    expect(source.config.sourceLength).toBeUndefined();
    expect(source.problems).toEqual(['sourceLength=10 was ignored: it applies to arch=encoder-decoder only']);
    expect(parseUrl('?context=1').problems[0]).toMatch(/context=1 was ignored: expected a whole number from 2 to 256/);
  });
});

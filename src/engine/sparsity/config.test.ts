// The sparsity settings of a run config (sparsity/config.ts, through validateRunConfig): phases within the
// step budget, and every setting that cannot run refused with what to change, before any GPU work.
import { describe, expect, it } from 'vitest';
import { ConfigError, type ModelConfig, type TrainConfig, validateRunConfig } from '../config';
import { tinyRunConfig, TINY_MODEL } from '../test-configs';
import { DEFAULT_DISTILL, resolvePhases, sparsityPhases, teacherMismatch } from './config';

function errorOf(t: Partial<TrainConfig>, m: Partial<ModelConfig> = {}): string {
  try {
    validateRunConfig(tinyRunConfig(t, m));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  return '';
}

describe('phases', () => {
  it('defaults: one-shot half dense, half 2:4; progressive half dense, a quarter each at 25% and 2:4', () => {
    expect(sparsityPhases({ sparsity: 'oneshot', steps: 300 }).map((p) => [p.start, p.steps, p.keep])).toEqual([[0, 150, 4], [150, 150, 2]]);
    expect(sparsityPhases({ sparsity: 'progressive', steps: 300 }).map((p) => [p.start, p.steps, p.keep])).toEqual([[0, 150, 4], [150, 75, 3], [225, 75, 2]]);
    expect(sparsityPhases({ sparsity: 'dense', steps: 300 })).toEqual([]);
    expect(sparsityPhases({ steps: 300 })).toEqual([]);
  });

  it('fractions (rounded at the cumulative boundaries) or step counts summing to the budget', () => {
    const lengths = (r: ReturnType<typeof resolvePhases>) => ('phases' in r ? r.phases.map((p) => p.steps) : r.error);
    expect(lengths(resolvePhases('oneshot', 10, [0.3, 0.7]))).toEqual([3, 7]);
    expect(lengths(resolvePhases('progressive', 7, [1 / 3, 1 / 3, 1 / 3]))).toEqual([2, 3, 2]);
    expect(lengths(resolvePhases('progressive', 300, [100, 100, 100]))).toEqual([100, 100, 100]);
    expect(lengths(resolvePhases('oneshot', 10, [0, 10]))).toEqual([0, 10]); // prune a loaded dense model at once
    expect(lengths(resolvePhases('oneshot', 1, [0, 1]))).toEqual([0, 1]);
  });

  it('lengths that do not fit the budget are refused with the sums', () => {
    expect(errorOf({ sparsity: 'oneshot', steps: 300, sparsityPhases: [100, 100] })).toMatch(/sparsity-phases 100,100 do not fit the budget of 300 steps: as step counts they sum to 200, not 300; as fractions they must sum to 1/);
    expect(errorOf({ sparsity: 'oneshot', steps: 300, sparsityPhases: [0.5, 0.6] })).toMatch(/do not fit the budget of 300 steps/);
    expect(errorOf({ sparsity: 'progressive', steps: 300, sparsityPhases: [0.5, 0.5] })).toMatch(/progressive has 3 phases \(dense, 25% sparse \(1 of 4\), 2:4 \(50% sparse\)\); got 2/);
    expect(errorOf({ sparsity: 'progressive', steps: 10, sparsityPhases: [0.96, 0.02, 0.02] })).toMatch(/the 25% sparse \(1 of 4\) phase gets 0 of the 10 steps/);
    expect(errorOf({ sparsity: 'oneshot', steps: 0 })).toMatch(/the 2:4 \(50% sparse\) phase gets 0 of the 0 steps/);
    expect(errorOf({ sparsity: 'oneshot', sparsityPhases: [-1, 301], steps: 300 })).toMatch(/non-negative numbers/);
    expect(errorOf({ sparsityPhases: [0.5, 0.5] })).toMatch(/sparsity-phases applies to a sparse recipe/);
  });
});

describe('what cannot run', () => {
  it('a reduction dimension that is not a multiple of 4', () => {
    expect(errorOf({ sparsity: 'oneshot' }, { dFF: 190 })).toMatch(/groups the reduction dimension of every block linear layer in 4s, but mlp.c_proj has 190 inputs, not a multiple of 4; use --d-ff 192/);
    expect(errorOf({ sparsity: 'progressive' }, { dModel: 30, nHead: 3 })).toMatch(/attn.c_attn, attn.c_proj and mlp.c_fc have 30 inputs.*use --d-model 32/);
    expect(errorOf({}, { dFF: 190 })).toBe(''); // dense runs do not care
  });

  it('Sparse-QAT without a sparse recipe or with another precision; bad distillation weights', () => {
    expect(errorOf({ sparseQat: true })).toMatch(/Sparse-QAT prunes the weights: use --sparsity oneshot or progressive/);
    expect(errorOf({ sparseQat: true, sparsity: 'progressive', precision: 'int8' })).toMatch(/leave --precision at fp32 \(got "int8"\)/);
    expect(errorOf({ sparseQat: true, sparsity: 'progressive', distill: DEFAULT_DISTILL })).toBe('');
    expect(errorOf({ distill: { ...DEFAULT_DISTILL, alpha: 1.5 } })).toMatch(/distill-alpha .* must be in \[0, 1\] \(got 1.5\)/);
    expect(errorOf({ distill: { ...DEFAULT_DISTILL, temperature: 0 } })).toMatch(/distill-temperature must be a finite number > 0/);
    expect(errorOf({ distill: 'yes' as never })).toMatch(/distill must be an object/);
    expect(errorOf({ sparsity: 'sparse' as never })).toMatch(/sparsity must be one of dense, oneshot, progressive \(got "sparse"\)/);
  });

  it('a teacher of another model: every differing field, with the student\'s value', () => {
    expect(teacherMismatch(TINY_MODEL, { ...TINY_MODEL })).toEqual([]);
    expect(teacherMismatch(TINY_MODEL, { ...TINY_MODEL, dModel: 64, activation: 'relu' })).toEqual(['dModel 64 (the student has 48)', 'activation "relu" (the student has "gelu")']);
    expect(teacherMismatch(TINY_MODEL, { ...TINY_MODEL, architecture: 'encoder', numClasses: 2 })).toHaveLength(2);
  });
});

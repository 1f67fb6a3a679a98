// `npm run experiment -- scaling-sweep`: bad input ends with one line `error: …` and exit code 2 before
// any rung trains (a malformed width list, widths the heads or the head size do not divide, a rung over
// the adapter's limits, flags that do not apply); --plan prints the ladder; a short sweep (fp32 and int4)
// writes every curve, the spikes and the fits to --out. Runs the bundled CLI as a user would.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfigFromPreset } from '../engine/config';
import { namesDataset } from '../engine/data/corpus';
import { parameterCounts, trainingFlopsPerToken } from '../engine/train/scaling';

const dir = mkdtempSync(join(tmpdir(), 'scaling-cli-test-'));

function sweep(args: string[]) {
  const r = spawnSync('node', ['dist-node/experiment.mjs', 'scaling-sweep', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** The one line a user sees (Dawn may print its own "Warning:" lines on acquiring the adapter). */
function expectOneLineError(r: ReturnType<typeof sweep>, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning: '));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  // Nothing trained: no rung's result line, no table.
  expect(r.stdout).toBe('');
}

beforeAll(() => {
  execFileSync('node', ['scripts/build-node.mjs', '--quiet']);
});

describe('scaling-sweep: bad input, before any rung trains', () => {
  it('a malformed width list, or fewer than 2 widths', () => {
    expectOneLineError(sweep(['--widths', '16,x,32']), /--widths: "x" is not a width \(a positive integer d_model\); give e.g. --widths 16,24,32,48,96/);
    expectOneLineError(sweep(['--widths', '16,,32']), /--widths: "" is not a width/);
    expectOneLineError(sweep(['--widths', '16,-8']), /--widths: "-8" is not a width/);
    expectOneLineError(sweep(['--widths', '12.5,32']), /--widths: "12.5" is not a width/);
    expectOneLineError(sweep(['--widths', '32']), /a power law needs at least 2 model sizes \(got 1\)/);
    expectOneLineError(sweep(['--widths']), /--widths needs a value/);
    expectOneLineError(sweep(['--widths', '16,32,16']), /--widths: ladder widths must differ \(16 given twice\)/);
  });

  it('widths the heads or the head size do not divide', () => {
    expectOneLineError(sweep(['--widths', '16,30,48']), /--widths: widths 30 are not divisible by the 4 heads; use widths divisible by 4, another head count \(1, 2 divide every width\), or a fixed head size/);
    expectOneLineError(sweep(['--widths', '16,24,48', '--heads', '3']), /widths 16 are not divisible by the 3 heads/);
    expectOneLineError(sweep(['--widths', '16,24,32', '--head-size', '16']), /--widths: widths 24 are not multiples of the head size 16; use widths that are, or another head size \(1, 2, 4, 8 divide every width\)/);
    expectOneLineError(sweep(['--head-size', '0']), /--head-size must be a positive integer \(got "0"\)/);
    expectOneLineError(sweep(['--ff-mult', 'wide']), /--ff-mult must be a positive number \(got "wide"\)/);
    expectOneLineError(sweep(['--tokens-per-param', '-2']), /--tokens-per-param must be a positive number/);
  });

  it('a rung over the adapter\'s limits is named, with the buffer and the limit', () => {
    // d_model 16384, 2 layers: 12·16384²·2 ≈ 6.4e9 parameters, 26 GB of floats in one buffer.
    expectOneLineError(sweep(['--widths', '16,32,16384', '--steps', '1']), /^error: rung d=16384 \(d_model 16384, 4 heads, d_ff 65536, 2 layers, [\d,]+ parameters\): this run needs a [\d.]+ GiB buffer for the (parameters|gradients|AdamW moments|checkpoint.staging), but this GPU allows [\d.]+ (MiB|GiB) per buffer \(max\w+\);.*drop this width or make it smaller$/);
  });

  it('a rung that tokens-per-param leaves inside the warmup, and a rung\'s invalid config', () => {
    expectOneLineError(sweep(['--widths', '16,32', '--tokens-per-param', '0.5', '--warmup', '20']), /rung d=16 gets \d+ steps at --tokens-per-param 0.5, not more than the 20 warmup steps; raise --tokens-per-param or lower --warmup/);
    expectOneLineError(sweep(['--widths', '16,32', '--precision', 'int4', '--bits', '9']), /rung d=16: bits must be an integer from 2 to 8/);
  });

  it('flags that do not apply to a sweep', () => {
    expectOneLineError(sweep(['--d-model', '64']), /the sweep sets d_model and d_ff per rung: use --widths/);
    expectOneLineError(sweep(['--d-ff', '64']), /use --widths \(and --ff-mult/);
    expectOneLineError(sweep(['--save', join(dir, 'x.safetensors')]), /--load, --save, --teacher and --metrics do not apply/);
    expectOneLineError(sweep(['--sparsity', 'oneshot']), /the scaling sweep trains dense models/);
    expectOneLineError(sweep(['--sample', '3']), /belong to `npm run train`/);
    expectOneLineError(sweep(['--nope']), /Unknown option '--nope'/);
  });
});

describe('scaling-sweep: the ladder and a run', () => {
  it('--help describes the sweep; the experiment list names it', () => {
    const r = sweep(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--widths', '--head-size', '--ff-mult', '--tokens-per-param', '--plan', '--out', '--precision']) expect(r.stdout).toContain(flag);
    const all = spawnSync('node', ['dist-node/experiment.mjs', '--help'], { encoding: 'utf8' });
    expect(all.stdout).toContain('scaling-sweep');
    const unknown = spawnSync('node', ['dist-node/experiment.mjs', 'scaling'], { encoding: 'utf8' });
    expect(unknown.stderr).toMatch(/unknown experiment "scaling"; choose from precision-sweep, sparsity, scaling-sweep/);
  });

  it('--plan prints the default ladder (tiny preset: ≥ 30× in non-embedding parameters) without training', () => {
    const r = sweep(['--plan', '--steps', '100', '--batch', '8']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| d=\d+ \|/.test(l));
    expect(rows.map((l) => l.split('|')[1].trim())).toEqual(['d=16', 'd=24', 'd=32', 'd=48', 'd=96']);
    // Parameters and FLOPs per token as the engine's functions give them for each width.
    const vocab = namesDataset(readFileSync('public/datasets/names.txt', 'utf8')).tokenizer.vocabSize;
    const tiny = modelConfigFromPreset('tiny', vocab);
    for (const row of rows) {
      const cells = row.split('|').map((c) => c.trim());
      const d = Number(cells[1].slice(2));
      const model = { ...tiny, dModel: d, dFF: 4 * d };
      expect(Number(cells[2].replace(/,/g, ''))).toBe(parameterCounts(model).total);
      expect(cells[4]).toBe('100');
      expect(Number(cells[5].replace(/,/g, ''))).toBe(100 * 8 * tiny.contextLength);
      expect(Number(cells[6].replace(/,/g, ''))).toBe(Math.round(trainingFlopsPerToken(model)));
    }
    expect(r.stdout).toMatch(/non-embedding parameters span (3\d|[4-9]\d)\.\d× .*every rung fits this GPU's limits/);
  });

  it.each(['fp32', 'int4'])('a short %s sweep prints the table and the fit, and --out holds every curve, the spikes and the fit', (precision) => {
    const out = join(dir, `sweep-${precision}.json`);
    const r = sweep(['--widths', '16,32', '--steps', '4', '--batch', '4', '--warmup', '1', '--val-batches', '1', '--precision', precision, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| d=16 \| .* \| none \|/);
    expect(r.stdout).toMatch(/fit against training FLOPs: loss ≈ [\d.]+ · C\^-?[\d.]+ {2}\(exponent -?[\d.]+, r² 1\.0000\)/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { ladder: { budget: string }; fit: { loss_vs_flops: { exponent: number; r2: number } }; rungs: { d_model: number; steps: number; flops: number; val_loss: number; spikes: unknown[]; hadamard_block: number | null; curve: { steps: number[]; losses: number[] } }[] };
    expect(json.ladder.budget).toBe('same-tokens');
    expect(json.rungs.map((x) => x.d_model)).toEqual([16, 32]);
    for (const rung of json.rungs) {
      expect(rung.curve.steps).toEqual([1, 2, 3, 4]);
      expect(rung.curve.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      expect(rung.spikes).toEqual([]);
      expect(rung.hadamard_block).toBe(precision === 'int4' ? rung.d_model : null);
    }
    // Two points: the fitted line passes through both (the exponent is the slope between them).
    const [a, b] = json.rungs;
    expect(json.fit.loss_vs_flops.exponent).toBeCloseTo(Math.log(b.val_loss / a.val_loss) / Math.log(b.flops / a.flops), 10);
    expect(json.fit.loss_vs_flops.r2).toBe(1);
  });
});

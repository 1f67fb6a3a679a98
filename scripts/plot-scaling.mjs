// Turns the JSON of `npm run experiment -- scaling-sweep --out FILE.json` into an SVG of two log-log
// panels: each rung's final validation loss against its training FLOPs with the fitted power law
// L ≈ a·C^b, and every rung's training-loss curve against the FLOPs spent so far, loss spikes marked.
// No dependencies: `node scripts/plot-scaling.mjs sweep.json [out.svg]` (default: the JSON's name, .svg).
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output = input?.replace(/\.json$/, '') + '.svg'] = process.argv.slice(2);
if (!input) {
  process.stderr.write('usage: node scripts/plot-scaling.mjs SWEEP.json [OUT.svg]\n');
  process.exit(2);
}
const sweep = JSON.parse(readFileSync(input, 'utf8'));
const rungs = sweep.rungs;
const fit = sweep.fit?.loss_vs_flops;

const W = 460;
const H = 340;
const M = { left: 58, right: 14, top: 30, bottom: 46 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Ticks of a log axis over [lo, hi]: powers of ten when the range spans a decade or more, else round
 *  values (steps of 1, 2 or 5 times a power of ten) inside it. */
function logTicks(lo, hi) {
  const decades = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) decades.push(10 ** e);
  if (decades.length >= 2) return decades;
  const span = hi - lo;
  const unit = 10 ** Math.floor(Math.log10(span / 4));
  const step = [1, 2, 5, 10].map((k) => k * unit).find((s) => span / s <= 6);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi * (1 + 1e-9); v += step) ticks.push(+v.toPrecision(6));
  return ticks;
}

function formatTick(v) {
  if (v >= 1e4 || v < 1e-2) {
    const e = Math.floor(Math.log10(v));
    const m = v / 10 ** e;
    return Math.abs(m - 1) < 1e-9 ? `1e${e}` : `${+m.toPrecision(2)}e${e}`;
  }
  return String(+v.toPrecision(3));
}

/** A log-log panel at (x0, y0): axes, ticks, labels; returns the mapping and the SVG so far. */
function panel(x0, y0, xRange, yRange, title, xLabel, yLabel) {
  const pad = (lo, hi, f) => [lo / (hi / lo) ** f, hi * (hi / lo) ** f];
  const [xlo, xhi] = pad(...xRange, 0.06);
  const [ylo, yhi] = pad(...yRange, 0.08);
  const px = (x) => x0 + M.left + ((Math.log(x) - Math.log(xlo)) / (Math.log(xhi) - Math.log(xlo))) * (W - M.left - M.right);
  const py = (y) => y0 + H - M.bottom - ((Math.log(y) - Math.log(ylo)) / (Math.log(yhi) - Math.log(ylo))) * (H - M.top - M.bottom);
  const parts = [];
  parts.push(`<rect x="${x0 + M.left}" y="${y0 + M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  for (const t of logTicks(xlo, xhi)) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${y0 + M.top}" y2="${y0 + H - M.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${y0 + H - M.bottom + 14}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  for (const t of logTicks(ylo, yhi)) {
    parts.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 + M.left - 5}" y="${py(t) + 4}" text-anchor="end">${formatTick(t)}</text>`);
  }
  parts.push(`<text x="${x0 + M.left + (W - M.left - M.right) / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="${x0 + M.left + (W - M.left - M.right) / 2}" y="${y0 + H - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(${x0 + 14} ${y0 + M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return { px, py, parts };
}

const svg = [];
// Left: final validation loss against training FLOPs, the fitted line.
const finals = rungs.filter((r) => Number.isFinite(r.val_loss) && r.val_loss > 0);
const left = panel(0, 0, [Math.min(...finals.map((r) => r.flops)), Math.max(...finals.map((r) => r.flops))], [Math.min(...finals.map((r) => r.val_loss)), Math.max(...finals.map((r) => r.val_loss))], 'final validation loss vs training compute', 'training FLOPs C (log)', 'validation loss (log)');
svg.push(...left.parts);
if (fit && Number.isFinite(fit.exponent)) {
  const xs = [Math.min(...finals.map((r) => r.flops)), Math.max(...finals.map((r) => r.flops))];
  const [a, b] = xs.map((x) => [left.px(x), left.py(fit.coefficient * x ** fit.exponent)]);
  svg.push(`<line x1="${a[0]}" y1="${a[1]}" x2="${b[0]}" y2="${b[1]}" stroke="#444" stroke-dasharray="5 3"/>`);
  svg.push(`<text x="${W - M.right - 6}" y="${M.top + 16}" text-anchor="end">L ≈ ${+fit.coefficient.toPrecision(3)} · C^${fit.exponent.toFixed(4)}</text>`);
  svg.push(`<text x="${W - M.right - 6}" y="${M.top + 31}" text-anchor="end">exponent ${fit.exponent.toFixed(4)}, r² ${fit.r2.toFixed(3)}</text>`);
}
finals.forEach((r) => {
  const color = COLORS[rungs.indexOf(r) % COLORS.length];
  svg.push(`<circle cx="${left.px(r.flops)}" cy="${left.py(r.val_loss)}" r="4.5" fill="${color}"/>`);
  svg.push(`<text x="${left.px(r.flops) + 7}" y="${left.py(r.val_loss) - 6}">${esc(r.label)}</text>`);
});

// Right: training-loss curves against the FLOPs spent so far, spikes marked.
const perStep = (r) => r.flops / r.steps;
const curvePoints = rungs.flatMap((r) => r.curve.steps.map((s, i) => ({ x: s * perStep(r), y: r.curve.losses[i] })).filter((p) => Number.isFinite(p.y) && p.y > 0));
const right = panel(W, 0, [Math.min(...curvePoints.map((p) => p.x)), Math.max(...curvePoints.map((p) => p.x))], [Math.min(...curvePoints.map((p) => p.y)), Math.max(...curvePoints.map((p) => p.y))], 'training loss vs compute spent (spikes ▼)', 'FLOPs so far (log)', 'training loss (log)');
svg.push(...right.parts);
rungs.forEach((r, k) => {
  const color = COLORS[k % COLORS.length];
  const d = r.curve.steps
    .map((s, i) => [s * perStep(r), r.curve.losses[i]])
    .filter(([, y]) => Number.isFinite(y) && y > 0)
    .map(([x, y], i) => `${i ? 'L' : 'M'}${right.px(x).toFixed(1)} ${right.py(y).toFixed(1)}`)
    .join(' ');
  svg.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1" opacity="0.85"/>`);
  for (const s of r.spikes) {
    const y = Number.isFinite(s.loss) ? s.loss : Math.max(...curvePoints.map((p) => p.y));
    const cx = right.px(s.step * perStep(r));
    const cy = right.py(y) - 8;
    svg.push(`<path d="M${cx - 5} ${cy - 4} L${cx + 5} ${cy - 4} L${cx} ${cy + 4} Z" fill="#d00"><title>${esc(`${r.label} step ${s.step}: loss ${s.loss} vs ${s.expected}`)}</title></path>`);
  }
  svg.push(`<rect x="${W + W - M.right - 78}" y="${M.top + 8 + k * 15}" width="10" height="3" fill="${color}"/>`);
  svg.push(`<text x="${W + W - M.right - 64}" y="${M.top + 13 + k * 15}">${esc(r.label)}${r.spikes.length ? ` (${r.spikes.length} ▼)` : ''}</text>`);
});

const caption = `${sweep.dataset}, ${sweep.base?.nLayer} layers, context ${sweep.base?.contextLength}, ${sweep.train?.precision}, ${sweep.ladder?.budget === 'same-tokens' ? `${sweep.train?.steps} steps × batch ${sweep.train?.batchSize} per rung` : `≈ ${sweep.ladder?.tokens_per_parameter} tokens per parameter`}; ${sweep.gpu?.split(';')[0] ?? ''}`;
const out = `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 22}" viewBox="0 0 ${2 * W} ${H + 22}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${svg.join('\n')}
<text x="${W}" y="${H + 14}" text-anchor="middle" fill="#555">${esc(caption)}</text>
</svg>
`;
writeFileSync(output, out);
process.stdout.write(`wrote ${output}\n`);

// Exports of finished runs: metrics as CSV (one row per step, validation loss where it was measured) and
// as JSON (configs, run info, every series, samples), and the browser download of any bytes.
import type { RunRecord } from './runs';

export const CSV_COLUMNS = ['run', 'label', 'step', 'loss', 'grad_norm', 'lr', 'tokens_per_s', 'elapsed_s', 'val_loss'] as const;

function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
  // RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes.
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV row per training step of each run, in step order; a validation loss measured at a step with
 *  no training record (a checkpoint evaluated without training) gets a row of its own. */
export function runsToCsv(runs: readonly RunRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const run of runs) {
    const val = new Map(run.validation.map((v) => [v.step, v.valLoss]));
    const steps = new Set<number>();
    for (const p of run.points) {
      steps.add(p.step);
      lines.push([run.id, run.label, p.step, p.loss, p.gradNorm, p.lr, p.tokensPerSecond, p.elapsedSeconds, val.get(p.step)].map(csvField).join(','));
    }
    for (const v of run.validation) {
      if (!steps.has(v.step)) lines.push([run.id, run.label, v.step, null, null, null, null, null, v.valLoss].map(csvField).join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Parses CSV text as written by runsToCsv (quoted fields included) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export const EXPORT_FORMAT = 'int4-train-playground/runs/1';

export function runsToJson(runs: readonly RunRecord[]): string {
  return JSON.stringify(
    {
      format: EXPORT_FORMAT,
      exportedAt: new Date().toISOString(),
      runs: runs.map((r) => ({
        id: r.id, label: r.label, config: r.config, status: r.status, createdAt: r.createdAt, info: r.info,
        result: r.result, error: r.error, points: r.points, validation: r.validation, samples: r.samples,
        // The classifier's accuracy / the encoder-decoder's exact match, with their examples.
        evaluations: r.evaluations ?? [],
      })),
    },
    // Non-finite numbers (a diverged loss) become null in JSON anyway; say so explicitly.
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    1,
  );
}

/** A file name safe on every OS from a run label. */
export function fileNameFor(label: string, extension: string): string {
  const base = label.replace(/[^a-zA-Z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'run';
  return `${base}.${extension}`;
}

/** Starts a browser download of the bytes or text. */
export function download(data: BlobPart, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked after the click has been handled; revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

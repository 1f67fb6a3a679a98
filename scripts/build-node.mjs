// Bundles the Node entry points (CLI, benchmarks) into dist-node/*.mjs with esbuild: WGSL files are
// inlined as strings (the `?raw` imports Vite resolves in the browser build), and `webgpu` stays
// external (a native addon). The bundle is also what travels to the GPU machine.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';

const quiet = process.argv.includes('--quiet');
// More entry points as name=path (e.g. a benchmark or a debugging script).
const entryPoints = { train: 'src/cli/train.ts', experiment: 'src/cli/experiment.ts' };
for (const a of process.argv.slice(2)) if (a.includes('=')) entryPoints[a.split('=')[0]] = a.split('=')[1];
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, async (args) => {
      const r = await b.resolve(args.path.slice(0, -4), { resolveDir: args.resolveDir, kind: args.kind });
      return { path: r.path, namespace: 'raw-text' };
    });
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({
      contents: await readFile(args.path, 'utf8'),
      loader: 'text',
    }));
  },
};

await build({
  entryPoints,
  outdir: 'dist-node',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: ['webgpu'],
  plugins: [rawText],
  logLevel: quiet ? 'warning' : 'info',
});

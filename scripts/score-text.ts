// Scores a text with a checkpoint through the float64 reference GPT (src/engine/reference), the same
// model the GPU kernels are tested against: the other half of the PyTorch round-trip check
// (scripts/torch_gpt.py).  node scripts/build-node.mjs score=scripts/score-text.ts && node dist-node/score.mjs FILE "TEXT"
import { readFileSync } from 'node:fs';
import { refGptForward, type RefParams } from '../src/engine/reference';
import { runFromCheckpoint } from '../src/engine/train/run-checkpoint';

const [path, text] = process.argv.slice(2);
const run = runFromCheckpoint(new Uint8Array(readFileSync(path)), path);
const params: RefParams = {};
for (const t of run.tensors) params[t.name] = Float64Array.from(t.data);
const ids = [...text].map((c) => run.tokenizer.chars.indexOf(c));
if (ids.some((i) => i < 0)) throw new Error('the text has characters outside the checkpoint vocabulary');
const T = ids.length - 1;
const { loss } = refGptForward(params, run.model, Int32Array.from(ids.slice(0, T)), Int32Array.from(ids.slice(1)), 1, T);
console.log(`float64 reference loss ${loss.toFixed(6)} on ${T} predictions`);
process.exit(0);

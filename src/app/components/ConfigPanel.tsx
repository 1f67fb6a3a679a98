import { useCallback, useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import {
  type Architecture,
  ARCHITECTURE_LABELS,
  architectureOf,
  ARCHITECTURES,
  ATTENTION_KERNEL_CHOICES,
  ATTENTION_KERNEL_LABELS,
  BACKWARD_LABELS,
  BACKWARD_QUANTIZERS,
  configProblems,
  datasetDescription,
  DATASETS_BY_ARCHITECTURE,
  type DatasetChoice,
  DEFAULT_ATTENTION_EVERY,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_DATASET,
  describePrecision,
  FORWARD_LABELS,
  FORWARD_QUANTIZERS,
  HADAMARD_BLOCKS,
  isQuantized,
  MAX_BATCH,
  MAX_CONTEXT,
  MAX_SOURCE_LENGTH,
  MATMUL_TUNING_CHOICES,
  MATMUL_TUNING_LABELS,
  MAX_STEPS,
  PRECISION_LABELS,
  PRECISIONS,
  type Precision,
  PRESET_CHOICES,
  type PresetChoice,
  presetDefaults,
} from '../config';
import { PRESETS } from '../../engine/config';
import { useAppStore } from '../store';
import { useShown } from './hooks';
import { NumberField } from './NumberField';

/** The GPT's datasets by their task; the other architectures' by the engine's descriptions. */
const DECODER_LABELS: Record<string, string> = {
  names: 'names (invent first names)',
  reverse: 'reverse (reverse a string)',
  sort: 'sort (sort digits)',
  addmod: 'addmod (a + b mod 97)',
};

function datasetLabels(architecture: Architecture): Record<DatasetChoice, string> {
  const out: Record<DatasetChoice, string> = {};
  for (const name of DATASETS_BY_ARCHITECTURE[architecture]) {
    out[name] = architecture === 'decoder' && DECODER_LABELS[name] ? DECODER_LABELS[name] : `${name} (${datasetDescription(architecture, name)})`;
  }
  return out;
}

const PRESET_LABELS: Record<PresetChoice, string> = {
  tiny: 'tiny (2 layers, width 48)',
  small: 'small (4 layers, width 128)',
};

function Select<T extends string>(props: { label: string; value: T; choices: readonly T[]; labels: Record<T, string>; disabled?: boolean; testId: string; onChange(v: T): void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value} disabled={props.disabled} data-testid={props.testId} onChange={(e) => props.onChange(e.target.value as T)}>
        {props.choices.map((c) => (
          <option key={c} value={c}>
            {props.labels[c]}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The run's configuration: data, model, precision (with the quantizer ablations under "advanced") and
 *  the schedule. Every field is mirrored in the URL by the store. */
export function ConfigPanel() {
  const { config, busy, setConfig, clearOverrides, setFieldValid } = useAppStore(
    useShallow((s) => ({ config: s.config, busy: s.busy, setConfig: s.setConfig, clearOverrides: s.clearOverrides, setFieldValid: s.setFieldValid })),
  );
  const show = {
    architecture: useShown('architecture'),
    dataset: useShown('dataset'),
    preset: useShown('preset'),
    precision: useShown('precision'),
    advanced: useShown('advanced'),
    steps: useShown('steps'),
    seed: useShown('seed'),
    schedule: useShown('schedule'),
  };
  const validity = useCallback((field: string) => (valid: boolean) => setFieldValid(field, valid), [setFieldValid]);
  const defaults = presetDefaults(config.preset);
  const quantized = isQuantized(config.precision);
  const problems = configProblems(config);
  const architecture = architectureOf(config);
  const chooseArchitecture = (a: Architecture) => {
    // Keep the dataset where the new architecture trains on it too (reverse, sort), else its default;
    // the source length is the encoder-decoder's only.
    const dataset = DATASETS_BY_ARCHITECTURE[a].includes(config.dataset) ? config.dataset : DEFAULT_DATASET[a];
    setConfig({ architecture: a, dataset, ...(a === 'encoder-decoder' ? {} : { sourceLength: undefined }) });
    // The source-length field goes away with the encoder-decoder: what it held no longer blocks Start.
    if (a !== 'encoder-decoder') setFieldValid('source length', true);
  };
  const trainsOn = architecture === 'decoder' ? 'samples' : architecture === 'encoder' ? 'accuracy' : 'exact match';
  return (
    <section className="panel config" aria-labelledby="config-heading" data-testid="config-panel">
      <h2 id="config-heading">Configuration</h2>
      {show.architecture && (
        <Select label="Architecture" value={architecture} choices={ARCHITECTURES} labels={ARCHITECTURE_LABELS} disabled={busy} testId="architecture" onChange={chooseArchitecture} />
      )}
      {show.dataset && (
        <Select label="Dataset" value={config.dataset} choices={DATASETS_BY_ARCHITECTURE[architecture]} labels={datasetLabels(architecture)} disabled={busy} testId="dataset" onChange={(dataset) => setConfig({ dataset })} />
      )}
      {show.preset && (
        <Select label="Model" value={config.preset} choices={PRESET_CHOICES} labels={PRESET_LABELS} disabled={busy} testId="preset" onChange={(preset) => setConfig({ preset })} />
      )}
      {show.preset && (
        <NumberField
          label={architecture === 'encoder-decoder' ? 'Context (decoder positions)' : 'Context (positions)'}
          value={config.contextLength}
          placeholder={`${PRESETS[config.preset].contextLength} (the model's)`}
          optional
          min={2}
          max={MAX_CONTEXT}
          integer
          disabled={busy}
          testId="context"
          hint={architecture === 'decoder' ? "Tokens the model reads at once; empty = the model's" : architecture === 'encoder' ? "The CLS token and the text, padded; empty = the model's" : "The decoder's start token and the target; empty = the model's"}
          onChange={(contextLength) => setConfig({ contextLength })}
          onValidity={validity('context')}
        />
      )}
      {show.preset && architecture === 'encoder-decoder' && (
        <NumberField
          label="Source length (encoder positions)"
          value={config.sourceLength}
          placeholder="the task's longest source"
          optional
          min={1}
          max={MAX_SOURCE_LENGTH}
          integer
          disabled={busy}
          testId="source-length"
          hint="Characters the encoder reads; shorter sources are padded. Empty = what the task needs"
          onChange={(sourceLength) => setConfig({ sourceLength })}
          onValidity={validity('source length')}
        />
      )}
      {show.precision && (
        <Select label="Precision" value={config.precision} choices={PRECISIONS} labels={PRECISION_LABELS} disabled={busy} testId="precision" onChange={(precision: Precision) => setConfig({ precision })} />
      )}
      {show.steps && (
        <NumberField label="Steps" value={config.steps} min={1} max={MAX_STEPS} integer disabled={busy} testId="steps" onChange={(v) => v !== undefined && setConfig({ steps: v })} onValidity={validity('steps')} />
      )}
      {show.seed && (
        <NumberField label="Seed" value={config.seed} min={0} max={0xffffffff} integer disabled={busy} testId="seed" hint="Same config and seed: same data order, initialisation and random draws." onChange={(v) => v !== undefined && setConfig({ seed: v })} onValidity={validity('seed')} />
      )}
      {show.schedule && (
        <details className="subsection">
          <summary>Optimizer and logging</summary>
          <NumberField label="Learning rate (peak)" value={config.lr} placeholder={String(defaults.lr)} optional min={1e-6} max={1} disabled={busy} testId="lr" hint={`AdamW, warmup then cosine; empty = the preset's ${defaults.lr}`} onChange={(lr) => setConfig({ lr })} onValidity={validity('lr')} />
          <NumberField label="Batch size" value={config.batchSize} placeholder={String(defaults.batchSize)} optional min={1} max={MAX_BATCH} integer disabled={busy} testId="batch" hint={`Sequences per step; empty = ${defaults.batchSize}`} onChange={(batchSize) => setConfig({ batchSize })} onValidity={validity('batch')} />
          <NumberField label="Validate every (steps)" value={config.evalEvery} min={0} max={MAX_STEPS} integer disabled={busy} testId="eval-every" hint="0 = only at the end" onChange={(v) => v !== undefined && setConfig({ evalEvery: v })} onValidity={validity('validate every')} />
          <NumberField label="Measure layers every (steps)" value={config.measureEvery} min={0} max={MAX_STEPS} integer disabled={busy} testId="measure-every" hint="Per-layer snapshots for the measurement charts; 0 = off" onChange={(v) => v !== undefined && setConfig({ measureEvery: v })} onValidity={validity('measure every')} />
          <NumberField label="Checkpoint every (steps)" value={config.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY} min={0} max={MAX_STEPS} integer disabled={busy} testId="checkpoint-every" hint="Weights and optimizer state copied on the GPU without stalling: a lost GPU or a NaN resumes from the last one, and it is saved with the run. 0 = off" onChange={(v) => v !== undefined && setConfig({ checkpointEvery: v })} onValidity={validity('checkpoint every')} />
          <NumberField label={architecture === 'decoder' ? 'Samples at the end' : 'Examples listed'} value={config.samples} min={0} max={32} integer disabled={busy} testId="samples" hint={architecture === 'decoder' ? undefined : `Validation examples shown with the ${trainsOn}, which is measured at the end in any case`} onChange={(v) => v !== undefined && setConfig({ samples: v })} onValidity={validity('samples')} />
          <NumberField label={architecture === 'decoder' ? 'Sample every (steps)' : `Measure ${trainsOn} every (steps)`} value={config.sampleEvery} min={0} max={MAX_STEPS} integer disabled={busy} testId="sample-every" hint={architecture === 'encoder-decoder' ? '0 = only at the end (greedy decoding reads back every position: slow)' : architecture === 'encoder' ? '0 = only at the end' : '0 = only at the end (sampling reads back every token: slow)'} onChange={(v) => v !== undefined && setConfig({ sampleEvery: v })} onValidity={validity('sample every')} />
          <Select label="Attention kernel" value={config.attentionKernel ?? 'auto'} choices={ATTENTION_KERNEL_CHOICES} labels={ATTENTION_KERNEL_LABELS} disabled={busy} testId="attention-kernel" onChange={(attentionKernel) => setConfig({ attentionKernel: attentionKernel === 'auto' ? undefined : attentionKernel })} />
          <Select label="f32 product tile shapes" value={config.matmulTuning ?? 'auto'} choices={MATMUL_TUNING_CHOICES} labels={MATMUL_TUNING_LABELS} disabled={busy} testId="matmul-tuning" onChange={(matmulTuning) => setConfig({ matmulTuning: matmulTuning === 'auto' ? undefined : matmulTuning })} />
          <NumberField label="Attention maps every (steps)" value={config.attentionEvery ?? DEFAULT_ATTENTION_EVERY} min={0} max={MAX_STEPS} integer disabled={busy} testId="attention-every" hint="One forward pass of the shown example, after the first step and every this many; 0 = only at the end" onChange={(v) => v !== undefined && setConfig({ attentionEvery: v })} onValidity={validity('attention every')} />
        </details>
      )}
      {show.advanced && (
        <details className="subsection" data-testid="advanced" open={config.forwardQuantizer !== undefined || config.backwardQuantizer !== undefined || config.bits !== undefined}>
          <summary>Advanced: quantizers</summary>
          <p className="muted small">
            Override parts of a quantized precision (the paper's Fig. 3 ablations). {quantized ? `Now: ${describePrecision(config)}.` : 'Only the INT4 precisions have these parts.'}
          </p>
          <OverrideSelect
            label="Forward quantizer (X and W)"
            value={config.forwardQuantizer}
            choices={FORWARD_QUANTIZERS}
            labels={FORWARD_LABELS}
            disabled={busy}
            testId="forward-quantizer"
            onChange={(forwardQuantizer) => setConfig({ forwardQuantizer })}
          />
          <OverrideSelect
            label="Backward quantizer (∇Y)"
            value={config.backwardQuantizer}
            choices={BACKWARD_QUANTIZERS}
            labels={BACKWARD_LABELS}
            disabled={busy}
            testId="backward-quantizer"
            onChange={(backwardQuantizer) => setConfig({ backwardQuantizer })}
          />
          <NumberField label="Bits (forward)" value={config.bits} placeholder="precision's own (4)" optional min={2} max={8} integer disabled={busy} testId="bits" onChange={(bits) => setConfig({ bits })} onValidity={validity('bits')} />
          <div className="field">
            <label htmlFor="hadamard-block">Hadamard block (largest)</label>
            <select id="hadamard-block" value={config.hadamardBlock} disabled={busy} data-testid="hadamard-block" onChange={(e) => setConfig({ hadamardBlock: e.target.value === 'auto' ? 'auto' : Number(e.target.value) })}>
              <option value="auto">auto (searched per layer)</option>
              {HADAMARD_BLOCKS.map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
            </select>
            <small className="hint">Each layer uses the largest power of two up to this that divides its width; the paper's typical value is 32. Auto searches each layer's block on the first batch, as the official code does.</small>
          </div>
          <button type="button" onClick={clearOverrides} disabled={busy}>
            Use the precision's own quantizers
          </button>
        </details>
      )}
      {problems.length > 0 && (
        <div className="error" role="alert" data-testid="config-problems">
          <b>This configuration cannot run:</b>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

/** A select with a first option meaning "no override". */
function OverrideSelect<T extends string>(props: { label: string; value: T | undefined; choices: readonly T[]; labels: Record<T, string>; disabled?: boolean; testId: string; onChange(v: T | undefined): void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value ?? ''} disabled={props.disabled} data-testid={props.testId} onChange={(e) => props.onChange(e.target.value === '' ? undefined : (e.target.value as T))}>
        <option value="">precision's own</option>
        {props.choices.map((c) => (
          <option key={c} value={c}>
            {props.labels[c]}
          </option>
        ))}
      </select>
    </div>
  );
}


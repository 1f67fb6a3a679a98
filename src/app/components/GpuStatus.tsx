import { useShallow } from 'zustand/react/shallow';
import { currentRun, detailRun, useAppStore } from '../store';

/** Which adapter the worker got, what it offers, and which kernel path the linear layers run on. */
export function GpuStatus() {
  const { gpu } = useAppStore(useShallow((s) => ({ gpu: s.gpu })));
  const run = useAppStore((s) => currentRun(s) ?? detailRun(s));
  const a = gpu.adapter;
  const name = a ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unknown adapter' : null;
  return (
    <section className="panel gpu-status" aria-label="WebGPU status" data-testid="gpu-status">
      <div>
        <b>GPU:</b>{' '}
        {gpu.status === 'probing' ? (
          'looking for a WebGPU adapter…'
        ) : a ? (
          <>
            <span data-testid="adapter">{name}</span>
            {a.isFallbackAdapter && <span className="tag" title="A software (CPU) implementation: correct, but slow">software fallback</span>}
            <span className="muted"> · features: {a.features.length ? a.features.join(', ') : 'none of the optional ones'}</span>
          </>
        ) : (
          'none'
        )}
      </div>
      {run?.info && (
        <div className="detail">
          <b>Kernel path:</b> <span data-testid="kernel-path">{run.info.kernelPath}</span>
          <span className="muted">
            {' '}
            · {run.info.model}; {run.info.parameterCount.toLocaleString('en')} parameters; GPU memory {(run.info.memoryBytes / 2 ** 20).toFixed(1)} MiB
          </span>
        </div>
      )}
    </section>
  );
}

export function Unavailable() {
  const message = useAppStore((s) => s.gpu.unavailableMessage);
  return (
    <section className="panel notice" role="alert" data-testid="gpu-unavailable">
      <h2>This browser cannot run WebGPU here</h2>
      <p>{message}</p>
      <p>Browsers that work:</p>
      <ul>
        <li>Chrome or Edge 113+ on Windows, macOS and ChromeOS (Android 121+).</li>
        <li>
          Chrome on Linux: start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.
        </li>
        <li>Safari 26+ (macOS, iOS, iPadOS).</li>
        <li>Firefox 141+ on Windows (other platforms: Nightly).</li>
      </ul>
      <p>
        Make sure hardware acceleration is on (<code>chrome://gpu</code> shows whether WebGPU is enabled), then reload this page. The
        explanations and the Hadamard demo below work without a GPU.
      </p>
    </section>
  );
}

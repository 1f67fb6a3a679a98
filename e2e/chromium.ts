// How the e2e tests launch Chromium on this machine: Debian's /usr/bin/chromium (Playwright cannot
// download its own browser here) with the flags from docs/webgpu-headless.md.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Quiet, sandbox-free headless flags; without these, Chromium's connection attempts fail noisily on a
 *  closed network. */
export const CHROMIUM_ARGS_WITHOUT_WEBGPU = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The flag that matters: Chromium then runs WebGPU on its bundled SwiftShader (CPU, slow). */
export const CHROMIUM_ARGS = [...CHROMIUM_ARGS_WITHOUT_WEBGPU, '--enable-unsafe-webgpu'];

// The GPU kernel choices in the page (config panel, URL keys attentionKernel= and tuning=): the kernel
// path says which attention kernel ran and why the f32 tiles were not tuned here (SwiftShader is a CPU
// adapter), and the fused kernel's run allocates less GPU memory than the separate one (no scores kept).
import { expect, test, type Page } from '@playwright/test';
import { collectPageErrors, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

async function gpuMemoryMiB(page: Page): Promise<number> {
  const text = (await page.getByTestId('gpu-status').textContent()) ?? '';
  const m = /GPU memory ([\d.]+) MiB/.exec(text);
  expect(m, `GPU memory in "${text}"`).not.toBeNull();
  return Number(m![1]);
}

test('attention kernel and tile tuning: chosen in the page, named in the kernel path, fused keeps less memory', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=2&measure=0&context=64&attentionKernel=separate`);
  await page.getByText('Optimizer and logging').click();
  await expect(page.getByTestId('attention-kernel')).toHaveValue('separate');
  await expect(page.getByTestId('matmul-tuning')).toHaveValue('auto');
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 150_000);
  await expect(page.getByTestId('kernel-path')).toContainText('attention as separate products');
  await expect(page.getByTestId('kernel-path')).toContainText('built-in 64×64 tiles (not tuned on a CPU adapter)');
  const separate = await gpuMemoryMiB(page);

  await page.getByTestId('attention-kernel').selectOption('fused');
  await expect(page).toHaveURL(/attentionKernel=fused/);
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 150_000);
  await expect(page.getByTestId('kernel-path')).toContainText('attention fused (FlashAttention-style)');
  const fused = await gpuMemoryMiB(page);
  // tiny at context 64, batch 4: the separate kernel keeps scores and probabilities per layer plus two
  // shared gradients of batch·heads·64² floats; the fused one a log-sum-exp per row and one map.
  expect(fused).toBeLessThan(separate);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/kernels.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});

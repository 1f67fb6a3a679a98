import { expect, type Page } from '@playwright/test';

/** Where the specs save screenshots of the page's main states (ignored by git with test-results/). */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? 'test-results/screenshots';

/** Collects uncaught page errors (main thread) so a test can assert there were none. */
export function collectPageErrors(page: Page): Error[] {
  const errors: Error[] = [];
  page.on('pageerror', (e) => errors.push(e));
  return errors;
}

/** Console messages in which the browser reports a violation of index.html's Content-Security-Policy
 *  (Chromium logs each one as "Refused to … because it violates the following Content Security Policy
 *  directive"). A test expects none, so a change that needs an inline script or eval shows up there. */
export function collectCspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) violations.push(m.text());
  });
  return violations;
}

/** Training steps drawn for the shown run (the number the loss heading reports). */
export async function lossPoints(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss-points').textContent());
}

/** Opens the page at a query string and waits until the worker has reported the adapter. */
export async function openReady(page: Page, search = ''): Promise<void> {
  await page.goto(`./${search}`);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
}

/** A tiny, quick run: SwiftShader takes ~0.5–2 s per step, so tests train a handful of steps of the tiny
 *  model on a small batch, with validation only at the end and no samples. */
export const QUICK = 'preset=tiny&batch=4&eval=0&samples=0';

/** Number of points of each training-loss curve, read from the SVG paths recharts draws (one "M x,y"
 *  and an "L x,y" per further point). */
export async function curvePointCounts(page: Page): Promise<number[]> {
  const ds = await page.getByTestId('loss-chart').locator('path.recharts-line-curve').evaluateAll((paths) => paths.map((p) => p.getAttribute('d') ?? ''));
  return ds.map((d) => (d.match(/[ML]/g) ?? []).length);
}

/** Waits for the run shown in the status line to reach a final state. */
export async function waitForPhase(page: Page, text: RegExp | string, timeout = 120_000): Promise<void> {
  await expect(page.getByTestId('phase')).toHaveText(text, { timeout });
}

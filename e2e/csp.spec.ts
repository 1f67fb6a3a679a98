import { expect, test } from '@playwright/test';
import { collectCspViolations, collectPageErrors, openReady, QUICK, waitForPhase } from './helpers';

// index.html carries a Content-Security-Policy that runs only the site's own files. These tests check
// that the built page needs nothing more (loading, the training worker, WebGPU, recharts, the teaching
// demo, the service worker's registration) and that the policy is really in force.

test('the built page loads, trains and draws under its Content-Security-Policy without a violation', async ({ page }) => {
  test.setTimeout(200_000);
  const errors = collectPageErrors(page);
  const violations = collectCspViolations(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=2&measure=1`);

  const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(policy).toContain("default-src 'self'");
  expect(policy).toMatch(/script-src 'self'(;|$)/);
  expect(policy).toMatch(/worker-src 'self'(;|$)/);
  expect(policy).not.toContain('unsafe-eval');

  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 150_000);
  await expect(page.getByTestId('loss-chart').locator('path.recharts-line-curve')).toHaveCount(1);
  await expect(page.getByTestId('hadamard-demo')).toBeVisible();
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('the policy blocks inline scripts and eval', async ({ page }) => {
  const violations = collectCspViolations(page);
  // A same-origin script (allowed to load) that tries eval: code Playwright evaluates itself comes from
  // DevTools, which CSP does not restrict, so the attempt has to come from a script of the page.
  await page.route('**/csp-probe.js', (route) =>
    route.fulfill({
      contentType: 'text/javascript',
      body: "try { window.evalResult = String(eval('1 + 1')); } catch (e) { window.evalResult = e.name; }",
    }),
  );
  await page.goto('./');
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await page.evaluate(() => {
    const inline = document.createElement('script');
    inline.textContent = 'window.inlineRan = true';
    document.head.append(inline);
    const probe = document.createElement('script');
    probe.src = './csp-probe.js';
    document.head.append(probe);
  });
  const result = () => page.evaluate(() => (window as unknown as { evalResult?: string }).evalResult ?? null);
  await expect.poll(result).not.toBeNull();
  // Chromium reports a caught eval refusal only as the EvalError, not on the console.
  expect(await result()).toBe('EvalError');
  expect(await page.evaluate(() => (window as unknown as { inlineRan?: boolean }).inlineRan ?? false)).toBe(false);
  expect(violations.some((v) => v.includes("script-src 'self'") && v.includes('inline'))).toBe(true);
});

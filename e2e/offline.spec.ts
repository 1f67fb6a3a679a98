// The built site from a sub-path, and offline after the first visit: dist/ is served under
// /some/sub/path/ by a small static server, the service worker caches the build, and with the network
// cut the page loads, finds the GPU and trains from the cached corpus.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { collectPageErrors, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

const SUB_PATH = '/some/sub/path/';
// The build the other specs serve (E2E_DIST, playwright.config.ts), else the default dist/.
const DIST = resolve(process.env.E2E_DIST ?? resolve(import.meta.dirname, '..', 'dist'));
const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.txt': 'text/plain', '.md': 'text/markdown',
};

let server: Server;
let origin = '';

test.beforeAll(async () => {
  server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (!path.startsWith(SUB_PATH)) {
      res.writeHead(404).end('not under the sub-path');
      return;
    }
    const rel = normalize(path.slice(SUB_PATH.length) || 'index.html');
    const file = join(DIST, rel.endsWith('/') || rel === '.' ? 'index.html' : rel);
    if (!file.startsWith(DIST)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise((done) => server.close(done));
});

test.use({ serviceWorkers: 'allow' });

test('works from a sub-path, and offline after the first visit', async ({ page, context }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  const url = `${origin}${SUB_PATH}?${QUICK}&precision=fp32&steps=1&measure=0`;
  await page.goto(url);
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
  // The bundled corpus is fetched relative to the page, under the sub-path.
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 150_000);

  // The service worker has installed and cached the build.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const cache = await caches.open(names.find((n) => n.startsWith('int4-playground-')) ?? 'none');
    return (await cache.keys()).map((r) => new URL(r.url).pathname);
  });
  expect(cached).toContain(`${SUB_PATH}datasets/names.txt`);
  expect(cached.some((p) => /\/assets\/worker-.*\.js$/.test(p))).toBe(true);

  // Offline: the page, its worker and the corpus come from the cache; training still works.
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('run-row')).toHaveCount(1, { timeout: 30_000 });
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(2);
  await expect(page.getByTestId('run-row').nth(1)).toHaveAttribute('data-status', 'done', { timeout: 150_000 });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/offline.png` });
  await context.setOffline(false);
  expect(errors.map((e) => e.message)).toEqual([]);
});

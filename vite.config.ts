import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const root = import.meta.dirname;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Emits sw.js: the service worker template (src/app/sw) with the list of every built file and public
 *  file to precache, so the site works offline after the first visit. Hand-written instead of a plugin
 *  dependency: it is thirty lines. */
function offlineCache(): Plugin {
  return {
    name: 'offline-cache',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const publicDir = resolve(root, 'public');
      const publicFiles = filesUnder(publicDir).map((f) => relative(publicDir, f).split('\\').join('/'));
      const built = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      const files = ['./', ...new Set([...built, ...publicFiles])].filter((f) => f !== 'index.html' && f !== 'sw.js').sort();
      const version = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 12);
      const template = readFileSync(resolve(root, 'src/app/sw/service-worker.template.js'), 'utf8');
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: template.replace('__VERSION__', version).replace('__PRECACHE__', JSON.stringify(files.map((f) => (f === './' ? f : `./${f}`)))),
      });
    },
  };
}

/** index.html's Content-Security-Policy runs only the site's own script files. The dev server needs
 *  more: @vitejs/plugin-react injects an inline module script (the React Refresh preamble), Vite adds
 *  CSS as <style> elements, and HMR talks over a websocket. Only `vite` (serve) relaxes it; the build,
 *  and so `vite preview` and the e2e tests, keep the strict policy. */
function devContentSecurityPolicy(): Plugin {
  return {
    name: 'dev-content-security-policy',
    apply: 'serve',
    transformIndexHtml(html) {
      return html
        .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        .replace("connect-src 'self'", "connect-src 'self' ws: wss:");
    },
  };
}

// `base: './'` makes every asset URL relative, so the built site works from any sub-path
// (e.g. https://user.github.io/repo/). The training Web Worker is an ES module worker.
export default defineConfig({
  base: './',
  plugins: [react(), offlineCache(), devContentSecurityPolicy()],
  worker: { format: 'es' },
  // recharts is most of the ~700 kB page bundle (~210 kB gzipped); one chunk is fine for one page.
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 900 },
});

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { initFromUrl, installTestHooks, restoreRuns } from './store';
import './styles.css';

// The e2e tests' hooks (store.ts TestHooks) exist only when the URL asks for them.
if (new URLSearchParams(window.location.search).get('testHooks') === '1') installTestHooks();
initFromUrl(window.location.search);
void restoreRuns();

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// The built site caches itself for offline use (public service worker generated at build time, see
// vite.config.ts). Registered relative to the page so the site works from any sub-path.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js').catch(() => {
      // Offline support is a bonus: a refused registration (file://, private mode) changes nothing else.
    });
  });
}

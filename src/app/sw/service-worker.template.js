// The site's service worker, generated at build time by vite.config.ts (offlineCache): it fills
// PRECACHE with every file of the build and VERSION with a hash of that list. After the first visit the
// page, its scripts, the training worker and the bundled corpus load from the cache, so the playground
// works offline. URLs are relative to the worker's scope: the site may live under any sub-path.
const VERSION = '__VERSION__';
const PRECACHE = __PRECACHE__;
const PREFIX = 'int4-playground-';
const CACHE = PREFIX + VERSION;

const scoped = (path) => new URL(path, self.registration.scope).href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map(scoped)))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // The page itself: network first, so a new deployment is seen at once; the cached copy offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(scoped('./'), copy));
          }
          return response;
        })
        .catch(() => caches.match(scoped('./')).then((hit) => hit || Response.error())),
    );
    return;
  }
  // Hashed assets never change under one name: cache first.
  event.respondWith(
    caches.match(request, { ignoreSearch: true }).then(
      (hit) =>
        hit ||
        fetch(request).then((response) => {
          if (response.ok && response.type === 'basic') {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        }),
    ),
  );
});

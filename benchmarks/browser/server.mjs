// A small static server for the browser benchmark on 127.0.0.1: the built page (dist/) at /, and
// the Node pipeline's exports (.cache/bench) at /cache/, and ONNX Runtime Web's files at /ort/
// (its threads are Workers that load ort-wasm-simd-threaded.mjs by URL, so it is served as is). Pages are cross-origin isolated
// (COOP/COEP), so SharedArrayBuffer and WASM threads are available; `?coi=0` on a page's URL
// serves that page without the headers (to check the single-threaded fallback).
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
};

function resolveIn(dir, rel) {
  const root = normalize(dir).replace(/[\\/]+$/, '');
  const p = normalize(join(root, rel));
  return p === root || p.startsWith(root + sep) ? p : null;
}

/** Starts the server; resolves to { url, close() }. `port` 0 picks a free one. */
export function startServer({ distDir, cacheDir, ortDir, port = 0 }) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let file = null;
    if (url.pathname.startsWith('/cache/')) file = resolveIn(cacheDir, decodeURIComponent(url.pathname.slice('/cache/'.length)));
    else if (url.pathname.startsWith('/ort/')) file = resolveIn(ortDir, decodeURIComponent(url.pathname.slice('/ort/'.length)));
    else file = resolveIn(distDir, decodeURIComponent(url.pathname === '/' ? 'index.html' : url.pathname.slice(1)));
    let size = -1;
    try {
      if (file) {
        const st = statSync(file);
        if (st.isFile()) size = st.size;
      }
    } catch {
      size = -1;
    }
    if (url.searchParams.get('coi') !== '0') {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    if (size < 0) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      resolve({ url: `http://127.0.0.1:${p}`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

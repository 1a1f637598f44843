import { startServer } from './server.mjs';
import { CACHE_DIR, DIST, ORT_DIR, launch, runPage } from './chromium.mjs';
const server = await startServer({ distDir: DIST, cacheDir: CACHE_DIR, ortDir: ORT_DIR });
const browser = await launch();
try {
  for (const q of process.argv.slice(2)) {
    const s = await runPage(browser, `${server.url}/?${q}`);
    console.log(q, JSON.stringify({ debug: s.debug, info: s.info, out: s.output?.slice(0, 4), results: s.results?.map((r) => ({ ...r, ratios: undefined })) }, null, 1));
  }
} finally {
  await browser.close();
  await server.close();
}

/**
 * The example page (examples/browser) in a real browser: Vite serves it, headless Debian
 * chromium (driven by playwright-core) loads real MNIST, evaluates the untrained MLP, trains one
 * epoch on a subset with the generated WGSL kernels through navigator.gpu (SwiftShader, on the
 * CPU, where there is no GPU), and draws the curves. A screenshot goes to test-artifacts/.
 * GRADC_BROWSER_BACKEND=js runs the page on the JS kernels instead; GRADC_CHROMIUM names
 * another chromium binary.
 */
import { mkdirSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { createServer } from 'vite';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PAGE_ROOT = fileURLToPath(new URL('../examples/browser', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts', import.meta.url));
const SCREENSHOT = `${ARTIFACTS}/browser-mnist.png`;
const CHROMIUM = process.env.GRADC_CHROMIUM ?? '/usr/bin/chromium';
const BACKEND = process.env.GRADC_BROWSER_BACKEND ?? 'webgpu';
const QUERY = `?backend=${BACKEND}&train=6000&test=1000&epochs=1&evalEvery=5`;

/**
 * Headless chromium exposes navigator.gpu with --enable-unsafe-webgpu alone; without a GPU
 * its Dawn falls back to the SwiftShader Vulkan driver that Debian's chromium ships.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const READY_TIMEOUT_MS = 120_000;
const TRAIN_TIMEOUT_MS = 240_000;
/** The two curve colours of examples/browser/chart.ts. */
const CURVE_COLORS = { loss: [0x1f, 0x6f, 0xeb], accuracy: [0xd9, 0x48, 0x0f] } as const;

let server: ViteDevServer | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

/** A port nobody listens on right now (Vite takes port 0 to mean its default, 5173). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function startServer(): Promise<string> {
  const port = await freePort();
  server = await createServer({
    root: PAGE_ROOT,
    configFile: `${PAGE_ROOT}/vite.config.ts`,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false, watch: null },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite gave no local URL');
  return url;
}

async function openPage(url: string): Promise<Page> {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  const opened = await browser.newPage({ viewport: { width: 1000, height: 860 } });
  opened.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  opened.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console error: ${message.text()}`);
  });
  await opened.goto(`${url}${QUERY}`);
  return opened;
}

/**
 * Waits until <body data-state> is `expected` or one of the `instead` states that end the wait;
 * fails with the page's own message when it is not `expected`.
 */
async function reachState(expected: string, instead: readonly string[], timeout: number) {
  const selector = [expected, ...instead].map((s) => `body[data-state="${s}"]`).join(', ');
  await page.waitForSelector(selector, { timeout });
  const actual = await page.getAttribute('body', 'data-state');
  if (actual === expected) return;
  const message = await page.textContent('#message');
  throw new Error(`page state ${actual}, not ${expected}: ${message}\n${pageErrors.join('\n')}`);
}

async function accuracies(): Promise<{ untrained: number; trained: number }> {
  const read = async (name: string) => Number(await page.getAttribute('#result', name));
  return { untrained: await read('data-untrained-accuracy'), trained: await read('data-accuracy') };
}

/** How many chart pixels have (nearly) each curve's colour. */
async function curvePixels(): Promise<{ loss: number; accuracy: number }> {
  return page.evaluate((colors) => {
    const canvas = document.getElementById('chart') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d');
    if (!ctx) return { loss: 0, accuracy: 0 };
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const count = (rgb: readonly number[]) => {
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        const close = [0, 1, 2].every((c) => Math.abs(data[i + c] - rgb[c]) < 24);
        if (close && data[i + 3] > 200) n++;
      }
      return n;
    };
    return { loss: count(colors.loss), accuracy: count(colors.accuracy) };
  }, CURVE_COLORS);
}

describe('the example page in headless chromium', () => {
  beforeAll(async () => {
    page = await openPage(await startServer());
  }, READY_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('trains one epoch on MNIST, raising the accuracy, and draws the curves', async () => {
    await reachState('ready', ['error', 'unsupported'], READY_TIMEOUT_MS);
    const started = performance.now();
    await page.click('#toggle');
    await reachState('done', ['stopped', 'error'], TRAIN_TIMEOUT_MS);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const { untrained, trained } = await accuracies();
    const setup = await page.textContent('#setup');
    console.log(`browser: ${setup}; accuracy ${untrained} -> ${trained} in ${seconds} s`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(untrained).toBeGreaterThan(0);
    expect(trained).toBeGreaterThan(untrained + 0.2);
    const pixels = await curvePixels();
    expect(pixels.loss).toBeGreaterThan(100);
    expect(pixels.accuracy).toBeGreaterThan(100);
  }, READY_TIMEOUT_MS + TRAIN_TIMEOUT_MS);

  it('stops when the button is clicked during training', async () => {
    expect(await page.getAttribute('body', 'data-state'), 'the first run ended').toBe('done');
    const box = await page.locator('#toggle').boundingBox();
    if (!box) throw new Error('the button is not visible');
    await page.click('#toggle');
    await page.waitForFunction(() => {
      const progress = document.getElementById('progress') as HTMLProgressElement;
      return document.body.dataset.state === 'training' && progress.value >= 1;
    }, undefined, { timeout: TRAIN_TIMEOUT_MS });
    // A plain mouse click, without waiting for the button to be "stable" over animation frames.
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await reachState('stopped', ['done', 'error'], 60_000);
    const [done, total] = await page.$eval('#progress', (p) => {
      const progress = p as HTMLProgressElement;
      return [progress.value, progress.max];
    });
    expect(done).toBeLessThan(total);
    expect(pageErrors).toEqual([]);
  }, TRAIN_TIMEOUT_MS);
});

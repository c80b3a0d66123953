// What the TensorFlow.js peers share: the backend set-up (cpu or wasm) in Node, a seeded PRNG
// and the result of a timed run.
//
// Findings for Node 20 (tfjs 4.22):
// - the wasm backend loads its binaries from disk once setWasmPaths() gets the
//   package's dist/ folder; SIMD is detected and used.
// - tfjs disables wasm threads in Node (tfjs issue #3830). Forcing the flag
//   makes init fail: Node's Worker rejects the blob: URL tfjs hands it. So the
//   wasm backend runs on one thread and `wasmThreads` has no effect in Node.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type TfjsBackend = 'cpu' | 'wasm';

/** A timed run of a tfjs peer. */
export interface TfjsResult {
  name: string;
  samplesPerSecond: number;
  msPerStep: number;
  steps: number;
  batch: number;
  finalLoss: number;
}

// Must run before the wasm backend first initialises, hence at module load.
const wasmEntry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
setWasmPaths(path.dirname(wasmEntry) + path.sep);

type Listener = (...args: unknown[]) => void;
const PROCESS_EVENTS: readonly string[] = ['uncaughtException', 'unhandledRejection'];
// Plain EventEmitter view: process's own typings only accept signal names here.
const processEvents: NodeJS.EventEmitter = process;
const listenersOf = (event: string) => processEvents.listeners(event) as Listener[];

// Emscripten's init adds process handlers that rethrow from inside the minified
// wasm glue, so any later crash in the process dumps ~50 kB of source. Drop the
// handlers the init added; Node's default reporting does the same job.
async function withoutNewProcessHandlers(init: () => Promise<void>): Promise<void> {
  const before = PROCESS_EVENTS.map((event) => new Set(listenersOf(event)));
  try {
    await init();
  } finally {
    PROCESS_EVENTS.forEach((event, i) => {
      for (const l of listenersOf(event)) if (!before[i].has(l)) processEvents.off(event, l);
    });
  }
}

async function useBackend(backend: TfjsBackend, wasmThreads?: number): Promise<void> {
  if (backend === 'wasm' && wasmThreads !== undefined) setThreadsCount(wasmThreads);
  await withoutNewProcessHandlers(async () => {
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`tfjs backend '${backend}' failed to initialise`);
    await tf.ready();
  });
}

// The cpu backend prints an "install tfjs-node" banner on first use; drop that
// single message while we run, pass every other warning through.
const NODE_BANNER = /looks like you are running TensorFlow\.js in Node\.js/i;

async function withNodeBannerSilenced<T>(run: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && NODE_BANNER.test(args[0])) return;
    warn.apply(console, args);
  };
  try {
    return await run();
  } finally {
    console.warn = warn;
  }
}

/**
 * Makes `backend` the active tfjs backend (and leaves it so), then runs `run` with tfjs's
 * Node banner silenced.
 */
export async function onTfjsBackend<T>(backend: TfjsBackend, run: () => Promise<T>, wasmThreads?: number): Promise<T> {
  return withNodeBannerSilenced(async () => {
    await useBackend(backend, wasmThreads);
    return run();
  });
}

/** The result of `steps` timed steps of `batch` samples that took `ms`. */
export function timedResult(backend: TfjsBackend, batch: number, steps: number, ms: number, finalLoss: number): TfjsResult {
  return {
    name: `tfjs-${backend}`,
    samplesPerSecond: (steps * batch * 1000) / ms,
    msPerStep: ms / steps,
    steps,
    batch,
    finalLoss,
  };
}

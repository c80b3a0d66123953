/**
 * Opening a model that `gradc build` wrote into a folder: its glue module imported from the
 * file system and its `create<Model>` called. Node only (`gradc/node`).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendKind } from '../artifact/kernels.ts';
import type { ModelInstance } from './model.ts';
import type { OpenOptions } from './open.ts';

type ModelFactory = (backend: BackendKind, options?: OpenOptions) => Promise<ModelInstance>;

/** Imports the glue module that `buildModel` wrote into `outDir` and opens it on `backend`. */
export async function openBuiltModel(
  outDir: string,
  backend: BackendKind,
  options: OpenOptions = {},
): Promise<ModelInstance> {
  const glue = (await import(pathToFileURL(join(resolve(outDir), 'model.js')).href)) as Record<
    string,
    unknown
  >;
  const name = Object.keys(glue).find((k) => k.startsWith('create') && typeof glue[k] === 'function');
  if (!name) throw new Error(`${outDir}/model.js exports no create function`);
  return (glue[name] as ModelFactory)(backend, options);
}

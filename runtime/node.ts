/**
 * `gradc/node`: the parts of the runtime that need Node.js: the native C backend (the system
 * C compiler and koffi), WebGPU through Dawn (the optional `webgpu` package), the CUDA driver
 * API, and reading files (kernel sources, data sets, checkpoints).
 */
import { readFileSync } from 'node:fs';

export { compileSharedLibrary, createNativeBackend, NativeCompileError } from './backends/native.ts';
export type { CompileOptions, NativeBackendOptions } from './backends/native.ts';
export { openCudaBackend, probeCuda, CudaError } from './backends/cuda.ts';
export type { CudaDeviceInfo, OpenCudaOptions } from './backends/cuda.ts';
export { CudaCompileError } from '../artifact/cuda-compile.ts';
export { requestNodeGpuDevice } from './webgpu-node.ts';
export { loadMnist, defaultMnistDir } from './data/mnist.ts';
export type { LoadMnistOptions } from './data/mnist.ts';
export { readIdxFile } from './data/idx.ts';
export { loadCsvFile, loadIdxFiles, readRegularFile } from './data/files.ts';
export type { CsvFileOptions, IdxFilesOptions } from './data/files.ts';
export { loadCheckpoint, saveCheckpoint, writeFileAtomically } from './checkpoint-file.ts';
export { openBuiltModel } from './open-built-model.ts';
export { gradcCacheDir } from '../artifact/cache-dir.ts';

/** The text of a generated kernel source (kernels.c) next to a glue module. */
export function readKernelSource(url: URL): string {
  return readFileSync(url, 'utf8');
}

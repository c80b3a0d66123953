/**
 * `gradc/runtime`: what runs a generated model, in Node and in the browser (nothing here
 * imports Node modules; the Node-only parts are `gradc/node`).
 */
export type {
  Artifact, ArtifactBuffer, ArtifactIO, ArtifactLaunch, ArtifactProgram,
  DataDecl, HyperDecl, LrSchedule, ParamDecl, StateDecl,
} from '../artifact/format.ts';
export { predictBatchOf, programIOShape } from '../artifact/format.ts';
export type { BackendKind, CudaBuild, CudaKernel, JsKernel, WgslKernel } from '../artifact/kernels.ts';
export { BACKEND_KINDS } from '../artifact/kernels.ts';
export type {
  Backend, DeviceBuffer, GpuDeviceLike, HostBackend, Launch, PreparedProgram,
} from './backend.ts';
export { fromHostBackend } from './backend.ts';
export { ModelInstance, ModelRuntimeError } from './model.ts';
export type { Feeds } from './model.ts';
export type { PredictOnlyModel, TrainingMember } from './predict-only.ts';
export { KernelMismatchError, loadKernelSources, openBackend, openModel } from './open.ts';
export type {
  CudaKernelModule, CudaOpenOptions, JsKernelModule, KernelFiles, KernelSources, OpenOptions,
  WgslKernelModule,
} from './open.ts';
export { createJsBackend } from './backends/js.ts';
export { createWebGpuBackend, WgslCompileError } from './backends/webgpu.ts';
export type { WebGpuBackendOptions } from './backends/webgpu.ts';
export { learningRateAt } from './lr-schedule.ts';
export { createRng, initialValues } from './init.ts';
export { createProgressBar } from './progress.ts';
export type { ProgressBar, ProgressBarOptions, ProgressStream } from './progress.ts';
export {
  DivergenceError, evaluate, fit, MONITORS, predict, shuffledIndices, stepsPerEpoch,
} from './fit.ts';
export type {
  EarlyStopping, EpochRecord, EvaluateOptions, Evaluation, Features, FitCallbacks, FitOptions,
  FitResult, MetricName, Monitor, Predicting, StepInfo, TrainProgress,
} from './fit.ts';
export { DataError, parseIdx } from './data/idx-parse.ts';
export type { IdxArray } from './data/idx-parse.ts';
export {
  checkDataset, datasetFromArrays, datasetRows, isClassDataset, selectRows, splitDataset,
} from './data/dataset.ts';
export type { ArrayRows, ClassDataset, Dataset, DatasetArrays } from './data/dataset.ts';
export { parseCsv } from './data/csv.ts';
export type { CsvOptions } from './data/csv.ts';
export { datasetFromIdx } from './data/idx-dataset.ts';
export type { IdxDatasetOptions } from './data/idx-dataset.ts';
export { mnistDataset } from './data/mnist-split.ts';
export { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
export type { Checkpoint, CheckpointKind, CheckpointToWrite } from './checkpoint.ts';
export { decodeSafetensors, encodeSafetensors } from './safetensors.ts';
export type { Metadata, Safetensors, Tensor, Tensors } from './safetensors.ts';

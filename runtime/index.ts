/**
 * `gradc/runtime`: what runs a generated model, in Node and in the browser (nothing here
 * imports Node modules; the Node-only parts are `gradc/node`).
 */
export type {
  Artifact, ArtifactBuffer, ArtifactIO, ArtifactLaunch, ArtifactProgram,
  DataDecl, HyperDecl, LrSchedule, ParamDecl, StateDecl,
} from './artifact.ts';
export type {
  Backend, CudaBuild, CudaKernel, DeviceBuffer, GpuDeviceLike, HostBackend, JsKernel, Launch,
  PreparedProgram, WgslKernel,
} from './backend.ts';
export { fromHostBackend } from './backend.ts';
export { predictBatchOf, programIOShape } from './artifact.ts';
export { ModelInstance, ModelRuntimeError } from './model.ts';
export type { Feeds } from './model.ts';
export type { PredictOnlyModel, TrainingMember } from './predict-only.ts';
export { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
export type { Checkpoint, CheckpointKind, CheckpointToWrite, Tensor, Tensors } from './checkpoint.ts';
export {
  BACKEND_KINDS, KernelMismatchError, loadKernelSources, openBackend, openModel,
} from './open.ts';
export type {
  BackendKind, CudaKernelModule, CudaOpenOptions, JsKernelModule, KernelFiles, KernelSources,
  OpenOptions, WgslKernelModule,
} from './open.ts';
export { createJsBackend } from './backends/js.ts';
export { createWebGpuBackend, WgslCompileError } from './backends/webgpu.ts';
export type { WebGpuBackendOptions } from './backends/webgpu.ts';
export { learningRateAt } from './lr-schedule.ts';
export { createRng, initialValues } from './init.ts';
export { createProgressBar } from './progress.ts';
export type { ProgressBar, ProgressBarOptions, ProgressStream } from './progress.ts';
export { evaluateClassifier, shuffledIndices, trainClassifier } from './train.ts';
export type {
  ClassificationSplit, EpochRecord, StepInfo, TrainOptions, TrainProgress, TrainResult,
} from './train.ts';
export { DataError, parseIdx } from './data/idx-parse.ts';
export type { IdxArray } from './data/idx-parse.ts';

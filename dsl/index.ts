/** The gradc DSL: typed symbolic tensors, primitives, layers, losses and optimizers. */
export { Tensor } from './tensor.ts';
export type { Operand } from './tensor.ts';
export type { Shape, Broadcast, ShapeMismatch } from './shape.ts';
export * from './ops.ts';
export * from './nn.ts';
export * from './conv.ts';
export * from './layers.ts';
export * from './optim.ts';
export { defineModel, isModelDefinition, ModelContext } from './model.ts';
export type { ContextOptions, ModelDefinition, ModelOptions, ModelOutputs } from './model.ts';
export type * from './spec.ts';
export { GRAD_PREFIX, HVP_PREFIX, UPDATE_PREFIX, PREDICT_PREFIX, LOSS_OUTPUT } from './spec.ts';

/** The build these kernels belong to; the runtime checks it against the glue module's. */
export declare const buildId = "90da4f0685cabbae";
import type { WgslKernel } from "gradc/runtime";
/** Every kernel by name: one WGSL module each, bindings in0..in{n-1} then out. */
export declare const wgslKernels: Readonly<Record<string, WgslKernel>>;

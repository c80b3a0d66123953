/** The build these kernels belong to; the runtime checks it against the glue module's. */
export declare const buildId = "90da4f0685cabbae";
import type { CudaBuild, CudaKernel } from "gradc/runtime";
/**
 * The CUDA C source these launch shapes belong to (SHA-256 of kernels.cu) and the GPU
 * architectures kernels.fatbin is compiled for; the runtime recompiles a fatbin that was built
 * from another source or for other architectures.
 */
export declare const cudaBuild: CudaBuild;
/** Every `extern "C"` kernel of kernels.cu by name: launch shape and the DSL lines it computes. */
export declare const cudaKernels: Readonly<Record<string, CudaKernel>>;

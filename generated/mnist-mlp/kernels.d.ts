/** The build these kernels belong to; the runtime checks it against the glue module's. */
export declare const buildId = "8bd013eca5aec373";
import type { JsKernel } from "gradc/runtime";
export declare function train_000_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_001_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_002_matmul(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function train_003_sum(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_004_rows(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_005_sum(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function train_006_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_007_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_008_sum(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function train_009_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_010_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function train_011_sum(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function train_012_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function predict_000_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function predict_001_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function predict_002_matmul(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function predict_003_rows(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function evaluate_000_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function evaluate_001_matmul(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
export declare function evaluate_002_matmul(in0: Float32Array, in1: Float32Array, out: Float32Array): void;
export declare function evaluate_003_sum(in0: Float32Array, in1: Float32Array, in2: Float32Array, out: Float32Array): void;
/** Every kernel by name, for the JS backend. */
export declare const kernels: Record<string, JsKernel>;

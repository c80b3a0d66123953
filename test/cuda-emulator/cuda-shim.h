/*
 * What a gradc kernels.cu needs from CUDA, for compiling it as C++ for the CPU emulator
 * (emulator.cpp): thread and block indices of the running emulated thread, __syncthreads and
 * __shfl_down_sync (which switch threads), __shared__ arrays as function statics (blocks run
 * one after another), and the few device functions the renderer uses. Math is the host's libm,
 * not CUDA's: the emulator checks the kernels' logic, not CUDA's rounding.
 */
#ifndef GRADC_CUDA_SHIM_H
#define GRADC_CUDA_SHIM_H

#include <math.h>
#include <string.h>

struct gradc_dim3 {
  unsigned int x, y, z;
};

struct gradc_thread_ids {
  gradc_dim3 thread;
  gradc_dim3 block;
};

/* The emulated thread running now. */
extern "C" const gradc_thread_ids *gradc_emu_current;

#define threadIdx (gradc_emu_current->thread)
#define blockIdx (gradc_emu_current->block)
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(threads)
#define __align__(bytes) __attribute__((aligned(bytes)))

/* CUDA's vector type, as the blocked matmul reads shared memory: four floats, 16-byte aligned. */
struct alignas(16) float4 {
  float x, y, z, w;
};

extern "C" void __syncthreads(void);
extern "C" float __shfl_down_sync(unsigned int mask, float value, int delta);

static inline float __uint_as_float(unsigned int bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }

/* The high 32 bits of the 64-bit product, as CUDA's intrinsic gives them. */
static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return (unsigned int)(((unsigned long long)a * b) >> 32);
}

/* One kernel of the emulated module: name, pointer count, launch bounds, the function. */
struct gradc_emu_kernel {
  const char *name;
  int arity;
  unsigned int bounds;
  void (*fn)();
};

#endif

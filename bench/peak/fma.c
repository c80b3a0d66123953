/*
 * The machine's float32 FMA peak: every thread runs independent chains of vector FMAs in
 * registers (enough chains to cover the FMA latency on every unit), with no memory traffic.
 * Built with the flags gradc's C backend uses (-O3 -march=native -fopenmp), so it uses the same
 * vector width, but with contraction on (bench/peak.ts drops -ffp-contract=off, as the product's
 * micro-kernel opts out of it), or the chains would run as a multiply and an add.
 * Prints GFLOP/s (2 flops per FMA lane) for OMP_NUM_THREADS threads.
 */
#include <omp.h>
#include <stdio.h>

#if defined(__AVX512F__)
#define VEC_BYTES 64
#elif defined(__AVX__)
#define VEC_BYTES 32
#else
#define VEC_BYTES 16
#endif
#define LANES (VEC_BYTES / 4)
#define CHAINS 12
#define STEPS 20000000L

typedef float vec __attribute__((vector_size(VEC_BYTES)));

static float chains(float seed) {
  vec acc[CHAINS];
  const vec a = (vec){0} + 0.999999f;
  const vec b = (vec){0} + seed * 1e-7f;
  for (int c = 0; c < CHAINS; c++) acc[c] = (vec){0} + (float)c;
  for (long s = 0; s < STEPS; s++) {
    for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * a + b;
  }
  float sum = 0.0f;
  for (int c = 0; c < CHAINS; c++)
    for (int l = 0; l < LANES; l++) sum += acc[c][l];
  return sum;
}

int main(void) {
  float sink = 0.0f;
  const double start = omp_get_wtime();
  int threads = 1;
  #pragma omp parallel reduction(+ : sink)
  {
    #pragma omp single
    threads = omp_get_num_threads();
    sink += chains((float)omp_get_thread_num());
  }
  const double seconds = omp_get_wtime() - start;
  const double flops = 2.0 * LANES * CHAINS * (double)STEPS * threads;
  printf("{\"gflops\": %.1f, \"threads\": %d, \"lanes\": %d, \"sink\": %g}\n", flops / seconds / 1e9, threads, LANES, sink);
  return 0;
}

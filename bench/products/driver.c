/*
 * Times gradc_matmul from several builds of the C backend's support code (shared libraries given
 * on the command line, each exporting `product`) on one shape, in alternating rounds in one
 * process, and prints each build's best and median GFLOP/s and a checksum of its result.
 *   driver M N K LAYOUT lib.so... (LAYOUT: 0 plain, 1 A transposed, 2 B transposed)
 */
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*product_fn)(const float *, const float *, float *, int, int, int, int);

#define ROUNDS 21
#define MOST_BUILDS 8

static int by_value(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: driver M N K LAYOUT lib.so...\n");
    return 2;
  }
  const int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]), layout = atoi(argv[4]);
  const int builds = argc - 5 < MOST_BUILDS ? argc - 5 : MOST_BUILDS;
  product_fn product[MOST_BUILDS];
  for (int v = 0; v < builds; v++) {
    void *library = dlopen(argv[5 + v], RTLD_NOW | RTLD_LOCAL);
    if (!library || !(product[v] = (product_fn)dlsym(library, "product"))) {
      fprintf(stderr, "%s\n", dlerror());
      return 1;
    }
  }
  float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
  float *c = malloc(sizeof(float) * (size_t)m * n);
  if (!a || !b || !c) return 1;
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f - 0.3f;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 5) * 0.1f - 0.2f;
  const double flops = 2.0 * m * n * k;
  const int calls = (int)(2e8 / flops) + 1;
  static double seconds[MOST_BUILDS][ROUNDS];
  double checksum[MOST_BUILDS];
  for (int r = 0; r < ROUNDS; r++) {
    for (int v = 0; v < builds; v++) {
      product[v](a, b, c, m, n, k, layout);
      const double start = omp_get_wtime();
      for (int i = 0; i < calls; i++) product[v](a, b, c, m, n, k, layout);
      seconds[v][r] = (omp_get_wtime() - start) / calls;
      if (r == 0) {
        double sum = 0;
        for (size_t i = 0; i < (size_t)m * n; i++) sum += c[i] * (double)(1 + i % 3);
        checksum[v] = sum;
      }
    }
  }
  for (int v = 0; v < builds; v++) {
    qsort(seconds[v], ROUNDS, sizeof(double), by_value);
    printf("{\"build\": %d, \"best\": %.2f, \"median\": %.2f, \"checksum\": %.9g}\n", v,
           flops / seconds[v][0] / 1e9, flops / seconds[v][ROUNDS / 2] / 1e9, checksum[v]);
  }
  return 0;
}

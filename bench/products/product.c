/* One build of the C backend's support code (SUPPORT: its path), exporting its product. */
#include <stdlib.h>
#include <string.h>
#include SUPPORT

GRADC_EXPORT void product(const float *a, const float *b, float *c, int m, int n, int k, int layout) {
  const int ta = layout == 1, tb = layout == 2;
  gradc_matmul(a, b, c, m, n, k, ta ? 1 : k, ta ? m : 1, tb ? 1 : n, tb ? k : 1);
}

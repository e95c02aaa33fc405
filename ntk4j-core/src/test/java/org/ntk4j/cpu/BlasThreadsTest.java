package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.bytedeco.javacpp.DoublePointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link Blas}'s own threading: a large GEMM split into blocks of C's rows or columns on {@link Parallel}'s pool,
 * a loop of small GEMMs run in parallel by {@link DotGeneralKernel}, LAPACK given OpenBLAS's threads only for its
 * call. Every result is checked against the triple-loop definition in float64 (the blocks are GEMMs of their own,
 * so agreement is to rounding, not bit for bit).
 */
class BlasThreadsTest {
    private int before;

    @BeforeEach
    void twoThreads() {
        before = Blas.threads();
        Blas.setThreads(2);
    }

    @AfterEach
    void restore() {
        Blas.setThreads(before);
    }

    /** C = alpha·op(A)·op(B) + beta·C by the definition, row-major with the given strides and offsets. */
    private static double[] reference(boolean ta, boolean tb, int m, int n, int k, double alpha, double[] a, int aOff,
                                      int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff,
                                      int ldc) {
        double[] r = c.clone();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double x = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double y = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += x * y;
                }
                r[cOff + i * ldc + j] = alpha * s + beta * c[cOff + i * ldc + j];
            }
        }
        return r;
    }

    static double[] random(Random rnd, int size) {
        double[] v = new double[size];
        for (int i = 0; i < size; i++) {
            v[i] = rnd.nextGaussian();
        }
        return v;
    }

    @Test
    void aLargeGemmSplitIntoRowOrColumnBlocksComputesTheProduct() {
        Random rnd = new Random(7);
        // (m, n, k): more rows than columns (split by rows), then the other way (split by columns); both above
        // the split threshold, with padded strides and offsets, every transposition, alpha and beta not 1 and 0
        int[][] shapes = {{300, 97, 301}, {97, 300, 301}};
        for (int[] s : shapes) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            assertThat(Blas.parts((long) m * n * k, Math.max(m, n))).isEqualTo(2);
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    int lda = (ta ? m : k) + 3;
                    int ldb = (tb ? k : n) + 5;
                    int ldc = n + 2;
                    double[] a = random(rnd, 4 + (ta ? k : m) * lda);
                    double[] b = random(rnd, 6 + (tb ? n : k) * ldb);
                    double[] c = random(rnd, 2 + m * ldc);
                    double[] want = reference(ta, tb, m, n, k, 0.5, a, 4, lda, b, 6, ldb, -2.0, c, 2, ldc);
                    try (Tensor at = Tensor.of(a, a.length); Tensor bt = Tensor.of(b, b.length);
                         Tensor ct = Tensor.of(c, c.length)) {
                        Blas.gemm(ta, tb, m, n, k, 0.5, at, 4, lda, bt, 6, ldb, -2.0, ct, 2, ldc);
                        for (int i = 0; i < c.length; i++) {
                            assertThat(ct.getFlat(i)).as("ta=%s tb=%s m=%d n=%d element %d", ta, tb, m, n, i)
                                    .isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-11));
                        }
                    }
                    // the same product on bare pointers (the float64 GEMM of matrices held outside tensors)
                    try (DoublePointer ap = new DoublePointer(a); DoublePointer bp = new DoublePointer(b);
                         DoublePointer cp = new DoublePointer(c)) {
                        Blas.dgemm(ta, tb, m, n, k, 0.5, ap.getPointer(4), lda, bp.getPointer(6), ldb, -2.0,
                                cp.getPointer(2), ldc);
                        for (int i = 0; i < c.length; i++) {
                            assertThat(cp.get(i)).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-11));
                        }
                    }
                }
            }
        }
    }

    @Test
    void float32BlocksAgreeWithTheFloat64Definition() {
        int m = 64;
        int n = 2048;
        int k = 256; // above the threshold: split by columns
        try (Tensor a = Tensor.randomNormal(DType.F32, 3, m, k); Tensor b = Tensor.randomNormal(DType.F32, 4, k, n);
             Tensor c = Tensor.zeros(DType.F32, m, n)) {
            Blas.gemm(false, false, m, n, k, 1.0, a, 0, k, b, 0, n, 0.0, c, 0, n);
            for (int i = 0; i < m; i += 7) {
                for (int j = 0; j < n; j += 13) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a.getFlat(i * k + p) * b.getFlat(p * n + j);
                    }
                    // float32 accumulation over k = 256 standard-normal products: well within 1e-4·sqrt(k)
                    assertThat(c.getFlat(i * n + j)).isCloseTo(s, org.assertj.core.data.Offset.offset(2e-3));
                }
            }
        }
    }

    @Test
    void aLoopOfSmallGemmsRunsInParallelAndComputesEachProduct() {
        int batch = 80;
        int m = 40;
        int k = 50;
        int n = 60; // 120,000 multiply-adds a call, 9.6 M in all: the calls run in parallel, each whole
        assertThat(Blas.parts((long) m * n * k, n)).isEqualTo(1);
        assertThat(Blas.loopParts((long) m * n * k * batch, batch)).isEqualTo(2);
        try (Tensor a = Tensor.randomNormal(DType.F64, 1, batch, m, k);
             Tensor b = Tensor.randomNormal(DType.F64, 2, batch, k, n);
             Tensor c = DotGeneralKernel.dot(a, b, new int[] {2}, new int[] {1}, new int[] {0}, new int[] {0})) {
            assertThat(c.shape()).containsExactly(batch, m, n);
            for (int t = 0; t < batch; t += 9) {
                for (int i = 0; i < m; i += 5) {
                    for (int j = 0; j < n; j += 7) {
                        double s = 0;
                        for (int p = 0; p < k; p++) {
                            s += a.get(t, i, p) * b.get(t, p, j);
                        }
                        assertThat(c.get(t, i, j)).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
            }
        }
    }

    @Test
    void oneThreadNeverSplitsAndTheCountIsChecked() {
        Blas.setThreads(1);
        assertThat(Blas.threads()).isEqualTo(1);
        assertThat(Blas.parts(1L << 40, 1 << 20)).isEqualTo(1);
        assertThat(Blas.loopParts(1L << 40, 1000)).isEqualTo(1);
        assertThatThrownBy(() -> Blas.setThreads(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected at least 1, got 0");
    }

    @Test
    void aLargeEigenproblemGetsOpenBlasThreadsAndGivesThemBack() {
        int n = 1024;
        Random rnd = new Random(3);
        double[] g = random(rnd, n * n);
        // A = G Gᵀ / n: symmetric; the sum of its eigenvalues is its trace, the sum of their squares ‖A‖_F²
        double[] a = new double[n * n];
        try (Tensor gt = Tensor.of(g, n, n); Tensor at = Tensor.zeros(DType.F64, n, n)) {
            Blas.gemm(false, true, n, n, n, 1.0 / n, gt, 0, n, gt, 0, n, 0.0, at, 0, n);
            for (int i = 0; i < a.length; i++) {
                a[i] = at.getFlat(i);
            }
            double trace = 0;
            double frob = 0;
            for (int i = 0; i < n; i++) {
                trace += a[i * n + i];
                for (int j = 0; j < n; j++) {
                    frob += a[i * n + j] * a[i * n + j];
                }
            }
            double[] w = Lapack.symmetricEigenvalues(at);
            double sum = 0;
            double squares = 0;
            for (double v : w) {
                sum += v;
                squares += v * v;
            }
            assertThat(sum).isCloseTo(trace, org.assertj.core.data.Offset.offset(1e-9 * trace));
            assertThat(squares).isCloseTo(frob, org.assertj.core.data.Offset.offset(1e-9 * frob));
        }
        // OpenBLAS runs on the calling thread again after the call
        assertThat(org.bytedeco.openblas.global.openblas_full.openblas_get_num_threads()).isEqualTo(1);
    }
}

package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class BlasTest {
    @AfterEach
    void counterOff() {
        Blas.countTime(false);
    }

    @Test
    void gemmComputesTheProductWithTheCounterOnOrOff() {
        try (Tensor a = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor b = Tensor.of(new double[] {1, 0, 2, 1, 0, 3}, 3, 2);
             Tensor c = Tensor.zeros(DType.F64, 2, 2)) {
            for (boolean on : new boolean[] {false, true}) {
                Blas.countTime(on);
                Blas.gemm(false, false, 2, 2, 3, 1.0, a, 0, 3, b, 0, 2, 0.0, c, 0, 2);
                // [1 2 3; 4 5 6] · [1 0; 2 1; 0 3] = [5 11; 14 23]
                assertThat(new double[] {c.getFlat(0), c.getFlat(1), c.getFlat(2), c.getFlat(3)})
                        .containsExactly(5, 11, 14, 23);
            }
        }
    }

    /**
     * A·Bᵀ with few rows and a long contraction is computed in float32 as (B·Aᵀ)ᵀ: against a loop, in float32 within
     * 1e-5 of the sum of |a|·|b| (float64, which the rule leaves to the plain GEMM, within 1e-12 of it), with A, B and
     * C inside larger tensors (offsets, row strides longer than the rows), through the split over threads and unsplit,
     * next to the cases the rule leaves to the plain GEMM (beta not 0, rows not few enough, a short contraction), whose
     * C rows beyond n stay untouched.
     */
    @Test
    void fewRowsTimesATransposeAgreeWithTheDefinition() {
        assertThat(Blas.transposesOutput(16, 2048, 3072, DType.F32)).isTrue();
        assertThat(Blas.transposesOutput(128, 512, 512, DType.F32)).isTrue();
        assertThat(Blas.transposesOutput(128, 511, 512, DType.F32)).isFalse(); // m > n/4
        assertThat(Blas.transposesOutput(16, 2048, 255, DType.F32)).isFalse(); // short contraction
        assertThat(Blas.transposesOutput(512, 2048, 2048, DType.F32)).isFalse(); // C over 2 MiB
        assertThat(Blas.transposesOutput(512, 1024, 2048, DType.F32)).isFalse(); // C of 2 MiB but m > n/4
        assertThat(Blas.transposesOutput(256, 2048, 2048, DType.F32)).isTrue(); // C of exactly 2 MiB
        assertThat(Blas.transposesOutput(256, 2052, 2048, DType.F32)).isFalse();
        assertThat(Blas.transposesOutput(16, 2048, 3072, DType.F64)).isFalse(); // float32 only
        int[][] cases = {{16, 300, 257, 0}, {5, 1029, 700, 0}, {64, 256, 300, 0}, {16, 300, 257, 1}, {100, 300, 300, 0},
            {16, 300, 100, 0}};
        for (DType dt : DType.values()) {
            for (int[] c : cases) {
                int m = c[0];
                int n = c[1];
                int k = c[2];
                double beta = c[3];
                int lda = k + 3;
                int ldb = k + 5;
                int ldc = n + 7;
                try (Tensor a = Tensor.randomNormal(dt, 11, m + 1, lda);
                     Tensor b = Tensor.randomNormal(dt, 12, n + 2, ldb);
                     Tensor out = Tensor.randomNormal(dt, 13, m + 1, ldc)) {
                    double[] before = out.toDoubleArray();
                    int aOff = 2;
                    int bOff = ldb + 1;
                    int cOff = 3;
                    for (boolean split : new boolean[] {true, false}) {
                        try (Tensor cc = out.copy()) {
                            if (split) {
                                Blas.gemm(false, true, m, n, k, 0.5, a, aOff, lda, b, bOff, ldb, beta, cc, cOff, ldc);
                            } else {
                                Blas.gemmUnsplit(false, true, m, n, k, 0.5, a, aOff, lda, b, bOff, ldb, beta, cc, cOff,
                                        ldc);
                            }
                            double[] got = cc.toDoubleArray();
                            for (int i = 0; i < m; i++) {
                                for (int j = 0; j < n; j++) {
                                    double sum = 0;
                                    double abs = 0;
                                    for (int q = 0; q < k; q++) {
                                        double p = a.getFlat(aOff + i * lda + q) * b.getFlat(bOff + j * ldb + q);
                                        sum += p;
                                        abs += Math.abs(p);
                                    }
                                    int at = cOff + i * ldc + j;
                                    double expected = 0.5 * sum + beta * before[at];
                                    double tol = (dt == DType.F64 ? 1e-12 : 1e-5) * (abs + Math.abs(before[at]));
                                    assertThat(got[at]).as("%s %s C[%d, %d], split %s", dt,
                                            java.util.Arrays.toString(c), i, j, split)
                                            .isCloseTo(expected, org.assertj.core.data.Offset.offset(tol));
                                }
                            }
                            // everything outside C's m × n block is as it was
                            for (int q = 0; q < got.length; q++) {
                                int r = (q - cOff) / ldc;
                                int col = (q - cOff) % ldc;
                                boolean inside = q >= cOff && r < m && col < n;
                                if (!inside) {
                                    assertThat(got[q])
                                            .as("%s %s untouched element %d", dt, java.util.Arrays.toString(c), q)
                                            .isEqualTo(before[q]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * x·W with at most 64 rows and W a whole parameter read through a parameter view is computed from Wᵀ: kept with
     * W when it can be, else transposed for the call. The products agree with the definition, a write to W is seen
     * by the next one, and the bits are the same whether the copy was kept, W's storage was handed out (so nothing
     * can be kept) or the bound leaves no room — so that no result depends on what was computed before it.
     */
    @Test
    void fewRowsTimesAParameterReadItsTransposeWithTheSameBitsKeptOrNot() {
        int k = 300;
        int n = 1030;
        for (int m : new int[] {16, 64}) {
            for (boolean split : new boolean[] {true, false}) {
                long before = Tensor.keptCopyBytes();
                try (Tensor x = Tensor.randomNormal(DType.F32, 21, m, k);
                     Tensor w = Tensor.randomNormal(DType.F32, 22, k, n);
                     Tensor exposed = w.copy();
                     Tensor out = Tensor.zeros(DType.F32, m, n);
                     Tensor plain = Tensor.zeros(DType.F32, m, n)) {
                    exposed.floats(); // handed out: no copy can be kept
                    for (int round = 0; round < 3; round++) {
                        if (round == 2) {
                            w.setFlat(7 * n + 5, 3.0); // a tracked write: the kept copy is refilled
                            exposed.setFlat(7 * n + 5, 3.0);
                        }
                        product(split, m, n, k, x, w.parameterView(), out);
                        product(split, m, n, k, x, exposed.parameterView(), plain);
                        assertThat(Tensor.keptCopyBytes() - before).as("m %d round %d: W's copy", m, round)
                                .isEqualTo(4L * k * n);
                        assertThat(out.toFloatArray()).as("m %d round %d: kept or not, the same bits", m, round)
                                .containsExactly(plain.toFloatArray());
                        float[] xs = x.toFloatArray();
                        float[] ws = w.toFloatArray();
                        float[] got = out.toFloatArray();
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < n; j++) {
                                double sum = 0;
                                double abs = 0;
                                for (int q = 0; q < k; q++) {
                                    double p = (double) xs[i * k + q] * ws[q * n + j];
                                    sum += p;
                                    abs += Math.abs(p);
                                }
                                assertThat((double) got[i * n + j]).as("m %d split %s round %d C[%d, %d]", m, split,
                                        round, i, j)
                                        .isCloseTo(0.5 * sum, org.assertj.core.data.Offset.offset(1e-5 * abs));
                            }
                        }
                    }
                }
                assertThat(Tensor.keptCopyBytes()).as("freed with W").isEqualTo(before);
            }
        }
        // a plain read view is no parameter, and more than 64 rows are as fast as they are: no copy either way
        long before = Tensor.keptCopyBytes();
        try (Tensor x = Tensor.randomNormal(DType.F32, 23, 65, k);
             Tensor w = Tensor.randomNormal(DType.F32, 24, k, n);
             Tensor out = Tensor.zeros(DType.F32, 65, n)) {
            Blas.gemm(false, false, 65, n, k, 1.0, x, 0, k, w.parameterView(), 0, n, 0.0, out, 0, n);
            Blas.gemm(false, false, 16, n, k, 1.0, x, 0, k, w.readView(), 0, n, 0.0, out, 0, n);
            assertThat(Tensor.keptCopyBytes()).isEqualTo(before);
        }
    }

    private static void product(boolean split, int m, int n, int k, Tensor x, Tensor w, Tensor out) {
        if (split) {
            Blas.gemm(false, false, m, n, k, 0.5, x, 0, k, w, 0, n, 0.0, out, 0, n);
        } else {
            Blas.gemmUnsplit(false, false, m, n, k, 0.5, x, 0, k, w, 0, n, 0.0, out, 0, n);
        }
    }

    @Test
    void counterCountsCallsAndTimeOnlyWhileOn() {
        try (Tensor a = Tensor.randomNormal(DType.F32, 1, 256, 256);
             Tensor c = Tensor.zeros(DType.F32, 256, 256)) {
            Blas.countTime(false);
            Blas.gemm(false, false, 256, 256, 256, 1.0, a, 0, 256, a, 0, 256, 0.0, c, 0, 256);
            assertThat(Blas.countedCalls()).isZero();
            assertThat(Blas.countedNanos()).isZero();
            Blas.countTime(true);
            long t0 = System.nanoTime();
            for (int i = 0; i < 3; i++) {
                Blas.gemm(false, false, 256, 256, 256, 1.0, a, 0, 256, a, 0, 256, 0.0, c, 0, 256);
            }
            long wall = System.nanoTime() - t0;
            assertThat(Blas.countedCalls()).isEqualTo(3);
            assertThat(Blas.countedNanos()).isPositive().isLessThanOrEqualTo(wall);
            Blas.countTime(true);
            assertThat(Blas.countedCalls()).isZero();
        }
    }
}

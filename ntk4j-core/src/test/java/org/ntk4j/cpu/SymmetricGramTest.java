package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link Blas#gram} and {@link DotGeneralKernel#gram}: the symmetric product of a matrix with its own transpose,
 * computed as an upper triangle and mirrored, on one thread, split along K, and split into blocks of rows.
 * Checked against the definition in float64 (to rounding) and for exact symmetry (bit for bit), with padded
 * strides, offsets, both transpositions, and the parts each split takes asserted so that every path runs.
 */
class SymmetricGramTest {
    private int before;

    @BeforeEach
    void remember() {
        before = Blas.threads();
    }

    @AfterEach
    void restore() {
        Blas.setThreads(before);
    }


    /**
     * (m, k, threads): one thread (one SYRK), K split in 2 and 3 (k ≥ 2m, m ≤ 512), rows in 2 and 3 blocks (k
     * small against m), each above the split threshold but for the first.
     */
    @ParameterizedTest
    @ValueSource(strings = {"100,300,1", "130,70000,2", "97,90001,3", "700,40,2", "1000,30,3", "520,1100,2"})
    void theGramIsTheProductWithItsTransposeAndExactlySymmetric(String setting) {
        String[] f = setting.split(",");
        int m = Integer.parseInt(f[0]);
        int k = Integer.parseInt(f[1]);
        int threads = Integer.parseInt(f[2]);
        Blas.setThreads(threads);
        Random rnd = new Random(m + 31L * k);
        for (boolean ta : new boolean[] {false, true}) {
            int lda = (ta ? m : k) + 3;
            double[] a = BlasThreadsTest.random(rnd, 5 + (ta ? k : m) * lda);
            int ldc = m + 2;
            int cOff = 4;
            try (Tensor at = Tensor.of(a, a.length); Tensor ct = Tensor.of(BlasThreadsTest.random(rnd, cOff + m * ldc),
                    cOff + m * ldc)) {
                Blas.gram(ta, m, k, 0.5, at, 5, lda, ct, cOff, ldc);
                // every entry of a few rows (and the mirrored columns) against the definition
                for (int i = 0; i < m; i += Math.max(1, m / 7)) {
                    for (int j = 0; j < m; j++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) {
                            double x = ta ? a[5 + p * lda + i] : a[5 + i * lda + p];
                            double y = ta ? a[5 + p * lda + j] : a[5 + j * lda + p];
                            s += x * y;
                        }
                        assertThat(ct.getFlat(cOff + i * ldc + j)).as("%s ta=%s (%d, %d)", setting, ta, i, j)
                                .isCloseTo(0.5 * s, Offset.offset(1e-10 * Math.max(1, Math.abs(s))));
                    }
                }
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < i; j++) {
                        assertThat(ct.getFlat(cOff + i * ldc + j)).isEqualTo(ct.getFlat(cOff + j * ldc + i));
                    }
                }
            }
        }
    }

    @Test
    void eachSplitRunsWhereTheTestsAboveExpectIt() {
        Blas.setThreads(2);
        assertThat(Blas.parts((long) 130 * 131 / 2 * 70000, 70000)).isEqualTo(2); // along K
        assertThat(Blas.parts((long) 700 * 701 / 2 * 40, 700)).isEqualTo(2); // rows
        Blas.setThreads(3);
        assertThat(Blas.parts((long) 97 * 98 / 2 * 90001, 90001)).isEqualTo(3);
        assertThat(Blas.parts((long) 1000 * 1001 / 2 * 30, 1000)).isEqualTo(3);
    }

    /** float32, split along K: the GEMM's values to float32 rounding (relative 1e-4), and the same bits on repeat. */
    @Test
    void theSameGramGivesTheSameBitsEachTime() {
        Blas.setThreads(2);
        try (Tensor a = Tensor.randomNormal(DType.F32, 5, 128, 40000); Tensor c1 = DotGeneralKernel.gram(a,
                new int[] {1}, new int[0]); Tensor c2 = DotGeneralKernel.gram(a, new int[] {1}, new int[0]);
             Tensor d = DotGeneralKernel.dot(a, a, new int[] {1}, new int[] {1}, new int[0], new int[0])) {
            assertThat(Blas.parts(128L * 128 * 40000, 40000)).isEqualTo(2);
            for (int i = 0; i < c1.size(); i++) {
                assertThat(Float.floatToRawIntBits((float) c2.getFlat(i)))
                        .isEqualTo(Float.floatToRawIntBits((float) c1.getFlat(i)));
                // entries ~ N(0, 40000) off the diagonal, 40000 on it: float32 sums agree to about 1e-4 of sqrt(k)·k
                assertThat(c1.getFlat(i)).isCloseTo(d.getFlat(i), Offset.offset(1e-4 * 40000));
            }
        }
    }

    @Test
    void dotGeneralsGramBatchesAndFallsBackToTheGemmWhereSymmetryDoesNotPay() {
        Blas.setThreads(2);
        // [batch 6, free 2×40, contracted 300]: six symmetric Grams of order 80, run in parallel
        int[] shape = {6, 2, 40, 300};
        assertThat(DotGeneralKernel.isSymmetricGram(shape, new int[] {3}, new int[] {0})).isTrue();
        assertThat(DotGeneralKernel.gramFlops(shape, new int[] {3}, new int[] {0})).isEqualTo(6.0 * 80 * 81 * 300);
        try (Tensor x = Tensor.randomNormal(DType.F64, 9, shape);
             Tensor g = DotGeneralKernel.gram(x, new int[] {3}, new int[] {0});
             Tensor d = DotGeneralKernel.dot(x, x, new int[] {3}, new int[] {3}, new int[] {0}, new int[] {0})) {
            assertThat(g.shape()).containsExactly(6, 2, 40, 2, 40).containsExactly(d.shape());
            for (int i = 0; i < g.size(); i++) {
                assertThat(g.getFlat(i)).isCloseTo(d.getFlat(i), Offset.offset(1e-11));
            }
        }
        // a short contraction, few rows, or axes not in [batch, free, contracted] order: the GEMM, bit for bit
        int[][] shapes = {{64, 100}, {16, 3072}, {300, 64}};
        for (int[] s : shapes) {
            assertThat(DotGeneralKernel.isSymmetricGram(s, new int[] {1}, new int[0])).isFalse();
            assertThat(DotGeneralKernel.gramFlops(s, new int[] {1}, new int[0])).isEqualTo(2.0 * s[0] * s[0] * s[1]);
        }
        assertThat(DotGeneralKernel.isSymmetricGram(new int[] {300, 64}, new int[] {0}, new int[0])).isFalse();
        try (Tensor x = Tensor.randomNormal(DType.F32, 3, 300, 64);
             Tensor g = DotGeneralKernel.gram(x, new int[] {0}, new int[0]);
             Tensor d = DotGeneralKernel.dot(x, x, new int[] {0}, new int[] {0}, new int[0], new int[0])) {
            for (int i = 0; i < g.size(); i++) {
                assertThat(g.getFlat(i)).isEqualTo(d.getFlat(i));
            }
        }
    }
}

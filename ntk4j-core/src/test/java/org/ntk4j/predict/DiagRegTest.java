package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link DiagReg}: its factories and their refusals, r for N×N and full NO×NO kernels (held as a
 * {@link KernelMatrix} or a tensor) against an exact oracle (the trace summed in BigDecimal from the entries written),
 * its value semantics and its words for reports.
 */
class DiagRegTest {
    private static final int N = 5;
    private static final int O = 3;
    /**
     * Relative tolerance against the exact oracle: the double trace of d ≤ 15 positive terms is within (d − 1)·2⁻⁵³
     * of the exact one, and the product and the division round twice more.
     */
    private static final double TOL = 2e-15;

    @Test
    void factoriesKeepTheValueAndTheScale() {
        DiagReg rel = DiagReg.relative(1e-4);
        DiagReg abs = DiagReg.absolute(0.01);
        assertThat(rel.value()).isEqualTo(1e-4);
        assertThat(rel.isAbsolute()).isFalse();
        assertThat(abs.value()).isEqualTo(0.01);
        assertThat(abs.isAbsolute()).isTrue();
        assertThat(DiagReg.NONE.value()).isZero();
        assertThat(DiagReg.NONE.isAbsolute()).isTrue();
        // values: equal by value and scale; the relative and the absolute 0 (both r = 0) say different things
        assertThat(DiagReg.relative(1e-4)).isEqualTo(rel).hasSameHashCodeAs(rel);
        assertThat(DiagReg.absolute(0)).isEqualTo(DiagReg.NONE).hasSameHashCodeAs(DiagReg.NONE);
        assertThat(DiagReg.relative(0)).isNotEqualTo(DiagReg.NONE);
        assertThat(DiagReg.relative(0.01)).isNotEqualTo(abs);
        assertThat(DiagReg.relative(2e-4)).isNotEqualTo(rel);
        assertThat(rel).isNotEqualTo("1.0E-4 × mean diagonal");
        // the largest finite value is accepted as it is
        assertThat(DiagReg.absolute(Double.MAX_VALUE).value()).isEqualTo(Double.MAX_VALUE);
    }

    /**
     * −0 (accepted: it is ≥ 0; {@code --diag-reg -0}) is 0: absolute(−0) reads "none" and equals {@link DiagReg#NONE}
     * with its hash code, relative(−0) equals relative(0) (both give r = ±0 for every kernel); the value stays as
     * given, so that the CLI's header and report print what they printed before DiagReg ({@code diag_reg -0.00}).
     * They were unequal, absolute(−0) "none" but not NONE, as {@link Double#compare} tells −0 from 0.
     */
    @Test
    void negativeZeroEqualsZero() {
        assertThat(DiagReg.absolute(-0.0)).isEqualTo(DiagReg.NONE).hasSameHashCodeAs(DiagReg.NONE).hasToString("none");
        assertThat(DiagReg.relative(-0.0)).isEqualTo(DiagReg.relative(0)).hasSameHashCodeAs(DiagReg.relative(0));
        assertThat(DiagReg.relative(-0.0)).isNotEqualTo(DiagReg.NONE);
        assertThat(Double.doubleToRawLongBits(DiagReg.relative(-0.0).value()))
                .isEqualTo(Double.doubleToRawLongBits(-0.0));
        try (Tensor k = Tensor.zeros(DType.F64, 2, 2)) {
            k.setFlat(0, 2.0);
            k.setFlat(3, 4.0);
            assertThat(DiagReg.relative(-0.0).regulariser(k)).isZero();
            assertThat(DiagReg.absolute(-0.0).regulariser(k)).isZero();
        }
    }

    @Test
    void refusesNegativeNanAndInfiniteValuesInOneLineNamingTheArgument() {
        assertRefused(() -> DiagReg.relative(-1), "diag_reg: expected a finite number >= 0, got -1.0");
        assertRefused(() -> DiagReg.absolute(-1e-300), "diag_reg: expected a finite number >= 0, got -1.0E-300");
        assertRefused(() -> DiagReg.relative(Double.NaN), "diag_reg: expected a finite number >= 0, got NaN");
        assertRefused(() -> DiagReg.absolute(Double.POSITIVE_INFINITY),
                "diag_reg: expected a finite number >= 0, got Infinity");
        assertRefused(() -> DiagReg.relative(Double.NEGATIVE_INFINITY),
                "diag_reg: expected a finite number >= 0, got -Infinity");
    }

    @Test
    void relativeIsTheValueTimesTheMeanDiagonalOfAnNxNKernel() {
        double[][] k = spd(N, 1);
        double value = 1e-3;
        double expected = oracle(value, k);
        DiagReg reg = DiagReg.relative(value);
        try (Tensor t = Tensor.of(flat(k), N, N); Tensor t32 = Tensor.of(DType.F32, flat(k), N, N);
             KernelMatrix km = KernelMatrix.of(t)) {
            assertThat(reg.regulariser(km)).isCloseTo(expected, Offset.offset(TOL * expected));
            // the tensor and the matrix sum the trace in the same order: the same double
            assertThat(reg.regulariser(t)).isEqualTo(reg.regulariser(km));
            // float32 entries: the trace of the rounded entries
            double[][] k32 = new double[N][N];
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < N; j++) {
                    k32[i][j] = (float) k[i][j];
                }
            }
            assertThat(reg.regulariser(t32)).isCloseTo(oracle(value, k32), Offset.offset(TOL * expected));
            // the N×N kernel acting on O outputs as K ⊗ I_O has the same mean diagonal, so the same relative r
            try (Tensor kronT = Tensor.of(flat(kron(k, O)), N, N, O, O); KernelMatrix kron = KernelMatrix.of(kronT)) {
                assertThat(kron.dimension()).isEqualTo(N * O);
                assertThat(reg.regulariser(kron)).isCloseTo(expected, Offset.offset(TOL * expected));
            }
        }
    }

    @Test
    void relativeIsTheValueTimesTraceOverNoForAFullKernel() {
        double[][] m = spd(N * O, 2); // the NO×NO matrix, row (n, o) = n·O + o
        double value = 0.25;
        double expected = oracle(value, m); // trace of the NO×NO matrix over NO
        DiagReg reg = DiagReg.relative(value);
        try (Tensor t = Tensor.of(flat(m), N, N, O, O); KernelMatrix km = KernelMatrix.of(t);
             Tensor y = Tensor.zeros(DType.F64, N, O)) {
            assertThat(km.dimension()).isEqualTo(N * O);
            assertThat(reg.regulariser(km)).isCloseTo(expected, Offset.offset(TOL * expected));
            assertThat(reg.regulariser(t)).isEqualTo(reg.regulariser(km));
            // the solvers add the same r
            try (GradientDescentMse gd = GradientDescentMse.of(km, y, 1, reg)) {
                assertThat(gd.regulariser()).isEqualTo(reg.regulariser(km));
            }
            assertThat(GradientDescentOde.of(km, y, Loss.MSE, 1, Double.NaN, reg).regulariser())
                    .isEqualTo(reg.regulariser(km));
        }
    }

    @Test
    void absoluteAndNoneIgnoreTheKernel() {
        double[][] k = spd(N, 3);
        try (Tensor t = Tensor.of(flat(k), N, N); KernelMatrix km = KernelMatrix.of(t)) {
            assertThat(DiagReg.absolute(0.03).regulariser(km)).isEqualTo(0.03);
            assertThat(DiagReg.absolute(0.03).regulariser(t)).isEqualTo(0.03);
            assertThat(DiagReg.NONE.regulariser(km)).isZero();
            assertThat(DiagReg.NONE.regulariser(t)).isZero();
            assertThat(DiagReg.relative(0).regulariser(km)).isZero();
        }
    }

    @Test
    void refusesKernelsWithoutAMeanDiagonal() {
        try (Tensor rect = Tensor.zeros(DType.F64, 3, 2); Tensor blocks = Tensor.zeros(DType.F64, 3, 3, 2, 1);
             Tensor vector = Tensor.zeros(DType.F64, 3)) {
            for (DiagReg reg : new DiagReg[] {DiagReg.relative(1e-3), DiagReg.absolute(1e-3)}) {
                assertRefused(() -> reg.regulariser(rect),
                        "kernel: expected a train-train kernel [N, N] or [N, N, O, O], got [3, 2]");
                assertRefused(() -> reg.regulariser(blocks),
                        "kernel: expected a train-train kernel [N, N] or [N, N, O, O], got [3, 3, 2, 1]");
                assertRefused(() -> reg.regulariser(vector),
                        "kernel: expected a train-train kernel [N, N] or [N, N, O, O], got [3]");
                assertRefused(() -> reg.regulariser((Tensor) null),
                        "kernel: expected a train-train kernel [N, N] or [N, N, O, O], got null");
                assertRefused(() -> reg.regulariser((KernelMatrix) null),
                        "kernel: expected a train-train kernel, got null");
            }
        }
        // a null regulariser is refused by the solvers, naming DiagReg.NONE
        try (Tensor t = Tensor.of(flat(spd(N, 4)), N, N); KernelMatrix km = KernelMatrix.of(t);
             Tensor y = Tensor.zeros(DType.F64, N, O)) {
            assertRefused(() -> GradientDescentMse.of(km, y, 1, null),
                    "diag_reg: expected a DiagReg (DiagReg.NONE for none), got null");
        }
    }

    @Test
    void saysWhatItIsForReports() {
        assertThat(DiagReg.relative(1e-4)).hasToString("1.0E-4 × mean diagonal");
        assertThat(DiagReg.absolute(0.01)).hasToString("0.01 absolute");
        assertThat(DiagReg.relative(0)).hasToString("0.0 × mean diagonal");
        assertThat(DiagReg.NONE).hasToString("none");
        assertThat(DiagReg.absolute(0)).hasToString("none");
    }

    /** value · trace/dim with the trace summed exactly from the entries, rounded once at the end. */
    private static double oracle(double value, double[][] k) {
        BigDecimal trace = BigDecimal.ZERO;
        for (int i = 0; i < k.length; i++) {
            trace = trace.add(new BigDecimal(k[i][i]));
        }
        return new BigDecimal(value).multiply(trace).divide(BigDecimal.valueOf(k.length), MathContext.DECIMAL128)
                .doubleValue();
    }

    /** A random symmetric positive definite d×d matrix A·Aᵀ + I with entries of mixed magnitude. */
    private static double[][] spd(int d, long seed) {
        Random rnd = new Random(seed);
        double[][] a = new double[d][d];
        for (double[] row : a) {
            for (int j = 0; j < d; j++) {
                row[j] = rnd.nextGaussian() * Math.pow(10, rnd.nextInt(3));
            }
        }
        double[][] k = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                double s = i == j ? 1 : 0;
                for (int l = 0; l < d; l++) {
                    s += a[i][l] * a[j][l];
                }
                k[i][j] = s;
            }
        }
        for (int i = 0; i < d; i++) { // exactly symmetric
            for (int j = 0; j < i; j++) {
                k[i][j] = k[j][i];
            }
        }
        return k;
    }

    /** K ⊗ I_O as the [N, N, O, O] entries, read as the NO×NO matrix. */
    private static double[][] kron(double[][] k, int o) {
        int n = k.length;
        double[][] m = new double[n * o][n * o];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int a = 0; a < o; a++) {
                    m[i * o + a][j * o + a] = k[i][j];
                }
            }
        }
        return m;
    }

    /** The [N, N, O, O] (or [N, N]) tensor entries of an NO×NO (or N×N) matrix, for a square o-block layout. */
    private static double[] flat(double[][] m) {
        int d = m.length;
        if (d == N) {
            double[] f = new double[d * d];
            for (int i = 0; i < d; i++) {
                System.arraycopy(m[i], 0, f, i * d, d);
            }
            return f;
        }
        double[] f = new double[d * d];
        for (int n = 0; n < N; n++) {
            for (int p = 0; p < N; p++) {
                for (int a = 0; a < O; a++) {
                    for (int b = 0; b < O; b++) {
                        f[((n * N + p) * O + a) * O + b] = m[n * O + a][p * O + b];
                    }
                }
            }
        }
        return f;
    }

    private static void assertRefused(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String message) {
        assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class).hasMessage(message)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}

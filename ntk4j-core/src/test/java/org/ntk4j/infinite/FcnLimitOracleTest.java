package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.NonFiniteKernelException;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link FcnLimit} against fcn_limit_oracle.txt, written by the test resource fcn_limit_oracle.py: a NumPy
 * computation of the same kernels, in float64, whole Gram matrices at once, from the closed forms for relu, erf,
 * leaky_relu and identity and by its own two-dimensional trapezoidal rule (not ntk4j's closed forms or quadrature)
 * for tanh, sigmoid, softplus, gelu and sin. 198 fcns (the 9 activations and leaky_relu with the slopes 0.2 and 0,
 * both parameterisations, depth 0, 1 and 3, three (σ_w, σ_b) among them σ_b = 0) on 7 inputs of [5] against 4
 * (rectangular) and against themselves, with identical, antipodal, parallel, zero and tiny rows.
 */
class FcnLimitOracleTest {
    /**
     * Every entry within 1e-13 of its scale √(|k(x,x)| |k(x',x')|) (Cauchy–Schwarz), exactly 0 where that is 0 (a
     * zero input without biases), identical inputs included: their correlation is 1 at every layer, and a recursion
     * that lets it round below 1 errs by about 1e-8 there (arccos near 1). Rows parallel up to rounding but neither
     * identical nor negated (x and 2.5x, −x and −3x) get 1e-7: their c is ±1 only to rounding, which arccos turns
     * into an error of about 1e-8 (intrinsic to the closed form, in the oracle too).
     */
    @Test
    void matchesTheNumPyOracleAtIdenticalAntipodalParallelZeroAndRectangularInputs() throws IOException {
        List<String[]> lines = OracleFile.lines("fcn_limit_oracle.txt");
        double[][] a = rows(lines.get(0));
        double[][] b = rows(lines.get(1));
        int cases = 0;
        try (Tensor x1 = tensor(a); Tensor x2 = tensor(b)) {
            for (int c = 2; c < lines.size(); c += 7) {
                String spec = lines.get(c)[1];
                FcnLimit lim = FcnLimit.of(spec);
                OracleFile.checkCase(lines, c, spec, lim, x1, x2,
                        (i, j, self) -> nearlyParallel(a[i], self ? a[j] : b[j]) ? 1e-7 : 1e-13, false);
                cases++;
            }
        }
        assertThat(cases).isEqualTo(198);
    }

    /** |cos(x, y)| = 1 up to rounding, y neither x nor −x exactly. */
    private static boolean nearlyParallel(double[] x, double[] y) {
        double xy = 0;
        double xx = 0;
        double yy = 0;
        boolean same = true;
        boolean negated = true;
        for (int f = 0; f < x.length; f++) {
            xy += x[f] * y[f];
            xx += x[f] * x[f];
            yy += y[f] * y[f];
            same &= x[f] == y[f];
            negated &= x[f] == -y[f];
        }
        return !same && !negated && xx > 0 && yy > 0 && Math.abs(xy) / Math.sqrt(xx * yy) > 1 - 1e-12;
    }

    /**
     * Without biases a relu fcn is positively homogeneous of degree 2 in its inputs: K(αx, αx') = α² K(x, x') and
     * the same for Θ. At α = 1e-100 and 1e100 the variances (about 1e∓200) underflowed or overflowed in their product
     * k·k' (√(k k') of arccos' argument): the derivative term vanished, or the correlation became 0.
     */
    @Test
    void reluWithoutBiasesIsHomogeneousAtTinyAndHugeInputs() {
        FcnLimit lim = FcnLimit.of("fcn(depth=3,act=relu,b_std=0,w_std=1.3)");
        try (Tensor x = Tensor.randomNormal(DType.F64, 7, 5, 6);
             Tensor base = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            for (double alpha : new double[] {1e-100, 1e100}) {
                try (Tensor scaled = scaled(x, alpha);
                     Tensor k = lim.kernel(KernelKind.trace(), scaled, null, LimitKernel.NTK, DType.F64)) {
                    for (int i = 0; i < 5; i++) {
                        for (int j = 0; j < 5; j++) {
                            assertThat(k.get(i, j) / (alpha * alpha)).as("α = %s (%d, %d)", alpha, i, j)
                                    .isCloseTo(base.get(i, j), within(1e-12 * Math.abs(base.get(i, j))));
                        }
                    }
                }
            }
        }
    }

    /**
     * erf's E[φ'(u)φ'(u)] for one input of variance k is (4/π)/√(1 + 4k); computed as (1 + 2k)² − 4k², the
     * difference of two products of about 4k², it kept none of the digits of 1 + 4k at k = 1e12 (off by 1e-4).
     */
    @Test
    void erfDerivativeTermIsAccurateAtLargeVariances() {
        for (double k : new double[] {0.3, 1e4, 1e12}) {
            double want = 4 / Math.PI / Math.sqrt(1 + 4 * k);
            double[] erf = ActivationDuals.of(Activation.Kind.ERF, k, k, k);
            assertThat(erf[3]).as("k = %s", k).isCloseTo(want, within(1e-14 * want));
            assertThat(erf[2]).isCloseTo(2 / Math.PI * Math.asin(2 * k / (1 + 2 * k)), within(1e-15));
        }
    }

    /**
     * NaN or ±∞ in x1 or x2 is refused naming the tensor and the index, and a kernel that overflows the dtype (finite
     * inputs of 1e20 in float32: Θ about 1e40) is refused instead of returned as ∞ or NaN.
     */
    @Test
    void nonFiniteInputsAndOverflowsAreRefusedInOneLine() {
        FcnLimit lim = FcnLimit.of("fcn(depth=2,out=3)");
        try (Tensor x = Tensor.randomNormal(DType.F64, 3, 4, 5); Tensor y = Tensor.randomNormal(DType.F64, 4, 2, 5)) {
            x.set(Double.NaN, 1, 2);
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("x1: contains a non-finite value (NaN) at flat index 7");
            x.set(0.5, 1, 2);
            y.set(Double.NEGATIVE_INFINITY, 1, 0);
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, y, LimitKernel.NNGP, DType.F64))
                    .hasMessage("x2: contains a non-finite value (-Infinity) at flat index 5");
            try (Tensor big = scaled(x, 1e20)) {
                assertThatThrownBy(() -> lim.kernel(KernelKind.full(), big, null, LimitKernel.NTK, DType.F32))
                        .isInstanceOf(NonFiniteKernelException.class)
                        .hasMessageStartingWith("infinite-width limit: the NTK holds Infinity (at flat index 0 of "
                                + "[4, 4, 3, 3]): it overflows f32");
                try (Tensor k = lim.kernel(KernelKind.full(), big, null, LimitKernel.NTK, DType.F64)) {
                    assertThat(k.firstNonFinite()).isEqualTo(-1);
                }
            }
            try (Tensor huge = scaled(x, 1e200)) { // x·x overflows float64 itself
                assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), huge, null, LimitKernel.NNGP, DType.F64))
                        .isInstanceOf(NonFiniteKernelException.class)
                        .hasMessageStartingWith("infinite-width limit: the NNGP holds ")
                        .hasMessageEndingWith("it overflows f64 at these inputs (it grows with |x|² and with σ_w² per "
                                + "layer, exponentially through act=exp); scale the inputs");
            }
            try (Tensor z = Tensor.randomNormal(DType.F64, 5, 2, 4)) {
                assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, z, LimitKernel.NTK, DType.F64))
                        .hasMessage("shape mismatch: x2 examples [4] have 4 features, x1 examples [5] 5");
            }
        }
    }

    /** The constructor names the values it refuses (σ_w = NaN gave a NaN kernel, a depth of −1 no value). */
    @Test
    void theConstructorRefusesBadHyperparametersNamingThem() {
        assertThatThrownBy(() -> new FcnLimit(-1, 8, 2, new Activation(Activation.Kind.RELU), Parameterization.NTK, 1,
                0))
                .hasMessage("fcn limit: expected depth >= 0, width >= 1 and out >= 1, got depth -1, width 8, out 2");
        assertThatThrownBy(() -> new FcnLimit(1, 8, 2, new Activation(Activation.Kind.ERF), Parameterization.NTK,
                Double.NaN, 0))
                .hasMessage("fcn limit: expected finite w_std >= 0 and b_std >= 0, got w_std NaN, b_std 0.0");
        assertThatThrownBy(() -> new FcnLimit(1, 8, 2, new Activation(Activation.Kind.ERF), Parameterization.STANDARD,
                1, Double.POSITIVE_INFINITY)).hasMessageEndingWith("got w_std 1.0, b_std Infinity");
        assertThatThrownBy(() -> new FcnLimit(1, 8, 2, null, Parameterization.NTK, 1, 0))
                .hasMessage("fcn limit: act and param are required, got act null, param NTK");
    }

    private static Tensor scaled(Tensor x, double alpha) {
        Tensor r = x.copy();
        for (int i = 0; i < r.size(); i++) {
            r.setFlat(i, alpha * x.getFlat(i));
        }
        return r;
    }

    private static double[][] rows(String[] t) {
        int n = Integer.parseInt(t[1]);
        int d = Integer.parseInt(t[2]);
        double[][] r = new double[n][d];
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < d; f++) {
                r[i][f] = Double.parseDouble(t[3 + i * d + f]);
            }
        }
        return r;
    }

    private static Tensor tensor(double[][] rows) {
        double[] flat = Arrays.stream(rows).flatMapToDouble(Arrays::stream).toArray();
        return Tensor.of(flat, rows.length, rows[0].length);
    }
}

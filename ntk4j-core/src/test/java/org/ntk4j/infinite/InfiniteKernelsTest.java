package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.NonFiniteKernelException;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link InfiniteLimit#kernels} (both kernels from one pass) and {@link InfiniteLimit#diagonalKernels} against
 * {@link InfiniteLimit#kernel} of each, and against a closed form written out here.
 */
class InfiniteKernelsTest {
    /** A limit of each zoo architecture, on inputs of its shape [N, ...] (N in the first place). */
    private static final String[] SPECS = {"fcn(depth=2,out=3,act=relu,w_std=1.4,b_std=0.1)",
        "fcn(depth=2,out=3,act=tanh,param=standard,width=7)", "cnn(depth=2,channels=4,filter=3,pool=gap,act=erf)",
        "cnn(depth=2,channels=4,filter=3,pool=flatten,act=relu)", "resnet(blocks=1,channels=4,out=2,act=relu)"};
    private static final int[][] SHAPES = {{5, 6}, {4, 6}, {5, 4, 4, 2}, {4, 4, 4, 2}, {4, 4, 4, 2}};

    /** The pass that yields both gives, for each pair, the very numbers of the two separate calls. */
    @Test
    void bothKernelsInOnePassAreTheSeparateKernels() {
        for (int s = 0; s < SPECS.length; s++) {
            InfiniteLimit limit = InfiniteLimit.of(SPECS[s]);
            int[] shape2 = SHAPES[s].clone();
            shape2[0] = 3;
            try (Tensor x1 = Tensor.randomNormal(DType.F64, 10 + s, SHAPES[s]);
                 Tensor x2 = Tensor.randomNormal(DType.F64, 20 + s, shape2)) {
                for (Tensor other : new Tensor[] {null, x2}) {
                    try (Kernels both = limit.kernels(x1, other, DType.F64);
                         Tensor k = limit.kernel(KernelKind.trace(), x1, other, LimitKernel.NNGP, DType.F64);
                         Tensor t = limit.kernel(KernelKind.trace(), x1, other, LimitKernel.NTK, DType.F64)) {
                        assertThat(both.nngp().shape()).as(SPECS[s]).containsExactly(x1.dim(0),
                                other == null ? x1.dim(0) : 3);
                        assertThat(both.nngp().toDoubleArray()).as(SPECS[s]).containsExactly(k.toDoubleArray());
                        assertThat(both.ntk().toDoubleArray()).as(SPECS[s]).containsExactly(t.toDoubleArray());
                        assertThat(both.ntk().toDoubleArray()).as("the NTK is not the NNGP")
                                .isNotEqualTo(both.nngp().toDoubleArray());
                    }
                }
            }
        }
    }

    /** Each example with itself: the diagonal of the full kernels, [M]. */
    @Test
    void diagonalKernelsAreTheDiagonalOfTheKernels() {
        for (int s = 0; s < SPECS.length; s++) {
            InfiniteLimit limit = InfiniteLimit.of(SPECS[s]);
            try (Tensor x = Tensor.randomNormal(DType.F64, 30 + s, SHAPES[s]);
                 Kernels diag = limit.diagonalKernels(x, DType.F64);
                 Kernels full = limit.kernels(x, null, DType.F64)) {
                int m = x.dim(0);
                assertThat(diag.nngp().shape()).containsExactly(m);
                assertThat(diag.ntk().shape()).containsExactly(m);
                for (int i = 0; i < m; i++) {
                    assertThat(diag.nngp().getFlat(i)).as(SPECS[s]).isEqualTo(full.nngp().get(i, i));
                    assertThat(diag.ntk().getFlat(i)).as(SPECS[s]).isEqualTo(full.ntk().get(i, i));
                }
            }
        }
    }

    /**
     * fcn(depth=1, relu, NTK parameterisation) by the arc-cosine kernels written out: K¹ = σ_w² x·x'/d + σ_b²,
     * K² = σ_w² √(K¹(x,x) K¹(x',x')) (sin θ + (π − θ) cos θ)/(2π) + σ_b², Θ² = K² + σ_w² (π − θ)/(2π) K¹.
     */
    @Test
    void bothKernelsMatchTheClosedForm() {
        double w2 = 1.3 * 1.3;
        double b2 = 0.2 * 0.2;
        InfiniteLimit limit = InfiniteLimit.of("fcn(depth=1,out=2,act=relu,w_std=1.3,b_std=0.2)");
        try (Tensor x = Tensor.randomNormal(DType.F64, 7, 4, 5);
             Kernels both = limit.kernels(x, null, DType.F64)) {
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    double kxx = w2 * dot(x, i, i) / 5 + b2;
                    double kyy = w2 * dot(x, j, j) / 5 + b2;
                    double kxy = w2 * dot(x, i, j) / 5 + b2;
                    double theta = Math.acos(Math.max(-1, Math.min(1, kxy / Math.sqrt(kxx * kyy))));
                    double k = w2 * Math.sqrt(kxx * kyy) * (Math.sin(theta) + (Math.PI - theta) * Math.cos(theta))
                            / (2 * Math.PI) + b2;
                    double t = k + w2 * (Math.PI - theta) / (2 * Math.PI) * kxy;
                    assertThat(both.nngp().get(i, j)).isCloseTo(k, within(1e-14 * Math.abs(k)));
                    assertThat(both.ntk().get(i, j)).isCloseTo(t, within(1e-14 * Math.abs(t)));
                }
            }
        }
    }

    /** The interface's defaults, for another implementation: two {@link InfiniteLimit#kernel} calls. */
    @Test
    void theDefaultsCallKernelTwice() {
        InfiniteLimit fcn = InfiniteLimit.of(SPECS[0]);
        InfiniteLimit other = new InfiniteLimit() {
            @Override
            public int outputs() {
                return fcn.outputs();
            }

            @Override
            public double expectations(int n1, int n2, int[] perExample) {
                return fcn.expectations(n1, n2, perExample);
            }

            @Override
            public boolean integratesNumerically() {
                return fcn.integratesNumerically();
            }

            @Override
            public double weightedExpectations(Tensor x1, Tensor x2) {
                return fcn.weightedExpectations(x1, x2);
            }

            @Override
            public Tensor kernel(KernelKind kind, Tensor x1, Tensor x2, LimitKernel which, DType dtype) {
                return fcn.kernel(kind, x1, x2, which, dtype);
            }
        };
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 3, 5, 6);
             Tensor x2 = Tensor.randomNormal(DType.F64, 4, 2, 6);
             Kernels a = other.kernels(x1, x2, DType.F32);
             Kernels b = fcn.kernels(x1, x2, DType.F32);
             Kernels da = other.diagonalKernels(x1, DType.F64);
             Kernels db = fcn.diagonalKernels(x1, DType.F64)) {
            assertThat(a.nngp().dtype()).isEqualTo(DType.F32);
            assertThat(a.nngp().toDoubleArray()).containsExactly(b.nngp().toDoubleArray());
            assertThat(a.ntk().toDoubleArray()).containsExactly(b.ntk().toDoubleArray());
            assertThat(da.nngp().toDoubleArray()).containsExactly(db.nngp().toDoubleArray());
            assertThat(da.ntk().toDoubleArray()).containsExactly(db.ntk().toDoubleArray());
        }
    }

    /** Closing the pair closes both tensors, the absent one skipped, and again changes nothing. */
    @Test
    void closingThePairClosesBothTensors() {
        Kernels both;
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, 3, 6)) {
            both = InfiniteLimit.of(SPECS[0]).kernels(x, null, DType.F64);
        }
        both.close();
        assertThat(both.nngp().isClosed()).isTrue();
        assertThat(both.ntk().isClosed()).isTrue();
        both.close();
        Tensor only = Tensor.zeros(DType.F64, 2, 2);
        Kernels.ofNtk(only).close();
        assertThat(only.isClosed()).isTrue();
    }

    @Test
    void badInputIsRefusedInOneLine() {
        InfiniteLimit limit = InfiniteLimit.of(SPECS[0]);
        assertThatThrownBy(() -> limit.kernels(null, null, DType.F64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("x1: must not be null");
        assertThatThrownBy(() -> limit.diagonalKernels(null, DType.F64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("x1: must not be null");
        try (Tensor x = Tensor.randomNormal(DType.F64, 1, 3, 6);
             Tensor narrow = Tensor.randomNormal(DType.F64, 2, 3, 5)) {
            assertThatThrownBy(() -> limit.kernels(x, narrow, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("shape mismatch: x2 examples [5]");
            assertThatThrownBy(() -> InfiniteLimit.of(SPECS[2]).kernels(x, null, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("infinite-width limit: x1 examples must be images [H, W] or");
            // σ_w² = 1e20 per layer overflows float32 (both kernels are checked, the pair's tensors released)
            assertThatThrownBy(() -> InfiniteLimit.of("fcn(depth=3,out=2,act=relu,w_std=1e10)").kernels(x, null,
                    DType.F32)).isInstanceOf(NonFiniteKernelException.class).hasMessageContaining("overflows f32");
        }
        // examples without a value: the fcn's x·x'/d was 0/0 (NaN, reported as an overflow), the image limits
        // divided by 0 (ArithmeticException); a scalar x has no examples' axis
        try (Tensor empty = Tensor.zeros(DType.F64, 3, 0);
             Tensor image = Tensor.zeros(DType.F64, 3, 2, 0, 1);
             Tensor ok = Tensor.randomNormal(DType.F64, 3, 2, 4);
             Tensor scalar = Tensor.zeros(DType.F64)) {
            assertThatThrownBy(() -> limit.kernel(KernelKind.trace(), empty, null, LimitKernel.NTK, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("x1: examples of shape [0] have no "
                            + "values (an axis of size 0; x [3, 0]); every example needs at least one");
            for (String spec : new String[] {"cnn(depth=1)", "resnet(blocks=1)"}) {
                assertThatThrownBy(() -> InfiniteLimit.of(spec).kernels(image, null, DType.F64)).as(spec)
                        .isInstanceOf(IllegalArgumentException.class).hasMessage("x1: examples of shape [2, 0, 1] "
                                + "have no values (an axis of size 0; x [3, 2, 0, 1]); every example needs at least "
                                + "one");
            }
            assertThatThrownBy(() -> limit.kernel(KernelKind.trace(), ok, empty, LimitKernel.NNGP, DType.F64))
                    .hasMessageStartingWith("x2: examples of shape [0] have no values");
            FcnLimit fcn = FcnLimit.of(SPECS[0]);
            assertThatThrownBy(() -> fcn.kernels(new double[2][0], null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("x1: expected rows of at least one feature, got rows of 0");
            assertThatThrownBy(() -> fcn.pair(0, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("d: expected an input size >= 1, got 0");
            assertThatThrownBy(() -> limit.diagonalKernels(scalar, DType.F64)).isInstanceOf(
                    IllegalArgumentException.class).hasMessage("x1: expected examples [N, ...] with a leading "
                    + "examples axis, got a scalar (shape [])");
        }
    }

    private static double dot(Tensor x, int i, int j) {
        double s = 0;
        for (int f = 0; f < x.dim(1); f++) {
            s += x.get(i, f) * x.get(j, f);
        }
        return s;
    }
}

package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Ensemble;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.NonFiniteKernelException;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** {@link CnnLimit} against the finite cnn: exactly at depth 0, in expectation over initialisations at depth 1. */
class CnnLimitTest {
    /**
     * depth = 0 (to_image, pool, dense(out)) is a linear network: its eNTK does not depend on the parameters, so the
     * limit equals the eNTK of any finite network to rounding, both pools and parameterisations, [N, H, W, C] and
     * [N, H, W] inputs. By hand, gap: σ_w² ḡ·ḡ'/C + σ_b² (NTK) and ḡ·ḡ' + 1 (standard), ḡ the pixel mean.
     */
    @Test
    void depthZeroLimitIsTheExactEmpiricalKernel() {
        for (String pool : new String[] {"gap", "flatten"}) {
            for (String param : new String[] {"ntk", "standard"}) {
                for (int[] per : new int[][] {{4, 5, 3}, {3, 6}}) {
                    String spec = "cnn(depth=0,out=3,w_std=1.3,b_std=0.2,pool=" + pool + ",param=" + param + ")";
                    Model m = Zoo.parse(spec);
                    try (Tensor x = Tensor.randomNormal(DType.F64, 5, prepend(4, per));
                         Params p = m.init(1, per, DType.F64);
                         Tensor e = EmpiricalNtk.of(m, p).ntk(x, null);
                         Tensor limit = CnnLimit.of(spec).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                                 DType.F64)) {
                        for (int i = 0; i < 4; i++) {
                            for (int j = 0; j < 4; j++) {
                                assertThat(limit.get(i, j)).as("%s (%d, %d)", spec, i, j).isCloseTo(e.get(i, j),
                                        within(1e-12 * Math.abs(e.get(i, j)) + 1e-13));
                            }
                        }
                        if (pool.equals("gap") && per.length == 3) {
                            double[] mean = new double[3];
                            for (int h = 0; h < 4; h++) {
                                for (int w = 0; w < 5; w++) {
                                    for (int c = 0; c < 3; c++) {
                                        mean[c] += x.get(0, h, w, c) / 20;
                                    }
                                }
                            }
                            double gg = mean[0] * mean[0] + mean[1] * mean[1] + mean[2] * mean[2];
                            double want = param.equals("ntk") ? 1.69 * gg / 3 + 0.04 : gg + 1;
                            assertThat(limit.get(0, 0)).isCloseTo(want, within(1e-13 * want));
                        }
                    }
                }
            }
        }
    }

    /**
     * depth = 1: the pre-activations of the one hidden conv are exactly Gaussian at any channel count, so the mean
     * over initialisations of the finite network's eNTK, and of f(x)·f(x')/O for the NNGP, equals the limit at 16
     * channels already. 500 members (trace over 4 logits) on three 5×5×2 images (filter 3; filter 2 for the
     * even-sized SAME padding, one pixel more after than before); every entry within 4.5 standard errors of the
     * mean, and the standard error under 4% of the scale √(K(x,x) K(x',x')) (so that an error of that size shows).
     */
    @Test
    void depthOneEnsembleMeanEqualsTheLimitAtSixteenChannels() {
        int members = 500;
        double worst = 0;
        for (String pool : new String[] {"gap", "flatten"}) {
            for (String act : new String[] {"relu", "erf"}) {
                for (String param : new String[] {"ntk", "standard"}) {
                    int filter = act.equals("erf") && param.equals("ntk") ? 2 : 3;
                    String spec = "cnn(depth=1,channels=16,out=4,filter=" + filter + ",act=" + act + ",pool=" + pool
                            + ",param=" + param + ",w_std=1.4,b_std=0.3)";
                    int[] per = pool.equals("gap") && act.equals("relu") ? new int[] {5, 5} : new int[] {5, 5, 2};
                    Model m = Zoo.parse(spec);
                    CnnLimit lim = CnnLimit.of(spec);
                    try (Tensor x = Tensor.randomNormal(DType.F64, 11, prepend(3, per))) {
                        Ensemble e = Ensemble.of(m, 0, members, per, DType.F64);
                        for (LimitKernel which : LimitKernel.values()) {
                            try (Ensemble.Mean mean = which == LimitKernel.NNGP ? e.nngp(x, null)
                                    : e.kernel(KernelKind.trace(), x, null);
                                 Tensor want = lim.kernel(KernelKind.trace(), x, null, which, DType.F64)) {
                                for (int i = 0; i < 3; i++) {
                                    for (int j = i; j < 3; j++) {
                                        double sem = mean.sem().get(i, j);
                                        double w = want.get(i, j);
                                        double z = Math.abs(mean.mean().get(i, j) - w) / sem;
                                        worst = Math.max(worst, z);
                                        assertThat(z).as("%s %s (%d, %d): mean %s ± %s, limit %s", spec,
                                                which, i, j, mean.mean().get(i, j), sem, w)
                                                .isLessThan(4.5);
                                        double scale = Math.sqrt(want.get(i, i) * want.get(j, j));
                                        assertThat(sem).as("%s (%d, %d)", spec, i, j).isLessThan(0.04 * scale);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        System.out.printf("depth-1 cnn: largest |ensemble mean - limit| / sem = %.2f%n", worst);
    }

    /**
     * leaky_relu's slope reaches the cnn's limit: slope 0 is relu and slope 1 is identity (max(x, x) = x), to
     * rounding, with gap and flatten; the zoo's default slope 0.01 is neither.
     */
    @Test
    void leakyReluSlopesZeroAndOneAreReluAndIdentity() {
        for (String pool : new String[] {"gap", "flatten"}) {
            String common = "cnn(depth=2,channels=4,out=2,pool=" + pool + ",w_std=1.3,b_std=0.2,act=";
            try (Tensor x = Tensor.randomNormal(DType.F64, 8, 3, 4, 4, 2)) {
                assertSameKernel(common + "leaky_relu,slope=0)", common + "relu)", x, true);
                assertSameKernel(common + "leaky_relu,slope=1)", common + "identity)", x, true);
                assertSameKernel(common + "leaky_relu)", common + "relu)", x, false);
            }
        }
    }

    /** The two limits' NTKs on x are the same to 1e-13 of the largest entry (or not, for {@code same} false). */
    static void assertSameKernel(String spec, String other, Tensor x, boolean same) {
        try (Tensor a = InfiniteLimit.of(spec).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor b = InfiniteLimit.of(other).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            double largest = 0;
            double farthest = 0;
            for (int f = 0; f < a.size(); f++) {
                largest = Math.max(largest, Math.abs(b.getFlat(f)));
                farthest = Math.max(farthest, Math.abs(a.getFlat(f) - b.getFlat(f)));
            }
            if (same) {
                assertThat(farthest).as("%s vs %s", spec, other).isLessThanOrEqualTo(1e-13 * largest);
            } else {
                assertThat(farthest).as("%s vs %s", spec, other).isGreaterThan(1e-4 * largest);
            }
        }
    }

    /** The same limit through {@link InfiniteLimit#of}, with the zoo's defaults (depth 3, gap, relu). */
    @Test
    void infiniteLimitDispatchesCnnWithTheZoosDefaults() {
        InfiniteLimit lim = InfiniteLimit.of("cnn");
        assertThat(lim).isInstanceOf(CnnLimit.class);
        assertThat(lim.outputs()).isEqualTo(10);
        assertThat(lim.toString()).isEqualTo("cnn limit (depth=3, out=10, act=relu, filter=3, pool=gap, param=ntk, "
                + "w_std=1.5, b_std=0.05)");
        try (Tensor x = Tensor.randomNormal(DType.F64, 2, 3, 4, 4, 2);
             Tensor a = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor b = new CnnLimit(3, 64, 10, 3, CnnLimit.Pool.GAP, new Activation(Activation.Kind.RELU),
                     Parameterization.NTK, 1.5, 0.05).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            for (int f = 0; f < a.size(); f++) {
                assertThat(a.getFlat(f)).isEqualTo(b.getFlat(f));
            }
        }
    }

    /**
     * Inputs that are not images, images of different sizes, NaN or ±∞, overflowing kernels, options without a
     * limit and bad hyperparameters are refused in one line naming them.
     */
    @Test
    void badInputsAndOptionsAreRefusedInOneLine() {
        CnnLimit lim = CnnLimit.of("cnn(depth=2,out=3)");
        try (Tensor flat = Tensor.randomNormal(DType.F64, 1, 3, 12);
             Tensor x = Tensor.randomNormal(DType.F64, 2, 3, 4, 3);
             Tensor y = Tensor.randomNormal(DType.F64, 3, 2, 3, 4);
             Tensor z = Tensor.randomNormal(DType.F64, 4, 2, 4, 3, 1)) {
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), flat, null, LimitKernel.NTK, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("infinite-width limit: x1 examples must "
                            + "be images [H, W] or [H, W, C] (as the zoo's to_image reads them), got [12] per example");
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, y, LimitKernel.NTK, DType.F64))
                    .hasMessage("shape mismatch: x2 images [3, 4, 1] differ from x1 images [4, 3, 1] ([H, W, C] per "
                            + "example)");
            // [H, W] is [H, W, 1]: the same kernel
            try (Tensor k1 = lim.kernel(KernelKind.trace(), x, z, LimitKernel.NTK, DType.F64);
                 Tensor k2 = lim.kernel(KernelKind.trace(), x, x, LimitKernel.NTK, DType.F64)) {
                assertThat(k1.shape()).containsExactly(3, 2);
                assertThat(k2.get(0, 0)).isGreaterThan(0);
            }
            x.set(Double.NaN, 1, 2, 0);
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64))
                    .hasMessage("x1: contains a non-finite value (NaN) at flat index 18");
            x.set(1e20, 1, 2, 0);
            assertThatThrownBy(() -> lim.kernel(KernelKind.full(), x, null, LimitKernel.NTK, DType.F32))
                    .isInstanceOf(NonFiniteKernelException.class)
                    .hasMessageStartingWith("infinite-width limit: the NTK holds Infinity");
        }
        assertThatThrownBy(() -> CnnLimit.of("cnn(pool=max)"))
                .hasMessage("cnn: option pool must be gap or flatten, got 'max'");
        // an activation without a limit (whatever ActivationDuals covers, not an unknown one)
        assertThatThrownBy(() -> CnnLimit.of("cnn(act=nope)")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("option act must be one of").hasMessageContaining("got 'nope'");
        assertThatThrownBy(() -> CnnLimit.of("cnn(chanels=3)")).hasMessageContaining("unknown option 'chanels'");
        assertThatThrownBy(() -> CnnLimit.of("fcn")).hasMessageEndingWith("only, not 'fcn'");
        assertThatThrownBy(() -> InfiniteLimit.of("transformer")).hasMessage("--infinite: the analytic infinite-width "
                + "kernels are implemented for " + InfiniteLimit.SUPPORTED + " only, not 'transformer'");
        assertThatThrownBy(() -> new CnnLimit(1, 8, 2, 0, CnnLimit.Pool.GAP, new Activation(Activation.Kind.RELU),
                Parameterization.NTK, 1, 0)).hasMessage("cnn limit: expected depth >= 0, channels >= 1, out >= 1 and "
                + "filter >= 1, got depth 1, channels 8, out 2, filter 0");
        assertThatThrownBy(() -> new CnnLimit(1, 8, 2, 3, CnnLimit.Pool.GAP, new Activation(Activation.Kind.RELU),
                Parameterization.NTK, Double.NaN, 0)).hasMessageEndingWith("got w_std NaN, b_std 0.0");
        assertThatThrownBy(() -> new CnnLimit(1, 8, 2, 3, null, new Activation(Activation.Kind.RELU),
                Parameterization.NTK, 1, 0))
                .hasMessage("cnn limit: pool, act and param are required, got pool null, act RELU, param NTK");
    }

    static int[] prepend(int n, int[] per) {
        int[] r = new int[per.length + 1];
        r[0] = n;
        System.arraycopy(per, 0, r, 1, per.length);
        return r;
    }
}

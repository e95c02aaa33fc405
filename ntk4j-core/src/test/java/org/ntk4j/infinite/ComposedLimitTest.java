package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class ComposedLimitTest {
    private static final double W = 1.3;
    private static final double B = 0.2;

    /**
     * The zoo's fcn composed layer by layer (flatten, depth × (dense, act), dense) equals {@link FcnLimit}'s closed
     * recursion to 1e-12 (relative), NNGP and NTK, for every activation, both parameterisations, depths 0 to 3, with
     * and without biases, on rank-2 examples (flattened) and x2 ≠ x1 as well as x2 = x1.
     */
    @Test
    void theZoosFcnComposedEqualsFcnLimit() {
        try (Tensor x = Tensor.randomNormal(DType.F64, 11, 5, 3, 4);
             Tensor y = Tensor.randomNormal(DType.F64, 12, 2, 3, 4)) {
            for (Activation.Kind act : Activation.Kind.values()) {
                for (String param : new String[] {"ntk", "standard"}) {
                    for (int depth = 0; depth <= 3; depth++) {
                        for (String b : new String[] {"0.05", "0"}) {
                            // exp's variances grow as e^{2k} a layer: 1.4 overflows by depth 3
                            String spec = "fcn(depth=" + depth + ",width=37,out=3,w_std="
                                    + (act == Activation.Kind.EXP ? "0.5" : "1.4") + ",b_std=" + b + ",param="
                                    + param + ",act=" + act.name().toLowerCase(Locale.ROOT) + ")";
                            InfiniteLimit composed = InfiniteLimit.of(Zoo.parse(spec), new int[] {3, 4});
                            FcnLimit closed = FcnLimit.of(spec);
                            assertThat(composed.outputs()).isEqualTo(3);
                            for (LimitKernel which : LimitKernel.values()) {
                                sameKernel(spec, composed, closed, x, null, which);
                                sameKernel(spec, composed, closed, x, y, which);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * The zoo's cnn (to_image, depth × (conv k × k SAME, act), gap or flatten, dense) and resnet (to_image, conv stem,
     * blocks × residual(act, conv, act, conv), act, gap, dense) composed layer by layer equal {@link CnnLimit} and
     * {@link ResNetLimit} to 1e-12 (relative), NNGP and NTK, for every activation, both parameterisations, even and
     * odd filters, on [H, W, C] and [H, W] images, x2 ≠ x1 as well as x2 = x1.
     */
    @Test
    void theZoosCnnAndResnetComposedEqualCnnLimitAndResNetLimit() {
        try (Tensor x = Tensor.randomNormal(DType.F64, 13, 3, 3, 4, 2);
             Tensor y = Tensor.randomNormal(DType.F64, 14, 2, 3, 4, 2);
             Tensor g = Tensor.randomNormal(DType.F64, 15, 3, 4, 3)) {
            for (Activation.Kind act : Activation.Kind.values()) {
                String a = act.name().toLowerCase(Locale.ROOT);
                String param = act.ordinal() % 2 == 0 ? "ntk" : "standard";
                String wStd = act == Activation.Kind.EXP ? "0.5" : "1.3"; // exp's variances grow as e^{2k} a layer
                for (String pool : new String[] {"gap", "flatten"}) {
                    int depth = act.ordinal() % 3 + 1;
                    int filter = act.ordinal() % 2 == 0 ? 3 : 2;
                    String spec = "cnn(depth=" + depth + ",channels=9,out=2,filter=" + filter + ",pool=" + pool
                            + ",w_std=" + wStd + ",b_std=" + (depth == 2 ? "0" : "0.1") + ",param=" + param + ",act="
                            + a + ")";
                    compareZoo(spec, CnnLimit.of(spec), x, y, new int[] {3, 4, 2});
                    compareZoo(spec, CnnLimit.of(spec), g, null, new int[] {4, 3});
                }
                String spec = "resnet(blocks=" + (act.ordinal() % 3) + ",channels=5,out=2,w_std="
                        + (act == Activation.Kind.EXP ? "0.5" : "1.2") + ",b_std=0.1,param=" + param + ",act=" + a
                        + ")";
                compareZoo(spec, ResNetLimit.of(spec), x, y, new int[] {3, 4, 2});
            }
            String depthZero = "cnn(depth=0,pool=gap,out=2)";
            compareZoo(depthZero, CnnLimit.of(depthZero), x, y, new int[] {3, 4, 2});
        }
    }

    private static void compareZoo(String spec, InfiniteLimit closed, Tensor x, Tensor y, int[] shape) {
        InfiniteLimit composed = InfiniteLimit.of(Zoo.parse(spec), shape);
        for (LimitKernel which : LimitKernel.values()) {
            sameKernel(spec, composed, closed, x, null, which);
            if (y != null) {
                sameKernel(spec, composed, closed, x, y, which);
            }
        }
    }

    private static void sameKernel(String what, InfiniteLimit a, InfiniteLimit b, Tensor x1, Tensor x2,
                                   LimitKernel which) {
        try (Tensor ka = a.kernel(KernelKind.trace(), x1, x2, which, DType.F64);
             Tensor kb = b.kernel(KernelKind.trace(), x1, x2, which, DType.F64)) {
            assertThat(ka.shape()).containsExactly(kb.shape());
            for (int i = 0; i < ka.dim(0); i++) {
                for (int j = 0; j < ka.dim(1); j++) {
                    double want = kb.get(i, j);
                    assertThat(ka.get(i, j)).as("%s %s (%d, %d)", what, which, i, j)
                            .isCloseTo(want, within(1e-12 * Math.abs(want) + 1e-300));
                }
            }
        }
    }

    /**
     * dense → residual(relu, dense) → dense by hand, with the arc-cosine kernels written out here: K¹ = σ_w² x·x'/d +
     * σ_b², Θ¹ = K¹ (NTK) or x·x' + 1 (standard); the branch K_b = σ_w² J₁ + σ_b², Θ_b = K_b + σ_w² J₀ Θ¹ (NTK) or
     * n J₁ + 1 + σ_w² J₀ Θ¹ (standard); the block's K² = K¹ + K_b and Θ² = Θ¹ + Θ_b (its variances alike); the
     * readout K³ = σ_w² K² + σ_b², Θ³ = K³ + σ_w² Θ² (NTK) or n K² + 1 + σ_w² Θ² (standard).
     */
    @Test
    void aResidualTwoLayerNetworkMatchesTheHandWrittenRecursion() {
        double[] x = {0.9, -1.2, 0.3, 2.0};
        double[] y = {-0.4, 0.8, 1.1, 0.5};
        int n = 50;
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            Model m = new Model(Layers.serial(Layers.dense(n, W, B, p),
                    Layers.residual(Layers.relu(), Layers.dense(n, W, B, p)), Layers.dense(2, W, B, p)), "hand");
            InfiniteLimit lim = InfiniteLimit.of(m, new int[] {4});
            double w2 = W * W;
            double b2 = B * B;
            double kxx = w2 * dot(x, x) / 4 + b2;
            double kyy = w2 * dot(y, y) / 4 + b2;
            double kxy = w2 * dot(x, y) / 4 + b2;
            double txy = std ? dot(x, y) + 1 : kxy;
            double txx = std ? dot(x, x) + 1 : kxx;
            // the branch: relu's arc-cosine kernels J1 (value) and J0 (derivative)
            double c = kxy / Math.sqrt(kxx * kyy);
            double th = Math.acos(c);
            double j1 = Math.sqrt(kxx * kyy) * (Math.sin(th) + (Math.PI - th) * Math.cos(th)) / (2 * Math.PI);
            double j0 = (Math.PI - th) / (2 * Math.PI);
            double kb = w2 * j1 + b2;
            double tb = (std ? n * j1 + 1 : kb) + w2 * j0 * txy;
            double k2 = kxy + kb;
            double t2 = txy + tb;
            // the same at (x, x): θ = 0, J1 = k/2, J0 = 1/2
            double kbxx = w2 * kxx / 2 + b2;
            double k2xx = kxx + kbxx;
            double t2xx = txx + (std ? n * kxx / 2 + 1 : kbxx) + w2 * 0.5 * txx;
            double k3 = w2 * k2 + b2;
            double t3 = (std ? n * k2 + 1 : k3) + w2 * t2;
            double k3xx = w2 * k2xx + b2;
            double t3xx = (std ? n * k2xx + 1 : k3xx) + w2 * t2xx;
            try (Tensor in = Tensor.of(DType.F64, concat(x, y), 2, 4);
                 Tensor nngp = lim.kernel(KernelKind.trace(), in, null, LimitKernel.NNGP, DType.F64);
                 Tensor ntk = lim.kernel(KernelKind.trace(), in, null, LimitKernel.NTK, DType.F64);
                 Tensor full = lim.kernel(KernelKind.full(), in, null, LimitKernel.NTK, DType.F64)) {
                assertThat(nngp.get(0, 1)).as("%s K", p).isCloseTo(k3, within(1e-13 * k3));
                assertThat(ntk.get(0, 1)).as("%s Θ", p).isCloseTo(t3, within(1e-13 * t3));
                assertThat(nngp.get(0, 0)).as("%s K(x,x)", p).isCloseTo(k3xx, within(1e-13 * k3xx));
                assertThat(ntk.get(0, 0)).as("%s Θ(x,x)", p).isCloseTo(t3xx, within(1e-13 * t3xx));
                assertThat(ntk.get(1, 0)).isEqualTo(ntk.get(0, 1));
                assertThat(full.get(0, 1, 1, 1)).isEqualTo(ntk.get(0, 1));
                assertThat(full.get(0, 1, 0, 1)).isEqualTo(0.0);
            }
        }
    }

    /**
     * conv(n, 2 × 1, SAME) → relu → flatten or global_avg_pool → dense on 2 × 1 × 1 images by hand: SAME pads the
     * two rows with one zero row after them, so the filter's offsets are δ = 0 and 1 and K¹[p, q] = σ_w²/2 (x_p x'_q
     * + x_{p+1} x'_{q+1}) + σ_b² (the second term only for p = q = 0), Θ¹ = K¹ (NTK) or (x_p x'_q + ...) + 1
     * (standard: fan-in 1 channel); relu per pixel pair with the variances K¹(x,x)[p,p] and K¹(x',x')[q,q];
     * flatten averages p = q (readout fan-in 2n), the pool every (p, q) (fan-in n); K = σ_w² mean J₁ + σ_b²,
     * Θ = K + σ_w² mean J₀Θ¹ (NTK) or fan-in · mean J₁ + 1 + σ_w² mean J₀Θ¹ (standard).
     */
    @Test
    void aConvNetworkMatchesTheHandWrittenRecursion() {
        double[] x = {0.7, -1.3};
        double[] y = {1.1, 0.4};
        int n = 30;
        double w2 = W * W;
        double b2 = B * B;
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            for (boolean gap : new boolean[] {false, true}) {
                Model m = model(Layers.conv(n, new int[] {2, 1}, new int[] {1, 1}, "SAME", W, B, p), Layers.relu(),
                        gap ? Layers.globalAvgPool() : Layers.flatten(), Layers.dense(1, W, B, p));
                double[][] kxy = new double[2][2];
                double[][] txy = new double[2][2];
                for (int a = 0; a < 2; a++) {
                    for (int c = 0; c < 2; c++) {
                        double s = x[a] * y[c] + (a == 0 && c == 0 ? x[1] * y[1] : 0);
                        kxy[a][c] = w2 / 2 * s + b2;
                        txy[a][c] = std ? s + 1 : kxy[a][c];
                    }
                }
                double[] kxx = {w2 / 2 * (x[0] * x[0] + x[1] * x[1]) + b2, w2 / 2 * x[1] * x[1] + b2};
                double[] kyy = {w2 / 2 * (y[0] * y[0] + y[1] * y[1]) + b2, w2 / 2 * y[1] * y[1] + b2};
                double j1 = 0;
                double j0t = 0;
                int cells = 0;
                for (int a = 0; a < 2; a++) {
                    for (int c = 0; c < 2; c++) {
                        if (!gap && a != c) {
                            continue;
                        }
                        double[] r = relu(kxx[a], kyy[c], kxy[a][c]);
                        j1 += r[0];
                        j0t += r[1] * txy[a][c];
                        cells++;
                    }
                }
                j1 /= cells;
                j0t /= cells;
                double k = w2 * j1 + b2;
                double t = (std ? (gap ? n : 2 * n) * j1 + 1 : k) + w2 * j0t;
                try (Tensor in = Tensor.of(DType.F64, concat(x, y), 2, 2, 1, 1);
                     Tensor nngp = InfiniteLimit.of(m, new int[] {2, 1, 1}).kernel(KernelKind.trace(), in, null,
                             LimitKernel.NNGP, DType.F64);
                     Tensor ntk = InfiniteLimit.of(m, new int[] {2, 1, 1}).kernel(KernelKind.trace(), in, null,
                             LimitKernel.NTK, DType.F64)) {
                    assertThat(nngp.get(0, 1)).as("%s gap=%s K", p, gap).isCloseTo(k, within(1e-13 * k));
                    assertThat(ntk.get(0, 1)).as("%s gap=%s Θ", p, gap).isCloseTo(t, within(1e-13 * t));
                }
            }
        }
    }

    /** relu's arc-cosine kernels {J₁, J₀} of variances k11, k22 and covariance k12. */
    private static double[] relu(double k11, double k22, double k12) {
        double th = Math.acos(Math.max(-1, Math.min(1, k12 / Math.sqrt(k11 * k22))));
        return new double[] {Math.sqrt(k11 * k22) * (Math.sin(th) + (Math.PI - th) * Math.cos(th)) / (2 * Math.PI),
            (Math.PI - th) / (2 * Math.PI)};
    }

    /**
     * An activation after a flatten acts per pixel, as before it: conv → flatten → relu → dense equals conv → relu →
     * flatten → dense (the flattened units' variances differ from pixel to pixel, so the activation of the pixels'
     * mean covariance would not be its limit); a sum of a flattened image with a vector is refused.
     */
    @Test
    void anActivationAfterAFlattenActsPerPixel() {
        Layer conv = Layers.conv(8, new int[] {3, 3}, new int[] {1, 1}, "SAME", W, B, Parameterization.NTK);
        Layer dense = Layers.dense(2, W, B, Parameterization.NTK);
        try (Tensor x = Tensor.randomNormal(DType.F64, 18, 3, 4, 4, 2);
             Tensor after = InfiniteLimit.of(model(conv, Layers.flatten(), Layers.erf(), dense), new int[] {4, 4, 2})
                     .kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor before = InfiniteLimit.of(model(conv, Layers.erf(), Layers.flatten(), dense), new int[] {4, 4, 2})
                     .kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    assertThat(after.get(i, j)).isEqualTo(before.get(i, j));
                }
            }
        }
        assertThatThrownBy(() -> InfiniteLimit.of(model(conv, Layers.flatten(), Layers.fanOut(2),
                Layers.parallel(Layers.identity(), Layers.dense(128)), Layers.fanInSum(), dense), new int[] {4, 4, 2}))
                .hasMessageStartingWith("infinite limit: layer fan_in_sum (at path 4_fan_in_sum) sums a flattened "
                        + "image with a vector");
    }

    /**
     * A single dense layer's eNTK does not depend on its parameters' values: the composed limit of flatten → dense
     * equals the eNTK of any finite one exactly (to rounding), in both parameterisations.
     */
    @Test
    void aSingleDenseLayerIsItsOwnLimit() {
        for (Parameterization p : Parameterization.values()) {
            Model m = new Model(Layers.serial(Layers.flatten(), Layers.dense(3, W, B, p)), "dense");
            try (Tensor x = Tensor.randomNormal(DType.F64, 5, 4, 2, 3); Params ps = m.init(2, new int[] {2, 3},
                    DType.F64); Tensor e = EmpiricalNtk.of(m, ps).ntk(x, null);
                 Tensor a = InfiniteLimit.of(m, new int[] {2, 3}).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                         DType.F64)) {
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < 4; j++) {
                        assertThat(a.get(i, j)).as("%s (%d, %d)", p, i, j).isCloseTo(e.get(i, j),
                                within(1e-12 * Math.abs(e.get(i, j)) + 1e-13));
                    }
                }
            }
        }
    }

    /**
     * dense(4096) → residual(erf, dense(4096)) → relu → dense(1), NTK parameterisation, σ_w = 1.5, σ_b = 0.1: the
     * eNTK of wide finite networks, averaged over 4 seeds, against the limit. The eNTK's fluctuation about its mean
     * is O(1/√width) relative (1/√(4·4096) ≈ 0.8% for the mean of 4, times a constant of order 1) and its bias
     * O(1/width); the tolerance is 5% of the largest diagonal entry (the deviations seen were at most 1.2%), while
     * leaving out the block's identity branch or its dense branch moves some entry of the limit by 3 times that or
     * more (checked below), so a wrong rule fails.
     */
    @Test
    void aWideResidualNetworksEmpiricalKernelApproachesTheLimit() {
        int width = 4096;
        Layer net = Layers.serial(Layers.dense(width, 1.5, 0.1, Parameterization.NTK),
                Layers.residual(Layers.erf(), Layers.dense(width, 1.5, 0.1, Parameterization.NTK)), Layers.relu(),
                Layers.dense(1, 1.5, 0.1, Parameterization.NTK));
        Model m = new Model(net, "wide residual");
        int[] shape = {6};
        try (Tensor x = Tensor.randomNormal(DType.F64, 21, 3, 6);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 100);
            // the alternatives a wrong composition would give are far outside the tolerance
            Layer noSkip = Layers.serial(Layers.dense(width, 1.5, 0.1, Parameterization.NTK), Layers.erf(),
                    Layers.dense(width, 1.5, 0.1, Parameterization.NTK), Layers.relu(),
                    Layers.dense(1, 1.5, 0.1, Parameterization.NTK));
            Layer noBranch = Layers.serial(Layers.dense(width, 1.5, 0.1, Parameterization.NTK), Layers.relu(),
                    Layers.dense(1, 1.5, 0.1, Parameterization.NTK));
            for (Layer other : new Layer[] {noSkip, noBranch}) {
                try (Tensor o = InfiniteLimit.of(new Model(other, "other"), shape).kernel(KernelKind.trace(), x, null,
                        LimitKernel.NTK, DType.F64)) {
                    assertThat(largestDifference(o, lim)).isGreaterThan(0.15 * scale);
                }
            }
        }
    }

    /**
     * conv(2048, 3 × 3) → residual(relu, conv(2048, 2 × 2)) → relu → global_avg_pool → dense(1) on 3 × 3 × 2 images,
     * NTK parameterisation, σ_w = 1.5, σ_b = 0.1: the eNTK of wide finite networks, averaged over 4 seeds, against
     * the limit. 2048 channels rather than 4096: the block's conv alone has 4·C² parameters (67 million at 4096, a
     * Jacobian of several GB in float64 for this build machine). The fluctuation is O(1/√channels) relative
     * (1/√(4·2048) ≈ 1.1% for the mean of 4, times a constant of order 1; the global pool averages pixel pairs, which
     * does not shrink it); the tolerance is 5% of the largest diagonal entry (the deviations seen were at most
     * 0.6%), while leaving out the block's identity branch or its conv branch moves some entry of the limit by 3
     * times that or more (checked below).
     */
    @Test
    void aWideResidualConvNetsEmpiricalKernelApproachesTheLimit() {
        int channels = 2048;
        Parameterization ntk = Parameterization.NTK;
        Layer stem = Layers.conv(channels, new int[] {3, 3}, new int[] {1, 1}, "SAME", 1.5, 0.1, ntk);
        Layer block = Layers.conv(channels, new int[] {2, 2}, new int[] {1, 1}, "SAME", 1.5, 0.1, ntk);
        Model m = new Model(Layers.serial(stem, Layers.residual(Layers.relu(), block), Layers.relu(),
                Layers.globalAvgPool(), Layers.dense(1, 1.5, 0.1, ntk)), "wide residual conv");
        int[] shape = {3, 3, 2};
        try (Tensor x = Tensor.randomNormal(DType.F64, 22, 3, 3, 3, 2);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 200);
            Layer noSkip = Layers.serial(stem, Layers.relu(), block, Layers.relu(), Layers.globalAvgPool(),
                    Layers.dense(1, 1.5, 0.1, ntk));
            Layer noBranch = Layers.serial(stem, Layers.relu(), Layers.globalAvgPool(), Layers.dense(1, 1.5, 0.1,
                    ntk));
            for (Layer other : new Layer[] {noSkip, noBranch}) {
                try (Tensor o = InfiniteLimit.of(new Model(other, "other"), shape).kernel(KernelKind.trace(), x, null,
                        LimitKernel.NTK, DType.F64)) {
                    assertThat(largestDifference(o, lim)).isGreaterThan(0.15 * scale);
                }
            }
        }
    }

    /**
     * A dense layer on images acts per pixel on the channels, as neural-tangents' Dense does: its limit is a 1 × 1
     * convolution's (the same kernels to rounding: the same rule, fan-in C), on examples [H, W, C] with or without a
     * conv in the network; and the mean eNTK of 4 wide networks approaches it within 5% of the largest diagonal
     * entry (the fluctuation is O(1/√width); deviations seen: under 2%): [2, 3, 2] → dense(2048) → relu → flatten →
     * dense(1), standard parameterisation, and [3, 3, 2] → conv(1024, 3 × 3) → erf → dense(1024) → relu →
     * global_avg_pool → dense(1), NTK parameterisation. A dense layer on [H, W] (before to_image) is still refused.
     */
    @Test
    void aDenseLayerOnImagesActsPerPixelAsAOneByOneConv() {
        Parameterization std = Parameterization.STANDARD;
        Parameterization ntk = Parameterization.NTK;
        int[] one = {1, 1};
        Model flat = model(Layers.dense(2048, W, B, std), Layers.relu(), Layers.flatten(), Layers.dense(1, W, B, std));
        Model flatConv = model(Layers.conv(2048, one, one, "SAME", W, B, std), Layers.relu(), Layers.flatten(),
                Layers.dense(1, W, B, std));
        Layer stem = Layers.conv(1024, new int[] {3, 3}, one, "SAME", 1.4, 0.1, ntk);
        Model gap = model(stem, Layers.erf(), Layers.dense(1024, 1.4, 0.1, ntk), Layers.relu(), Layers.globalAvgPool(),
                Layers.dense(1, 1.4, 0.1, ntk));
        Model gapConv = model(stem, Layers.erf(), Layers.conv(1024, one, one, "SAME", 1.4, 0.1, ntk), Layers.relu(),
                Layers.globalAvgPool(), Layers.dense(1, 1.4, 0.1, ntk));
        approachesTheLimit(flat, flatConv, new int[] {2, 3, 2}, 23);
        approachesTheLimit(gap, gapConv, new int[] {3, 3, 2}, 24);
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(4), Layers.flatten(), Layers.dense(1)),
                new int[] {3, 4})).hasMessageStartingWith("infinite limit: layer dense (at path 0_dense) acts on the "
                + "last axis of per-example inputs [3, 4], which the limit covers for vectors and images [H, W, C] "
                + "only");
    }

    /**
     * The mean eNTK of {@code m} over 4 initialisations (seeds seed0, seed0 + 1, ...) at the 3 examples x is within 5%
     * of the largest diagonal entry of the limit {@code lim}, entry by entry (the fluctuation is O(1/√width); each
     * test states its width and the deviations seen). Returns that largest diagonal entry, the scale.
     */
    static double meanEmpiricalIsNear(Model m, int[] shape, Tensor x, Tensor lim, long seed0) {
        int seeds = 4;
        double[][] mean = new double[3][3];
        for (int s = 0; s < seeds; s++) {
            try (Params p = m.init(seed0 + s, shape, DType.F64); Tensor e = EmpiricalNtk.of(m, p).ntk(x, null)) {
                for (int i = 0; i < 3; i++) {
                    for (int j = 0; j < 3; j++) {
                        mean[i][j] += e.get(i, j) / seeds;
                    }
                }
            }
        }
        double scale = Math.max(lim.get(0, 0), Math.max(lim.get(1, 1), lim.get(2, 2)));
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                assertThat(mean[i][j]).as("%s (%d, %d)", m, i, j).isCloseTo(lim.get(i, j), within(0.05 * scale));
            }
        }
        return scale;
    }

    private static void approachesTheLimit(Model m, Model conv, int[] shape, long seed) {
        try (Tensor x = Tensor.randomNormal(DType.F64, seed, 3, shape[0], shape[1], shape[2]);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor byConv = InfiniteLimit.of(conv, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                     DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 300);
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    assertThat(lim.get(i, j)).as("%s (%d, %d)", m, i, j).isCloseTo(byConv.get(i, j),
                            within(1e-13 * scale));
                }
            }
        }
    }

    /** Layers without a rule, and compositions whose rules would not be the network's limit, are refused. */
    @Test
    void compositionsWithoutALimitAreRefusedNamingTheLayerAndItsPath() {
        int[] v = {4};
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.batchNorm(), Layers.dense(2)), v))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("infinite limit: layer batch_norm (at path "
                        + "1_batch_norm) has no infinite-width rule; supported: " + ComposedLimit.SUPPORTED_LAYERS);
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.dense(2)), new int[] {3, 4}))
                .hasMessageStartingWith("infinite limit: layer dense (at path 0_dense) acts on the last axis of "
                        + "per-example inputs [3, 4]");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.residual(Layers.relu(),
                Layers.batchNorm()), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer batch_norm (at path "
                        + "1_serial/1_parallel/0_serial/1_batch_norm) has no infinite-width rule");
        // 1-D and grouped convolutions, 1-D and max pools, concatenations along a spatial axis
        int[] img = {5, 5, 2};
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.conv(4, new int[] {3}, new int[] {1}, "SAME"),
                Layers.flatten(), Layers.dense(2)), new int[] {5, 2})).hasMessageStartingWith("infinite limit: "
                + "layer conv (at path 0_conv) is 1-D");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.conv(4, new int[] {3, 3}, new int[] {1, 1},
                new int[][] {{1, 1}, {1, 1}}, 2, 1.0, 0.0, Parameterization.NTK), Layers.flatten(), Layers.dense(2)),
                img)).hasMessageStartingWith("infinite limit: layer conv (at path 0_conv) has 2 groups");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.conv(4, new int[] {3, 3}, new int[] {1, 1}, "SAME"),
                Layers.maxPool(new int[] {2, 2}, new int[] {1, 1}, "SAME"), Layers.flatten(), Layers.dense(2)), img))
                .hasMessageStartingWith("infinite limit: layer max_pool (at path 1_max_pool) has no infinite-width "
                        + "rule");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.avgPool(new int[] {2}, new int[] {1}, "SAME"),
                Layers.flatten(), Layers.dense(2)), new int[] {5, 2}))
                .hasMessageStartingWith("infinite limit: layer avg_pool (at path 0_avg_pool) is 1-D");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.conv(4, new int[] {3, 3}, new int[] {1, 1}, "SAME"),
                Layers.fanOut(2), Layers.parallel(Layers.identity(), Layers.conv(4, new int[] {1, 1}, new int[] {1, 1},
                "SAME")), Layers.fanInConcat(1), Layers.flatten(), Layers.dense(2)), img))
                .hasMessage("infinite limit: layer fan_in_concat (at path 3_fan_in_concat) concatenates per-example "
                        + "values of shape [5, 5, 4] along axis 1, where the limit covers the channel axis of images "
                        + "[H, W, C] and the feature axis of vectors; supported: " + ComposedLimit.SUPPORTED_LAYERS);
        // an activation of a concatenation (its units' kernels differ from branch to branch), a concatenation last
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.fanOut(2), Layers.parallel(
                Layers.identity(), Layers.dense(4)), Layers.fanInConcat(-1), Layers.relu(), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer relu (at path 4_relu) acts on a value that is not "
                        + "Gaussian in the limit (another activation's output, a sum with one, or a fan_in_concat");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.fanOut(2), Layers.parallel(
                Layers.dense(2), Layers.dense(2)), Layers.fanInConcat(-1)), v))
                .hasMessageStartingWith("infinite limit: the network's output (shape [4]) must be a vector from a "
                        + "dense layer").hasMessageContaining("it ends with fan_in_concat (at path 3_fan_in_concat)");
        // an activation of the inputs themselves, and of a sum with another activation's output
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.relu(), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer relu (at path 0_relu) acts on the inputs themselves");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.erf(),
                Layers.residual(Layers.dense(8)), Layers.relu(), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer relu (at path 3_relu) acts on a value that is not "
                        + "Gaussian in the limit");
        // correlated branches, and a sum with the inputs
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.fanOut(2),
                Layers.parallel(Layers.identity(), Layers.relu()), Layers.fanInSum(), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer fan_in_sum (at path 3_fan_in_sum) sums branches 0 and "
                        + "1, which are correlated");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.residual(Layers.dense(4)), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer fan_in_sum (at path 0_serial/2_fan_in_sum) sums the "
                        + "inputs themselves");
        // an output that is not a dense layer's
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.relu()), v))
                .hasMessageStartingWith("infinite limit: the network's output (shape [8]) must be a vector from a "
                        + "dense layer").hasMessageContaining("it ends with relu (at path 1_relu)");
        assertThatThrownBy(() -> InfiniteLimit.of(null, v)).hasMessageStartingWith("infinite limit: expected a "
                + "model and an example shape");
        // examples of another shape than the limit's
        InfiniteLimit lim = InfiniteLimit.of(model(Layers.flatten(), Layers.dense(2)), new int[] {2, 2});
        try (Tensor x = Tensor.zeros(DType.F64, 3, 4)) {
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)).hasMessage(
                    "infinite limit: x1 examples must have the shape [2, 2] the limit was built for, got [4]");
            // the cost estimate refuses them alike, for closed forms (no integration reads the examples) as well
            InfiniteLimit relu = InfiniteLimit.of(model(Layers.flatten(), Layers.dense(8), Layers.relu(),
                    Layers.dense(2)), new int[] {2, 2});
            assertThat(relu.integratesNumerically()).isFalse();
            assertThatThrownBy(() -> relu.weightedExpectations(x, null)).hasMessage(
                    "infinite limit: x1 examples must have the shape [2, 2] the limit was built for, got [4]");
            try (Tensor good = Tensor.zeros(DType.F64, 2, 2, 2)) {
                assertThatThrownBy(() -> relu.predictedSeconds(good, x)).hasMessage(
                        "infinite limit: x2 examples must have the shape [2, 2] the limit was built for, got [4]");
            }
        }
    }

    /**
     * The costs: one cross expectation per pair and activation plus each example's own; a network with one
     * numerical activation is priced as numerical, its closed-form ones at their own rate.
     */
    @Test
    void expectationsCountEachActivationOfEachPairAndExample() {
        InfiniteLimit lim = InfiniteLimit.of(model(Layers.dense(8), Layers.relu(), Layers.dense(8),
                Layers.residual(Layers.tanh(), Layers.dense(8)), Layers.dense(1)), new int[] {3});
        assertThat(lim.integratesNumerically()).isTrue();
        assertThat(lim.expectations(4, 0, new int[] {3})).isEqualTo(2 * (10 + 4));
        assertThat(lim.expectations(4, 5, new int[] {3})).isEqualTo(2 * (20 + 9));
        try (Tensor x = Tensor.randomNormal(DType.F64, 3, 4, 3)) {
            double weighted = lim.weightedExpectations(x, null);
            double closed = InfiniteLimit.CLOSED_FORM_SECONDS / InfiniteLimit.NUMERICAL_SECONDS;
            // tanh's variances here are small (relative weight 1): 14 numerical expectations, 14 closed-form ones
            assertThat(weighted).isCloseTo(14 + 14 * closed, within(1e-9));
        }
        InfiniteLimit closedOnly = InfiniteLimit.of(model(Layers.dense(8), Layers.erf(), Layers.dense(1)),
                new int[] {3});
        assertThat(closedOnly.integratesNumerically()).isFalse();
    }

    /**
     * An activation after a global_avg_pool makes each example's own pass walk the full (HW)² maps: for 220 × 220
     * images ((HW)² beyond 2^31 entries) the cost estimate refuses them as the kernel does, in one line, instead of
     * failing on the maps' allocation (NegativeArraySizeException, or OutOfMemoryError below 2^31).
     */
    @Test
    void theCostOfFullMapsThatCannotFitIsRefusedAsTheKernelRefusesThem() {
        Model m = model(Layers.conv(4, new int[] {3, 3}, new int[] {1, 1}, "SAME", W, B, Parameterization.NTK),
                Layers.globalAvgPool(), Layers.tanh(), Layers.dense(1, W, B, Parameterization.NTK));
        InfiniteLimit lim = InfiniteLimit.of(m, new int[] {220, 220, 1});
        assertThat(lim.integratesNumerically()).isTrue();
        try (Tensor x = Tensor.randomNormal(DType.F64, 19, 1, 220, 220, 1)) {
            String kernelRefusal = null;
            try {
                lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64).close();
            } catch (IllegalArgumentException e) {
                kernelRefusal = e.getMessage();
            }
            assertThat(kernelRefusal).startsWith("infinite limit: the global_avg_pool on 220×220 images needs the "
                    + "covariance of every pair of pixels");
            assertThatThrownBy(() -> lim.weightedExpectations(x, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(kernelRefusal);
            assertThatThrownBy(() -> lim.predictedSeconds(x, x)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(kernelRefusal);
        }
    }

    /** max over the entries of |a − b|. */
    static double largestDifference(Tensor a, Tensor b) {
        double d = 0;
        for (int i = 0; i < a.dim(0); i++) {
            for (int j = 0; j < a.dim(1); j++) {
                d = Math.max(d, Math.abs(a.get(i, j) - b.get(i, j)));
            }
        }
        return d;
    }

    /**
     * Examples [H, W] read by to_image are images [H, W, 1]: a dense layer after the to_image acts per pixel (it was
     * refused as acting on values of rank 3), with the limit of the same network on the examples [H, W, 1], and of
     * the recursion by hand: per pixel p, K¹ = σ_w² x(p)x'(p) + σ_b², Θ¹ = K¹ (NTK) or x(p)x'(p) + 1 (standard, fan-in
     * 1); erf in closed form with the variances K¹(x,x)[p] and K¹(x',x')[p]; flatten → dense: K = σ_w² mean_p E[φφ] +
     * σ_b², Θ = K + σ_w² mean_p E[φ'φ']Θ¹ (NTK) or n mean_p E[φφ] + 1 + σ_w² mean_p E[φ'φ']Θ¹ (standard, n = H·W·6),
     * to 1e-13 of the largest entry, NNGP and NTK.
     */
    @Test
    void toImageMakesImagesOfTwoDimensionalExamples() {
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            Model viaToImage = model(new org.ntk4j.nn.ToImage(), Layers.dense(6, W, B, p), Layers.erf(),
                    Layers.flatten(), Layers.dense(2, W, B, p));
            Model onImages = model(Layers.dense(6, W, B, p), Layers.erf(), Layers.flatten(), Layers.dense(2, W, B, p));
            try (Tensor x = Tensor.randomNormal(DType.F64, 58, 3, 3, 4);
                 Tensor x3 = x.reshape(3, 3, 4, 1)) {
                for (LimitKernel which : LimitKernel.values()) {
                    try (Tensor a = InfiniteLimit.of(viaToImage, new int[] {3, 4}).kernel(KernelKind.trace(), x, null,
                            which, DType.F64);
                         Tensor b = InfiniteLimit.of(onImages, new int[] {3, 4, 1}).kernel(KernelKind.trace(), x3,
                                 null, which, DType.F64)) {
                        double scale = 0;
                        for (int i = 0; i < 3; i++) {
                            for (int j = 0; j < 3; j++) {
                                double[] kt = erfByHand(x, i, j, std);
                                double want = which == LimitKernel.NNGP ? kt[0] : kt[1];
                                scale = Math.max(scale, Math.abs(want));
                                assertThat(a.get(i, j)).as("%s %s (%d, %d)", p, which, i, j)
                                        .isCloseTo(want, within(1e-13 * Math.max(1, Math.abs(want))));
                            }
                        }
                        assertThat(largestDifference(a, b)).isLessThanOrEqualTo(1e-13 * scale);
                    }
                }
            }
        }
    }

    /** {K, Θ} of to_image → dense(6) → erf → flatten → dense on the examples i and j of x [N, H, W], by hand. */
    private static double[] erfByHand(Tensor x, int i, int j, boolean std) {
        int h = x.dim(1);
        int w = x.dim(2);
        double w2 = W * W;
        double b2 = B * B;
        double phi = 0;
        double lower = 0;
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                double xi = x.get(i, r, c);
                double xj = x.get(j, r, c);
                double k11 = w2 * xi * xi + b2;
                double k22 = w2 * xj * xj + b2;
                double k12 = w2 * xi * xj + b2;
                double t12 = std ? xi * xj + 1 : k12;
                double a = 1 + 2 * k11;
                double bb = 1 + 2 * k22;
                phi += 2 / Math.PI * Math.asin(2 * k12 / Math.sqrt(a * bb));
                lower += 4 / Math.PI / Math.sqrt(a * bb - 4 * k12 * k12) * t12;
            }
        }
        double pixels = h * w;
        double k = w2 * phi / pixels + b2;
        double t = (std ? pixels * 6 * phi / pixels + 1 : k) + w2 * lower / pixels;
        return new double[] {k, t};
    }

    /**
     * The convolutional networks' costs are counted as {@link CnnLimit} and {@link ResNetLimit} count them: the same
     * expectations per pair and pixel (pair) and per image's own pass, weighted alike by the variances' node counts
     * (tanh, w_std = 3: variances beyond the unit rule's).
     */
    @Test
    void convolutionalCostsAreCountedAsTheZoosLimitsCountThem() {
        try (Tensor x = Tensor.randomNormal(DType.F64, 16, 3, 3, 4, 2);
             Tensor y = Tensor.randomNormal(DType.F64, 17, 2, 3, 4, 2)) {
            for (String spec : new String[] {"cnn(depth=2,pool=gap,act=tanh,w_std=3)",
                "cnn(depth=3,pool=flatten,act=tanh,w_std=3)", "resnet(blocks=1,act=tanh,w_std=3)"}) {
                InfiniteLimit closed = InfiniteLimit.of(spec);
                InfiniteLimit composed = InfiniteLimit.of(Zoo.parse(spec), new int[] {3, 4, 2});
                assertThat(composed.integratesNumerically()).isTrue();
                assertThat(composed.expectations(3, 0, new int[] {3, 4, 2})).as(spec)
                        .isEqualTo(closed.expectations(3, 0, new int[] {3, 4, 2}));
                assertThat(composed.expectations(3, 2, new int[] {3, 4, 2})).as(spec)
                        .isEqualTo(closed.expectations(3, 2, new int[] {3, 4, 2}));
                double want = closed.weightedExpectations(x, y);
                assertThat(want).isGreaterThan(closed.expectations(3, 2, new int[] {3, 4, 2}));
                assertThat(composed.weightedExpectations(x, y)).as(spec).isCloseTo(want, within(1e-9 * want));
                double self = closed.weightedExpectations(x, null);
                assertThat(composed.weightedExpectations(x, null)).as(spec).isCloseTo(self, within(1e-9 * self));
            }
        }
    }

    static Model model(Layer... layers) {
        return new Model(Layers.serial(layers), "test");
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    static double[] concat(double[] a, double[] b) {
        double[] r = new double[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}

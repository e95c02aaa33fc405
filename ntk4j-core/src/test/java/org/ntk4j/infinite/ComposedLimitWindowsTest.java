package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.ntk4j.infinite.ComposedLimitTest.concat;
import static org.ntk4j.infinite.ComposedLimitTest.dot;
import static org.ntk4j.infinite.ComposedLimitTest.largestDifference;
import static org.ntk4j.infinite.ComposedLimitTest.meanEmpiricalIsNear;
import static org.ntk4j.infinite.ComposedLimitTest.model;

import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The composed limit's rules for layers that change the image size or mix branches: convolutions with any strides
 * and zero padding, avg_pool, and fan_in_concat — against {@link MapOracle} (full pixel-pair maps written out loop by
 * loop) or recursions written by hand, in float64 to 1e-12, and against the mean empirical NTK of wide networks.
 */
class ComposedLimitWindowsTest {
    private static final double W = 1.3;
    private static final double B = 0.2;
    private static final int[] ONE = {1, 1};

    /**
     * On 5 × 5 × 2 images: conv(n, 3 × 3, stride 2, SAME: pads 1 and 1) → relu → conv(n, 2 × 2, VALID) → relu →
     * conv(n, 2 × 2, strides (1, 2), explicit padding {{1, 0}, {0, 1}}) → flatten or global_avg_pool → dense(1)
     * (maps of 3 × 3, 2 × 2, then 2 × 1 pixels), and conv → avg_pool(1 × 1, stride 2) → relu → flatten → dense (a
     * one-pixel pool keeps the diagonal enough), both parameterisations: K and Θ of (x, y), (x, x) and (y, y) equal
     * the oracle's to 1e-12 (relative); the flatten networks keep the diagonal-only maps (a conv's output diagonal
     * reads only its input's, whatever its strides), the pooled ones the full maps.
     */
    @Test
    void stridedAndPaddedConvsMatchTheMapOracle() {
        int n = 7;
        int[][] same = {{1, 1}, {1, 1}};
        int[][] explicit = {{1, 0}, {0, 1}};
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            for (boolean gap : new boolean[] {false, true}) {
                Model m = model(Layers.conv(n, new int[] {3, 3}, new int[] {2, 2}, "SAME", W, B, p), Layers.relu(),
                        Layers.conv(n, new int[] {2, 2}, ONE, "VALID", W, B, p), Layers.relu(),
                        Layers.conv(n, new int[] {2, 2}, new int[] {1, 2}, explicit, W, B, p),
                        gap ? Layers.globalAvgPool() : Layers.flatten(), Layers.dense(1, W, B, p));
                InfiniteLimit lim = matchesTheOracle(m, 5, 5, 2, std, 31, o -> o.conv(n, 3, 3, 2, 2, same).relu()
                        .conv(n, 2, 2, 1, 1, new int[2][2]).relu().conv(n, 2, 2, 1, 2, explicit).readout(gap));
                assertThat(lim.toString()).endsWith(gap ? "every pixel pair)" : "pixel diagonals)");
                // per pair: one expectation per pixel (pair) of each relu's map, 3 × 3 and 2 × 2 pixels
                double cells = gap ? 81 + 16 : 9 + 4;
                assertThat(lim.expectations(3, 2, new int[] {5, 5, 2})).isEqualTo(6 * cells + 5 * (9 + 4));
            }
            Model pooled = model(Layers.conv(n, new int[] {2, 2}, ONE, "SAME", W, B, p),
                    Layers.avgPool(ONE, new int[] {2, 2}, "VALID"), Layers.relu(), Layers.flatten(),
                    Layers.dense(1, W, B, p));
            InfiniteLimit lim = matchesTheOracle(pooled, 5, 5, 2, std, 32, o -> o.conv(n, 2, 2, 1, 1,
                    new int[][] {{0, 1}, {0, 1}}).pool(1, 1, 2, 2, new int[2][2], true).relu().readout(false));
            assertThat(lim.toString()).endsWith("pixel diagonals)");
        }
    }

    /**
     * On 4 × 5 × 2 images: avg_pool(2 × 2, stride 2, SAME: pads {0, 0} and {0, 1}, counted in the divisor) of the
     * inputs → conv(n, 2 × 2, SAME) → avg_pool(2 × 2, explicit padding {{1, 1}, {0, 1}}, count_include_pad false:
     * the divisor is the pixels each window covers) → relu → conv(n, 2 × 2, VALID) → relu → flatten or
     * global_avg_pool → dense(1), both parameterisations: K and Θ equal the oracle's (which averages over every pair
     * of the two windows' pixels) to 1e-12; an activation after a pool makes each example's own pass full, as the
     * cost counts it.
     */
    @Test
    void avgPoolsMatchTheMapOracle() {
        int n = 6;
        int[][] pad = {{1, 1}, {0, 1}};
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            for (boolean gap : new boolean[] {false, true}) {
                Model m = model(Layers.avgPool(new int[] {2, 2}, new int[] {2, 2}, "SAME"),
                        Layers.conv(n, new int[] {2, 2}, ONE, "SAME", W, B, p),
                        Layers.avgPool(new int[] {2, 2}, ONE, pad, false), Layers.relu(),
                        Layers.conv(n, new int[] {2, 2}, ONE, "VALID", W, B, p), Layers.relu(),
                        gap ? Layers.globalAvgPool() : Layers.flatten(), Layers.dense(1, W, B, p));
                InfiniteLimit lim = matchesTheOracle(m, 4, 5, 2, std, 33, o -> o.pool(2, 2, 2, 2,
                        new int[][] {{0, 0}, {0, 1}}, true).conv(n, 2, 2, 1, 1, new int[][] {{0, 1}, {0, 1}})
                        .pool(2, 2, 1, 1, pad, false).relu().conv(n, 2, 2, 1, 1, new int[2][2]).relu().readout(gap));
                assertThat(lim.toString()).endsWith("every pixel pair)");
                // the relus' maps: 3 × 3 and 2 × 2 pixels, every pair of them per pair and per own pass
                assertThat(lim.expectations(3, 0, new int[] {4, 5, 2})).isEqualTo((6 + 3) * (81 + 16));
            }
        }
    }

    /**
     * fan_in_concat on images' channels: on 4 × 4 × 2 images, conv(6, 2 × 2) → fan_out(3) → parallel(relu,
     * conv(10, 3 × 3), identity) → concatenation (6 + 10 + 6 channels) → conv(n, 2 × 2, stride 2, VALID) → relu →
     * flatten or global_avg_pool → dense(1), against the oracle's Σ c_i K_i / Σ c_i, both parameterisations, 1e-12;
     * and on vectors by hand: dense(5) → fan_out(2) → parallel(relu, dense(9)) → concatenation → dense(1), K =
     * σ_w² (5 J₁ + 9 K_b)/14 + σ_b², K_b = σ_w² K¹ + σ_b², Θ = K + σ_w² (5 J₀Θ¹ + 9 Θ_b)/14 (NTK) or 14 K_c + 1 +
     * ... (standard), and a flattened image concatenated with a dense layer's vector (the image's diagonal mean,
     * weighted by its H·W·C units).
     */
    @Test
    void concatenationsAverageTheBranchesByTheirWidths() {
        int n = 8;
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            for (boolean gap : new boolean[] {false, true}) {
                Model m = model(Layers.conv(6, new int[] {2, 2}, ONE, "SAME", W, B, p), Layers.fanOut(3),
                        Layers.parallel(Layers.relu(), Layers.conv(10, new int[] {3, 3}, ONE, "SAME", W, B, p),
                                Layers.identity()), Layers.fanInConcat(-1),
                        Layers.conv(n, new int[] {2, 2}, new int[] {2, 2}, "VALID", W, B, p), Layers.relu(),
                        gap ? Layers.globalAvgPool() : Layers.flatten(), Layers.dense(1, W, B, p));
                matchesTheOracle(m, 4, 4, 2, std, 34, o -> {
                    o.conv(6, 2, 2, 1, 1, new int[][] {{0, 1}, {0, 1}});
                    MapOracle wide = o.copy().conv(10, 3, 3, 1, 1, new int[][] {{1, 1}, {1, 1}});
                    MapOracle skip = o.copy();
                    return o.relu().concat(wide).concat(skip).conv(n, 2, 2, 2, 2, new int[2][2]).relu()
                            .readout(gap);
                });
            }
            Model flatAndDense = model(Layers.conv(5, new int[] {2, 2}, ONE, "SAME", W, B, p), Layers.flatten(),
                    Layers.fanOut(2), Layers.parallel(Layers.identity(), Layers.dense(7, W, B, p)),
                    Layers.fanInConcat(0), Layers.dense(1, W, B, p));
            matchesTheOracle(flatAndDense, 3, 3, 2, std, 35, o -> {
                double[] d = o.conv(5, 2, 2, 1, 1, new int[][] {{0, 1}, {0, 1}}).mean(false);
                double[] v = o.dense(d, 45);
                return o.dense(new double[] {(45 * d[0] + 7 * v[0]) / 52, (45 * d[1] + 7 * v[1]) / 52}, 52);
            });
        }
        double[] x = {0.9, -1.2, 0.3, 2.0};
        double[] y = {-0.4, 0.8, 1.1, 0.5};
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            Model m = model(Layers.dense(5, W, B, p), Layers.fanOut(2),
                    Layers.parallel(Layers.relu(), Layers.dense(9, W, B, p)), Layers.fanInConcat(-1),
                    Layers.dense(1, W, B, p));
            double[] kxy = vectorConcat(x, y, std);
            double[] kxx = vectorConcat(x, x, std);
            double[] kyy = vectorConcat(y, y, std);
            try (Tensor in = Tensor.of(DType.F64, concat(x, y), 2, 4);
                 Tensor nngp = InfiniteLimit.of(m, new int[] {4}).kernel(KernelKind.trace(), in, null, LimitKernel.NNGP,
                         DType.F64);
                 Tensor ntk = InfiniteLimit.of(m, new int[] {4}).kernel(KernelKind.trace(), in, null, LimitKernel.NTK,
                         DType.F64)) {
                assertThat(nngp.get(0, 1)).as("%s K", p).isCloseTo(kxy[0], within(1e-12 * kxy[0]));
                assertThat(ntk.get(0, 1)).as("%s Θ", p).isCloseTo(kxy[1], within(1e-12 * kxy[1]));
                assertThat(ntk.get(0, 0)).as("%s Θ(x,x)", p).isCloseTo(kxx[1], within(1e-12 * kxx[1]));
                assertThat(ntk.get(1, 1)).as("%s Θ(y,y)", p).isCloseTo(kyy[1], within(1e-12 * kyy[1]));
            }
        }
    }

    /** {K, Θ} of dense(5) → fan_out → parallel(relu, dense(9)) → concatenation → dense(1) by hand. */
    private static double[] vectorConcat(double[] x, double[] y, boolean std) {
        double w2 = W * W;
        double b2 = B * B;
        double k1 = w2 * dot(x, y) / 4 + b2;
        double t1 = std ? dot(x, y) + 1 : k1;
        double kx = w2 * dot(x, x) / 4 + b2;
        double ky = w2 * dot(y, y) / 4 + b2;
        double th = Math.acos(Math.max(-1, Math.min(1, k1 / Math.sqrt(kx * ky))));
        double j1 = Math.sqrt(kx * ky) * (Math.sin(th) + (Math.PI - th) * Math.cos(th)) / (2 * Math.PI);
        double j0 = (Math.PI - th) / (2 * Math.PI);
        double kb = w2 * k1 + b2;
        double tb = (std ? 5 * k1 + 1 : kb) + w2 * t1;
        double kc = (5 * j1 + 9 * kb) / 14;
        double tc = (5 * j0 * t1 + 9 * tb) / 14;
        double k = w2 * kc + b2;
        return new double[] {k, (std ? 14 * kc + 1 : k) + w2 * tc};
    }

    /**
     * The limit of {@code m} for two random images h × w × c (seed) equals the oracle's {@code net} (σ_w = W,
     * σ_b = B) to 1e-12 relative, K and Θ, at (x, y), (x, x) and (y, y); returns the limit.
     */
    static InfiniteLimit matchesTheOracle(Model m, int h, int w, int c, boolean std, long seed,
                                                  Function<MapOracle, double[]> net) {
        InfiniteLimit lim = InfiniteLimit.of(m, new int[] {h, w, c});
        try (Tensor in = Tensor.randomNormal(DType.F64, seed, 2, h, w, c);
             Tensor nngp = lim.kernel(KernelKind.trace(), in, null, LimitKernel.NNGP, DType.F64);
             Tensor ntk = lim.kernel(KernelKind.trace(), in, null, LimitKernel.NTK, DType.F64)) {
            double[] flat = in.toDoubleArray();
            double[][][][] img = new double[2][h][w][c];
            for (int e = 0; e < flat.length; e++) {
                img[e / (h * w * c)][e / (w * c) % h][e / c % w][e % c] = flat[e];
            }
            double[][] pairs = {MapOracle.pair(img[0], img[1], W, B, std, net),
                MapOracle.pair(img[0], img[0], W, B, std, net), MapOracle.pair(img[1], img[1], W, B, std, net)};
            int[][] at = {{0, 1}, {0, 0}, {1, 1}};
            for (int q = 0; q < 3; q++) {
                double[] want = pairs[q];
                assertThat(nngp.get(at[q][0], at[q][1])).as("%s K%s", m, java.util.Arrays.toString(at[q]))
                        .isCloseTo(want[0], within(1e-12 * Math.abs(want[0])));
                assertThat(ntk.get(at[q][0], at[q][1])).as("%s Θ%s", m, java.util.Arrays.toString(at[q]))
                        .isCloseTo(want[1], within(1e-12 * Math.abs(want[1])));
            }
        }
        return lim;
    }

    /**
     * Strides and padding in wide networks: on 4 × 4 × 2 images, conv(1024, 3 × 3, stride 2, SAME: pads 0 before and
     * 1 after) → relu → conv(1024, 2 × 2, explicit padding {{1, 0}, {0, 1}}) → relu → flatten → dense(1), NTK
     * parameterisation, σ_w = 1.5, σ_b = 0.1: the mean eNTK of 4 networks within 5% of the largest diagonal entry
     * of the limit (the fluctuation is O(1/√channels)), while the same network with the stride-2 conv's padding on
     * the other side (pads 1 before, 0 after: the offsets one pixel off) moves the limit by 3 times that or more.
     */
    @Test
    void aWideStridedConvNetsEmpiricalKernelApproachesTheLimit() {
        Parameterization ntk = Parameterization.NTK;
        int ch = 1024;
        int[][] second = {{1, 0}, {0, 1}};
        Model m = model(Layers.conv(ch, new int[] {3, 3}, new int[] {2, 2}, "SAME", 1.5, 0.1, ntk), Layers.relu(),
                Layers.conv(ch, new int[] {2, 2}, ONE, second, 1.5, 0.1, ntk), Layers.relu(), Layers.flatten(),
                Layers.dense(1, 1.5, 0.1, ntk));
        Model shifted = model(Layers.conv(ch, new int[] {3, 3}, new int[] {2, 2}, new int[][] {{1, 0}, {1, 0}}, 1.5,
                0.1, ntk), Layers.relu(), Layers.conv(ch, new int[] {2, 2}, ONE, second, 1.5, 0.1, ntk),
                Layers.relu(), Layers.flatten(), Layers.dense(1, 1.5, 0.1, ntk));
        approaches(m, shifted, new int[] {4, 4, 2}, 41, 400);
    }

    /**
     * avg_pool in a wide network: on 4 × 4 × 2 images, conv(2048, 2 × 2, SAME) → avg_pool(2 × 2, stride 2, VALID) →
     * relu → flatten → dense(1), NTK parameterisation, σ_w = 1.5, σ_b = 0.1: the mean eNTK of 4 networks within 5%
     * of the largest diagonal entry of the limit, while the deliberately wrong rule of {@link MapOracle#wrongPool}
     * (only equal window offsets meeting, as if the pool's pixels had independent weights) is 3 times that or more
     * away.
     */
    @Test
    void aWidePooledNetsEmpiricalKernelApproachesTheLimitAndNotTheDiagonalRule() {
        Parameterization ntk = Parameterization.NTK;
        Model m = model(Layers.conv(2048, new int[] {2, 2}, ONE, "SAME", 1.5, 0.1, ntk),
                Layers.avgPool(new int[] {2, 2}, new int[] {2, 2}, "VALID"), Layers.relu(), Layers.flatten(),
                Layers.dense(1, 1.5, 0.1, ntk));
        int[] shape = {4, 4, 2};
        // smooth images (a level per example and channel, plus noise): neighbouring pixels are strongly correlated,
        // as in natural images, so that the pairs of distinct pixels the pool averages matter
        double[] data = new double[3 * 32];
        java.util.Random r = new java.util.Random(42);
        for (int e = 0; e < data.length; e++) {
            data[e] = e % 32 == e % 2 ? r.nextGaussian() : data[e / 32 * 32 + e % 2];
        }
        for (int e = 0; e < data.length; e++) {
            data[e] += 0.4 * r.nextGaussian();
        }
        try (Tensor x = Tensor.of(DType.F64, data, 3, 4, 4, 2);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 500);
            double[] flat = x.toDoubleArray();
            double[][][][] img = new double[3][4][4][2];
            for (int e = 0; e < flat.length; e++) {
                img[e / 32][e / 8 % 4][e / 2 % 4][e % 2] = flat[e];
            }
            double worst = 0;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    double[] wrong = MapOracle.pair(img[i], img[j], 1.5, 0.1, false, o -> o.conv(2048, 2, 2, 1, 1,
                            new int[][] {{0, 1}, {0, 1}}).wrongPool(2, 2, 2, 2).relu().readout(false));
                    worst = Math.max(worst, Math.abs(wrong[1] - lim.get(i, j)));
                }
            }
            assertThat(worst).isGreaterThan(0.15 * scale);
        }
    }

    /**
     * fan_in_concat in a wide network: dense(2048) → fan_out(2) → parallel(relu, dense(512)) → concatenation →
     * dense(1) on vectors of 6, NTK parameterisation, σ_w = 1.5, σ_b = 0.1: the mean eNTK of 4 networks within 5%
     * of the largest diagonal entry of the limit, while the plain mean of the two branches' kernels (the widths
     * ignored; the limit of the same network with a dense(2048) branch) is 3 times that or more away.
     */
    @Test
    void aWideConcatenatingNetsEmpiricalKernelApproachesTheWidthWeightedLimit() {
        Parameterization ntk = Parameterization.NTK;
        Model m = model(Layers.dense(4096, 1.5, 0.1, ntk), Layers.fanOut(2), Layers.parallel(Layers.relu(),
                Layers.dense(1024, 1.5, 0.1, ntk)), Layers.fanInConcat(-1), Layers.dense(1, 1.5, 0.1, ntk));
        Model plainMean = model(Layers.dense(4096, 1.5, 0.1, ntk), Layers.fanOut(2), Layers.parallel(Layers.relu(),
                Layers.dense(4096, 1.5, 0.1, ntk)), Layers.fanInConcat(-1), Layers.dense(1, 1.5, 0.1, ntk));
        approaches(m, plainMean, new int[] {6}, 43, 600);
    }

    /**
     * The mean eNTK of {@code m} at 3 random examples (seed) is near its limit ({@link ComposedLimitTest}'s
     * helper: within 5% of the largest diagonal entry), and the limit of {@code wrong} is at least 15% away.
     */
    private static void approaches(Model m, Model wrong, int[] shape, long seed, long seed0) {
        int[] dims = new int[shape.length + 1];
        dims[0] = 3;
        System.arraycopy(shape, 0, dims, 1, shape.length);
        try (Tensor x = Tensor.randomNormal(DType.F64, seed, dims);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor o = InfiniteLimit.of(wrong, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                     DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, seed0);
            assertThat(largestDifference(o, lim)).isGreaterThan(0.15 * scale);
        }
    }

    /**
     * A pool with a window of more than one pixel needs every pixel pair: for 220 × 220 images ((HW)² beyond 2^31
     * entries) the kernel and the cost estimate refuse them in the same line, naming the avg_pool.
     */
    @Test
    void fullMapsForAPoolThatCannotFitAreRefused() {
        Model m = model(Layers.conv(4, new int[] {3, 3}, ONE, "SAME", W, B, Parameterization.NTK),
                Layers.avgPool(new int[] {2, 2}, ONE, "SAME"), Layers.tanh(),
                Layers.conv(4, ONE, ONE, "SAME", W, B, Parameterization.NTK), Layers.flatten(),
                Layers.dense(1, W, B, Parameterization.NTK));
        InfiniteLimit lim = InfiniteLimit.of(m, new int[] {220, 220, 1});
        try (Tensor x = Tensor.randomNormal(DType.F64, 44, 1, 220, 220, 1)) {
            String want = "infinite limit: the avg_pool on 220×220 images needs the covariance of every pair of "
                    + "pixels";
            assertThatThrownBy(() -> lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64).close())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(want);
            assertThatThrownBy(() -> lim.weightedExpectations(x, null)).hasMessageStartingWith(want);
        }
    }
}

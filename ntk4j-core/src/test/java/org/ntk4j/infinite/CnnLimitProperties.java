package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Shapes and symmetries of {@link CnnLimit#kernel} over random image sizes, channels, filters, depths, pools,
 * activations, parameterisations and kinds: the layout of each kind, K(x2, x1) = K(x1, x2)ᵀ, x2 = null the same as
 * x2 = x1; on 1×1 images with filter 1, where a conv is a dense layer on the channels and both pools are the
 * identity, the fcn's limit; and the resnet's symmetries. Entries are compared to 1e-13 of the largest: swapping the
 * arguments reorders sums.
 */
class CnnLimitProperties {
    private static final String[] KINDS = {"full", "diagonal", "trace", "pntk", "pntk-unscaled"};

    @Property(tries = 60, seed = "20261207")
    void everyKindHasItsLayoutAndTheKernelIsSymmetric(@ForAll @IntRange(min = 1, max = 4) int n1,
            @ForAll @IntRange(min = 1, max = 3) int n2, @ForAll @IntRange(min = 1, max = 3) int out,
            @ForAll @IntRange(min = 0, max = 3) int depth, @ForAll @IntRange(min = 1, max = 4) int filter,
            @ForAll @IntRange(min = 1, max = 5) int h, @ForAll @IntRange(min = 1, max = 5) int w,
            @ForAll @IntRange(min = 0, max = 3) int c, @ForAll @IntRange(min = 0, max = 4) int kindIndex,
            @ForAll boolean gap, @ForAll boolean erf, @ForAll boolean standard, @ForAll LimitKernel which) {
        String kindName = KINDS[kindIndex];
        KernelKind kind = KernelKind.parse(kindName, 0);
        CnnLimit lim = CnnLimit.of("cnn(depth=" + depth + ",channels=6,out=" + out + ",filter=" + filter + ",pool="
                + (gap ? "gap" : "flatten") + ",act=" + (erf ? "erf" : "relu") + ",param="
                + (standard ? "standard" : "ntk") + ",b_std=0.1)");
        int[] per = c == 0 ? new int[] {h, w} : new int[] {h, w, c}; // c = 0: [H, W] images, one channel
        long seed = 31L * n1 + n2 + 7L * out + depth + 101L * h + 13L * w;
        try (Tensor x1 = Tensor.randomNormal(DType.F64, seed, CnnLimitTest.prepend(n1, per));
             Tensor x2 = Tensor.randomNormal(DType.F64, seed + 1, CnnLimitTest.prepend(n2, per));
             Tensor k12 = lim.kernel(kind, x1, x2, which, DType.F64);
             Tensor k21 = lim.kernel(kind, x2, x1, which, DType.F64);
             Tensor k11 = lim.kernel(kind, x1, null, which, DType.F64);
             Tensor k11explicit = lim.kernel(kind, x1, x1, which, DType.F64);
             Tensor k22 = lim.kernel(kind, x2, null, which, DType.F64);
             Tensor trace = lim.kernel(KernelKind.trace(), x1, x2, which, DType.F64)) {
            int[] want = kind.isFull() ? new int[] {n1, n2, out, out}
                    : kind.isPerOutput() ? new int[] {n1, n2, out} : new int[] {n1, n2};
            assertThat(k12.shape()).containsExactly(want);
            // the scale of K(x1, x2) is √(K(x1, x1) K(x2, x2)) (Cauchy–Schwarz), not its own largest entry: a pair's
            // sum over pixel pairs can cancel (a 2×5 image against another, gap: −1.7e-4 out of terms of order 1,
            // where swapping the arguments moved it by 1.1e-13 of itself; sweep seed 5432659547434580250)
            double tol = 1e-13 * Math.max(maxAbs(k12), Math.max(maxAbs(k11), maxAbs(k22)));
            double scale = kindName.equals("pntk-unscaled") ? out : 1;
            for (int i = 0; i < n1; i++) {
                for (int j = 0; j < n2; j++) {
                    double t = trace.get(i, j);
                    if (kind.isFull()) {
                        for (int a = 0; a < out; a++) {
                            for (int b = 0; b < out; b++) {
                                assertThat(k12.get(i, j, a, b)).isEqualTo(a == b ? t : 0.0);
                                assertThat(k21.get(j, i, b, a)).isCloseTo(k12.get(i, j, a, b), within(tol));
                            }
                        }
                    } else if (kind.isPerOutput()) {
                        for (int a = 0; a < out; a++) {
                            assertThat(k12.get(i, j, a)).isEqualTo(t);
                            assertThat(k21.get(j, i, a)).isCloseTo(t, within(tol));
                        }
                    } else {
                        assertThat(k12.get(i, j)).isEqualTo(scale * t);
                        assertThat(k21.get(j, i)).isCloseTo(scale * t, within(tol));
                    }
                }
            }
            double selfTol = 1e-13 * maxAbs(k11);
            for (int f = 0; f < k11.size(); f++) {
                assertThat(k11.getFlat(f)).isCloseTo(k11explicit.getFlat(f), within(selfTol));
            }
        }
    }

    /** The resnet's limit: K(x2, x1) = K(x1, x2)ᵀ and x2 = null the same as x2 = x1, over random sizes and blocks. */
    @Property(tries = 25, seed = "20261207")
    void theResnetKernelIsSymmetric(@ForAll @IntRange(min = 1, max = 3) int n1,
            @ForAll @IntRange(min = 1, max = 3) int n2, @ForAll @IntRange(min = 0, max = 2) int blocks,
            @ForAll @IntRange(min = 1, max = 4) int h, @ForAll @IntRange(min = 1, max = 4) int w,
            @ForAll @IntRange(min = 1, max = 2) int c, @ForAll boolean erf, @ForAll boolean standard,
            @ForAll LimitKernel which) {
        ResNetLimit lim = ResNetLimit.of("resnet(blocks=" + blocks + ",channels=5,out=2,act=" + (erf ? "erf" : "relu")
                + ",param=" + (standard ? "standard" : "ntk") + ",w_std=1.2)");
        long seed = 17L * n1 + n2 + 5L * blocks + 101L * h + 13L * w + c;
        try (Tensor x1 = Tensor.randomNormal(DType.F64, seed, n1, h, w, c);
             Tensor x2 = Tensor.randomNormal(DType.F64, seed + 1, n2, h, w, c);
             Tensor k12 = lim.kernel(KernelKind.trace(), x1, x2, which, DType.F64);
             Tensor k21 = lim.kernel(KernelKind.trace(), x2, x1, which, DType.F64);
             Tensor k11 = lim.kernel(KernelKind.trace(), x1, null, which, DType.F64);
             Tensor k11explicit = lim.kernel(KernelKind.trace(), x1, x1, which, DType.F64)) {
            assertThat(k12.shape()).containsExactly(n1, n2);
            double tol = 1e-13 * maxAbs(k12);
            for (int i = 0; i < n1; i++) {
                for (int j = 0; j < n2; j++) {
                    assertThat(k21.get(j, i)).isCloseTo(k12.get(i, j), within(tol));
                }
            }
            for (int f = 0; f < k11.size(); f++) {
                assertThat(k11.getFlat(f)).isCloseTo(k11explicit.getFlat(f), within(1e-13 * maxAbs(k11)));
            }
        }
    }

    /**
     * A cnn with filter 1 on 1×1×C images is the fcn with width = channels on C features (the conv's fan-in is C,
     * the readout's the channels, for either pool): the two limits agree to rounding.
     */
    @Property(tries = 30, seed = "20261207")
    void onOnePixelImagesWithFilterOneTheCnnIsTheFcn(@ForAll @IntRange(min = 0, max = 3) int depth,
            @ForAll @IntRange(min = 1, max = 4) int c, @ForAll boolean gap, @ForAll boolean erf,
            @ForAll boolean standard, @ForAll LimitKernel which) {
        String common = "depth=" + depth + ",out=2,act=" + (erf ? "erf" : "relu") + ",param="
                + (standard ? "standard" : "ntk") + ",w_std=1.3,b_std=0.2";
        CnnLimit cnn = CnnLimit.of("cnn(" + common + ",channels=9,filter=1,pool=" + (gap ? "gap" : "flatten") + ")");
        FcnLimit fcn = FcnLimit.of("fcn(" + common + ",width=9)");
        try (Tensor x = Tensor.randomNormal(DType.F64, 3L * depth + c, 4, 1, 1, c);
             Tensor a = cnn.kernel(KernelKind.trace(), x, null, which, DType.F64);
             Tensor b = fcn.kernel(KernelKind.trace(), x, null, which, DType.F64)) {
            for (int f = 0; f < a.size(); f++) {
                assertThat(a.getFlat(f)).isCloseTo(b.getFlat(f), within(1e-13 * maxAbs(b)));
            }
        }
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (int f = 0; f < t.size(); f++) {
            m = Math.max(m, Math.abs(t.getFlat(f)));
        }
        return m;
    }
}

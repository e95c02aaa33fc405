package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link ComposedLimit} against composed_limit_oracle.txt, written by the test resource composed_limit_oracle.py: an
 * independent NumPy oracle (one joint Gaussian process over every example's pixels, each conv and pool an explicit
 * selection matrix, K ← A K Aᵀ; no pair-by-pair recursion, no diagonal shortcut) of 16 networks in both
 * parameterisations on 5 × 6 × 2 images: strided convs then flatten, even filters under SAME (asymmetric pads),
 * strides larger than the window (convs and pools), one-pixel outputs and one-pixel strided pools, a pool right
 * after the input, windows over the border with and without count_include_pad, explicit padding beyond the filter
 * (maps larger than the input), fan_in_concat of branches of different spatial handling and widths (equal and not,
 * the raw input among them, a sum and a pool after it), a flattened image concatenated with a vector, a residual
 * block with a dense layer on the image, dense layers on images without any conv, and a network without biases.
 * Each network is written once, as the s-expression the script reads, and built here from {@link Layers}, so both
 * compute the same network; and the same networks, widened, are checked against their mean empirical NTK.
 */
class ComposedLimitOracleTest {
    /**
     * K and Θ of x1 against x2 and of x1 against itself, every entry within 1e-10 of its scale √(|k(x,x)| |k(x',x')|)
     * (Cauchy–Schwarz; errors seen: 3e-12 at most, 6e-16 but for the network with pixels that see only padding).
     * Correlations of exactly ±1 between distinct units would make arccos amplify a rounding to ~1e-8, so they are
     * kept where both sides compute them exactly: image 2 of x1 is 2 × image 0 and image 3 is −image 1, which the
     * biases keep off ±1 (the network without biases uses erf, whose duals are smooth at ±1), x2's image 0 is a noisy
     * copy of x1's, and pixels that see only padding have K = σ_b² exactly, in every example (correlation 1: the
     * 3e-12 above is that rounding).
     */
    @Test
    void matchesTheJointProcessOracleOnEveryNetwork() throws IOException {
        List<String[]> lines = OracleFile.lines("composed_limit_oracle.txt");
        int cases = 0;
        double worst = 0;
        try (Tensor x1 = OracleFile.images(lines.get(0)); Tensor x2 = OracleFile.images(lines.get(1))) {
            int[] shape = {x1.dim(1), x1.dim(2), x1.dim(3)};
            for (int c = 2; c < lines.size(); c += 7) {
                String[] head = lines.get(c);
                String name = head[1] + " " + head[2];
                Parameterization p = Parameterization.parse(head[2]);
                double w = Double.parseDouble(head[3]);
                double b = Double.parseDouble(head[4]);
                Model m = new Model(build(head[5].replace('_', ' '), w, b, p), name);
                InfiniteLimit lim = InfiniteLimit.of(m, shape);
                worst = Math.max(worst, OracleFile.checkCase(lines, c, name, lim, x1, x2, (i, j, self) -> 1e-10,
                        true));
                cases++;
            }
        }
        System.out.printf("composed limit vs the joint-process oracle: largest error / scale %.3g%n", worst);
        assertThat(cases).isEqualTo(32);
    }

    /**
     * The limit is the wide networks' own: the mean empirical NTK of 16 initialisations of four of the oracle's
     * networks with every hidden width times 128 (NTK parameterisation, whose limit does not change with the widths
     * as long as their ratios stay) — a pool right after the input and windows over the border without
     * count_include_pad, such a pool before a conv to one pixel, the concatenation of three differently padded
     * branches, and explicit padding beyond the filter — at three images is within 4% of the largest diagonal entry
     * of the limit (deviations seen: 1.3% to 2.1%; O(1/√width) fluctuations), while the limit of the same network with
     * count_include_pad flipped is more than 10% away (22% and 38% of the scale by the oracle), so the check can
     * tell the divisors apart.
     */
    @Test
    void wideNetworksApproachTheLimit() {
        String poolFirst = "(serial (pool 3 3 2 2 explicit 1 1 1 1 %d) (conv 4 2 2 1 1 same) (pool 2 2 2 1 same) (erf)"
                + " (conv 3 2 2 1 1 valid) (relu) (flatten) (dense 1))";
        String borderPool = "(serial (conv 3 3 3 1 1 same) (relu) (pool 2 3 2 2 explicit 1 0 0 2 %d) (conv 5 3 3 1 1"
                + " valid) (relu) (flatten) (dense 1))";
        String concat = "(serial (conv 4 3 3 1 1 same) (fanout 3) (parallel (serial (relu) (conv 5 2 2 1 1 explicit 0"
                + " 1 1 0)) (conv 7 3 1 1 1 same) (pool 3 3 1 1 explicit 1 1 1 1 0)) (concat) (conv 3 2 2 2 2 same)"
                + " (relu) (flatten) (dense 1))";
        String grows = "(serial (conv 3 2 2 1 1 explicit 3 2 1 3) (relu) (pool 3 3 2 2 explicit 2 1 1 2 0)"
                + " (conv 4 2 2 1 2 explicit 2 2 2 2) (relu) (gap) (dense 1))";
        int[] shape = {5, 6, 2};
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, 3, 5, 6, 2)) {
            String[] specs = {String.format(poolFirst, 0), String.format(borderPool, 0), concat, grows};
            for (int c = 0; c < specs.length; c++) {
                String spec = specs[c];
                Model m = new Model(build(spec, 1.3, 0.2, Parameterization.NTK, 128), "wide");
                double[][] mean = new double[3][3];
                int seeds = 16;
                for (int s = 0; s < seeds; s++) {
                    try (Params p = m.init(100 + s, shape, DType.F64); Tensor e = EmpiricalNtk.of(m, p).ntk(x, null)) {
                        for (int i = 0; i < 3; i++) {
                            for (int j = 0; j < 3; j++) {
                                mean[i][j] += e.get(i, j) / seeds;
                            }
                        }
                    }
                }
                try (Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                        DType.F64)) {
                    double scale = Math.max(lim.get(0, 0), Math.max(lim.get(1, 1), lim.get(2, 2)));
                    double dev = 0;
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < 3; j++) {
                            assertThat(mean[i][j]).as("%s (%d, %d)", spec, i, j).isCloseTo(lim.get(i, j),
                                    within(0.04 * scale));
                            dev = Math.max(dev, Math.abs(mean[i][j] - lim.get(i, j)) / scale);
                        }
                    }
                    System.out.printf("wide network %d: mean eNTK vs the limit, largest deviation / scale %.4f%n", c,
                            dev);
                    if (c < 2) { // the first two's count_include_pad-false pool flipped is far away
                        String flip = String.format(c == 0 ? poolFirst : borderPool, 1);
                        Model flipped = new Model(build(flip, 1.3, 0.2, Parameterization.NTK, 128), "flipped");
                        try (Tensor wrong = InfiniteLimit.of(flipped, shape).kernel(KernelKind.trace(), x, null,
                                LimitKernel.NTK,
                                DType.F64)) {
                            double far = 0;
                            for (int i = 0; i < 3; i++) {
                                for (int j = 0; j < 3; j++) {
                                    far = Math.max(far, Math.abs(mean[i][j] - wrong.get(i, j)));
                                }
                            }
                            assertThat(far).as(spec).isGreaterThan(0.1 * scale);
                        }
                    }
                }
            }
        }
    }

    /**
     * The layer an s-expression names (the script's grammar): (serial L...), (parallel L...), (fanout n), (sum),
     * (concat), (identity), (relu), (erf), (flatten), (gap), (dense out), (conv out kh kw sh sw same|valid),
     * (conv out kh kw sh sw explicit top bottom left right), (pool kh kw sh sw same|valid) and
     * (pool kh kw sh sw explicit top bottom left right countIncludePad).
     */
    static Layer build(String spec, double w, double b, Parameterization p) {
        return build(spec, w, b, p, 1);
    }

    /** The layer {@code spec} names with every conv's and hidden dense layer's width times {@code widen}. */
    static Layer build(String spec, double w, double b, Parameterization p, int widen) {
        List<String> t = new ArrayList<>(Arrays.asList(spec.replace("(", " ( ").replace(")", " ) ").trim()
                .split("\\s+")));
        int[] at = {0};
        Layer l = parse(t, at, w, b, p, widen);
        assertThat(at[0]).as(spec).isEqualTo(t.size());
        return l;
    }

    private static Layer parse(List<String> t, int[] at, double w, double b, Parameterization p, int widen) {
        assertThat(t.get(at[0]++)).isEqualTo("(");
        String op = t.get(at[0]++);
        List<Layer> subs = new ArrayList<>();
        List<String> args = new ArrayList<>();
        while (!t.get(at[0]).equals(")")) {
            if (t.get(at[0]).equals("(")) {
                subs.add(parse(t, at, w, b, p, widen));
            } else {
                args.add(t.get(at[0]++));
            }
        }
        at[0]++;
        int[] a = args.stream().filter(s -> s.matches("\\d+")).mapToInt(Integer::parseInt).toArray();
        if ((op.equals("conv") || op.equals("dense")) && a[0] > 1) {
            a[0] *= widen;
        }
        switch (op) {
            case "serial":
                return Layers.serial(subs.toArray(new Layer[0]));
            case "parallel":
                return Layers.parallel(subs.toArray(new Layer[0]));
            case "fanout":
                return Layers.fanOut(a[0]);
            case "sum":
                return Layers.fanInSum();
            case "concat":
                return Layers.fanInConcat(-1);
            case "identity":
                return Layers.identity();
            case "relu":
                return Layers.relu();
            case "erf":
                return Layers.erf();
            case "flatten":
                return Layers.flatten();
            case "gap":
                return Layers.globalAvgPool();
            case "dense":
                return Layers.dense(a[0], w, b, p);
            case "conv": {
                int[] f = {a[1], a[2]};
                int[] s = {a[3], a[4]};
                return args.contains("explicit")
                        ? Layers.conv(a[0], f, s, new int[][] {{a[5], a[6]}, {a[7], a[8]}}, w, b, p)
                        : Layers.conv(a[0], f, s, args.get(5).toUpperCase(java.util.Locale.ROOT), w, b, p);
            }
            case "pool": {
                int[] k = {a[0], a[1]};
                int[] s = {a[2], a[3]};
                return args.contains("explicit")
                        ? Layers.avgPool(k, s, new int[][] {{a[4], a[5]}, {a[6], a[7]}}, a[8] == 1)
                        : Layers.avgPool(k, s, args.get(4).toUpperCase(java.util.Locale.ROOT));
            }
            default:
                throw new AssertionError("unknown layer " + op);
        }
    }

}

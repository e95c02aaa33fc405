package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The kinds and the axes on outputs of rank 3 and 4 (a sequence model's [N, T, O], an image-to-image model's
 * [N, H, W, C]), traced axes other than the last, diagonal axes, x2 ≠ x1 and x2 = x1, batches of one, in tiles,
 * and the sum-of-logits and one-logit kinds, in float64 (1e-6 of the largest entry) and float32 (1e-4), every
 * method against an independent oracle: the Jacobian of f(x) built column by column by central finite
 * differences in float64 ({@link EmpiricalNtkTest#fdJacobian}), contracted by neural-tangents' rule written out
 * loop by loop here (a pair of entries of f(x1) and f(x2) contributes when their indices agree on every traced and
 * diagonal axis; traced axes are summed and divided by their total size; the other axes appear as (a1, a2),
 * diagonal ones once).
 */
class KernelKindOracleTest {
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES, Method.AUTO};

    /** dense(5) → erf → dense(3) over the 4 positions of [4, 2] inputs: outputs [N, 4, 3]. */
    static Model sequenceModel() {
        return new Model(Layers.serial(Layers.dense(5), Layers.erf(), Layers.dense(3)), "sequence mlp");
    }

    /** conv(2, 2×2, SAME) → tanh → conv(3, 2×2, SAME) on [3, 3, 2] images: outputs [N, 3, 3, 3]. */
    static Model imageModel() {
        return new Model(Layers.serial(Layers.conv(2, new int[] {2, 2}, new int[] {1, 1}, "SAME"), Layers.tanh(),
                Layers.conv(3, new int[] {2, 2}, new int[] {1, 1}, "SAME")), "image to image");
    }

    @Test
    void sequenceOutputsWithEveryAxisSetAndKind() {
        check(sequenceModel(), new int[] {4, 2}, new int[][][] {
            {{}, {}}, {{-1}, {}}, {{1}, {}}, {{}, {-1}}, {{}, {1}}, {{1}, {2}}, {{2}, {1}}, {{1, 2}, {}},
            {{0}, {}}, {{1}, {0}}, {{0, 2}, {1}}, {{-2, 0}, {}}, {{}, {0, 1}}});
    }

    @Test
    void imageOutputsWithEveryAxisSetAndKind() {
        check(imageModel(), new int[] {3, 3, 2}, new int[][][] {
            {{}, {}}, {{-1}, {}}, {{1, 2}, {}}, {{3}, {1, 2}}, {{}, {1}}, {{2}, {0}}, {{-1, 1}, {2}},
            {{0, 1, 2}, {}}});
    }

    /** Each axis set with x2 ≠ x1 (N2 ≠ N1 unless axis 0 is traced or diagonal) and x2 = x1; then the kinds. */
    private static void check(Model model, int[] in, int[][][] axisSets) {
        Params p = model.init(7, in, DType.F64);
        Params p32 = rounded(p);
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(3, in));
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(2, in));
             Tensor x2same = Tensor.randomNormal(DType.F64, 3, Shapes.prepend(3, in));
             Tensor one1 = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(1, in));
             Tensor one2 = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(1, in))) {
            for (int[][] axes : axisSets) {
                boolean examplesPaired = !contains(axes[0], 0) && !contains(axes[1], 0);
                Tensor[][] pairs = {{x1, examplesPaired ? x2 : x2same}, {x1, null}, {one1, one2}};
                for (Tensor[] pair : pairs) {
                    Tensor second = pair[1] == null ? pair[0] : pair[1];
                    Tensor oracle = oracle(model, p, pair[0], second, axes[0], axes[1]);
                    for (Method m : METHODS) {
                        EmpiricalNtk e = EmpiricalNtk.of(model, p).traceAxes(axes[0]).diagonalAxes(axes[1]).method(m);
                        String what = String.format("%s trace %s diagonal %s, N1 %d, x2 %s, %s", model.spec(),
                                Arrays.toString(axes[0]), Arrays.toString(axes[1]), pair[0].dim(0),
                                pair[1] == null ? "= x1" : "[" + second.dim(0) + ", ...]", m.shortName());
                        try (Tensor got = e.ntk(pair[0], pair[1])) {
                            assertThat(got.shape()).as(what).isEqualTo(oracle.shape());
                            assertThat(EmpiricalNtkTest.relativeError(got, oracle)).as(what).isLessThan(1e-6);
                        }
                        // float32: the same parameters and inputs rounded, to 1e-4 of the largest entry
                        EmpiricalNtk e32 = EmpiricalNtk.of(model, p32).traceAxes(axes[0]).diagonalAxes(axes[1])
                                .method(m);
                        try (Tensor a = pair[0].to(DType.F32);
                             Tensor b = pair[1] == null ? null : pair[1].to(DType.F32);
                             Tensor got = e32.ntk(a, b);
                             Tensor widened = got.to(DType.F64)) {
                            assertThat(got.dtype()).as(what).isEqualTo(DType.F32);
                            assertThat(EmpiricalNtkTest.relativeError(widened, oracle)).as(what + " f32")
                                    .isLessThan(1e-4);
                        }
                    }
                    oracle.close();
                }
            }
            // the kinds on outputs of rank above 2: full, trace and diagonal are neural-tangents' axes (the inner
            // axes stay paired); the kinds that project the logits need outputs [N, O]
            int[][][] kinds = {{{}, {}}, {{-1}, {}}, {{}, {-1}}};
            String[] names = {"full", "trace", "diagonal"};
            for (int k = 0; k < kinds.length; k++) {
                Tensor oracle = oracle(model, p, x1, x2, kinds[k][0], kinds[k][1]);
                for (Method m : METHODS) {
                    try (Tensor got = EmpiricalNtk.of(model, p).method(m).kernel(KernelKind.parse(names[k]), x1, x2)) {
                        String what = model.spec() + " kind " + names[k] + " " + m.shortName();
                        assertThat(got.shape()).as(what).isEqualTo(oracle.shape());
                        assertThat(EmpiricalNtkTest.relativeError(got, oracle)).as(what).isLessThan(1e-6);
                    }
                }
                oracle.close();
            }
            int[] out = model.outputShape(in);
            for (String kind : new String[] {"pntk", "pntk-unscaled", "logit:0"}) {
                org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> EmpiricalNtk.of(model, p).kernel(KernelKind.parse(kind), x1, x2))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("kind " + kind + ": needs outputs [N, O], the model gives [N] + "
                                + Shapes.str(out));
            }
        }
    }

    /**
     * The kinds full, trace and diagonal of the sequence model computed in tiles of 16 examples (a grid of 2 × 2
     * tiles, x2 given, and of x1 with itself) equal the oracle: the tiles carry the inner axes' pairs.
     */
    @Test
    void tiledKindsOnSequenceOutputs() {
        Model model = sequenceModel();
        int[] in = {4, 2};
        Params p = model.init(7, in, DType.F64);
        int[][][] kinds = {{{}, {}}, {{-1}, {}}, {{}, {-1}}};
        String[] names = {"full", "trace", "diagonal"};
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 8, Shapes.prepend(20, in));
             Tensor x2 = Tensor.randomNormal(DType.F64, 9, Shapes.prepend(18, in))) {
            for (Tensor second : new Tensor[] {x2, null}) {
                for (int k = 0; k < kinds.length; k++) {
                    KernelKind kind = KernelKind.parse(names[k]);
                    try (Tensor oracle = oracle(model, p, x1, second == null ? x1 : second, kinds[k][0],
                            kinds[k][1])) {
                        for (Method m : METHODS) {
                            EmpiricalNtk ntk = EmpiricalNtk.of(model, p).method(m);
                            TilePlan plan = TilePlanner.of(ntk, kind).tile(16).budget(1L << 30)
                                    .plan(20, second == null ? 0 : 18, in, DType.F64);
                            String what = names[k] + " " + m.shortName() + " " + plan.describe();
                            assertThat(plan.rowBounds()).as(what).containsExactly(0, 16, 20);
                            try (Tensor tiled = new TiledKernel(ntk, plan, x1, second).computeAll()) {
                                assertThat(tiled.shape()).as(what).isEqualTo(oracle.shape());
                                assertThat(EmpiricalNtkTest.relativeError(tiled, oracle)).as(what).isLessThan(1e-6);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * pntk, pntk-unscaled and logit:K on an fcn's [N, O] outputs against the finite-difference Jacobian rows J_k:
     * (1/O) Σ_{k,m} J_k(x1)·J_m(x2), Σ_{k,m} J_k(x1)·J_m(x2), J_K(x1)·J_K(x2); batches of 1 and 1, 2 and 3, and x2 =
     * x1; float64 to 1e-6 of the largest entry, float32 (the same parameters and inputs rounded) to 1e-4.
     */
    @Test
    void logitProjectionsAgainstFiniteDifferences() {
        Model model = Zoo.parse("fcn(depth=2,width=6,out=4,act=tanh)");
        int[] in = {3};
        int o = 4;
        Params p = model.init(11, in, DType.F64);
        Params p32 = rounded(p);
        int[][] sizes = {{1, 1}, {2, 3}, {1, 0}, {3, 0}};
        for (int[] s : sizes) {
            try (Tensor x1 = Tensor.randomNormal(DType.F64, 21, s[0], 3);
                 Tensor x2 = s[1] == 0 ? null : Tensor.randomNormal(DType.F64, 22, s[1], 3)) {
                double[][] j1 = EmpiricalNtkTest.fdJacobian(model, p, x1);
                double[][] j2 = x2 == null ? j1 : EmpiricalNtkTest.fdJacobian(model, p, x2);
                int n2 = x2 == null ? s[0] : s[1];
                for (String kind : new String[] {"pntk", "pntk-unscaled", "logit:0", "logit:3"}) {
                    Tensor oracle = Tensor.zeros(DType.F64, s[0], n2);
                    for (int a = 0; a < s[0]; a++) {
                        for (int b = 0; b < n2; b++) {
                            double v = 0;
                            for (int k = 0; k < o; k++) {
                                for (int l = 0; l < o; l++) {
                                    boolean used = kind.startsWith("pntk")
                                            || k == l && k == Integer.parseInt(kind.substring(6));
                                    v += used ? dot(j1[a * o + k], j2[b * o + l]) : 0;
                                }
                            }
                            oracle.set(kind.equals("pntk") ? v / o : v, a, b);
                        }
                    }
                    for (Method m : METHODS) {
                        String what = String.format("%s N1 %d x2 %s %s", kind, s[0], x2 == null ? "= x1" : s[1],
                                m.shortName());
                        try (Tensor got = EmpiricalNtk.of(model, p).method(m).kernel(KernelKind.parse(kind), x1, x2);
                             Tensor x132 = x1.to(DType.F32);
                             Tensor x232 = x2 == null ? null : x2.to(DType.F32);
                             Tensor got32 = EmpiricalNtk.of(model, p32).method(m).kernel(KernelKind.parse(kind),
                                     x132, x232);
                             Tensor widened = got32.to(DType.F64)) {
                            assertThat(got.shape()).as(what).containsExactly(s[0], n2);
                            assertThat(EmpiricalNtkTest.relativeError(got, oracle)).as(what).isLessThan(1e-6);
                            assertThat(got32.dtype()).as(what).isEqualTo(DType.F32);
                            assertThat(EmpiricalNtkTest.relativeError(widened, oracle)).as(what + " f32")
                                    .isLessThan(1e-4);
                        }
                    }
                    oracle.close();
                }
            }
        }
    }

    /** The parameters rounded to float32. */
    private static Params rounded(Params p) {
        Map<String, Tensor> rounded = new LinkedHashMap<>();
        p.tensors().forEach((k, v) -> rounded.put(k, v.to(DType.F32)));
        return new Params(rounded);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static boolean contains(int[] axes, int axis) {
        return Arrays.stream(axes).anyMatch(a -> a == axis);
    }

    /** neural-tangents' kernel of the finite-difference Jacobians, loop by loop (see the class comment). */
    static Tensor oracle(Model model, Params p, Tensor x1, Tensor x2, int[] traceAxes, int[] diagonalAxes) {
        double[][] j1 = EmpiricalNtkTest.fdJacobian(model, p, x1);
        double[][] j2 = x2 == x1 ? j1 : EmpiricalNtkTest.fdJacobian(model, p, x2);
        int[] per = model.outputShape(Shapes.dropFirst(x1.shape()));
        int[] f1 = Shapes.prepend(x1.dim(0), per);
        int[] f2 = Shapes.prepend(x2.dim(0), per);
        int rank = f1.length;
        boolean[] traced = new boolean[rank];
        boolean[] diagonal = new boolean[rank];
        for (int a : traceAxes) {
            traced[a < 0 ? a + rank : a] = true;
        }
        for (int a : diagonalAxes) {
            diagonal[a < 0 ? a + rank : a] = true;
        }
        List<Integer> shape = new ArrayList<>();
        long size = 1;
        for (int a = 0; a < rank; a++) {
            if (traced[a]) {
                size *= f1[a];
            } else {
                shape.add(f1[a]);
                if (!diagonal[a]) {
                    shape.add(f2[a]);
                }
            }
        }
        Tensor k = Tensor.zeros(DType.F64, shape.stream().mapToInt(Integer::intValue).toArray());
        int[] i1 = new int[rank];
        int[] i2 = new int[rank];
        int[] at = new int[shape.size()];
        for (int r1 = 0; r1 < j1.length; r1++) {
            unravel(r1, f1, i1);
            for (int r2 = 0; r2 < j2.length; r2++) {
                unravel(r2, f2, i2);
                boolean pairs = true;
                int pos = 0;
                for (int a = 0; a < rank; a++) {
                    if (traced[a] || diagonal[a]) {
                        pairs &= i1[a] == i2[a];
                    }
                    if (!traced[a]) {
                        at[pos++] = i1[a];
                        if (!diagonal[a]) {
                            at[pos++] = i2[a];
                        }
                    }
                }
                if (pairs) {
                    k.set(k.get(at) + dot(j1[r1], j2[r2]) / size, at);
                }
            }
        }
        return k;
    }

    private static void unravel(int flat, int[] shape, int[] index) {
        for (int a = shape.length - 1; a >= 0; a--) {
            index[a] = flat % shape[a];
            flat /= shape[a];
        }
    }
}

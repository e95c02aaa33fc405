package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.primitive.ConvInputGradMul;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The fused input gradient ({@link ConvInputGradMul}, put in place by {@code InputGradProducts} in the per-example
 * pass) on networks whose convolutions take each path of its kernel: unit strides (the product fused into the
 * planes' copy-out), strides 2 with uneven explicit padding and a 1×1 filter (computed, then multiplied), 1-D
 * convolutions, grouped and depthwise ones (their gradient is not a {@code conv_input_grad}: not fused). For each: the
 * structured-derivatives and Jacobian-contraction kernels (which read the rewritten pass) equal NTK-vector
 * products' (which differentiate the forward graph and never see the rewrite) in float64 to 1e-12 and in float32
 * to 1e-5; and the rewritten pass evaluates exactly as the same graph with each fused step spelled out again as
 * {@code conv_input_grad → reshape → mul} (an independent composition of the unfused kernels).
 */
class FusedInputGradientTest {
    private static final int N = 4;

    private static Layer conv(int out, int[] filter, int[] strides, int[][] pad, int groups) {
        return Layers.conv(out, filter, strides, pad, groups, 1.3, 0.2, Parameterization.NTK);
    }

    private static final int[][] SAME2 = {{1, 1}, {1, 1}};

    /** Unit strides, 3×3 SAME then an even filter with uneven padding: every relu product is fusable. */
    private static Model unitStrides() {
        return new Model(Layers.serial(conv(4, new int[] {3, 3}, new int[] {1, 1}, SAME2, 1), Layers.relu(),
                conv(5, new int[] {3, 3}, new int[] {1, 1}, SAME2, 1), Layers.relu(),
                conv(3, new int[] {2, 2}, new int[] {1, 1}, new int[][] {{0, 1}, {1, 0}}, 1), Layers.relu(),
                Layers.globalAvgPool(), Layers.dense(3)), "unit strides");
    }

    /** Strides 2 below a relu: the fused primitive's kernel multiplies after the strided path. */
    private static Model strided() {
        return new Model(Layers.serial(conv(4, new int[] {3, 3}, new int[] {2, 2}, SAME2, 1), Layers.relu(),
                conv(3, new int[] {3, 3}, new int[] {2, 1}, new int[][] {{1, 0}, {0, 2}}, 1), Layers.relu(),
                conv(3, new int[] {1, 1}, new int[] {1, 1}, new int[][] {{0, 0}, {0, 0}}, 1), Layers.relu(),
                Layers.flatten(), Layers.dense(3)), "strided");
    }

    /** 1-D convolutions over [W, C]. */
    private static Model oneD() {
        return new Model(Layers.serial(conv(3, new int[] {3}, new int[] {1}, new int[][] {{1, 1}}, 1),
                Layers.relu(), conv(4, new int[] {2}, new int[] {1}, new int[][] {{0, 1}}, 1), Layers.relu(),
                conv(2, new int[] {3}, new int[] {2}, new int[][] {{1, 1}}, 1), Layers.relu(), Layers.flatten(),
                Layers.dense(3)), "1-D");
    }

    /** Grouped and depthwise convolutions below relus, between ordinary ones. */
    private static Model grouped() {
        return new Model(Layers.serial(conv(4, new int[] {3, 3}, new int[] {1, 1}, SAME2, 1), Layers.relu(),
                conv(4, new int[] {3, 3}, new int[] {1, 1}, SAME2, 2), Layers.relu(),
                conv(4, new int[] {3, 3}, new int[] {1, 1}, SAME2, 4), Layers.relu(),
                conv(3, new int[] {3, 3}, new int[] {1, 1}, SAME2, 1), Layers.relu(),
                Layers.globalAvgPool(), Layers.dense(3)), "grouped");
    }

    private static long fused(Graph g) {
        return g.equations().stream().filter(e -> e.primitive() instanceof ConvInputGradMul).count();
    }

    /** {@code g} with each conv_input_grad_mul written as conv_input_grad, reshape [B/M, M, ...], mul, reshape. */
    private static Graph unfused(Graph g) {
        GraphBuilder b = new GraphBuilder();
        Map<Var, Var> now = new IdentityHashMap<>();
        for (Var x : g.inputs()) {
            now.put(x, b.input(x.type()));
        }
        for (Map.Entry<Var, Tensor> c : g.constants().entrySet()) {
            now.put(c.getKey(), b.constant(c.getValue()));
        }
        for (Equation e : g.equations()) {
            Var[] in = new Var[e.inputs().size()];
            for (int i = 0; i < in.length; i++) {
                in[i] = now.get(e.inputs().get(i));
            }
            if (e.primitive() instanceof ConvInputGradMul p) {
                Var u = b.apply(p.inputGrad(), in[0], in[1]);
                int m = in[2].dim(0);
                Var u5 = u.reshape(Shapes.concat(new int[] {u.dim(0) / m}, in[2].shape()));
                now.put(e.output(), u5.mul(in[2]).reshape(u.shape()));
            } else {
                now.put(e.output(), b.apply(e.primitive(), in));
            }
        }
        Var[] outs = new Var[g.outputs().size()];
        for (int i = 0; i < outs.length; i++) {
            outs[i] = now.get(g.outputs().get(i));
        }
        return b.build(outs);
    }

    /**
     * The three methods' kernels (float64 to 1e-12, float32 to 1e-5, relative to the largest entry) against
     * NTK-vector products', which never read the rewritten pass; x2 of another batch size as well.
     */
    private static void methodsAgree(Model model, int[] in, DType dt, double tol) {
        try (Params p = model.init(3, in, dt);
             Tensor x1 = Tensor.randomNormal(dt, 5, Shapes.prepend(N, in));
             Tensor x2 = Tensor.randomNormal(dt, 6, Shapes.prepend(N - 1, in))) {
            for (Tensor other : new Tensor[] {null, x2}) {
                for (KernelKind kind : new KernelKind[] {KernelKind.full(), KernelKind.parse("trace", 0)}) {
                    try (Tensor vp = EmpiricalNtk.of(model, p).method(Method.NTK_VECTOR_PRODUCTS)
                            .kernel(kind, x1, other)) {
                        double largest = 0;
                        for (double v : vp.toDoubleArray()) {
                            largest = Math.max(largest, Math.abs(v));
                        }
                        assertThat(largest).as("%s: a kernel that is not all zero", model).isGreaterThan(1e-3);
                        for (Method m : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION}) {
                            try (Tensor got = EmpiricalNtk.of(model, p).method(m).kernel(kind, x1, other)) {
                                assertThat(Fixtures.relativeError(got.toDoubleArray(), vp.toDoubleArray(), 1e-300))
                                        .as("%s %s %s, x2 %s vs vp", model, dt, m.shortName(),
                                                other == null ? "= x1" : "N-1")
                                        .isLessThan(tol);
                            }
                        }
                    }
                }
            }
        }
    }

    /** The rewritten pass against itself spelled out without the fused steps: equal to 1e-13 (float64). */
    private static void passMatchesUnfused(Model model, int[] in, long expectFused) {
        SidePlan side = SidePlan.of(model, N, in, DType.F64);
        Graph pass = side.pass().graph;
        assertThat(fused(pass)).as("%s: fused steps", model).isEqualTo(expectFused);
        Graph plain = unfused(pass);
        assertThat(fused(plain)).isZero();
        Tensor[] x = DerivativeCheck.randomInputs(pass, 11);
        Tensor[] a = pass.evaluate(x);
        Tensor[] b = plain.evaluate(x);
        try {
            assertThat(a).hasSameSizeAs(b);
            for (int i = 0; i < a.length; i++) {
                assertThat(a[i].shape()).isEqualTo(b[i].shape());
                assertThat(Fixtures.relativeError(a[i].toDoubleArray(), b[i].toDoubleArray(), 1e-300))
                        .as("%s output %d", model, i).isLessThanOrEqualTo(1e-13);
            }
        } finally {
            for (Tensor[] ts : List.of(x, a, b)) {
                for (Tensor t : ts) {
                    t.close();
                }
            }
        }
    }

    @Test
    void unitStridesFuseAndAgree() {
        Model m = unitStrides();
        int[] in = {6, 5, 2};
        passMatchesUnfused(m, in, 2);
        methodsAgree(m, in, DType.F64, 1e-12);
        methodsAgree(m, in, DType.F32, 1e-5);
    }

    @Test
    void stridedConvolutionsAgree() {
        Model m = strided();
        int[] in = {9, 8, 2};
        passMatchesUnfused(m, in, 2);
        methodsAgree(m, in, DType.F64, 1e-12);
        methodsAgree(m, in, DType.F32, 1e-5);
    }

    @Test
    void oneDimensionalConvolutionsAgree() {
        Model m = oneD();
        int[] in = {11, 2};
        passMatchesUnfused(m, in, 2);
        methodsAgree(m, in, DType.F64, 1e-12);
        methodsAgree(m, in, DType.F32, 1e-5);
    }

    @Test
    void groupedAndDepthwiseConvolutionsAgree() {
        Model m = grouped();
        int[] in = {5, 5, 4};
        passMatchesUnfused(m, in, 1);
        methodsAgree(m, in, DType.F64, 1e-12);
        methodsAgree(m, in, DType.F32, 1e-5);
    }
}

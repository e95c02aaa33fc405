package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Linearized;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A user porting a neural-tangents script: ntk4j's empirical kernels, NNGP, NTK-vector products, parameterisations and
 * Taylor expansions against nt_parity_oracle.txt, written by the test resource nt_parity_oracle.py, which re-implements
 * neural-tangents' semantics (stax's Dense and Conv in both parameterisations, empirical_ntk_fn's trace_axes /
 * diagonal_axes layout and mean, empirical_ntk_vp_fn, linearize, taylor_expand) in PyTorch float64 with functorch's
 * jacrev and jvp. Same parameters and inputs (read from the file), every method, tolerance 1e-11 of the largest entry
 * (different summation orders).
 */
class NeuralTangentsParityTest {
    private static final double TOL = 1e-11;
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES, Method.AUTO};
    private static org.ntk4j.OracleTensors oracle;
    private static final Map<String, Model> MODELS = new LinkedHashMap<>();

    @BeforeAll
    static void load() throws IOException {
        oracle = org.ntk4j.OracleTensors.load(NeuralTangentsParityTest.class, "nt_parity_oracle.txt");
        for (Parameterization p : Parameterization.values()) {
            String name = p.name().toLowerCase(java.util.Locale.ROOT);
            MODELS.put("fcn-" + name, Zoo.parse("fcn(depth=1,width=5,out=3,act=tanh,w_std=1.5,b_std=0.05,param="
                    + name + ")"));
            MODELS.put("conv-" + name, new Model(Layers.serial(
                    Layers.conv(3, new int[] {2, 3}, new int[] {1, 2}, "SAME", 1.3, 0.2, p), Layers.erf(),
                    Layers.conv(2, new int[] {3, 2}, new int[] {1, 1}, "VALID", 0.9, 0.1, p)), "conv-" + name));
        }
        // stax's b_std=0. under the standard parameterisation keeps trainable biases (at 0): a tiny σ_b ports it
        MODELS.put("fcn-standard-b0", Zoo.parse("fcn(depth=1,width=5,out=3,act=tanh,w_std=1.5,b_std=1e-300,"
                + "param=standard)"));
    }

    @AfterAll
    static void close() {
        oracle.close();
    }

    /** The oracle's parameters of {@code net} ("param" or "shifted"), checked against the model's own list. */
    private static Params params(String net, String kind) {
        Model m = MODELS.get(net);
        Map<String, Tensor> map = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        for (ParamSpec s : m.paramSpecs(perExample(net))) {
            Tensor t = oracle.get(kind + " " + net + ":" + s.path());
            assertThat(t.shape()).as(s.path()).isEqualTo(s.shape());
            map.put(s.path(), t.copy());
            names.add(s.path());
        }
        assertThat(oracle.entries().keySet().stream().filter(k -> k.startsWith(kind + " " + net + ":")))
                .hasSize(names.size());
        return new Params(map);
    }

    private static int[] perExample(String net) {
        return net.startsWith("fcn") ? new int[] {4} : new int[] {5, 6, 2};
    }

    private static Tensor input(String net, String name) {
        return oracle.get("input " + net.substring(0, net.indexOf('-')) + ":" + name);
    }

    private static void assertClose(String what, Tensor actual, Tensor expected) {
        assertThat(actual.shape()).as(what + " shape").isEqualTo(expected.shape());
        double scale = 0;
        for (int i = 0; i < expected.size(); i++) {
            scale = Math.max(scale, Math.abs(expected.getFlat(i)));
        }
        assertThat(scale).as(what + ": a trivial oracle").isGreaterThan(1e-3);
        for (int i = 0; i < expected.size(); i++) {
            assertThat(Math.abs(actual.getFlat(i) - expected.getFlat(i))).as("%s entry %d: %s vs %s", what, i,
                    actual.getFlat(i), expected.getFlat(i)).isLessThanOrEqualTo(TOL * scale);
        }
    }

    /** "t1.3_d0" to {{1, 3}, {0}}. */
    private static int[][] axesOf(String name) {
        String[] td = name.split("_");
        return new int[][] {axisList(td[0].substring(1)), axisList(td[1].substring(1))};
    }

    private static int[] axisList(String s) {
        return s.equals("none") ? new int[0] : Arrays.stream(s.split("\\.")).mapToInt(Integer::parseInt).toArray();
    }

    /**
     * The axes as a user might write them: every other one negative (counting from the end), and listed in reverse
     * order for every other combination (neural-tangents' result does not depend on either).
     */
    private static int[] asWritten(int[] axes, int rank, int variant) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            int a = axes[variant % 2 == 0 ? i : axes.length - 1 - i];
            r[i] = (a + variant) % 2 == 0 ? a : a - rank;
        }
        return r;
    }

    @Test
    void everyTraceAndDiagonalCombinationHasNeuralTangentsLayoutAndValues() {
        int cases = 0;
        for (String net : MODELS.keySet()) {
            Model model = MODELS.get(net);
            int rank = model.outputShape(perExample(net)).length + 1;
            try (Params p = params(net, "param")) {
                int variant = 0;
                for (Map.Entry<String, Tensor> e : oracle.entries().entrySet()) {
                    String[] key = e.getKey().split("[ :]");
                    if (!key[1].equals(net) || !(key[0].equals("ntk") || key[0].equals("nngp"))) {
                        continue;
                    }
                    int[][] axes = axesOf(key[4]);
                    variant++;
                    EmpiricalNtk k = EmpiricalNtk.of(model, p).traceAxes(asWritten(axes[0], rank, variant))
                            .diagonalAxes(asWritten(axes[1], rank, variant));
                    Tensor x1 = input(net, key[2]);
                    Tensor x2 = key[3].equals("x1") ? null : input(net, key[3]);
                    String what = e.getKey() + " " + Arrays.toString(asWritten(axes[0], rank, variant)) + " / "
                            + Arrays.toString(asWritten(axes[1], rank, variant));
                    if (key[0].equals("nngp")) {
                        try (Tensor got = k.nngp(x1, x2)) {
                            assertClose(what, got, e.getValue());
                        }
                    } else {
                        for (Method m : METHODS) {
                            try (Tensor got = k.method(m).ntk(x1, x2)) {
                                assertClose(what + " by " + m, got, e.getValue());
                            }
                        }
                    }
                    cases++;
                }
            }
        }
        // conv-ntk: 81 combinations against x2 and x1, 27 against x3, 7 of them for the NNGP too
        assertThat(cases).isGreaterThan(2 * 81 + 27);
    }

    @Test
    void ntkVectorProductsAreTheKernelTimesTheVector() {
        for (String net : MODELS.keySet()) {
            Model model = MODELS.get(net);
            try (Params p = params(net, "param")) {
                for (String other : new String[] {"x3", "x1"}) {
                    Tensor x2 = other.equals("x1") ? null : input(net, other);
                    Tensor v = oracle.get("vector " + net + ":" + other);
                    try (Tensor got = EmpiricalNtk.of(model, p).ntkVectorProduct(input(net, "x1"), x2, v)) {
                        assertClose(net + " Θ(x1, " + other + ")·v", got, oracle.get("ntk_vp " + net + ":x1:" + other));
                    }
                }
            }
        }
    }

    @Test
    void linearizeAndTaylor2AtAShiftedPointAreNeuralTangentsExpansions() {
        for (String net : new String[] {"fcn-ntk", "conv-ntk"}) {
            Model model = MODELS.get(net);
            Tensor x1 = input(net, "x1");
            try (Params p0 = params(net, "param"); Params shifted = params(net, "shifted")) {
                Model lin = Linearized.linearize(model, p0);
                Model quad = Linearized.taylor2(model, p0);
                try (Tensor f = lin.apply(shifted, x1)) {
                    assertClose(net + " linearize: f0 + J·Δθ", f, oracle.get("expansion " + net + ":linearize"));
                }
                try (Tensor f = quad.apply(shifted, x1)) {
                    assertClose(net + " taylor2: f0 + J·Δθ + ½ Δθᵀ∇²f Δθ", f,
                            oracle.get("expansion " + net + ":taylor2"));
                }
                // the eNTK of the second-order expansion away from θ0: (J0 + ∇²f0[Δθ]) (J0 + ∇²f0[Δθ])ᵀ
                for (Method m : METHODS) {
                    try (Tensor k = EmpiricalNtk.of(quad, shifted).traceAxes().method(m).ntk(x1, input(net, "x3"))) {
                        assertClose(net + " taylor2 eNTK by " + m, k,
                                oracle.get("expansion_ntk " + net + ":taylor2:x1:x3"));
                    }
                }
                // the linearised model's eNTK at the shifted point is the network's at θ0
                try (Tensor k = EmpiricalNtk.of(lin, shifted).traceAxes().ntk(x1, input(net, "x3"))) {
                    assertClose(net + " linearize eNTK", k, oracle.get("ntk " + net + ":x1:x3:tnone_dnone"));
                }
            }
        }
    }

    /**
     * Axis arguments out of range, repeated (also as a negative and a non-negative number) or both traced and
     * diagonal: one line naming the argument, the axes as given, and what is expected; from the kernel, the NNGP and
     * the cost model alike.
     */
    @Test
    void badAxisArgumentsAreRefusedInOneLineNamingTheArgument() {
        String net = "conv-ntk";
        Model model = MODELS.get(net);
        Tensor x1 = input(net, "x1");
        Object[][] cases = {
            {new int[] {4}, new int[0], "trace axes [4]: axis 4 is out of range for f(x) of rank 4 (expected -4 <= "
                + "axis < 4, the batch axis included)"},
            {new int[] {-1}, new int[] {-5}, "diagonal axes [-5]: axis -5 is out of range for f(x) of rank 4"},
            {new int[] {1, -3}, new int[0], "trace axes [1, -3]: 1 and -3 both name axis 1 of f(x) (rank 4); list "
                + "each axis once"},
            {new int[0], new int[] {0, 2, 0}, "diagonal axes [0, 2, 0]: 0 and 0 both name axis 0"},
            {new int[] {-1}, new int[] {3}, "trace axes [-1] and diagonal axes [3] both name axis 3 of f(x) (rank "
                + "4); an axis is either traced or diagonal"},
        };
        try (Params p = params(net, "param")) {
            for (Object[] c : cases) {
                EmpiricalNtk k = EmpiricalNtk.of(model, p).traceAxes((int[]) c[0]).diagonalAxes((int[]) c[1]);
                for (org.assertj.core.api.ThrowableAssert.ThrowingCallable call
                        : new org.assertj.core.api.ThrowableAssert.ThrowingCallable[] {() -> k.ntk(x1, null),
                            () -> k.nngp(x1, x1), () -> k.costModel(2, 0, perExample(net), x1.dtype())}) {
                    org.assertj.core.api.Assertions.assertThatThrownBy(call)
                            .isInstanceOf(IllegalArgumentException.class)
                            .hasMessageStartingWith((String) c[2]).hasMessageNotContaining("\n");
                }
            }
            // diagonal axes alone keep the default trace (-1), as neural-tangents' diagonal_axes=(-1,) does: overlap
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> EmpiricalNtk.of(model, p).diagonalAxes(-1)
                    .ntk(x1, null)).hasMessageContaining("both name axis 3");
            try (Tensor k = EmpiricalNtk.of(model, p).traceAxes().diagonalAxes(-1).ntk(x1, null)) {
                assertThat(k.shape()).containsExactly(2, 2, 3, 3, 2, 2, 2);
            }
        }
    }

    @Test
    void ntkVectorProductRefusesAVectorNotShapedLikeFOfX2() {
        String net = "fcn-ntk";
        try (Params p = params(net, "param")) {
            EmpiricalNtk k = EmpiricalNtk.of(MODELS.get(net), p);
            Tensor x1 = input(net, "x1");
            Tensor x3 = input(net, "x3");
            // f(x1) is [2, 3], f(x3) [3, 3]: a vector shaped like f(x1), flat, or stacked is refused
            for (int[] shape : new int[][] {{2, 3}, {9}, {1, 3, 3}, {3, 3, 1}}) {
                try (Tensor v = Tensor.zeros(x1.dtype(), shape)) {
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> k.ntkVectorProduct(x1, x3, v))
                            .isInstanceOf(IllegalArgumentException.class)
                            .hasMessageStartingWith("ntk_vector_product: v must be f64[3,3] (the shape of f(x2)), got")
                            .hasMessageNotContaining("\n");
                }
            }
            try (Tensor v = Tensor.zeros(DType.F32, 3, 3)) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> k.ntkVectorProduct(x1, x3, v))
                        .hasMessageStartingWith("ntk_vector_product: v must be f64[3,3]");
            }
        }
    }

    @Test
    void outputsOfBothParameterisationsMatchStax() {
        for (String net : MODELS.keySet()) {
            try (Params p = params(net, "param"); Tensor f = MODELS.get(net).apply(p, input(net, "x1"))) {
                assertClose(net + " f(x1)", f, oracle.get("output " + net + ":x1"));
            }
        }
    }
}

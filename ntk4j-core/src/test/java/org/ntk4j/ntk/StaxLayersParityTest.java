package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The stax layers {@link NeuralTangentsParityTest} leaves out, as a user porting a stax network writes them:
 * AvgPool with SAME padding (stax's {@code normalize_edges=False}: the padding counts, every window divided by its
 * size; strides given, stax's default being 1), GlobalAvgPool, Flatten, LayerNorm ({@link Layers#layerNormStax()}:
 * no parameters, ε = 1e-12), Gelu (exact), Erf, Tanh. Outputs, the full kernel ({@code trace_axes=()}) and the
 * default traced one, x2 = x1 and x2 ≠ x1, every method, against nt_stax_layers_oracle.txt (written by
 * nt_stax_layers_oracle.py from stax's definitions in PyTorch float64 with functorch's jacrev), to 1e-11 of the
 * largest entry.
 */
class StaxLayersParityTest {
    private static final double TOL = 1e-11;
    private static org.ntk4j.OracleTensors oracle;
    private static final int[] IN = {5, 6, 2};

    @BeforeAll
    static void load() throws IOException {
        oracle = org.ntk4j.OracleTensors.load(StaxLayersParityTest.class, "nt_stax_layers_oracle.txt");
    }

    @AfterAll
    static void close() {
        oracle.close();
    }

    private static Model model(String net) {
        Parameterization ntk = Parameterization.NTK;
        if (net.equals("pool")) {
            return new Model(Layers.serial(Layers.conv(3, new int[] {3, 3}, new int[] {1, 1}, "SAME", 1.3, 0.2, ntk),
                    Layers.erf(), Layers.avgPool(new int[] {2, 2}, new int[] {2, 2}, "SAME"), Layers.layerNormStax(),
                    Layers.flatten(), Layers.dense(3, 1.5, 0.05, ntk)), "stax-pool");
        }
        return new Model(Layers.serial(Layers.conv(4, new int[] {2, 2}, new int[] {1, 1}, "VALID", 1.3, 0.2, ntk),
                Layers.tanh(), Layers.avgPool(new int[] {3, 3}, new int[] {1, 1}, "SAME"), Layers.globalAvgPool(),
                Layers.dense(5, 1.5, 0.05, ntk), Layers.layerNormStax(), Layers.gelu(),
                Layers.dense(3, 1.5, 0.05, ntk)), "stax-gap");
    }

    /** The oracle's parameters of {@code net}, exactly the model's (no scale or shift for the layer norm). */
    private static Params params(String net, Model m) {
        Map<String, Tensor> map = new LinkedHashMap<>();
        for (ParamSpec s : m.paramSpecs(IN)) {
            Tensor t = oracle.get("param " + net + ":" + s.path());
            assertThat(t.shape()).as(s.path()).isEqualTo(s.shape());
            map.put(s.path(), t.copy());
        }
        assertThat(oracle.entries().keySet().stream().filter(k -> k.startsWith("param " + net + ":")))
                .hasSize(map.size());
        return new Params(map);
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

    @ParameterizedTest
    @ValueSource(strings = {"pool", "gap"})
    void outputsAndKernelsEqualStaxs(String net) {
        Model m = model(net);
        try (Params p = params(net, m)) {
            Tensor x1 = oracle.get("input x1");
            Tensor x2 = oracle.get("input x2");
            try (Tensor f = m.apply(p, x1)) {
                assertClose(net + " outputs", f, oracle.get("output " + net + ":x1"));
            }
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES, Method.AUTO}) {
                EmpiricalNtk e = EmpiricalNtk.of(m, p).method(method);
                for (String other : new String[] {"x1", "x2"}) {
                    Tensor second = other.equals("x1") ? null : x2;
                    String key = net + ":x1:" + other;
                    try (Tensor full = e.traceAxes().ntk(x1, second);
                         Tensor traced = e.ntk(x1, second)) {
                        assertClose(key + " full, " + method, full, oracle.get("ntk " + key + ":full"));
                        assertClose(key + " trace, " + method, traced, oracle.get("ntk " + key + ":trace"));
                    }
                }
            }
        }
    }
}

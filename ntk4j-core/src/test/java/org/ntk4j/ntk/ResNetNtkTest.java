package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Graph;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The ImageNet ResNets' new layers (inference-mode batch norm with non-default running statistics, max pooling,
 * strided 7×7 and 3×3 convolutions with explicit padding, 1×1 projection shortcuts, bottlenecks, and a
 * MobileNet-style block of depthwise and grouped convolutions) under every
 * exact method, float64, on tiny widths with 32×32×3 inputs and O = 10: Jacobian contraction, NTK-vector
 * products and structured derivatives agree to 1e-10 with each other and with an oracle built from the
 * plain reverse-mode Jacobian of the traced graph ({@link Vjp}, N·O one-hot cotangents, summed over every
 * parameter by hand), whose columns are in turn checked against central finite differences of the forward pass
 * on a subset of the parameters (three elements of every tensor).
 */
class ResNetNtkTest {
    static Stream<String> models() {
        return Stream.of("resnet18(width=2,out=10)", "resnet50(width=2,out=10)", "depthwise-block");
    }

    /**
     * A MobileNet-style network: conv 3×3/2 (4), bn, relu, depthwise conv 3×3 (groups 4, 8 channels), bn, relu,
     * grouped 1×1 conv (groups 2), bn, relu, max pool, global average pool, dense(10).
     */
    static Model depthwiseBlock() {
        Parameterization p = Parameterization.STANDARD;
        int[] k3 = {3, 3};
        int[] k1 = {1, 1};
        int[][] pad1 = {{1, 1}, {1, 1}};
        int[][] pad0 = {{0, 0}, {0, 0}};
        return new Model(Layers.serial(Layers.conv(4, k3, new int[] {2, 2}, pad1, 1.4, 0, p), Layers.batchNormEval(),
                Layers.relu(), Layers.conv(8, k3, new int[] {1, 1}, pad1, 4, 1.4, 0, p), Layers.batchNormEval(),
                Layers.relu(), Layers.conv(6, k1, new int[] {1, 1}, pad0, 2, 1.4, 0, p), Layers.batchNormEval(),
                Layers.relu(), Layers.maxPool(k3, new int[] {2, 2}, pad1), Layers.globalAvgPool(),
                Layers.dense(10, 1.0, 0.1, p)), "depthwise-block");
    }

    /** Random running statistics (mean ~ 0.3 N(0, 1), variance in [0.5, 1.5)) for every buffer. */
    static Map<String, Tensor> randomBuffers(Model m, int[] in) {
        Map<String, Tensor> b = new LinkedHashMap<>();
        Random r = new Random(5);
        for (ParamSpec s : m.bufferSpecs(in)) {
            Tensor t = Tensor.zeros(DType.F64, s.shape());
            for (int i = 0; i < t.size(); i++) {
                t.setFlat(i, s.path().endsWith("running_var") ? 0.5 + r.nextDouble() : 0.3 * r.nextGaussian());
            }
            b.put(s.path(), t);
        }
        return b;
    }

    /** J [N·O, P] (rows (n, o), columns the parameters in declaration order) by reverse mode on the traced graph. */
    static double[][] jacobian(Model m, Params p, Tensor x) {
        int[] in = Shapes.dropFirst(x.shape());
        int n = x.dim(0);
        int o = m.outputShape(in)[0];
        List<ParamSpec> specs = m.paramSpecs(in);
        Graph g = m.trace(n, in, DType.F64);
        boolean[] wrt = new boolean[specs.size() + 1];
        java.util.Arrays.fill(wrt, 0, specs.size(), true);
        Graph vjp = Vjp.of(g, n * o, wrt);
        Tensor[] args = new Tensor[specs.size() + 2];
        for (int i = 0; i < specs.size(); i++) {
            args[i] = p.get(specs.get(i).path());
        }
        args[specs.size()] = x;
        Tensor c = Tensor.zeros(DType.F64, n * o, n, o);
        for (int a = 0; a < n; a++) {
            for (int q = 0; q < o; q++) {
                c.set(1, a * o + q, a, q);
            }
        }
        args[specs.size() + 1] = c;
        Tensor[] out = vjp.evaluate(args);
        int cols = 0;
        for (ParamSpec s : specs) {
            cols += s.size();
        }
        double[][] j = new double[n * o][cols];
        int col = 0;
        for (int i = 0; i < specs.size(); i++) {
            Tensor g1 = out[1 + i];
            int size = specs.get(i).size();
            for (int r = 0; r < n * o; r++) {
                for (int e = 0; e < size; e++) {
                    j[r][col + e] = g1.getFlat(r * size + e);
                }
            }
            col += size;
        }
        for (Tensor t : out) {
            t.close();
        }
        c.close();
        return j;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void methodsAgreeWithEachOtherAndWithTheJacobianOracle(String spec) {
        int[] in = {32, 32, 3};
        Model base = spec.equals("depthwise-block") ? depthwiseBlock() : Zoo.parse(spec);
        Map<String, Tensor> buffers = randomBuffers(base, in);
        Model m = base.withBuffers(buffers);
        try (Params p = m.init(3, in, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, 2, 32, 32, 3);
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, 2, 32, 32, 3)) {
            // batch norm's scale and shift away from their (1, 0) initialisation
            Random r = new Random(9);
            for (Map.Entry<String, Tensor> e : p.tensors().entrySet()) {
                if (e.getKey().endsWith("scale") || e.getKey().endsWith("shift")) {
                    for (int i = 0; i < e.getValue().size(); i++) {
                        e.getValue().setFlat(i, e.getValue().getFlat(i) + 0.3 * r.nextGaussian());
                    }
                }
            }
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes();
            // inference-mode batch norm keeps examples independent: the per-example path and tiling apply
            assertThat(m.independentExamples()).isTrue();
            assertThat(ntk.tileable(in, DType.F64)).isTrue();
            Tensor jc = ntk.method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2);
            Tensor vp = ntk.method(Method.NTK_VECTOR_PRODUCTS).ntk(x1, x2);
            Tensor sd = ntk.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, x2);
            Tensor auto = ntk.method(Method.AUTO).ntk(x1, x2);
            assertThat(jc.shape()).containsExactly(2, 2, 10, 10);
            assertThat(EmpiricalNtkTest.relativeError(vp, jc)).as("vp vs jc").isLessThan(1e-10);
            assertThat(EmpiricalNtkTest.relativeError(sd, jc)).as("sd vs jc").isLessThan(1e-10);
            assertThat(EmpiricalNtkTest.relativeError(auto, jc)).as("auto vs jc").isLessThan(1e-10);

            double[][] j1 = jacobian(m, p, x1);
            double[][] j2 = jacobian(m, p, x2);
            Tensor oracle = Tensor.zeros(DType.F64, 2, 2, 10, 10);
            for (int a = 0; a < 2; a++) {
                for (int b = 0; b < 2; b++) {
                    for (int oa = 0; oa < 10; oa++) {
                        for (int ob = 0; ob < 10; ob++) {
                            double s = 0;
                            double[] r1 = j1[a * 10 + oa];
                            double[] r2 = j2[b * 10 + ob];
                            for (int q = 0; q < r1.length; q++) {
                                s += r1[q] * r2[q];
                            }
                            oracle.set(s, a, b, oa, ob);
                        }
                    }
                }
            }
            assertThat(EmpiricalNtkTest.relativeError(jc, oracle)).as("jc vs the reverse-mode oracle")
                    .isLessThan(1e-10);

            // the oracle's columns against central differences, three elements of every parameter tensor
            double eps = 1e-6;
            int col = 0;
            double worst = 0;
            double scale = 0;
            for (ParamSpec s : m.paramSpecs(in)) {
                Tensor w = p.get(s.path());
                for (int e : new int[] {0, w.size() / 2, w.size() - 1}) {
                    double orig = w.getFlat(e);
                    w.setFlat(e, orig + eps);
                    Tensor fp = m.apply(p, x1);
                    w.setFlat(e, orig - eps);
                    Tensor fm = m.apply(p, x1);
                    w.setFlat(e, orig);
                    double num = 0;
                    double den = 0;
                    for (int q = 0; q < fp.size(); q++) {
                        double fd = (fp.getFlat(q) - fm.getFlat(q)) / (2 * eps);
                        num = Math.max(num, Math.abs(fd - j1[q][col + e]));
                        den = Math.max(den, Math.abs(fd));
                    }
                    worst = Math.max(worst, num);
                    scale = Math.max(scale, den);
                    fp.close();
                    fm.close();
                }
                col += s.size();
            }
            // max |J - J_fd| over the checked columns relative to their largest entry (a per-column scale would
            // divide the forward pass's rounding, ~1e-16·|f|/ε, by columns near 0)
            assertThat(worst / scale).as("reverse-mode Jacobian columns vs central differences").isLessThan(1e-6);
            for (Tensor t : new Tensor[] {jc, vp, sd, auto, oracle}) {
                t.close();
            }
        } finally {
            buffers.values().forEach(Tensor::close);
        }
    }
}

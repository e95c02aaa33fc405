package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** The N×N kinds against the full kernel they approximate or summarise. */
class KernelKindTest {
    static Stream<Object[]> models() {
        return Stream.of(
                new Object[] {"fcn(depth=2,width=6,out=4)", new int[] {5}},
                new Object[] {"cnn(depth=1,channels=3,out=4,act=erf)", new int[] {4, 4}},
                new Object[] {"resnet(blocks=1,channels=2,out=3)", new int[] {4, 4}},
                new Object[] {"transformer(layers=1,dim=4,heads=2,out=3)", new int[] {3, 2}});
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void kindsEqualTheirDefinitionsOnTheFullKernel(String spec, int[] in) {
        Model m = Zoo.parse(spec);
        Params p = m.init(4, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(3, in));
        Tensor x2 = Tensor.randomNormal(DType.F64, 6, Shapes.prepend(2, in));
        Tensor full = EmpiricalNtk.of(m, p).kernel(KernelKind.full(), x1, x2); // [3, 2, O, O]
        int o = full.dim(2);
        for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES, Method.AUTO}) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method);
            Tensor pntk = ntk.kernel(KernelKind.parse("pntk", 0), x1, x2);
            Tensor unscaled = ntk.kernel(KernelKind.parse("pntk-unscaled", 0), x1, x2);
            Tensor trace = ntk.kernel(KernelKind.parse("trace", 0), x1, x2);
            Tensor diagonal = ntk.kernel(KernelKind.parse("diagonal", 0), x1, x2);
            Tensor logit = ntk.kernel(KernelKind.parse("logit:" + (o - 1), 0), x1, x2);
            assertThat(pntk.shape()).containsExactly(3, 2);
            assertThat(diagonal.shape()).containsExactly(3, 2, o);
            for (int a = 0; a < 3; a++) {
                for (int b = 0; b < 2; b++) {
                    double all = 0;
                    double diag = 0;
                    double diagMean = 0;
                    for (int k = 0; k < o; k++) {
                        diag += full.get(a, b, k, k);
                        diagMean += diagonal.get(a, b, k);
                        for (int l = 0; l < o; l++) {
                            all += full.get(a, b, k, l);
                        }
                    }
                    double tol = 1e-10 * (1 + Math.abs(all));
                    assertThat(pntk.get(a, b)).as("%s pntk", method).isCloseTo(all / o, within(tol));
                    assertThat(unscaled.get(a, b)).as("%s pntk-unscaled", method).isCloseTo(all, within(tol * o));
                    assertThat(trace.get(a, b)).as("%s trace", method).isCloseTo(diag / o, within(tol));
                    assertThat(trace.get(a, b)).as("%s trace = mean of diagonal", method)
                            .isCloseTo(diagMean / o, within(tol));
                    assertThat(logit.get(a, b)).as("%s logit", method)
                            .isCloseTo(full.get(a, b, o - 1, o - 1), within(tol));
                }
            }
        }
    }

    private static org.assertj.core.data.Offset<Double> within(double t) {
        return org.assertj.core.data.Offset.offset(t);
    }

    /** probes:R is unbiased: the mean over seeds approaches trace, and its error falls as seeds are added. */
    /**
     * The wrapped models are cached by what the kind computes: logit:K and pntk parsed under two seeds (which they do
     * not use, and equal) are one model; probes:R under two seeds are two, and under one seed one.
     */
    @Test
    void wrappedModelsAreKeyedByWhatTheKindComputes() {
        Model m = Zoo.parse("fcn(depth=1,width=4,out=3)");
        for (String text : new String[] {"logit:1", "pntk"}) {
            KernelKind a = KernelKind.parse(text, 1);
            KernelKind b = KernelKind.parse(text, 2);
            assertThat(a).isEqualTo(b);
            assertThat(b.wrap(m, 3)).as(text).isSameAs(a.wrap(m, 3));
        }
        Model probes1 = KernelKind.parse("probes:2", 1).wrap(m, 3);
        assertThat(KernelKind.parse("probes:2", 2).wrap(m, 3)).isNotSameAs(probes1);
        assertThat(KernelKind.parse("probes:2", 1).wrap(m, 3)).isSameAs(probes1);
        assertThat(KernelKind.parse("logit:1", 1).wrap(m, 4)).isNotSameAs(KernelKind.parse("logit:1", 1).wrap(m, 3));
    }

    @Test
    void probesAreUnbiased() {
        Model m = Zoo.parse("fcn(depth=1,width=16,out=6)");
        Params p = m.init(1, new int[] {4}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 2, 5, 4);
        EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
        Tensor trace = ntk.kernel(KernelKind.trace(), x, null);
        double[] mean = new double[trace.size()];
        double errAt8 = 0;
        int seeds = 256;
        for (int s = 1; s <= seeds; s++) {
            Tensor k = ntk.kernel(KernelKind.parse("probes:2", s), x, null);
            for (int i = 0; i < mean.length; i++) {
                mean[i] += k.getFlat(i);
            }
            if (s == 8) {
                errAt8 = relErr(mean, 8, trace);
            }
        }
        double err = relErr(mean, seeds, trace);
        assertThat(err).as("relative error of the mean of %d estimates", seeds).isLessThan(0.05);
        assertThat(err).as("averaging more seeds helps (8 seeds: %s)", errAt8).isLessThan(errAt8);
    }

    /** projected:K converges to the exact trace kernel as K grows. */
    @Test
    void projectionConvergesWithK() {
        Model m = Zoo.parse("fcn(depth=1,width=32,out=3)");
        Params p = m.init(1, new int[] {6}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 2, 6, 6);
        EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
        Tensor trace = ntk.kernel(KernelKind.trace(), x, null);
        double previous = Double.POSITIVE_INFINITY;
        for (int k : new int[] {16, 128, 1024, 8192}) {
            double err = 0;
            int seeds = 4;
            for (int s = 0; s < seeds; s++) {
                Tensor t = ntk.kernel(KernelKind.parse("projected:" + k, s), x, null);
                err += relErr(t.toDoubleArray(), 1, trace) / seeds;
            }
            assertThat(err).as("K=%d", k).isLessThan(previous);
            previous = err;
        }
        assertThat(previous).as("K=8192").isLessThan(0.03);
    }

    private static double relErr(double[] sum, int count, Tensor ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < sum.length; i++) {
            double d = sum[i] / count - ref.getFlat(i);
            num += d * d;
            den += ref.getFlat(i) * ref.getFlat(i);
        }
        return Math.sqrt(num / den);
    }

    @Test
    void badKindsAreReported() {
        assertThatThrownBy(() -> KernelKind.parse("pntk:3", 0)).hasMessageContaining("takes no ':' argument");
        // a kind without an argument, given a colon and no integer: said so, not "needs an integer"
        assertThatThrownBy(() -> KernelKind.parse("trace:", 0)).hasMessage("kind: 'trace:' takes no ':' argument");
        assertThatThrownBy(() -> KernelKind.parse("probes:x", 0))
                .hasMessage("kind: 'probes:x' needs an integer after ':'");
        assertThatThrownBy(() -> KernelKind.parse(null, 0)).hasMessage("kind: must not be null");
        // a probe matrix no tensor could hold is refused by its argument, not by an OutOfMemoryError
        Model wide = Zoo.parse("fcn(depth=1,width=4,out=3)");
        Params q = wide.init(1, new int[] {2}, DType.F64);
        Tensor y = Tensor.randomNormal(DType.F64, 1, 2, 2);
        assertThatThrownBy(() -> EmpiricalNtk.of(wide, q).kernel(KernelKind.parse("probes:2000000000", 0), y, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kind: probes:2000000000 on 3 outputs is a probe matrix of 6000000000 entries, more than "
                        + "one tensor holds (2147483647)");
        assertThatThrownBy(() -> KernelKind.parse("probes", 0)).hasMessageContaining("needs ':' argument");
        assertThatThrownBy(() -> KernelKind.parse("probes:0", 0)).hasMessageContaining("must be >= 1");
        assertThatThrownBy(() -> KernelKind.parse("sum", 0)).hasMessageStartingWith("kind: expected full, trace");
        Model m = Zoo.parse("fcn(depth=1,width=4,out=3)");
        Params p = m.init(1, new int[] {2}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 1, 2, 2);
        assertThatThrownBy(() -> EmpiricalNtk.of(m, p).kernel(KernelKind.parse("logit:3", 0), x, null))
                .hasMessageContaining("logit:3 but the model has 3 outputs");
    }

    /**
     * The projection kinds (pntk, pntk-unscaled) of a network with batch-norm running statistics (a checkpoint's,
     * a ResNet's) are those of the network with its statistics: (1/O) Σ_{k,m} Θ_km of its full kernel, whether the
     * parameters carry the statistics too or only the model does. Before 2026-12-07 the projected network dropped the
     * model's statistics: parameters that carried them were refused ("buffer ... differs from the model's"), and
     * parameters without them got the kernel of the default statistics (0 and 1), silently.
     */
    @Test
    void projectionKindsKeepTheModelsBatchNormStatistics() {
        Model base = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(8),
                org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.relu(), org.ntk4j.nn.Layers.dense(3)),
                "bn-net");
        java.util.Map<String, Tensor> stats = new java.util.LinkedHashMap<>();
        stats.put("1_batch_norm_eval/running_mean", Tensor.full(DType.F64, 0.7, 8));
        stats.put("1_batch_norm_eval/running_var", Tensor.full(DType.F64, 3.5, 8));
        Model m = base.withBuffers(stats);
        try (Params withStats = m.init(4, new int[] {5}, DType.F64);
             Params bare = new Params(withStats.tensors());
             Tensor x = Tensor.randomNormal(DType.F64, 6, 4, 5);
             Tensor full = EmpiricalNtk.of(m, withStats).kernel(KernelKind.full(), x, null);
             Tensor defaults = EmpiricalNtk.of(base, bare).kernel(KernelKind.pntk(), x, null)) {
            assertThat(withStats.buffers()).containsKeys("1_batch_norm_eval/running_mean");
            double[] want = new double[16];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    double sum = 0;
                    for (int k = 0; k < 3; k++) {
                        for (int l = 0; l < 3; l++) {
                            sum += full.getFlat(((i * 4 + j) * 3 + k) * 3 + l);
                        }
                    }
                    want[i * 4 + j] = sum / 3;
                }
            }
            assertThat(defaults.toDoubleArray()).as("the default statistics give another kernel")
                    .isNotEqualTo(want);
            for (Params p : new Params[] {bare, withStats}) {
                try (Tensor pntk = EmpiricalNtk.of(m, p).kernel(KernelKind.pntk(), x, null);
                     Tensor unscaled = EmpiricalNtk.of(m, p).kernel(KernelKind.pntkUnscaled(), x, null)) {
                    double scale = Math.abs(want[0]);
                    for (int i = 0; i < 16; i++) {
                        assertThat(pntk.getFlat(i)).isCloseTo(want[i],
                                org.assertj.core.data.Offset.offset(1e-12 * scale));
                        assertThat(unscaled.getFlat(i)).isCloseTo(3 * want[i],
                                org.assertj.core.data.Offset.offset(3e-12 * scale));
                    }
                }
            }
        } finally {
            stats.values().forEach(Tensor::close);
        }
    }
}

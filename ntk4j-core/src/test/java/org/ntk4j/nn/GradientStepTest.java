package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link GradientStep} on parameters that carry buffers (an inference-mode batch norm's running statistics, as a
 * parameter file or a trained checkpoint holds them): the gradient is that of the network {@link Model#apply}
 * evaluates with them, checked against central finite differences of Σ g·apply(θ, x) in float64, and a step keeps
 * the buffers. Before, the gradient was taken with the model's default statistics and a step dropped them.
 */
class GradientStepTest {
    static final int[] IN = {4};

    static Model model() {
        return new Model(Layers.serial(Layers.dense(3), Layers.batchNormEval(), Layers.tanh(), Layers.dense(2)),
                "dense-bn-tanh-dense");
    }

    /** The parameters at seed 1 with running statistics far from the defaults (mean 0, variance 1). */
    static Params withStatistics(Model m) {
        Params init = m.init(1, IN, DType.F64);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        init.tensors().forEach((k, v) -> tensors.put(k, v.copy()));
        init.close();
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        List<ParamSpec> specs = m.bufferSpecs(IN);
        for (ParamSpec s : specs) {
            boolean mean = s.path().endsWith("running_mean");
            buffers.put(s.path(), Tensor.of(mean ? new double[] {0.5, -1, 2} : new double[] {2, 0.5, 3}, 3));
        }
        assertThat(buffers).hasSize(2);
        return new Params(tensors, buffers);
    }

    private static double weighted(Model m, Params p, Tensor x, Tensor g) {
        try (Tensor f = m.apply(p, x)) {
            double s = 0;
            for (int i = 0; i < f.size(); i++) {
                s += g.getFlat(i) * f.getFlat(i);
            }
            return s;
        }
    }

    @Test
    void theGradientIsThatOfTheNetworkApplyEvaluatesWithTheParametersBuffers() {
        Model m = model();
        try (Params p = withStatistics(m); Tensor x = Tensor.randomNormal(DType.F64, 2, 5, 4);
             Tensor g = Tensor.randomNormal(DType.F64, 3, 5, 2); Params grad = GradientStep.vjp(m, p, x, g)) {
            double h = 1e-6;
            double worst = 0;
            double scale = 0;
            for (Map.Entry<String, Tensor> e : p.tensors().entrySet()) {
                Tensor t = e.getValue();
                for (int i = 0; i < t.size(); i++) {
                    double v = t.getFlat(i);
                    t.setFlat(i, v + h);
                    double plus = weighted(m, p, x, g);
                    t.setFlat(i, v - h);
                    double minus = weighted(m, p, x, g);
                    t.setFlat(i, v);
                    double fd = (plus - minus) / (2 * h);
                    worst = Math.max(worst, Math.abs(grad.get(e.getKey()).getFlat(i) - fd));
                    scale = Math.max(scale, Math.abs(fd));
                }
            }
            // central differences of a smooth function in float64: error O(h²) plus round-off ~1e-10
            assertThat(worst / scale).isLessThan(1e-7);
        }
    }

    @Test
    void aStepKeepsTheBuffersAndRefusesNonFiniteInputs() {
        Model m = model();
        try (Params p = withStatistics(m); Tensor x = Tensor.randomNormal(DType.F64, 2, 5, 4);
             Tensor g = Tensor.randomNormal(DType.F64, 3, 5, 2); Params next = GradientStep.step(m, p, x, g, 0.1)) {
            assertThat(next.buffers().keySet()).containsExactlyElementsOf(p.buffers().keySet());
            for (String k : p.buffers().keySet()) {
                assertThat(next.buffers().get(k).toDoubleArray()).containsExactly(p.buffers().get(k).toDoubleArray());
                assertThat(next.buffers().get(k)).isNotSameAs(p.buffers().get(k));
            }
            g.setFlat(3, Double.NaN);
            assertThatThrownBy(() -> GradientStep.step(m, p, x, g, 0.1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gradient step: g: contains a non-finite value (NaN) at flat index 3");
            assertThatThrownBy(() -> GradientStep.step(m, p, x, x, Double.POSITIVE_INFINITY))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gradient step: the learning rate must be finite, got Infinity");
            assertThatThrownBy(() -> GradientStep.vjp(m, p, x, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gradient step: g must not be null");
        }
    }

    /** The trainer's loss gradient reads the parameters' buffers too: for MSE it is Jᵀ (f − y)/|y|. */
    @Test
    void theTrainersGradientUsesTheParametersBuffersToo() {
        Model m = model();
        try (Params p = withStatistics(m); Tensor x = Tensor.randomNormal(DType.F64, 2, 5, 4);
             Tensor y = Tensor.randomNormal(DType.F64, 4, 5, 2); Tensor f = m.apply(p, x);
             Tensor g = Tensor.zeros(DType.F64, 5, 2)) {
            for (int i = 0; i < g.size(); i++) {
                g.setFlat(i, (f.getFlat(i) - y.getFlat(i)) / 10);
            }
            try (Params expected = GradientStep.vjp(m, p, x, g);
                 org.ntk4j.train.Trainer.LossGradient lg = org.ntk4j.train.Trainer.lossAndGradient(m, p, x, y,
                         org.ntk4j.predict.Loss.MSE)) {
                for (String k : p.tensors().keySet()) {
                    double[] a = lg.gradient().get(k).toDoubleArray();
                    double[] b = expected.get(k).toDoubleArray();
                    for (int i = 0; i < a.length; i++) {
                        assertThat(a[i]).as(k).isCloseTo(b[i], org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
            }
        }
    }
}

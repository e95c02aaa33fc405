package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.Tensor;

/**
 * What a model caches for {@link Model#apply} in a long-running program: the models derived for parameters that
 * carry other buffers (a batch norm's running statistics after each epoch) were kept weakly, so their converted
 * buffers and traced graphs left the live bytes only when the collector ran; they are now the 8 used last, a
 * dropped one released, and {@link Model#releaseCaches} returns the live bytes to their baseline.
 */
class ModelCachesTest {
    @Test
    void modelsDerivedForOtherBuffersAreBoundedAndReleased() {
        Model m = new Model(Layers.batchNormEval(), "bn");
        long baseline = Tensor.liveBytes();
        long[] drift = new long[21];
        try (Tensor x = Tensor.of(new double[] {4, 0, -1, 1}, 2, 2)) {
            long withInput = Tensor.liveBytes();
            for (int epoch = 1; epoch <= 20; epoch++) {
                double mean = 0.1 * epoch;
                double var = 1 + 0.5 * epoch;
                try (Params p = new Params(Map.of("scale", Tensor.of(new double[] {2, 3}, 2),
                        "shift", Tensor.of(new double[] {0.5, -1}, 2)), Map.of(
                        "running_mean", Tensor.of(new double[] {mean, -mean}, 2),
                        "running_var", Tensor.of(new double[] {var, 2 * var}, 2)));
                     Tensor y = m.apply(p, x)) {
                    // y = scale (x − mean) / sqrt(var + 1e-5) + shift, with the parameters' own buffers
                    assertThat(y.getFlat(0)).isCloseTo(2 * (4 - mean) / Math.sqrt(var + 1e-5) + 0.5,
                            org.assertj.core.data.Offset.offset(1e-12));
                    assertThat(y.getFlat(3)).isCloseTo(3 * (1 + mean) / Math.sqrt(2 * var + 1e-5) - 1,
                            org.assertj.core.data.Offset.offset(1e-12));
                }
                drift[epoch] = Tensor.liveBytes() - withInput;
            }
            // 8 derived models kept: from the 9th on, each new one drops one as large
            for (int epoch = 9; epoch <= 20; epoch++) {
                assertThat(drift[epoch]).as("live bytes held after %d parameter sets", epoch).isEqualTo(drift[8]);
            }
            assertThat(drift[8]).isPositive();
            m.releaseCaches();
            assertThat(Tensor.liveBytes()).isEqualTo(withInput);
        }
        assertThat(Tensor.liveBytes()).isEqualTo(baseline);
    }

    /**
     * A loop of gradient steps from parameters carrying other statistics than the model's: each step's result
     * carries a copy of them, equal in value, and computes with the one model derived for them. The derived models
     * were keyed by the buffer tensors' identity, so each step derived, converted and traced a new one (the 8 used
     * last kept), and the live bytes grew with every step until the ninth.
     */
    @Test
    void stepsCarryingTheSameStatisticsShareOneDerivedModel() {
        Model m = new Model(Layers.batchNormEval(), "bn");
        try (Tensor x = Tensor.of(new double[] {4, 0, -1, 1}, 2, 2);
             Tensor g = Tensor.of(new double[] {0.5, -1, 2, 0.25}, 2, 2)) {
            Params p = new Params(Map.of("scale", Tensor.of(new double[] {2, 3}, 2),
                    "shift", Tensor.of(new double[] {0.5, -1}, 2)), Map.of(
                    "running_mean", Tensor.of(new double[] {0.3, -0.3}, 2),
                    "running_var", Tensor.of(new double[] {2.5, 5}, 2)));
            long[] live = new long[11];
            try {
                for (int step = 1; step <= 10; step++) {
                    Params next = GradientStep.step(m, p, x, g, 0.1);
                    p.close();
                    p = next;
                    live[step] = Tensor.liveBytes();
                }
                for (int step = 2; step <= 10; step++) {
                    assertThat(live[step]).as("live bytes after step %d", step).isEqualTo(live[1]);
                }
                // the statistics still decide the network: y = scale (x − mean) / sqrt(var + 1e-5) + shift
                try (Tensor y = m.apply(p, x)) {
                    assertThat(y.getFlat(0)).isCloseTo(p.tensors().get("scale").getFlat(0) * (4 - 0.3)
                            / Math.sqrt(2.5 + 1e-5) + p.tensors().get("shift").getFlat(0),
                            org.assertj.core.data.Offset.offset(1e-12));
                }
            } finally {
                p.close();
            }
            m.releaseCaches();
        }
    }

    /** A gradient step traces its graphs per call: their constants are closed when it returns. */
    @Test
    void gradientStepsLeaveNoLiveBytes() {
        Model m = Zoo.parse("fcn(depth=1,width=4,out=2)");
        try (Params p = m.init(1, new int[] {3}, org.ntk4j.tensor.DType.F64);
             Tensor x = Tensor.of(new double[] {1, -2, 0.5, 3, 0, -1}, 2, 3);
             Tensor g = Tensor.of(new double[] {0.5, -1, 2, 0.25}, 2, 2)) {
            long baseline = Tensor.liveBytes();
            for (int step = 0; step < 3; step++) {
                try (Params grad = GradientStep.vjp(m, p, x, g)) {
                    assertThat(grad.tensors()).hasSize(p.tensors().size());
                }
                assertThat(Tensor.liveBytes()).as("after step %d", step).isEqualTo(baseline);
            }
        }
    }
}

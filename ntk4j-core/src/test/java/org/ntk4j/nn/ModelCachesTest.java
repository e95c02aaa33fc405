package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
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

    /**
     * A call computing with a derived model is not disturbed when other calls (other threads) push it out of the
     * cache of derived models: eight other statistics applied meanwhile dropped it, and its copies of the buffers
     * were closed at once (2026-12-07), so its next trace (another batch size) read a closed tensor. They are now
     * closed once the leases opened before the drop are; checked against the closed form y = scale (x − mean) /
     * sqrt(var + 1e-5) + shift, then that the copies are closed with the lease.
     */
    @Test
    void aDerivedModelDroppedDuringACallStaysUsableForIt() {
        Model m = new Model(Layers.batchNormEval(), "bn");
        try (Tensor x = Tensor.of(new double[] {4, 0, -1, 1, 2, -3}, 3, 2);
             Params p = statistics(0.3)) {
            long live;
            try (org.ntk4j.tensor.CachedTensors.Lease lease = org.ntk4j.tensor.CachedTensors.lease()) {
                Model derived = m.withBuffersOf(p, new int[] {2}, DType.F64);
                for (int i = 1; i <= 8; i++) {
                    try (Params other = statistics(0.3 + i); Tensor y = m.apply(other, x)) {
                        assertThat(y.dim(0)).isEqualTo(3);
                    }
                }
                try (Tensor y = derived.apply(p, x)) {
                    for (int i = 0; i < 6; i++) {
                        int c = i % 2;
                        double mean = c == 0 ? 0.3 : -0.3;
                        double var = c == 0 ? 2.5 : 5;
                        double scale = c == 0 ? 2 : 3;
                        double shift = c == 0 ? 0.5 : -1;
                        assertThat(y.getFlat(i)).isCloseTo(scale * (x.getFlat(i) - mean) / Math.sqrt(var + 1e-5)
                                + shift, org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
                live = Tensor.liveBytes();
            }
            // the dropped model's two copies [2] of float64 (and what its trace converted) closed with the lease
            assertThat(Tensor.liveBytes()).isLessThanOrEqualTo(live - 2 * 2 * 8);
        }
        m.releaseCaches();
    }

    /**
     * A model linearised around parameters with their own statistics traced its network from the base model's
     * derived models: once the base applied eight other statistics, that one was dropped with the constants traced
     * from it, which the linearised model's kept graph still read ("tensor of shape [2] was closed"). At θ = θ0
     * f_lin is f(θ0, x), which the base computes by its own graph (1e-12).
     */
    @Test
    void aLinearizedModelOutlivesItsBasesDerivedModels() {
        Model m = new Model(Layers.serial(Layers.dense(2), Layers.batchNormEval()), "dense-bn");
        try (Tensor x = Tensor.of(new double[] {4, 0, -1, 1, 2, -3}, 3, 2);
             Params init = m.init(1, new int[] {2}, DType.F64);
             Params p = withStatistics(init, 0.3)) {
            Model lin = Linearized.linearize(m, p);
            try (Tensor y = lin.apply(p, x)) {
                assertThat(y.dim(0)).isEqualTo(3);
            }
            for (int i = 1; i <= 8; i++) {
                try (Params other = withStatistics(init, 0.3 + i); Tensor y = m.apply(other, x)) {
                    assertThat(y.dim(0)).isEqualTo(3);
                }
            }
            try (Tensor y = lin.apply(p, x); Tensor f = m.apply(p, x)) {
                for (int i = 0; i < f.size(); i++) {
                    assertThat(y.getFlat(i)).isCloseTo(f.getFlat(i), org.assertj.core.data.Offset.offset(1e-12));
                }
            }
            lin.releaseCaches();
        }
        m.releaseCaches();
    }

    /** Copies of {@code init}'s parameters with the batch norm's running mean (mean0, −0.3), variance (2.5, 5). */
    private static Params withStatistics(Params init, double mean0) {
        Map<String, Tensor> t = new java.util.LinkedHashMap<>();
        init.tensors().forEach((path, v) -> t.put(path, v.copy()));
        return new Params(t, Map.of("1_batch_norm_eval/running_mean", Tensor.of(new double[] {mean0, -0.3}, 2),
                "1_batch_norm_eval/running_var", Tensor.of(new double[] {2.5, 5}, 2)));
    }

    /** Batch-norm parameters whose running mean is (mean0, −0.3) and running variance (2.5, 5). */
    private static Params statistics(double mean0) {
        return new Params(Map.of("scale", Tensor.of(new double[] {2, 3}, 2),
                "shift", Tensor.of(new double[] {0.5, -1}, 2)), Map.of(
                "running_mean", Tensor.of(new double[] {mean0, -0.3}, 2),
                "running_var", Tensor.of(new double[] {2.5, 5}, 2)));
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

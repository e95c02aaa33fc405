package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The layers the ImageNet ResNets added, against hand-computed values: inference-mode batch norm with buffers,
 * average pooling with explicit padding and both count_include_pad conventions, explicit convolution padding,
 * max pooling, and their error messages.
 */
class InferenceLayersTest {

    /**
     * Parameters that carry buffers other than the model's (a checkpoint's running statistics): Model.apply computes
     * with them, and again with the same parameters without converting them anew (live bytes do not grow); a kernel
     * of the model with them is refused, naming the buffer, since it would be another network's; with the model
     * built from them it is computed. Default buffers (what Model.init gives) pass.
     */
    @Test
    void buffersThatDifferFromTheModelsAreAppliedAndRefusedForAKernel() {
        Model m = new Model(Layers.serial(Layers.dense(4), Layers.batchNormEval(), Layers.relu(), Layers.dense(2)),
                "bn-net");
        int[] in = {3};
        try (Params init = m.init(0, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, 3, 3)) {
            java.util.Map<String, Tensor> b = new java.util.LinkedHashMap<>();
            init.buffers().forEach((k, v) -> b.put(k, Tensor.full(DType.F64, k.endsWith("var") ? 9 : .5, v.shape())));
            java.util.Map<String, Tensor> t = new java.util.LinkedHashMap<>();
            init.tensors().forEach((k, v) -> t.put(k, v.copy()));
            try (Params p = new Params(t, b)) {
                assertThat(m.bufferMismatch(init, in, DType.F64)).isNull();
                assertThat(m.bufferMismatch(p, in, DType.F64)).endsWith("running_mean");
                org.ntk4j.ntk.EmpiricalNtk.of(m, init).ntk(x, null).close();
                assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, p).ntk(x, null))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageStartingWith("params: buffer '" + m.bufferMismatch(p, in, DType.F64) + "' differs "
                                + "from the model's");
                Model withThem = m.withBuffers(p.buffers());
                try (Tensor f = m.apply(p, x); Tensor g = withThem.apply(p, x);
                     Tensor k = org.ntk4j.ntk.EmpiricalNtk.of(withThem, p).ntk(x, null)) {
                    assertThat(f.toDoubleArray()).containsExactly(g.toDoubleArray());
                    assertThat(k.firstNonFinite()).isEqualTo(-1);
                }
                m.apply(p, x).close();
                long live = Tensor.liveBytes();
                for (int i = 0; i < 20; i++) {
                    m.apply(p, x).close();
                }
                assertThat(Tensor.liveBytes()).isEqualTo(live);
            }
        }
    }

    @Test
    void batchNormEvalUsesTheRunningStatisticsOfTheModel() {
        Model m = new Model(Layers.batchNormEval(), "bn");
        int[] in = {2};
        assertThat(m.paramSpecs(in)).extracting(ParamSpec::toString).containsExactly("scale[2]", "shift[2]");
        assertThat(m.bufferSpecs(in)).extracting(ParamSpec::toString)
                .containsExactly("running_mean[2]", "running_var[2]");
        assertThat(m.independentExamples()).isTrue();
        try (Tensor mean = Tensor.of(new double[] {1, -2}, 2);
             Tensor var = Tensor.of(new double[] {3, 0.25}, 2);
             Params p = new Params(Map.of("scale", Tensor.of(new double[] {2, 3}, 2),
                     "shift", Tensor.of(new double[] {0.5, -1}, 2)));
             Tensor x = Tensor.of(new double[] {4, 0, -1, 1}, 2, 2)) {
            Model withStats = m.withBuffers(Map.of("running_mean", mean, "running_var", var));
            try (Tensor y = withStats.apply(p, x)) {
                double e = 1e-5;
                assertThat(y.toDoubleArray()).containsExactly(
                        new double[] {2 * 3 / Math.sqrt(3 + e) + 0.5, 3 * 2 / Math.sqrt(0.25 + e) - 1,
                            2 * -2 / Math.sqrt(3 + e) + 0.5, 3 * 3 / Math.sqrt(0.25 + e) - 1},
                        org.assertj.core.data.Offset.offset(1e-12));
            }
            // defaults: mean 0, variance 1
            try (Tensor y = m.apply(p, x)) {
                assertThat(y.getFlat(0)).isCloseTo(2 * 4 / Math.sqrt(1 + 1e-5) + 0.5,
                        org.assertj.core.data.Offset.offset(1e-12));
            }
            // buffers carried by the parameters take precedence in Model.apply
            try (Params q = new Params(Map.of("scale", Tensor.of(new double[] {2, 3}, 2),
                    "shift", Tensor.of(new double[] {0.5, -1}, 2)), Map.of("running_mean", mean.copy(),
                    "running_var", var.copy()));
                 Tensor y = m.apply(q, x)) {
                assertThat(y.getFlat(0)).isCloseTo(2 * 3 / Math.sqrt(3 + 1e-5) + 0.5,
                        org.assertj.core.data.Offset.offset(1e-12));
            }
            try (Tensor wrong = Tensor.zeros(DType.F64, 3)) {
                assertThatThrownBy(() -> m.withBuffers(Map.of("running_mean", wrong)).apply(p, x))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("bn: buffer 'running_mean' must have shape [2], has [3]");
            }
            // a path the model does not declare (a typo) is refused, not left at its default
            assertThatThrownBy(() -> m.withBuffers(Map.of("running_mea", mean)).apply(p, x))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("bn: buffer 'running_mea' is not one of the model's (running_mean, running_var)");
        }
        assertThatThrownBy(() -> new BatchNormEval(0)).hasMessage("batch_norm_eval: eps must be > 0, got 0.0");
    }

    @Test
    void averagePoolingCountsPaddingAsAsked() {
        // 1 example, 3×3 image, 1 channel, window 2, stride 2, padding (1, 0) on both axes: windows
        // {pad,pad,pad,x00} {pad,pad,x01,x02} {pad,x10,pad,x20} {x11,x12,x21,x22}
        double[] img = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        int[][] pad = {{1, 0}, {1, 0}};
        try (Tensor x = Tensor.of(img, 1, 3, 3, 1)) {
            Model include = new Model(Layers.avgPool(new int[] {2, 2}, new int[] {2, 2}, pad, true), "avg");
            Model exclude = new Model(Layers.avgPool(new int[] {2, 2}, new int[] {2, 2}, pad, false), "avg");
            try (Params p = include.init(0, new int[] {3, 3, 1}, DType.F64);
                 Tensor a = include.apply(p, x); Tensor b = exclude.apply(p, x)) {
                assertThat(a.shape()).containsExactly(1, 2, 2, 1);
                assertThat(a.toDoubleArray()).containsExactly(1 / 4.0, 5 / 4.0, 11 / 4.0, 28 / 4.0);
                assertThat(b.toDoubleArray()).containsExactly(1, 5 / 2.0, 11 / 2.0, 28 / 4.0);
            }
        }
        assertThatThrownBy(() -> Layers.avgPool(new int[] {2, 2}, new int[] {2, 2}, new int[][] {{2, 0}, {0, 0}},
                false)).hasMessageContaining("less than the window");
    }

    @Test
    void explicitConvolutionPaddingAndMaxPooling() {
        // a 1×1 filter of weight 1 with padding (1, 2): the image framed by zeros
        Model conv = new Model(Layers.conv(1, new int[] {1, 1}, new int[] {1, 1}, new int[][] {{1, 2}, {0, 1}},
                1, 0, Parameterization.STANDARD), "conv");
        assertThat(conv.outputShape(new int[] {2, 2, 1})).containsExactly(5, 3, 1);
        Model pool = new Model(Layers.maxPool(new int[] {3, 3}, new int[] {2, 2}, new int[][] {{1, 1}, {1, 1}}),
                "pool");
        assertThat(pool.outputShape(new int[] {112, 112, 64})).containsExactly(56, 56, 64);
        try (Tensor x = Tensor.of(new double[] {1, -5, 2, 0, 7, -1, 3, 3, 4}, 1, 3, 3, 1);
             Params p = pool.init(0, new int[] {3, 3, 1}, DType.F64);
             Tensor y = pool.apply(p, x)) {
            assertThat(y.toDoubleArray()).containsExactly(7, 7, 7, 7);
        }
        assertThat(new Model(Layers.maxPool(new int[] {2}, new int[] {2}, "SAME"), "p")
                .outputShape(new int[] {5, 2})).containsExactly(3, 2);
        assertThatThrownBy(() -> new Model(Layers.maxPool(new int[] {3, 3}, new int[] {1, 1},
                new int[][] {{0, 0}, {0, 0}}), "p").outputShape(new int[] {2, 2, 1}))
                .hasMessageContaining("max_pool: window [3, 3], strides [1, 1], padding [[0, 0], [0, 0]] do not fit "
                        + "the input [2, 2, 1]");
        assertThatThrownBy(() -> Layers.conv(1, new int[] {1, 1}, new int[] {1, 1}, new int[][] {{1, -1}, {0, 0}},
                1, 0, Parameterization.STANDARD)).hasMessageContaining("conv: padding [[1, -1], [0, 0]] must be");
    }
}

package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Forward values of tiny instances of every layer, against values computed by hand. */
class LayerForwardTest {
    private static final double TOL = 1e-12;

    private static Tensor run(Layer layer, Map<String, Tensor> params, Tensor x) {
        Model m = new Model(layer, layer.kind());
        return m.apply(new Params(params), x);
    }

    private static Tensor t(double[] v, int... shape) {
        return Tensor.of(v, shape);
    }

    @Test
    void denseNtkParameterisation() {
        // x = [1, 2], w = [[1, 0, -1], [2, 1, 0]], b = [1, 2, 3], σ_w = 2, σ_b = 0.5
        // y = (2/√2)·x·w + 0.5·b = √2·[5, 2, -1] + [0.5, 1, 1.5]
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("w", t(new double[] {1, 0, -1, 2, 1, 0}, 2, 3));
        p.put("b", t(new double[] {1, 2, 3}, 3));
        Tensor y = run(new Dense(3, 2.0, 0.5, Parameterization.NTK), p, t(new double[] {1, 2}, 1, 2));
        double r = Math.sqrt(2);
        assertThat(y.toDoubleArray()).containsExactly(new double[] {5 * r + 0.5, 2 * r + 1, -r + 1.5},
                within(TOL));
    }

    @Test
    void denseStandardParameterisationHasNoScaleInTheForwardPass() {
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("w", t(new double[] {1, 0, -1, 2, 1, 0}, 2, 3));
        p.put("b", t(new double[] {1, 2, 3}, 3));
        Tensor y = run(new Dense(3, 2.0, 0.5, Parameterization.STANDARD), p, t(new double[] {1, 2}, 1, 2));
        assertThat(y.toDoubleArray()).containsExactly(new double[] {6, 4, 2}, within(TOL));
    }

    @Test
    void denseWithoutBiasDeclaresOnlyW() {
        Model m = new Model(new Dense(4, 1.0, 0.0, Parameterization.NTK), "d");
        assertThat(m.paramSpecs(new int[] {3})).extracting(ParamSpec::path).containsExactly("w");
    }

    @Test
    void activations() {
        Tensor x = t(new double[] {-1.5, 0.5, 2.0}, 1, 3);
        double[] v = {-1.5, 0.5, 2.0};
        Map<Activation.Kind, java.util.function.DoubleUnaryOperator> expected = new LinkedHashMap<>();
        expected.put(Activation.Kind.RELU, z -> Math.max(z, 0));
        expected.put(Activation.Kind.LEAKY_RELU, z -> z > 0 ? z : 0.01 * z);
        expected.put(Activation.Kind.TANH, Math::tanh);
        expected.put(Activation.Kind.SIGMOID, z -> 1 / (1 + Math.exp(-z)));
        expected.put(Activation.Kind.SOFTPLUS, z -> Math.log(1 + Math.exp(z)));
        expected.put(Activation.Kind.SIN, Math::sin);
        expected.put(Activation.Kind.IDENTITY, z -> z);
        expected.put(Activation.Kind.ABS, Math::abs);
        expected.put(Activation.Kind.EXP, Math::exp);
        expected.put(Activation.Kind.GAUSSIAN, z -> Math.exp(-z * z));
        expected.put(Activation.Kind.COS, Math::cos);
        expected.put(Activation.Kind.SILU, z -> z / (1 + Math.exp(-z)));
        expected.put(Activation.Kind.ELU, z -> z > 0 ? z : Math.expm1(z));
        for (Map.Entry<Activation.Kind, java.util.function.DoubleUnaryOperator> e : expected.entrySet()) {
            Tensor y = run(new Activation(e.getKey()), Map.of(), x);
            for (int i = 0; i < 3; i++) {
                assertThat(y.getFlat(i)).as("%s(%s)", e.getKey(), v[i])
                        .isCloseTo(e.getValue().applyAsDouble(v[i]), within(1e-15));
            }
        }
        // erf and gelu from tabulated erf values: erf(-1.5) = -0.9661051464753108, erf(0.5) = 0.5204998778130465,
        // erf(2) = 0.9953222650189527; gelu(x) = x/2 (1 + erf(x/√2)), erf(0.5/√2) = 0.3829249225480262
        Tensor erf = run(new Activation(Activation.Kind.ERF), Map.of(), x);
        assertThat(erf.toDoubleArray()).containsExactly(
                new double[] {-0.9661051464753108, 0.5204998778130465, 0.9953222650189527}, within(1e-15));
        Tensor gelu = run(new Activation(Activation.Kind.GELU), Map.of(), t(new double[] {0.5}, 1, 1));
        assertThat(gelu.getFlat(0)).isCloseTo(0.25 * (1 + 0.3829249225480262), within(1e-15));
    }

    @Test
    void flattenAndGlobalAvgPool() {
        Tensor x = t(new double[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 2, 2, 2); // [N=1, H=2, W=2, C=2]
        Tensor flat = run(new Flatten(), Map.of(), x);
        assertThat(flat.shape()).containsExactly(1, 8);
        assertThat(flat.toDoubleArray()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        Tensor gap = run(new GlobalAvgPool(), Map.of(), x);
        assertThat(gap.shape()).containsExactly(1, 2);
        assertThat(gap.toDoubleArray()).containsExactly(new double[] {4, 5}, within(TOL)); // (1+3+5+7)/4, (2+4+6+8)/4
    }

    @Test
    void layerNormWithScaleAndShift() {
        // x = [1, 2, 3]: mean 2, var 2/3; y = (x - 2)/√(2/3 + ε)·s + t
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("scale", t(new double[] {1, 2, 3}, 3));
        p.put("shift", t(new double[] {0, 1, 0}, 3));
        Tensor y = run(new LayerNorm(1e-5), p, t(new double[] {1, 2, 3}, 1, 3));
        double sd = Math.sqrt(2.0 / 3 + 1e-5);
        assertThat(y.toDoubleArray()).containsExactly(new double[] {-1 / sd, 1, 3 / sd}, within(TOL));
    }

    @Test
    void batchNormNormalisesOverExamplesPerChannel() {
        // two examples, two channels: channel 0 values 1, 3 (mean 2, var 1); channel 1 values 0, 0 (var 0)
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("scale", t(new double[] {2, 1}, 2));
        p.put("shift", t(new double[] {1, 5}, 2));
        Tensor y = run(new BatchNorm(1e-5), p, t(new double[] {1, 0, 3, 0}, 2, 2));
        double sd = Math.sqrt(1 + 1e-5);
        assertThat(y.toDoubleArray()).containsExactly(new double[] {-2 / sd + 1, 5, 2 / sd + 1, 5}, within(TOL));
        assertThat(new BatchNorm(1e-5).independentExamples()).isFalse();
        assertThat(new Model(Layers.serial(Layers.dense(2), new BatchNorm(1e-5)), "m").independentExamples())
                .isFalse();
        assertThat(new Model(Layers.serial(Layers.dense(2), Layers.relu()), "m").independentExamples()).isTrue();
    }

    @Test
    void residualBlockAddsTheBranch() {
        Map<String, Tensor> p = new LinkedHashMap<>();
        // path of the dense inside residual(dense): 0_fan_out, 1_parallel/0_serial/0_dense/w
        p.put("1_parallel/0_serial/0_dense/w", t(new double[] {1, 1, 0, 1}, 2, 2));
        Layer block = Layers.residual(Layers.dense(2));
        assertThat(new Model(block, "r").paramSpecs(new int[] {2})).extracting(ParamSpec::path)
                .containsExactly("1_parallel/0_serial/0_dense/w");
        Tensor y = run(block, p, t(new double[] {1, 2}, 1, 2));
        double c = 1 / Math.sqrt(2);
        // x + c·x·w = [1, 2] + c·[1, 3]
        assertThat(y.toDoubleArray()).containsExactly(new double[] {1 + c, 2 + 3 * c}, within(TOL));
    }

    @Test
    void attentionAgainstALoopReference() {
        int tLen = 3;
        int d = 4;
        int heads = 2;
        Layer att = new GlobalSelfAttention(heads, 1.3, Parameterization.NTK);
        Model m = new Model(att, "att");
        Params p = m.init(5, new int[] {tLen, d}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 9, 2, tLen, d);
        Tensor y = m.apply(p, x);
        double c = 1.3 / Math.sqrt(d);
        int dh = d / heads;
        for (int n = 0; n < 2; n++) {
            double[][] q = proj(x, n, p.get("wq"), c, tLen, d);
            double[][] k = proj(x, n, p.get("wk"), c, tLen, d);
            double[][] v = proj(x, n, p.get("wv"), c, tLen, d);
            double[][] merged = new double[tLen][d];
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < tLen; i++) {
                    double[] logit = new double[tLen];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < tLen; j++) {
                        for (int e = 0; e < dh; e++) {
                            logit[j] += q[i][h * dh + e] * k[j][h * dh + e];
                        }
                        logit[j] /= Math.sqrt(dh);
                        max = Math.max(max, logit[j]);
                    }
                    double z = 0;
                    for (int j = 0; j < tLen; j++) {
                        logit[j] = Math.exp(logit[j] - max);
                        z += logit[j];
                    }
                    for (int j = 0; j < tLen; j++) {
                        for (int e = 0; e < dh; e++) {
                            merged[i][h * dh + e] += logit[j] / z * v[j][h * dh + e];
                        }
                    }
                }
            }
            Tensor wo = p.get("wo");
            for (int i = 0; i < tLen; i++) {
                for (int o = 0; o < d; o++) {
                    double s = 0;
                    for (int e = 0; e < d; e++) {
                        s += merged[i][e] * wo.get(e, o);
                    }
                    assertThat(y.get(n, i, o)).isCloseTo(c * s, within(1e-12));
                }
            }
        }
    }

    private static double[][] proj(Tensor x, int n, Tensor w, double c, int tLen, int d) {
        double[][] r = new double[tLen][d];
        for (int i = 0; i < tLen; i++) {
            for (int o = 0; o < d; o++) {
                double s = 0;
                for (int e = 0; e < d; e++) {
                    s += x.get(n, i, e) * w.get(e, o);
                }
                r[i][o] = c * s;
            }
        }
        return r;
    }

    @Test
    void parallelNeedsAsManyInputsAsBranches() {
        Layer bad = Layers.serial(Layers.fanOut(3), Layers.parallel(Layers.dense(2), Layers.dense(2)));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> bad.outputShapes(List.of(new int[] {2})))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("parallel: has 2 branches but receives 3 inputs");
    }

    @Test
    void convNtkParameterisationByHand() {
        // x: 1×3×3×1 = 1..9, filter 2×2×1×1 = [[1, 0], [0, -1]], VALID, stride 1:
        // y[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere; scale σ_w/√(2·2·1) = 2/2 = 1; bias σ_b·b = 0.5·2
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("w", t(new double[] {1, 0, 0, -1}, 2, 2, 1, 1));
        p.put("b", t(new double[] {2}, 1));
        Layer conv = new Conv(1, new int[] {2, 2}, new int[] {1, 1}, "VALID", 2.0, 0.5, Parameterization.NTK);
        Tensor y = run(conv, p, t(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1));
        assertThat(y.shape()).containsExactly(1, 2, 2, 1);
        assertThat(y.toDoubleArray()).containsExactly(new double[] {-3, -3, -3, -3}, within(TOL));
    }

    @Test
    void convSamePaddingKeepsTheSize() {
        Model m = new Model(new Conv(4, new int[] {3, 3}, new int[] {2, 2}, "SAME", 1, 0, Parameterization.NTK),
                "c");
        assertThat(m.outputShape(new int[] {5, 6, 2})).containsExactly(3, 3, 4);
        assertThat(new Model(new Conv(4, new int[] {3}, new int[] {1}, "VALID", 1, 0, Parameterization.NTK), "c1")
                .outputShape(new int[] {7, 2})).containsExactly(5, 4);
    }

    @Test
    void avgPoolByHand() {
        // 1×4×4×1 = 1..16, window 2×2, stride 2, VALID: means of the four 2×2 blocks
        double[] v = new double[16];
        for (int i = 0; i < 16; i++) {
            v[i] = i + 1;
        }
        Tensor y = run(new AvgPool(new int[] {2, 2}, new int[] {2, 2}, "VALID"), Map.of(), t(v, 1, 4, 4, 1));
        assertThat(y.shape()).containsExactly(1, 2, 2, 1);
        assertThat(y.toDoubleArray()).containsExactly(new double[] {3.5, 5.5, 11.5, 13.5}, within(TOL));
        // SAME, window 2, stride 1 on 1-D [1, 2, 3]: pads one zero after: [1.5, 2.5, 1.5]
        Tensor z = run(new AvgPool(new int[] {2}, new int[] {1}, "SAME"), Map.of(), t(new double[] {1, 2, 3}, 1, 3, 1));
        assertThat(z.toDoubleArray()).containsExactly(new double[] {1.5, 2.5, 1.5}, within(TOL));
    }

    @Test
    void fanInConcatJoinsChannels() {
        Layer l = Layers.serial(Layers.fanOut(2), Layers.parallel(Layers.identity(), Layers.sin()),
                Layers.fanInConcat(-1));
        Tensor y = run(l, Map.of(), t(new double[] {0.5, 1.0}, 1, 2));
        assertThat(y.toDoubleArray()).containsExactly(new double[] {0.5, 1.0, Math.sin(0.5), Math.sin(1.0)},
                within(TOL));
    }
}

package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.attr;
import static org.ntk4j.onnx.Onnx.doubles;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.int64s;
import static org.ntk4j.onnx.Onnx.ints;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Graphs as Keras (tf2onnx) and JAX (jax2onnx, jax2tf + tf2onnx) write them, built with the generated protobuf
 * classes: NHWC inputs with Transposes around the convolutions, asymmetric and SAME_UPPER padding, an explicit Pad,
 * inference BatchNormalization, global average pooling as ReduceMean, Dense as MatMul + Add (also on a 3-D value), a
 * Reshape whose shape is computed by Shape/Gather/Unsqueeze/Concat/Cast, weights in Constant nodes, JAX's Max/Min and
 * Where activations, rsqrt as Reciprocal(Sqrt), and softmax as a Softmax node or as JAX's ReduceMax/Exp/ReduceSum/Div.
 * For each, the forward pass equals a plain-Java float64 forward to 1e-12 and the eNTK by each exact method equals the
 * others' and the one from the oracle's central-difference Jacobian.
 */
class OnnxKerasJaxTest {
    private static final int N = 3;
    /** BatchNormalization's epsilon and LeakyRelu's alpha: float attributes, so the oracle uses their float32 value. */
    private static final double EPS = (float) 1e-3;
    private static final double LEAK = (float) 0.2;

    private static double[] random(Random rng, int n, double scale, double shift) {
        double[] r = new double[n];
        for (int i = 0; i < n; i++) {
            r[i] = shift + scale * rng.nextGaussian();
        }
        return r;
    }

    private static AttributeProto floatAttr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    private static NodeProto constantNode(String out, TensorProto value) {
        return node("Constant", out, new String[0], new String[] {out}, AttributeProto.newBuilder().setName("value")
                .setType(AttributeProto.AttributeType.TENSOR).setT(value).build());
    }

    private static ModelProto byTf2onnx(int opset, GraphProto g) {
        return model(opset, g).toBuilder().setProducerName("tf2onnx").setProducerVersion("1.16.1").build();
    }

    // ---- a Keras CNN through tf2onnx ----

    private static final int H = 6;
    private static final int C = 2;

    /** The CNN's weights; at initialisation (Keras's defaults) the biases and shifts are 0 and the scales 1. */
    private record Cnn(double[] w1, double[] b1, double[] gamma, double[] beta, double[] mean, double[] var,
                       double[] w2, double[] b2, double[] wd, double[] bd) {
        static Cnn of(boolean atInit) {
            Random rng = new Random(11);
            double[] w1 = random(rng, 4 * C * 9, 0.5, 0);
            double[] w2 = random(rng, 3 * 4 * 4, 0.5, 0);
            double[] wd = random(rng, 3 * 5, 0.8, 0);
            if (atInit) {
                // the second conv's bias is not 0: with 0, the positions whose window sees only padding are exactly
                // at LeakyReLU's kink, where central differences average the two slopes
                return new Cnn(w1, new double[4], ones(4), new double[4], new double[4], ones(4), w2,
                        random(rng, 3, 0.3, 0), wd, new double[5]);
            }
            return new Cnn(w1, random(rng, 4, 0.3, 0), random(rng, 4, 0.2, 1), random(rng, 4, 0.3, 0),
                    random(rng, 4, 0.3, 0), random(rng, 4, 0.2, 1.2), w2, random(rng, 3, 0.3, 0), wd,
                    random(rng, 5, 0.3, 0));
        }

        /** θ as the oracle takes it: every parameter concatenated (the running statistics are constants). */
        double[] theta() {
            return concat(w1, b1, gamma, beta, w2, b2, wd, bd);
        }
    }

    private static double[] ones(int n) {
        double[] r = new double[n];
        Arrays.fill(r, 1);
        return r;
    }

    private static double[] concat(double[]... parts) {
        int n = 0;
        for (double[] p : parts) {
            n += p.length;
        }
        double[] r = new double[n];
        int at = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, r, at, p.length);
            at += p.length;
        }
        return r;
    }

    /**
     * x [N, 6, 6, 2] (NHWC) → Transpose to NCHW → Conv 3×3 stride 2 with pads [0, 0, 1, 1] (Keras "same") →
     * BatchNormalization → Relu → Pad 1 on each spatial side → Conv 2×2 auto_pad SAME_UPPER → Transpose to NHWC →
     * LeakyRelu → ReduceMean over H, W (opset 13: keepdims and a Squeeze; 18: axes as an input) → Identity →
     * MatMul + Add → Softmax: [N, 5]. At initialisation the file holds tf2onnx's merged constants: one zero
     * vector for the first conv's bias, the batch norm's shift and its running mean, one vector of ones for its
     * scale and running variance.
     */
    private static GraphProto cnn(Cnn p, int opset, boolean atInit) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("tf2onnx")
                // the dynamic batch axis: a dim_param tf2onnx names, or (other writers) a dim_value of -1
                .addInput(info("input_1", DOUBLE, opset >= 18 ? -1 : "unk__17", H, H, C))
                .addOutput(info("dense", DOUBLE, opset >= 18 ? -1 : "unk__18", 5))
                .addInitializer(doubles("sequential/conv2d/Conv2D__6", p.w1, 4, C, 3, 3))
                .addInitializer(doubles("sequential/conv2d_1/Conv2D__9", p.w2, 3, 4, 2, 2))
                .addInitializer(doubles("sequential/conv2d_1/BiasAdd/ReadVariableOp:0", p.b2, 3))
                .addInitializer(doubles("sequential/dense/MatMul/ReadVariableOp:0", p.wd, 3, 5))
                .addInitializer(doubles("sequential/dense/BiasAdd/ReadVariableOp:0", p.bd, 5))
                .addInitializer(int64s("pads", new long[] {0, 0, 1, 1, 0, 0, 1, 1}, 8));
        String b1;
        String gamma;
        String beta;
        String mean;
        String var;
        if (atInit) {
            b1 = "const_fold_opt__21";
            beta = b1;
            mean = b1;
            gamma = "const_fold_opt__22";
            var = gamma;
            g.addInitializer(doubles(b1, p.b1, 4)).addInitializer(doubles(gamma, p.gamma, 4));
        } else {
            b1 = "sequential/conv2d/BiasAdd/ReadVariableOp:0";
            gamma = "sequential/batch_normalization/ReadVariableOp:0";
            beta = "sequential/batch_normalization/ReadVariableOp_1:0";
            mean = "sequential/batch_normalization/FusedBatchNormV3/ReadVariableOp:0";
            var = "sequential/batch_normalization/FusedBatchNormV3/ReadVariableOp_1:0";
            g.addInitializer(doubles(b1, p.b1, 4)).addInitializer(doubles(gamma, p.gamma, 4))
                    .addInitializer(doubles(beta, p.beta, 4)).addInitializer(doubles(mean, p.mean, 4))
                    .addInitializer(doubles(var, p.var, 4));
        }
        g.addNode(node("Transpose", "sequential/conv2d/BiasAdd__5", new String[] {"input_1"}, new String[] {"t0"},
                        ints("perm", 0, 3, 1, 2)))
                .addNode(node("Conv", "sequential/conv2d/BiasAdd", new String[] {"t0",
                    "sequential/conv2d/Conv2D__6", b1}, new String[] {"c1"}, ints("dilations", 1, 1),
                        ints("kernel_shape", 3, 3), ints("pads", 0, 0, 1, 1), ints("strides", 2, 2), attr("group", 1)))
                .addNode(node("BatchNormalization", "sequential/batch_normalization/FusedBatchNormV3",
                        new String[] {"c1", gamma, beta, mean, var}, new String[] {"bn"}, floatAttr("epsilon",
                                (float) EPS)))
                .addNode(node("Relu", "sequential/re_lu/Relu", new String[] {"bn"}, new String[] {"r1"}))
                .addNode(node("Pad", "sequential/zero_padding2d/Pad", new String[] {"r1", "pads"},
                        new String[] {"p1"}))
                .addNode(node("Conv", "sequential/conv2d_1/BiasAdd", new String[] {"p1",
                    "sequential/conv2d_1/Conv2D__9", "sequential/conv2d_1/BiasAdd/ReadVariableOp:0"},
                        new String[] {"c2"}, ints("kernel_shape", 2, 2), ints("strides", 1, 1),
                        AttributeProto.newBuilder().setName("auto_pad").setType(AttributeProto.AttributeType.STRING)
                                .setS(com.google.protobuf.ByteString.copyFromUtf8("SAME_UPPER")).build()))
                .addNode(node("Transpose", "sequential/conv2d_1/BiasAdd__12", new String[] {"c2"},
                        new String[] {"t2"}, ints("perm", 0, 2, 3, 1)))
                .addNode(node("LeakyRelu", "sequential/leaky_re_lu/LeakyRelu", new String[] {"t2"},
                        new String[] {"l2"}, floatAttr("alpha", (float) LEAK)));
        if (opset >= 18) {
            g.addInitializer(int64s("axes", new long[] {1, 2}, 2))
                    .addNode(node("ReduceMean", "sequential/global_average_pooling2d/Mean",
                            new String[] {"l2", "axes"}, new String[] {"gap"}, attr("keepdims", 0)));
        } else {
            g.addInitializer(int64s("axes", new long[] {1, 2}, 2))
                    .addNode(node("ReduceMean", "sequential/global_average_pooling2d/Mean", new String[] {"l2"},
                            new String[] {"gk"}, ints("axes", 1, 2), attr("keepdims", 1)))
                    .addNode(node("Squeeze", "sequential/global_average_pooling2d/Squeeze",
                            new String[] {"gk", "axes"}, new String[] {"gap"}));
        }
        g.addNode(node("Identity", "Identity__3", new String[] {"gap"}, new String[] {"gi"}))
                .addNode(node("MatMul", "sequential/dense/MatMul", new String[] {"gi",
                    "sequential/dense/MatMul/ReadVariableOp:0"}, new String[] {"mm"}))
                .addNode(node("Add", "sequential/dense/BiasAdd", new String[] {"mm",
                    "sequential/dense/BiasAdd/ReadVariableOp:0"}, new String[] {"logits"}))
                .addNode(node("Softmax", "sequential/dense/Softmax", new String[] {"logits"}, new String[] {"dense"},
                        attr("axis", -1)));
        return g.build();
    }

    /** The CNN in plain Java loops, on x [N, 6, 6, 2] NHWC; θ as {@link Cnn#theta}. */
    private static double[][] cnnOracle(double[] theta, Cnn p, double[] x, int n) {
        int at = 0;
        double[] w1 = Arrays.copyOfRange(theta, at, at += 4 * C * 9);
        double[] b1 = Arrays.copyOfRange(theta, at, at += 4);
        double[] gamma = Arrays.copyOfRange(theta, at, at += 4);
        double[] beta = Arrays.copyOfRange(theta, at, at += 4);
        double[] w2 = Arrays.copyOfRange(theta, at, at += 48);
        double[] b2 = Arrays.copyOfRange(theta, at, at += 3);
        double[] wd = Arrays.copyOfRange(theta, at, at += 15);
        double[] bd = Arrays.copyOfRange(theta, at, at + 5);
        double[][] y = new double[n][5];
        for (int e = 0; e < n; e++) {
            // conv1: 3x3, stride 2, padding 0 before and 1 after: 6 -> 3; then BN and ReLU, then pad 1 each side: 5
            double[][][] r = new double[4][5][5];
            for (int o = 0; o < 4; o++) {
                for (int i = 0; i < 3; i++) {
                    for (int j = 0; j < 3; j++) {
                        double s = b1[o];
                        for (int ci = 0; ci < C; ci++) {
                            for (int a = 0; a < 3; a++) {
                                for (int b = 0; b < 3; b++) {
                                    int ii = 2 * i + a;
                                    int jj = 2 * j + b;
                                    if (ii < H && jj < H) {
                                        s += w1[((o * C + ci) * 3 + a) * 3 + b] * x[((e * H + ii) * H + jj) * C + ci];
                                    }
                                }
                            }
                        }
                        double bn = (s - p.mean[o]) / Math.sqrt(p.var[o] + EPS) * gamma[o] + beta[o];
                        r[o][i + 1][j + 1] = Math.max(bn, 0);
                    }
                }
            }
            // conv2: 2x2, stride 1, SAME_UPPER (0 before, 1 after): 5 -> 5; LeakyReLU; mean over 5x5
            double[] gap = new double[3];
            for (int o = 0; o < 3; o++) {
                for (int i = 0; i < 5; i++) {
                    for (int j = 0; j < 5; j++) {
                        double s = b2[o];
                        for (int ci = 0; ci < 4; ci++) {
                            for (int a = 0; a < 2; a++) {
                                for (int b = 0; b < 2; b++) {
                                    if (i + a < 5 && j + b < 5) {
                                        s += w2[((o * 4 + ci) * 2 + a) * 2 + b] * r[ci][i + a][j + b];
                                    }
                                }
                            }
                        }
                        gap[o] += (s > 0 ? s : LEAK * s) / 25;
                    }
                }
            }
            double[] z = new double[5];
            for (int k = 0; k < 5; k++) {
                z[k] = bd[k];
                for (int o = 0; o < 3; o++) {
                    z[k] += gap[o] * wd[o * 5 + k];
                }
            }
            y[e] = softmax(z);
        }
        return y;
    }

    private static double[] softmax(double[] z) {
        double m = Arrays.stream(z).max().orElseThrow();
        double[] e = new double[z.length];
        double s = 0;
        for (int k = 0; k < z.length; k++) {
            e[k] = Math.exp(z[k] - m);
            s += e[k];
        }
        for (int k = 0; k < z.length; k++) {
            e[k] /= s;
        }
        return e;
    }

    @ParameterizedTest(name = "opset {0}, at initialisation {1}")
    @CsvSource({"13, false", "18, false", "13, true"})
    void kerasCnnThroughTf2onnx(int opset, boolean atInit, @TempDir Path dir) throws IOException {
        Cnn p = Cnn.of(atInit);
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("cnn.onnx"), byTf2onnx(opset, cnn(p, opset, atInit))));
        // the model takes the file's NHWC layout; the running statistics are constants
        assertThat(onnx.inputShape()).containsExactly(H, H, C);
        assertThat(onnx.outputShape()).containsExactly(5);
        assertThat(onnx.independentExamples()).isTrue();
        assertThat(onnx.parameterCount()).isEqualTo(p.theta().length);
        if (atInit) {
            // tf2onnx's merged constants are untied: the conv's bias and the batch norm's shift and scale are
            // parameters of their own; the running mean and variance, copies of them, constants
            assertThat(onnx.parameterNames()).containsExactlyInAnyOrder("sequential/conv2d/Conv2D__6",
                    "const_fold_opt__21", "const_fold_opt__22",
                    "const_fold_opt__21@sequential/batch_normalization/FusedBatchNormV3:2",
                    "sequential/conv2d_1/Conv2D__9", "sequential/conv2d_1/BiasAdd/ReadVariableOp:0",
                    "sequential/dense/MatMul/ReadVariableOp:0", "sequential/dense/BiasAdd/ReadVariableOp:0");
        } else {
            assertThat(onnx.parameterNames()).hasSize(8).noneMatch(s -> s.contains("FusedBatchNormV3"));
        }
        double[] x = random(new Random(5), N * H * H * C, 1, 0);
        checkForwardAndKernels(onnx, x, new int[] {N, H, H, C}, 5, th -> cnnOracle(th, p, x, N), p.theta(),
                th -> cnnOracle(th, p, x, 1));
    }

    // ---- a JAX MLP (jax2onnx-style: weights in Constant nodes) ----

    private static final int W0 = 0;
    private static final int B0 = 9;
    private static final int W1 = 12;
    private static final int B1 = 42;
    private static final int W2 = 47;
    private static final int B2 = 67;
    private static final int SCALE = 71;
    private static final int W3 = 75;
    private static final int B3 = 87;
    private static final int THETA = 90;
    /** The clip bound of Min(Max(z, 0), CAP) and the epsilon of the RMS norm: float32 scalars in the file. */
    private static final double CAP = 0.5;
    private static final double NORM_EPS = (float) 1e-3;
    /** The slope of the leaky ReLU, a float64 scalar in the file. */
    private static final double SLOPE = 0.1;

    private static TensorProto part(String name, double[] theta, int from, int... dims) {
        int n = 1;
        for (int d : dims) {
            n *= d;
        }
        long[] ld = Arrays.stream(dims).asLongStream().toArray();
        return doubles(name, Arrays.copyOfRange(theta, from, from + n), ld);
    }

    /**
     * x [N, 2, 3] → Dense on the 3-D value (MatMul [3, 3] + Add, both in Constant nodes) → Elu → Reshape to
     * [N, 6] with the shape Concat(Unsqueeze(Gather(Shape(h), 0)), [6]), Cast → MatMul + Add → JAX's leaky ReLU,
     * Where(Not(Less(z, 0)), z, 0.1 z) → Tanh → MatMul + Add
     * → Min(Max(z, 0), 0.5) → RMS norm h · Reciprocal(Sqrt(ReduceMean(h²) + ε)) · scale → MatMul + Add → JAX's
     * softmax: Exp(z − ReduceMax(z)) / ReduceSum(...): [N, 3].
     */
    private static GraphProto mlp(double[] t) {
        return GraphProto.newBuilder().setName("jax")
                .addInput(info("x", DOUBLE, "N", 2, 3))
                .addOutput(info("y", DOUBLE, "N", 3))
                .addInitializer(part("params/dense1/kernel", t, W1, 6, 5))
                .addInitializer(part("params/dense1/bias", t, B1, 5))
                .addInitializer(part("params/dense2/kernel", t, W2, 5, 4))
                .addInitializer(part("params/dense2/bias", t, B2, 4))
                .addInitializer(part("params/norm/scale", t, SCALE, 4))
                .addInitializer(part("params/dense3/kernel", t, W3, 4, 3))
                .addInitializer(part("params/dense3/bias", t, B3, 3))
                .addNode(constantNode("params/dense0/kernel", part("", t, W0, 3, 3)))
                .addNode(constantNode("params/dense0/bias", part("", t, B0, 3)))
                .addNode(node("MatMul", "dot_general", new String[] {"x", "params/dense0/kernel"},
                        new String[] {"d0"}))
                .addNode(node("Add", "add", new String[] {"d0", "params/dense0/bias"}, new String[] {"a0"}))
                .addNode(node("Elu", "elu", new String[] {"a0"}, new String[] {"e0"}, floatAttr("alpha", 1f)))
                .addNode(node("Shape", "shape", new String[] {"e0"}, new String[] {"s"}))
                .addNode(constantNode("zero_index", int64s("", new long[] {0})))
                .addNode(node("Gather", "gather", new String[] {"s", "zero_index"}, new String[] {"batch"},
                        attr("axis", 0)))
                .addNode(constantNode("axes0", int64s("", new long[] {0}, 1)))
                .addNode(node("Unsqueeze", "unsqueeze", new String[] {"batch", "axes0"}, new String[] {"b1"}))
                .addNode(constantNode("six", int64s("", new long[] {6}, 1)))
                .addNode(node("Concat", "concat", new String[] {"b1", "six"}, new String[] {"target"},
                        attr("axis", 0)))
                .addNode(node("Cast", "cast", new String[] {"target"}, new String[] {"target64"},
                        attr("to", TensorProto.DataType.INT64_VALUE)))
                .addNode(node("Reshape", "reshape", new String[] {"e0", "target64"}, new String[] {"flat"}))
                .addNode(node("MatMul", "dot_general_1", new String[] {"flat", "params/dense1/kernel"},
                        new String[] {"d1"}))
                .addNode(node("Add", "add_1", new String[] {"d1", "params/dense1/bias"}, new String[] {"a1"}))
                // jax.nn.leaky_relu: where(x >= 0, x, slope · x), x >= 0 written as Not(Less(x, 0))
                .addNode(constantNode("zero", doubles("", new double[] {0})))
                .addNode(constantNode("slope", doubles("", new double[] {SLOPE})))
                .addNode(node("Less", "less", new String[] {"a1", "zero"}, new String[] {"negative"}))
                .addNode(node("Not", "not", new String[] {"negative"}, new String[] {"nonnegative"}))
                .addNode(node("Mul", "leak", new String[] {"a1", "slope"}, new String[] {"leaked"}))
                .addNode(node("Where", "where", new String[] {"nonnegative", "a1", "leaked"}, new String[] {"lr"}))
                .addNode(node("Tanh", "tanh", new String[] {"lr"}, new String[] {"t1"}))
                .addNode(node("MatMul", "dot_general_2", new String[] {"t1", "params/dense2/kernel"},
                        new String[] {"d2"}))
                .addNode(node("Add", "add_2", new String[] {"d2", "params/dense2/bias"}, new String[] {"a2"}))
                .addNode(constantNode("cap", doubles("", new double[] {CAP})))
                .addNode(node("Max", "max", new String[] {"a2", "zero"}, new String[] {"relu"}))
                .addNode(node("Min", "min", new String[] {"relu", "cap"}, new String[] {"h2"}))
                .addNode(node("Mul", "square", new String[] {"h2", "h2"}, new String[] {"sq"}))
                .addNode(node("ReduceMean", "mean", new String[] {"sq"}, new String[] {"ms"}, ints("axes", -1),
                        attr("keepdims", 1)))
                .addNode(constantNode("eps", doubles("", new double[] {NORM_EPS})))
                .addNode(node("Add", "add_eps", new String[] {"ms", "eps"}, new String[] {"mse"}))
                .addNode(node("Sqrt", "sqrt", new String[] {"mse"}, new String[] {"rms"}))
                .addNode(node("Reciprocal", "rsqrt", new String[] {"rms"}, new String[] {"inv"}))
                .addNode(node("Mul", "normalise", new String[] {"h2", "inv"}, new String[] {"nh"}))
                .addNode(node("Mul", "scale", new String[] {"nh", "params/norm/scale"}, new String[] {"sh"}))
                .addNode(node("MatMul", "dot_general_3", new String[] {"sh", "params/dense3/kernel"},
                        new String[] {"d3"}))
                .addNode(node("Add", "add_3", new String[] {"d3", "params/dense3/bias"}, new String[] {"z"}))
                .addNode(node("ReduceMax", "reduce_max", new String[] {"z"}, new String[] {"zmax"}, ints("axes", -1),
                        attr("keepdims", 1)))
                .addNode(node("Sub", "sub", new String[] {"z", "zmax"}, new String[] {"zs"}))
                .addNode(node("Exp", "exp", new String[] {"zs"}, new String[] {"ez"}))
                .addNode(constantNode("axes_last", int64s("", new long[] {-1}, 1)))
                .addNode(node("ReduceSum", "reduce_sum", new String[] {"ez", "axes_last"}, new String[] {"se"},
                        attr("keepdims", 1)))
                .addNode(node("Div", "div", new String[] {"ez", "se"}, new String[] {"y"}))
                .build();
    }

    private static double[][] mlpOracle(double[] t, double[] x, int n) {
        double[][] y = new double[n][];
        for (int e = 0; e < n; e++) {
            double[] flat = new double[6];
            for (int row = 0; row < 2; row++) {
                for (int k = 0; k < 3; k++) {
                    double s = t[B0 + k];
                    for (int i = 0; i < 3; i++) {
                        s += x[(e * 2 + row) * 3 + i] * t[W0 + i * 3 + k];
                    }
                    flat[row * 3 + k] = s > 0 ? s : Math.expm1(s);
                }
            }
            double[] t1 = dense(flat, t, W1, B1, 5);
            for (int k = 0; k < 5; k++) {
                t1[k] = Math.tanh(t1[k] >= 0 ? t1[k] : SLOPE * t1[k]);
            }
            double[] h2 = dense(t1, t, W2, B2, 4);
            double ms = 0;
            for (int k = 0; k < 4; k++) {
                h2[k] = Math.min(Math.max(h2[k], 0), CAP);
                ms += h2[k] * h2[k] / 4;
            }
            double inv = 1 / Math.sqrt(ms + NORM_EPS);
            for (int k = 0; k < 4; k++) {
                h2[k] = h2[k] * inv * t[SCALE + k];
            }
            y[e] = softmax(dense(h2, t, W3, B3, 3));
        }
        return y;
    }

    /** v · W + b with W [v.length, out] at {@code w} in θ, b at {@code b}. */
    private static double[] dense(double[] v, double[] t, int w, int b, int out) {
        double[] r = new double[out];
        for (int k = 0; k < out; k++) {
            r[k] = t[b + k];
            for (int i = 0; i < v.length; i++) {
                r[k] += v[i] * t[w + i * out + k];
            }
        }
        return r;
    }

    @Test
    void jaxMlpWithConstantNodeWeightsAndAComputedReshape(@TempDir Path dir) throws IOException {
        Random rng = new Random(3);
        double[] theta = random(rng, THETA, 0.7, 0);
        for (int k = 0; k < 4; k++) {
            theta[B2 + k] = 0.3; // most units inside (0, CAP) so that every piece has a derivative
            theta[SCALE + k] = 1 + 0.2 * rng.nextGaussian();
        }
        ModelProto m = model(17, mlp(theta)).toBuilder().setProducerName("jax2onnx").build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("mlp.onnx"), m));
        // the Constant nodes' weights are parameters, named by their outputs; the scalar constants are not
        assertThat(onnx.parameterNames()).containsExactlyInAnyOrder("params/dense0/kernel", "params/dense0/bias",
                "params/dense1/kernel", "params/dense1/bias", "params/dense2/kernel", "params/dense2/bias",
                "params/norm/scale", "params/dense3/kernel", "params/dense3/bias");
        assertThat(onnx.parameterCount()).isEqualTo(THETA);
        assertThat(onnx.independentExamples()).isTrue();
        double[] x = random(new Random(9), N * 6, 1, 0);
        checkForwardAndKernels(onnx, x, new int[] {N, 2, 3}, 3, th -> mlpOracle(th, x, N), theta,
                th -> mlpOracle(th, x, 1));
    }

    /**
     * The forward pass against the oracle (on N examples, and on the first alone: a batch of one traces without
     * views) to 1e-12, and the eNTK (trace axes kept) by each exact method against the others' and against the
     * oracle's central-difference Jacobian J: K[n1, n2, a, b] = Σ_p J[n1, a, p] J[n2, b, p].
     */
    private static void checkForwardAndKernels(OnnxModel onnx, double[] x, int[] xShape, int out,
                                               Function<double[], double[][]> oracle, double[] theta,
                                               Function<double[], double[][]> oracleOfFirst) {
        double[][] y = oracle.apply(theta);
        int p = theta.length;
        double h = 1e-6;
        double[][][] jac = new double[N][out][p];
        for (int q = 0; q < p; q++) {
            double[] up = theta.clone();
            double[] down = theta.clone();
            up[q] += h;
            down[q] -= h;
            double[][] yu = oracle.apply(up);
            double[][] yd = oracle.apply(down);
            for (int n = 0; n < N; n++) {
                for (int o = 0; o < out; o++) {
                    jac[n][o][q] = (yu[n][o] - yd[n][o]) / (2 * h);
                }
            }
        }
        int perExample = x.length / N;
        int[] oneShape = xShape.clone();
        oneShape[0] = 1;
        try (Params params = onnx.params(DType.F64); Tensor xt = Tensor.of(x, xShape);
             Tensor f = onnx.model().apply(params, xt);
             Tensor x1 = Tensor.of(Arrays.copyOf(x, perExample), oneShape);
             Tensor f1 = onnx.model().apply(params, x1)) {
            assertThat(f.shape()).containsExactly(N, out);
            double[] flat = new double[N * out];
            double[] expected = new double[N * N * out * out];
            for (int n1 = 0; n1 < N; n1++) {
                System.arraycopy(y[n1], 0, flat, n1 * out, out);
                for (int n2 = 0; n2 < N; n2++) {
                    for (int a = 0; a < out; a++) {
                        for (int b = 0; b < out; b++) {
                            for (int q = 0; q < p; q++) {
                                expected[((n1 * N + n2) * out + a) * out + b] += jac[n1][a][q] * jac[n2][b][q];
                            }
                        }
                    }
                }
            }
            Signal.assertVariesAbsolute(flat, N, 1e-12, "forward");
            try (Tensor e = Tensor.of(expected, N, N, out, out)) {
                Signal.assertVariesRelative(e, 2, 1e-7, "finite-difference eNTK");
            }
            double[] first = oracleOfFirst.apply(theta)[0];
            for (int o = 0; o < out; o++) {
                assertThat(f1.get(0, o)).isCloseTo(first[o], org.assertj.core.data.Offset.offset(1e-12));
                for (int n = 0; n < N; n++) {
                    assertThat(f.get(n, o)).isCloseTo(y[n][o], org.assertj.core.data.Offset.offset(1e-12));
                }
            }
            List<double[]> kernels = new ArrayList<>();
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(xt, null)) {
                    assertThat(k.shape()).containsExactly(N, N, out, out);
                    double[] kv = new double[N * N * out * out];
                    double num = 0;
                    double den = 0;
                    int i = 0;
                    for (int n1 = 0; n1 < N; n1++) {
                        for (int n2 = 0; n2 < N; n2++) {
                            for (int a = 0; a < out; a++) {
                                for (int b = 0; b < out; b++) {
                                    double e = expected[i];
                                    kv[i++] = k.get(n1, n2, a, b);
                                    double d = k.get(n1, n2, a, b) - e;
                                    num += d * d;
                                    den += e * e;
                                }
                            }
                        }
                    }
                    assertThat(den).as("a kernel that is not zero").isGreaterThan(1e-6);
                    assertThat(Math.sqrt(num / den)).as("eNTK by %s against finite differences", m)
                            .isLessThan(1e-7);
                    kernels.add(kv);
                }
            }
            for (int j = 1; j < kernels.size(); j++) {
                double num = 0;
                double den = 0;
                for (int i = 0; i < kernels.get(0).length; i++) {
                    double d = kernels.get(j)[i] - kernels.get(0)[i];
                    num += d * d;
                    den += kernels.get(0)[i] * kernels.get(0)[i];
                }
                assertThat(Math.sqrt(num / den)).as("method %d against Jacobian contraction", j).isLessThan(1e-12);
            }
        }
    }

    @Test
    void jax2tfsEinsumImportsAsAMatrixProduct(@TempDir Path dir) throws IOException {
        // jax2tf's dot_general through tf2onnx may stay an Einsum: y = x w
        double[] w = {0.5, -1, 2, 0.25, -0.75, 1.5};
        GraphProto einsum = GraphProto.newBuilder().setName("einsum")
                .addInput(info("x", DOUBLE, "N", 3)).addOutput(info("y", DOUBLE, "N", 2))
                .addInitializer(doubles("w", w, 3, 2))
                .addNode(node("Einsum", "jax2tf_dot_general/Einsum", new String[] {"x", "w"}, new String[] {"y"},
                        AttributeProto.newBuilder().setName("equation").setType(AttributeProto.AttributeType.STRING)
                                .setS(com.google.protobuf.ByteString.copyFromUtf8("bi,ij->bj")).build()))
                .build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("einsum.onnx"), byTf2onnx(13, einsum)));
        assertThat(onnx.parameterNames()).containsExactly("w");
        double[] x = {1, 2, 3, -1, 0.5, 4};
        try (Params params = onnx.params(DType.F64); Tensor xt = Tensor.of(x, 2, 3);
             Tensor y = onnx.model().apply(params, xt)) {
            for (int n = 0; n < 2; n++) {
                for (int j = 0; j < 2; j++) {
                    double e = x[n * 3] * w[j] + x[n * 3 + 1] * w[2 + j] + x[n * 3 + 2] * w[4 + j];
                    assertThat(y.get(n, j)).isCloseTo(e, org.assertj.core.data.Offset.offset(1e-15));
                }
            }
        }
    }

    // ---- what stays unsupported ----

    @Test
    void unsupportedExporterOperatorsAreRefusedInOneLine(@TempDir Path dir) throws IOException {
        // ReduceMax with its axes computed from the input (opset 18) names the node and the input
        GraphProto reduce = GraphProto.newBuilder().setName("reduce")
                .addInput(info("x", DOUBLE, "N", 3)).addOutput(info("y", DOUBLE, "N", 3))
                .addNode(node("Cast", "cast", new String[] {"x"}, new String[] {"a"},
                        attr("to", TensorProto.DataType.DOUBLE_VALUE)))
                .addNode(node("ReduceMax", "max", new String[] {"x", "a"}, new String[] {"y"}))
                .build();
        Path file2 = Onnx.write(dir.resolve("reduce.onnx"), byTf2onnx(18, reduce));
        assertThatThrownBy(() -> OnnxModel.load(file2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("node 'max' (ReduceMax): input 1 (axes) must be known at import, but 'a' is "
                        + "computed from the input x")
                .hasMessageNotContaining("\n");
    }

    @Test
    void aFixedBatchInATf2onnxFileNamesTheKerasFix(@TempDir Path dir) throws IOException {
        // keras.Input(shape=(2, 3), batch_size=1): tf2onnx writes the batch size into the input and Flatten's shape
        GraphProto g = GraphProto.newBuilder().setName("fixed")
                .addInput(info("input_1", DOUBLE, 1, 2, 3)).addOutput(info("dense", DOUBLE, 1, 2))
                .addInitializer(int64s("shape", new long[] {1, 6}, 2))
                .addInitializer(doubles("kernel", random(new Random(1), 12, 1, 0), 6, 2))
                .addNode(node("Reshape", "sequential/flatten/Reshape", new String[] {"input_1", "shape"},
                        new String[] {"flat"}))
                .addNode(node("MatMul", "sequential/dense/MatMul", new String[] {"flat", "kernel"},
                        new String[] {"dense"}))
                .build();
        Path file = Onnx.write(dir.resolve("fixed.onnx"), byTf2onnx(13, g));
        assertThatThrownBy(() -> OnnxModel.load(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("node 'sequential/flatten/Reshape' (Reshape): cannot reshape [N, 2, 3] to "
                        + "[1, 6]; the file fixes the batch axis of input 'input_1' at 1 example and ntk4j runs the "
                        + "model on batches of other sizes: convert a model whose input signature leaves the batch "
                        + "axis None (keras.Input(shape=...) without batch_size, tf.TensorSpec((None, ...)))")
                .hasMessageNotContaining("dynamic_axes").hasMessageNotContaining("\n");
    }

    @Test
    void aRunningStatisticSharingItsTensorWithAParameterStaysAConstant(@TempDir Path dir) throws IOException {
        // a PyTorch file (nothing untied) whose batch norm reads one tensor as its scale and its running variance:
        // y = (x - 0) / sqrt(s + eps) * s + 0, with s a parameter only as the scale
        double[] s = {1.5, 0.7};
        GraphProto g = GraphProto.newBuilder().setName("bn")
                .addInput(info("x", DOUBLE, "batch", 2)).addOutput(info("y", DOUBLE, "batch", 2))
                .addInitializer(doubles("s", s, 2)).addInitializer(doubles("zero", new double[2], 2))
                .addNode(node("BatchNormalization", "bn", new String[] {"x", "s", "zero", "zero", "s"},
                        new String[] {"y"}, floatAttr("epsilon", (float) EPS)))
                .build();
        ModelProto m = model(13, g).toBuilder().setProducerName("pytorch").setProducerVersion("1.13.0").build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("bn.onnx"), m));
        assertThat(onnx.parameterNames()).containsExactly("s", "zero");
        double[] x = {0.3, -1.2, 2.0, 0.4};
        try (Params params = onnx.params(DType.F64); Tensor xt = Tensor.of(x, 2, 2);
             Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(Method.JACOBIAN_CONTRACTION)
                     .ntk(xt, null)) {
            // ∂y[n, c]/∂s[c] = x[n, c] / sqrt(s[c] + eps) (the variance held fixed), ∂y[n, c]/∂zero[c] = 1
            for (int n1 = 0; n1 < 2; n1++) {
                for (int n2 = 0; n2 < 2; n2++) {
                    for (int c = 0; c < 2; c++) {
                        double expected = x[n1 * 2 + c] * x[n2 * 2 + c] / (s[c] + EPS) + 1;
                        assertThat(k.get(n1, n2, c, c)).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-12));
                        assertThat(k.get(n1, n2, c, 1 - c)).isEqualTo(0.0);
                    }
                }
            }
        }
    }
}

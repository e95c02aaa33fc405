package org.ntk4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * What a Java user can do today: the empirical NTK with DJL's PyTorch engine. DJL has no per-example gradients,
 * no forward mode and no vmap, and its {@code GradientCollector.backward(y)} seeds a cotangent of ones; so the
 * kernel takes one forward and one backward pass per example n and logit k (backward of f_k(x_n)), each giving
 * the row J[n·O + k, :] of all parameter gradients, and then Θ = J·Jᵀ by one matrix product, reshaped to
 * [N, N, O, O]: N·O passes and an N·O × P matrix, as JC without batching. Where that matrix would not fit the
 * memory budget, the rows are formed in blocks of examples (see {@link #kernel}).
 *
 * <p>The network is ntk4j's zoo fcn or cnn rebuilt from its parameters by their documented names ({@code
 * <i>_dense/w} [fan_in, out], {@code <i>_conv/w} [KH, KW, Cin, Cout], {@code .../b}) with the README's
 * formulas (NTK parameterisation, activation after every hidden layer, SAME convolutions, global average pool
 * before a cnn's readout), as {@code torch_ntk_peer.py} does. Offline: the libtorch natives come from the
 * {@code pytorch-native-cpu} jar on the class path, and {@code ai.djl.offline=true} forbids any download
 * ({@link #configure}).
 */
final class DjlPeer {
    private static final Pattern NAME = Pattern.compile("(\\d+)_(dense|conv)/([wb])");
    /** A warm-up run longer than this is followed by one timed run only (as the PyTorch peer does). */
    static final double LONG_RUN_SECONDS = 30;

    private DjlPeer() {
    }

    /** Offline, and libtorch's thread pools sized as asked; must run before the engine loads. */
    static void configure(int threads) {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
    }

    /** The engine's description, for the report (loads the engine). */
    static String engineDescription() {
        Engine e = Engine.getEngine("PyTorch");
        return "DJL " + Engine.getDjlVersion() + ", " + e.getEngineName() + " " + e.getVersion();
    }

    /**
     * One layer of the rebuilt network: f = scale·(h·w) + bScale·b. The two scales are 0-d arrays made once per
     * run, never {@code mul(Number)}: DJL's PyTorch engine makes such a scalar from a direct buffer
     * ({@code from_blob}) and closes it right after the product, while autograd keeps it for the backward pass;
     * a garbage collection in between freed its memory, and about one row in a hundred came out wrong (0.02–0.27
     * relative error on a loaded machine; {@code PeerAgreementTest} failed once that way).
     */
    private record Layer(String kind, NDArray w, NDArray b, NDArray scale, NDArray bScale) {
    }

    /** Result: seconds of the timed runs and the kernel of the last one, [N, N, O, O] float32. */
    record Run(double[] seconds, Tensor kernel) {
    }

    /**
     * Times {@code reps} kernels after {@code warmup}; the rows of at most {@code block} examples are held at a
     * time (twice that while two blocks are contracted).
     */
    static Run run(String arch, Params params, Tensor x, double wStd, double bStd, int warmup, int reps,
                   int block) {
        Engine engine = Engine.getEngine("PyTorch");
        try (NDManager manager = engine.newBaseManager()) {
            List<Layer> layers = layers(manager, params, wStd, bStd);
            int n = x.dim(0);
            NDArray xs = manager.create(floats(x), new Shape(toLong(x.shape())));
            if (arch.equals("cnn")) {
                xs = (xs.getShape().dimension() == 3 ? xs.expandDims(3) : xs).transpose(0, 3, 1, 2); // NHWC->NCHW
            }
            long p = 0;
            for (Layer l : layers) {
                p += l.w.size() + (l.b == null ? 0 : l.b.size());
            }
            int out = (int) layers.get(layers.size() - 1).w.getShape().get(1);
            List<Double> seconds = new ArrayList<>();
            float[] kernel = null;
            int rounds = warmup + reps;
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                kernel = kernel(engine, manager, layers, xs, n, out, p, Math.max(1, Math.min(n, block)));
                double sec = (System.nanoTime() - t0) / 1e9;
                if (round >= warmup) {
                    seconds.add(sec);
                } else if (sec > LONG_RUN_SECONDS) {
                    rounds = warmup + 1; // a run this long is timed once: its spread is small next to its length
                }
            }
            return new Run(seconds.stream().mapToDouble(Double::doubleValue).toArray(),
                    Tensor.of(kernel, n, n, out, out));
        }
    }

    /**
     * Θ from the rows J[n·O + k] = ∂f_k(x_n)/∂θ, one backward pass each, in blocks of {@code block} examples:
     * with all N examples in one block, J is formed once and Θ = J·Jᵀ; when N·O × P floats would not fit the
     * memory budget, the rows of two blocks are held at a time and a block's rows are recomputed for each pair
     * (the passes grow from N·O to about N·O·(blocks + 1)/2).
     */
    private static float[] kernel(Engine engine, NDManager manager, List<Layer> layers, NDArray xs, int n, int out,
                                  long p, int block) {
        float[] theta = new float[n * n * out * out];
        for (int i0 = 0; i0 < n; i0 += block) {
            int i1 = Math.min(n, i0 + block);
            try (NDManager left = manager.newSubManager()) {
                NDArray rowsI = rows(engine, left, layers, xs, i0, i1, out, p);
                for (int j0 = i0; j0 < n; j0 += block) {
                    int j1 = Math.min(n, j0 + block);
                    try (NDManager right = manager.newSubManager()) {
                        NDArray rowsJ = j0 == i0 ? rowsI : rows(engine, right, layers, xs, j0, j1, out, p);
                        // block[a·O + k, b·O + l] = J[(i0 + a)·O + k] · J[(j0 + b)·O + l]
                        float[] blk = rowsI.matMul(rowsJ.transpose()).toFloatArray();
                        int bj = (j1 - j0) * out;
                        for (int a = i0; a < i1; a++) {
                            for (int b = j0; b < j1; b++) {
                                for (int k = 0; k < out; k++) {
                                    for (int l = 0; l < out; l++) {
                                        float v = blk[((a - i0) * out + k) * bj + (b - j0) * out + l];
                                        theta[((a * n + b) * out + k) * out + l] = v;
                                        theta[((b * n + a) * out + l) * out + k] = v; // Θ(x_b, x_a) = Θ(x_a, x_b)ᵀ
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return theta;
    }

    /** The rows J[n·O + k] for examples [from, to): one forward and one backward pass per example and logit. */
    private static NDArray rows(Engine engine, NDManager rowsManager, List<Layer> layers, NDArray xs, int from,
                                int to, int out, long p) {
        NDArray jac = rowsManager.zeros(new Shape((long) (to - from) * out, p));
        for (int i = from; i < to; i++) {
            for (int k = 0; k < out; k++) {
                try (NDScope scope = new NDScope(); GradientCollector gc = engine.newGradientCollector()) {
                    scope.suppressNotUsedWarning();
                    NDArray y = forward(layers, xs.get(new NDIndex("{}:{}", i, i + 1)));
                    gc.backward(y.get(0, k));
                    NDList grads = new NDList();
                    for (Layer l : layers) {
                        grads.add(l.w.getGradient().flatten());
                        if (l.b != null) {
                            grads.add(l.b.getGradient().flatten());
                        }
                    }
                    jac.set(new NDIndex((long) (i - from) * out + k), NDArrays.concat(grads));
                    gc.zeroGradients();
                }
            }
        }
        return jac;
    }

    private static NDArray forward(List<Layer> layers, NDArray x) {
        NDArray h = x;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l.kind.equals("dense")) {
                if (h.getShape().dimension() == 4) {
                    // a cnn's readout: global average pool first (DJL's PyTorch mean takes one axis at a time)
                    h = h.reshape(h.getShape().get(0), h.getShape().get(1), -1).mean(new int[] {2});
                } else if (h.getShape().dimension() > 2) {
                    h = h.reshape(h.getShape().get(0), -1);
                }
                h = h.matMul(l.w).mul(l.scale);
                if (l.b != null) {
                    h = h.add(l.b.mul(l.bScale));
                }
            } else {
                long k = l.w.getShape().get(3);
                h = Conv2d.conv2d(h, l.w, null, new Shape(1, 1), new Shape(k / 2, k / 2), new Shape(1, 1), 1)
                        .singletonOrThrow().mul(l.scale);
                if (l.b != null) {
                    h = h.add(l.b.mul(l.bScale).reshape(1, -1, 1, 1));
                }
            }
            if (i < layers.size() - 1) {
                h = Activation.relu(h);
            }
        }
        return h;
    }

    /** The zoo network's layers in order, parameters as gradient-tracking leaves in torch's layouts. */
    private static List<Layer> layers(NDManager manager, Params params, double wStd, double bStd) {
        Map<Integer, String> kinds = new TreeMap<>();
        for (String name : params.tensors().keySet()) {
            Matcher m = NAME.matcher(name);
            if (!m.matches()) {
                throw new IllegalArgumentException("DJL peer: unexpected parameter '" + name
                        + "'; it rebuilds zoo fcn and cnn networks only");
            }
            kinds.put(Integer.parseInt(m.group(1)), m.group(2));
        }
        List<Layer> layers = new ArrayList<>();
        for (Map.Entry<Integer, String> e : kinds.entrySet()) {
            String prefix = e.getKey() + "_" + e.getValue() + "/";
            Tensor w = params.get(prefix + "w");
            NDArray wa = manager.create(floats(w), new Shape(toLong(w.shape())));
            long fanIn;
            if (e.getValue().equals("conv")) {
                fanIn = (long) w.dim(0) * w.dim(1) * w.dim(2);
                wa = wa.transpose(3, 2, 0, 1).duplicate(); // [KH, KW, Cin, Cout] -> [Cout, Cin, KH, KW]
            } else {
                fanIn = w.dim(0);
            }
            wa.setRequiresGradient(true);
            NDArray ba = null;
            if (params.tensors().containsKey(prefix + "b")) {
                Tensor b = params.get(prefix + "b");
                ba = manager.create(floats(b), new Shape(toLong(b.shape())));
                ba.setRequiresGradient(true);
            }
            layers.add(new Layer(e.getValue(), wa, ba, manager.create((float) (wStd / Math.sqrt(fanIn))),
                    manager.create((float) bStd)));
        }
        return layers;
    }

    private static float[] floats(Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("DJL peer: float32 tensors only, got " + t.dtype());
        }
        float[] f = new float[t.size()];
        t.floatPointer().get(f);
        return f;
    }

    private static long[] toLong(int[] shape) {
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            s[i] = shape[i];
        }
        return s;
    }
}

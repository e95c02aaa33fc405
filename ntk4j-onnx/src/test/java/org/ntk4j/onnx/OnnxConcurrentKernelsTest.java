package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.FLOAT;
import static org.ntk4j.onnx.Onnx.attr;
import static org.ntk4j.onnx.Onnx.floats;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * An imported ONNX model used as a service uses it: loaded once, its parameters made once per dtype, then kernels
 * computed from four threads started together (each task run by two of them, twice, each thread in its own
 * order, so that threads compute with inputs of their own at each moment; the plan caches and the layer's per-dtype
 * constants are filled concurrently from cold). Every
 * result equals, bit for bit, the same call made alone on another load of the same file with its own parameters
 * and inputs: the computation path does not depend on the thread, so any difference is a race.
 *
 * <p>The graph, y = softmax(tanh(x·W1 + b1)·s·W2 + b2), has a frozen initializer (b1: a layer constant cached per
 * dtype) and a scalar constant (s), and is computed by every method (two of the full, trace, pntk and probes kinds
 * each), the NNGP and the forward pass, in float32 and float64.
 */
class OnnxConcurrentKernelsTest {
    /** Threads started together; each task is run by THREADS / GROUPS of them, ROUNDS times, in different orders. */
    private static final int THREADS = 4;
    private static final int ROUNDS = 2;
    private static final int GROUPS = 2;
    private static final Method[] METHODS = {Method.AUTO, Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    private static final String[] KINDS = {"full", "trace", "pntk", "probes:2"};

    private static float[] values(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * 0.5);
        }
        return v;
    }

    private static Path file(Path dir) throws IOException {
        Random r = new Random(11);
        GraphProto g = GraphProto.newBuilder().setName("mlp")
                .addInput(info("x", FLOAT, "batch", 4))
                .addOutput(info("y", FLOAT, "batch", 3))
                .addInitializer(floats("W1", values(r, 24), 4, 6))
                .addInitializer(floats("b1", values(r, 6), 6))
                .addInitializer(floats("s", new float[] {1.5f}))
                .addInitializer(floats("W2", values(r, 18), 6, 3))
                .addInitializer(floats("b2", values(r, 3), 3))
                .addNode(node("MatMul", "mm1", new String[] {"x", "W1"}, new String[] {"h0"}))
                .addNode(node("Add", "add1", new String[] {"h0", "b1"}, new String[] {"h1"}))
                .addNode(node("Tanh", "tanh", new String[] {"h1"}, new String[] {"h2"}))
                .addNode(node("Mul", "scale", new String[] {"h2", "s"}, new String[] {"h3"}))
                .addNode(node("MatMul", "mm2", new String[] {"h3", "W2"}, new String[] {"z0"}))
                .addNode(node("Add", "add2", new String[] {"z0", "b2"}, new String[] {"z"}))
                .addNode(node("Softmax", "softmax", new String[] {"z"}, new String[] {"y"}, attr("axis", -1)))
                .build();
        return Onnx.write(dir.resolve("mlp.onnx"), model(13, g));
    }

    /** One load of the file (b1 frozen), its parameters per dtype and inputs of 2, 3 and 4 examples per dtype. */
    private static final class World implements AutoCloseable {
        final OnnxModel onnx;
        final List<Params> params = new ArrayList<>();
        final List<List<Tensor>> x = new ArrayList<>();

        World(Path file) {
            onnx = OnnxModel.load(file).freeze(Pattern.compile("^b1$"));
            for (DType dtype : DType.values()) {
                params.add(onnx.params(dtype));
                List<Tensor> xs = new ArrayList<>();
                int seed = 40;
                for (int n : new int[] {2, 3, 4, 2, 3, 4}) {
                    xs.add(Tensor.randomNormal(dtype, seed++, n, 4));
                }
                x.add(xs);
            }
        }

        @Override
        public void close() {
            params.forEach(Params::close);
            x.forEach(xs -> xs.forEach(Tensor::close));
            onnx.model().releaseCaches();
        }
    }

    private record Task(String name, Function<World, double[]> run) {
    }

    private static double[] of(Tensor t) {
        try (t) {
            return t.toDoubleArray();
        }
    }

    private static List<Task> tasks() {
        List<Task> tasks = new ArrayList<>();
        int i = 0;
        for (DType dtype : DType.values()) {
            int d = dtype.ordinal();
            for (int mi = 0; mi < METHODS.length; mi++) {
                Method m = METHODS[mi];
                for (int ki = 0; ki < 2; ki++) {
                    // two kinds a method, rotated so that the methods together meet every kind in each dtype
                    String kindText = KINDS[(2 * mi + ki) % KINDS.length];
                    KernelKind kind = KernelKind.parse(kindText, 5);
                    int a = i % 6;
                    int b = i % 3 == 0 ? -1 : (a + 1 + i % 4) % 6;
                    i++;
                    tasks.add(new Task(dtype + " " + m + " " + kindText + " x" + a + " x" + b,
                            w -> of(EmpiricalNtk.of(w.onnx.model(), w.params.get(d)).method(m).kernel(kind,
                                    w.x.get(d).get(a), b < 0 ? null : w.x.get(d).get(b)))));
                }
            }
            for (int a = 0; a < 6; a += 2) {
                int x1 = a;
                tasks.add(new Task(dtype + " nngp x" + x1, w -> of(EmpiricalNtk.of(w.onnx.model(), w.params.get(d))
                        .nngp(w.x.get(d).get(x1), w.x.get(d).get(x1 + 1)))));
                tasks.add(new Task(dtype + " apply x" + x1, w -> of(w.onnx.model().apply(w.params.get(d),
                        w.x.get(d).get(x1)))));
            }
        }
        return tasks;
    }

    @Test
    void importedModelKernelsFromSeveralThreadsEqualCallsMadeAlone(@TempDir Path dir) throws Exception {
        Path file = file(dir);
        List<Task> tasks = tasks();
        int n = tasks.size();
        try (World shared = new World(file); World alone = new World(file)) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            CountDownLatch start = new CountDownLatch(1);
            try {
                List<Future<double[][]>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int offset = t * n / THREADS;
                    int group = t % GROUPS;
                    futures.add(pool.submit(() -> {
                        double[][] got = new double[ROUNDS * n][];
                        start.await();
                        for (int r = 0; r < ROUNDS; r++) {
                            for (int j = 0; j < n; j++) {
                                int task = (j + offset + r * 5) % n;
                                if (task % GROUPS == group) {
                                    got[r * n + task] = tasks.get(task).run().apply(shared);
                                }
                            }
                        }
                        return got;
                    }));
                }
                start.countDown();
                List<double[][]> results = new ArrayList<>();
                for (Future<double[][]> f : futures) {
                    results.add(f.get(120, TimeUnit.SECONDS));
                }
                for (int j = 0; j < n; j++) {
                    double[] reference = tasks.get(j).run().apply(alone);
                    for (int t = j % GROUPS; t < THREADS; t += GROUPS) {
                        for (int r = 0; r < ROUNDS; r++) {
                            assertThat(results.get(t)[r * n + j]).as("%s, thread %d, round %d", tasks.get(j).name(),
                                    t, r).containsExactly(reference);
                        }
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}

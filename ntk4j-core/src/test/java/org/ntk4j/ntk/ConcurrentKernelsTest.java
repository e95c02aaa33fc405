package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.infinite.LimitKernel;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GpInference;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The kernel paths used as a service uses them: one model and its parameters built once, then kernels computed from
 * several threads at once (a {@link CountDownLatch} starts them together, each task is run by several threads, each
 * thread in its own order, so the same plan is used by threads with different inputs at the same moment, and the
 * plan caches are filled concurrently from cold). Every result must equal, bit for bit, the same call made alone on
 * another model instance built from the same spec, with copies of the same parameters and inputs (cold caches, kept
 * weight copies and NaN-scan marks of its own): the thread-independent computation path is the same, so any
 * difference is a race.
 *
 * <p>What is covered: every method (AUTO, Jacobian contraction, NTK-vector products, structured derivatives), every
 * kind (full, trace, diagonal, pntk, pntk-unscaled, logit, probes, projected), the NNGP, NTK-vector products
 * {@code Θ·v}, the forward pass, prepared tiles, float32 and float64, on an FCN, a CNN, a ResNet and a transformer;
 * one model with inference-mode batch norm applied with more sets of statistics than its derived-model cache
 * keeps (so that cached models are dropped while other threads compute with them); the infinite-width limits; and
 * GP inference with a shared predictor on the kernels computed.
 *
 * <p>The contract checked (docs/install.md, "Threads, closing and memory"): {@link EmpiricalNtk}, {@link Model}
 * and {@link Params} may be shared by threads that compute with them; every plan, workspace and cache on these
 * paths is either per call, per thread, or built once under a lock and read-only afterwards, and a cached plan
 * dropped by another thread stays usable by the calls that took it. The batch-norm test found the one race of the
 * kernel paths (a cost estimate mixing a dropped side plan's consumers with its successor); {@link
 * #aCostWalkWhoseSidePlanIsDroppedMeanwhileLeavesTheNewPlanIntact} reproduces its window deterministically.
 */
class ConcurrentKernelsTest {
    /**
     * Threads started together, and the rounds each runs over its tasks: the tasks are split into {@link #GROUPS}
     * groups, each run by THREADS / GROUPS threads in different orders, so every task runs concurrently with itself
     * and with the others. -Dntk4j.test.threads=8 -Dntk4j.test.rounds=4 -Dntk4j.test.groups=1 runs the audit's
     * longer version (about 30 s; every thread runs every task).
     */
    private static final int THREADS = Integer.getInteger("ntk4j.test.threads", 4);
    private static final int ROUNDS = Integer.getInteger("ntk4j.test.rounds", 2);
    private static final int GROUPS = Math.min(THREADS, Integer.getInteger("ntk4j.test.groups", 2));
    private static final Method[] METHODS = {Method.AUTO, Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    private static final String[] KINDS = {"full", "trace", "diagonal", "pntk", "pntk-unscaled", "logit:1",
        "probes:2"};

    /** A model, parameters and inputs owned by one side of the comparison (closed with it). */
    private static final class World implements AutoCloseable {
        final Model model;
        final int[] perExample;
        final DType dtype;
        final List<Params> params = new ArrayList<>();
        /** Inputs of 2, 3 and 4 examples, two of each size (different values). */
        final List<Tensor> x = new ArrayList<>();
        /** Vectors shaped like f(x.get(i)), for Θ·v. */
        final List<Tensor> v = new ArrayList<>();

        World(Supplier<Model> model, int[] perExample, DType dtype, int paramSets) {
            this.model = model.get();
            this.perExample = perExample;
            this.dtype = dtype;
            for (int s = 0; s < paramSets; s++) {
                params.add(this.model.init(1 + s, perExample, dtype));
            }
            int seed = 100;
            for (int n : new int[] {2, 3, 4, 2, 3, 4}) {
                int[] shape = new int[perExample.length + 1];
                shape[0] = n;
                System.arraycopy(perExample, 0, shape, 1, perExample.length);
                x.add(Tensor.randomNormal(dtype, seed++, shape));
                int[] out = this.model.outputShape(perExample);
                int[] vShape = new int[out.length + 1];
                vShape[0] = n;
                System.arraycopy(out, 0, vShape, 1, out.length);
                v.add(Tensor.randomNormal(dtype, seed++, vShape));
            }
        }

        EmpiricalNtk ntk(int paramSet) {
            return EmpiricalNtk.of(model, params.get(paramSet));
        }

        @Override
        public void close() {
            params.forEach(Params::close);
            x.forEach(Tensor::close);
            v.forEach(Tensor::close);
            model.releaseCaches();
        }
    }

    /** One computation on a world, named for the assertion's message; its result as doubles. */
    private record Task(String name, Function<World, double[]> run) {
    }

    private static double[] values(Tensor t) {
        try (t) {
            return t.toDoubleArray();
        }
    }

    /** x1 index and x2 index (-1: x2 = x1) of the task's inputs, varied with the task's number. */
    private static int[] inputsOf(int i) {
        int a = i % 6;
        int b = (i / 6) % 2 == 0 ? -1 : (a + 1 + i % 5) % 6;
        return new int[] {a, b};
    }

    /**
     * Each method with {@code kinds} of the kinds (every kind: 7; fewer, a rotation, so that the methods together
     * still meet each kind), the NNGP, Θ·v, the forward pass, a projected sketch and prepared tiles. Each kind that
     * projects the logits is a model of its own, traced cold: the kinds are what the test's time goes to.
     */
    private static List<Task> kernelTasks(int kinds) {
        List<Task> tasks = new ArrayList<>();
        int i = 0;
        for (int mi = 0; mi < METHODS.length; mi++) {
            Method m = METHODS[mi];
            for (int ki = 0; ki < kinds; ki++) {
                String kindText = KINDS[(mi * kinds + ki) % KINDS.length];
                KernelKind kind = KernelKind.parse(kindText, 7);
                int[] in = inputsOf(i++);
                int p = i % 2;
                tasks.add(new Task(m + " " + kindText + " x" + in[0] + " x" + in[1] + " p" + p,
                        w -> values(w.ntk(p).method(m).kernel(kind, w.x.get(in[0]),
                                in[1] < 0 ? null : w.x.get(in[1])))));
            }
            int[] in = inputsOf(i++);
            tasks.add(new Task(m + " ntk() x" + in[0] + " x" + in[1], w -> values(w.ntk(0).method(m)
                    .ntk(w.x.get(in[0]), in[1] < 0 ? null : w.x.get(in[1])))));
        }
        for (int c = 0; c < 2; c++) {
            int[] in = inputsOf(i++);
            tasks.add(new Task("nngp x" + in[0] + " x" + in[1], w -> values(w.ntk(1).traceAxes().nngp(w.x.get(in[0]),
                    in[1] < 0 ? null : w.x.get(in[1])))));
            int x2 = in[1] < 0 ? in[0] : in[1];
            tasks.add(new Task("ntkVectorProduct x" + in[0] + " x" + x2, w -> values(w.ntk(0).ntkVectorProduct(
                    w.x.get(in[0]), w.x.get(x2), w.v.get(x2)))));
            int p = c;
            int a = in[0];
            tasks.add(new Task("apply x" + a + " p" + p, w -> values(w.model.apply(w.params.get(p), w.x.get(a)))));
            tasks.add(new Task("projected:6 x" + in[0] + " x" + in[1], w -> values(w.ntk(p).kernel(
                    KernelKind.parse("projected:6", 3), w.x.get(in[0]), in[1] < 0 ? null : w.x.get(in[1])))));
        }
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            int a = i++ % 6;
            int b = (a + 2) % 6;
            tasks.add(new Task("tiles " + m + " x" + a + " x" + b, w -> {
                EmpiricalNtk tiles = w.ntk(0).method(m).forTiles(KernelKind.trace(), 8, 8, w.perExample, w.dtype);
                try (PreparedTile rows = tiles.prepare(w.x.get(a)); PreparedTile columns = tiles.prepare(w.x.get(b))) {
                    return values(tiles.kernel(rows, columns));
                }
            }));
        }
        return tasks;
    }

    /**
     * Runs the tasks on {@code shared} from {@link #THREADS} threads started together, each thread {@link #ROUNDS}
     * times over its group's tasks in its own rotation of the list, then each task alone on {@code alone}, and
     * asserts every concurrent result equals the one made alone, bit for bit.
     */
    private static void assertConcurrentCallsEqualCallsMadeAlone(String what, World shared, World alone,
                                                                 List<Task> tasks) throws Exception {
        assertConcurrentCallsEqualCallsMadeAlone(what, shared, alone, tasks, THREADS, ROUNDS, GROUPS);
    }

    /** The same with {@code threads} threads, {@code rounds} rounds and the tasks split into {@code groups}. */
    private static void assertConcurrentCallsEqualCallsMadeAlone(String what, World shared, World alone,
                                                                 List<Task> tasks, int threads, int rounds,
                                                                 int groups) throws Exception {
        int n = tasks.size();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<double[][]>> futures = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                int offset = t * n / threads;
                int group = t % groups;
                futures.add(pool.submit(() -> {
                    double[][] got = new double[rounds * n][];
                    start.await();
                    for (int r = 0; r < rounds; r++) {
                        for (int j = 0; j < n; j++) {
                            int task = (j + offset + r * 7) % n;
                            if (task % groups == group) {
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
                for (int t = j % groups; t < threads; t += groups) {
                    for (int r = 0; r < rounds; r++) {
                        assertThat(results.get(t)[r * n + j]).as("%s: %s, thread %d, round %d", what,
                                tasks.get(j).name(), t, r).containsExactly(reference);
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void check(String spec, int[] perExample, DType dtype, int kinds) throws Exception {
        try (World shared = new World(() -> Zoo.parse(spec), perExample, dtype, 2);
             World alone = new World(() -> Zoo.parse(spec), perExample, dtype, 2)) {
            assertConcurrentCallsEqualCallsMadeAlone(spec + " " + dtype, shared, alone, kernelTasks(kinds));
        }
    }

    @Test
    void fcnKernelsOfEveryMethodAndKindFromSeveralThreadsEqualCallsMadeAlone() throws Exception {
        check("fcn(depth=2,width=8,out=3)", new int[] {5}, DType.F64, 4);
        check("fcn(depth=2,width=8,out=3)", new int[] {5}, DType.F32, 2);
    }

    @Test
    void convolutionalResidualAndAttentionKernelsFromSeveralThreadsEqualCallsMadeAlone() throws Exception {
        check("cnn(depth=1,channels=3,out=3)", new int[] {4, 4, 1}, DType.F32, 2);
        check("resnet(blocks=1,channels=3,out=3)", new int[] {4, 4, 1}, DType.F64, 2);
        check("transformer(layers=1,dim=4,heads=2,out=3)", new int[] {3, 2}, DType.F32, 2);
    }

    /**
     * Inference-mode batch norm applied with ten sets of running statistics from several threads: more than the eight
     * models the base model derives for other statistics and keeps, so derived models (with the copies of their
     * statistics and their plans) are dropped while other threads compute with them.
     */
    @Test
    void batchNormWithMoreStatisticsThanItsCacheKeepsFromSeveralThreadsEqualsCallsMadeAlone() throws Exception {
        Supplier<Model> make = () -> new Model(Layers.serial(Layers.dense(4), Layers.batchNormEval(), Layers.tanh(),
                Layers.dense(3)), "dense-bn-tanh-dense");
        for (DType dtype : DType.values()) {
            try (World shared = new World(make, new int[] {5}, dtype, 1);
                 World alone = new World(make, new int[] {5}, dtype, 1)) {
                List<Task> tasks = new ArrayList<>();
                for (int s = 0; s < 10; s++) {
                    int stats = s;
                    Method m = METHODS[s % METHODS.length];
                    int a = s % 6;
                    tasks.add(new Task("statistics " + s + " " + m, w -> {
                        // the derived model is taken, and used, inside a lease (Model.withBuffersOf's contract)
                        try (Params p = withStatistics(w.params.get(0), stats, w.dtype);
                             CachedTensors.Lease lease = CachedTensors.lease();
                             Tensor k = EmpiricalNtk.of(w.model.withBuffersOf(p, w.perExample, w.dtype), p)
                                     .method(m).traceAxes().ntk(w.x.get(a), null);
                             Tensor f = w.model.apply(p, w.x.get(a))) {
                            double[] both = java.util.Arrays.copyOf(k.toDoubleArray(), k.size() + f.size());
                            System.arraycopy(f.toDoubleArray(), 0, both, k.size(), f.size());
                            return both;
                        }
                    }));
                }
                // every thread through all ten (a drop meets a call in progress in about one run of three with 8
                // threads and 4 rounds before the fix; aCostWalkWhoseSidePlanIsDroppedMeanwhile... hits it always)
                assertConcurrentCallsEqualCallsMadeAlone("batch norm " + dtype, shared, alone, tasks, 6, 2, 1);
            }
        }
    }

    /** Copies of {@code init}'s parameters with batch-norm statistics of their own (mean s/10, variance 1 + s). */
    private static Params withStatistics(Params init, int s, DType dtype) {
        Map<String, Tensor> t = Params.copies(init.tensors());
        Tensor mean = Tensor.zeros(dtype, 4);
        Tensor var = Tensor.zeros(dtype, 4);
        for (int c = 0; c < 4; c++) {
            mean.setFlat(c, s / 10.0 - c / 7.0);
            var.setFlat(c, 1 + s + c / 3.0);
        }
        return new Params(t, Map.of("1_batch_norm_eval/running_mean", mean, "1_batch_norm_eval/running_var", var));
    }

    /**
     * The window of the race the batch-norm test above found: a cost walk takes a side plan's consumers, another
     * thread drops that side plan meanwhile (a derived model pushed out of its base's cache, an LRU eviction, {@link
     * Model#releaseCaches}), and the walk then asks "the side plan of that batch size" for the consumers' row
     * graphs. It got the plan traced anew, and built and cached in it row graphs from the dropped trace's
     * consumers (an operand of the new trace's examples taken for a constant of the whole batch): every later
     * kernel by Jacobian contraction on that batch size failed with "evaluate: input 0 must be f64[4,4], got
     * f64[1,4]". A cost walk now reads the consumers' own side plan.
     */
    @Test
    void aCostWalkWhoseSidePlanIsDroppedMeanwhileLeavesTheNewPlanIntact() {
        Model m = new Model(Layers.serial(Layers.dense(4), Layers.batchNormEval(), Layers.tanh(), Layers.dense(3)),
                "dense-bn-tanh-dense");
        Model alone = new Model(Layers.serial(Layers.dense(4), Layers.batchNormEval(), Layers.tanh(),
                Layers.dense(3)), "dense-bn-tanh-dense");
        int[] in = {5};
        try (Params p = m.init(1, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 4, 5);
             CachedTensors.Lease lease = CachedTensors.lease()) {
            CostModel c = new CostModel(m, in, DType.F64, 4, 0, new int[0], new int[0]);
            ParameterConsumers dropped = c.consumers(4);
            m.releaseCaches(); // another thread drops the side plan here
            for (ParameterConsumers.Consumer consumer : dropped.consumers) {
                c.rowScratch(dropped, consumer, 3);
            }
            try (Tensor k = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).traceAxes().ntk(x, null);
                 Tensor reference = EmpiricalNtk.of(alone, p).method(Method.JACOBIAN_CONTRACTION).traceAxes()
                         .ntk(x, null)) {
                assertThat(k.toDoubleArray()).containsExactly(reference.toDoubleArray());
            }
        } finally {
            m.releaseCaches();
            alone.releaseCaches();
        }
    }

    /** The analytic infinite-width limits, composed and closed-form, from several threads at once. */
    @Test
    void infiniteWidthLimitsFromSeveralThreadsEqualCallsMadeAlone() throws Exception {
        Supplier<Model> make = () -> Zoo.parse("fcn(depth=2,width=8,out=3,act=erf)");
        try (World shared = new World(make, new int[] {5}, DType.F64, 1);
             World alone = new World(make, new int[] {5}, DType.F64, 1)) {
            List<Task> tasks = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int a = i;
                int b = (i + 3) % 6;
                tasks.add(new Task("composed limit x" + a + " x" + b, w -> {
                    InfiniteLimit limit = InfiniteLimit.of(w.model, w.perExample);
                    return values(limit.kernel(KernelKind.full(), w.x.get(a), w.x.get(b), LimitKernel.NTK, w.dtype));
                }));
                tasks.add(new Task("fcn limit x" + a, w -> {
                    return values(InfiniteLimit.of("fcn(depth=2,out=3,act=gelu)").kernel(KernelKind.trace(),
                            w.x.get(a), null, LimitKernel.NNGP, DType.F32));
                }));
            }
            assertConcurrentCallsEqualCallsMadeAlone("infinite limits", shared, alone, tasks);
        }
    }

    /**
     * One GP predictor (its Cholesky factorisations made on first use) asked from several threads at once, for
     * every posterior and test batch, on the kernels of a shared model computed in those threads.
     */
    @Test
    void gpInferenceOnKernelsComputedConcurrentlyEqualsCallsMadeAlone() throws Exception {
        Supplier<Model> make = () -> Zoo.parse("fcn(depth=1,width=16,out=2)");
        for (DType dtype : DType.values()) {
            try (World shared = new World(make, new int[] {5}, dtype, 1);
                 World alone = new World(make, new int[] {5}, dtype, 1);
                 Predictors sharedGp = new Predictors(shared); Predictors aloneGp = new Predictors(alone)) {
                List<Task> tasks = new ArrayList<>();
                for (GpInference.Posterior get : GpInference.Posterior.values()) {
                    for (int test = 0; test < 6; test++) {
                        int a = test;
                        tasks.add(new Task(get + " test x" + a, w -> {
                            Predictors gp = w == shared ? sharedGp : aloneGp;
                            EmpiricalNtk e = w.ntk(0).traceAxes(-1);
                            try (GpInference.Kernels testTrain = new GpInference.Kernels(e.nngp(w.x.get(a), gp.train),
                                    e.ntk(w.x.get(a), gp.train));
                                 GpInference.Kernels testTest = new GpInference.Kernels(e.nngp(w.x.get(a), null),
                                         e.ntk(w.x.get(a), null));
                                 GpInference.Gaussian g = gp.predictor.predict(get, testTrain, testTest)) {
                                double[] mean = g.mean().toDoubleArray();
                                double[] cov = g.covariance().toDoubleArray();
                                double[] both = java.util.Arrays.copyOf(mean, mean.length + cov.length);
                                System.arraycopy(cov, 0, both, mean.length, cov.length);
                                return both;
                            }
                        }));
                    }
                }
                assertConcurrentCallsEqualCallsMadeAlone("gp inference " + dtype, shared, alone, tasks);
            }
        }
    }

    /** A training set of 8 examples, its kernels and targets, and one predictor on them. */
    private static final class Predictors implements AutoCloseable {
        final Tensor train;
        final Tensor y;
        final GpInference.Kernels kernels;
        final GpInference.Predictor predictor;

        Predictors(World w) {
            train = Tensor.randomNormal(w.dtype, 77, 8, 5);
            y = Tensor.randomNormal(w.dtype, 78, 8, 2);
            EmpiricalNtk e = w.ntk(0).traceAxes(-1);
            kernels = new GpInference.Kernels(e.nngp(train, null), e.ntk(train, null));
            predictor = new GpInference.Predictor(kernels, y, DiagReg.relative(1e-2));
        }

        @Override
        public void close() {
            predictor.close();
            kernels.close();
            train.close();
            y.close();
        }
    }
}

package org.ntk4j.train;

import java.io.IOException;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.Layout;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.predict.Loss;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Mini-batch training of any {@link Model} by {@link Optimizer SGD or Adam} on a {@link Loss}. Each step runs
 * one graph: the network's forward pass, the loss of the batch and its reverse-mode pass (a {@link Vjp} of the
 * scalar loss, traced once per batch size, so the work is the network's GEMMs and convolutions, batched); the
 * update is in place, elementwise. Reproducible bit for bit on one machine: the order of the examples in epoch e
 * is a Fisher-Yates shuffle by a {@link SplittableRandom} seeded from (seed, e), the graph's shapes are fixed per
 * step, and the update of each element does not depend on how the work is split between threads. A run resumed
 * from a {@link TrainState} continues exactly as the uninterrupted run. Batch norms with running statistics train
 * frozen (normalised by them, kept) or, with {@link TrainConfig#batchNormTraining}, in PyTorch's {@code train()} mode
 * (normalised by the batch's statistics, the running ones updated after each step and used by the evaluation and
 * carried by the checkpoints and the result).
 */
public final class Trainer {
    private Trainer() {
    }

    /**
     * Trains from initial parameters.
     *
     * @param model the network; its output must be [n, classes]; its constants ({@link Model#buffers}) go with
     *     the parameters of every checkpoint and of the result, and are the network trained where given
     * @param init the initial parameters (of the dtype the training runs in); copied, not changed, not closed; their
     *     {@link Params#buffers} (a parameter file's batch-norm running statistics) are the network's where the model
     *     gives none of that path (the model's given ones win: {@link Model#init}'s parameters carry the defaults)
     * @param train the training examples; converted to the parameters' dtype if needed; not closed
     * @param test the examples evaluated after every epoch, or null
     * @param config the run's settings
     * @param listener what gets the curves, checkpoints and progress; {@link Listener#NONE} for nothing
     * @return the final parameters and the curves, which the caller closes
     * @throws IllegalArgumentException if the parameters or examples do not fit the model, the outputs are not
     *     [n, classes], or the run diverges (a loss, a parameter or an optimizer buffer NaN or ±∞: the run stops
     *     there)
     * @throws IOException if the listener fails to record an epoch or a checkpoint
     */
    public static TrainResult train(Model model, Params init, Examples train, Examples test, TrainConfig config,
            Listener listener) throws IOException {
        Map<String, Tensor> p = Params.copies(init.tensors());
        // the constants (batch-norm running statistics) travel with the parameters, so that every checkpoint and the
        // result hold the network trained, not the declared defaults: the model's given ones, and init's (a parameter
        // file's) for the others
        Map<String, Tensor> constants = new LinkedHashMap<>();
        init.buffers().forEach((k, v) -> constants.put(k, model.buffers().getOrDefault(k, v).copy()));
        model.buffers().forEach((k, v) -> constants.computeIfAbsent(k, key -> v.copy()));
        if (config.batchNormTraining()) {
            // the running statistics the steps update: every declared one, at its default where none was given
            DType dt = p.isEmpty() ? train.x().dtype() : p.values().iterator().next().dtype();
            for (ParamSpec b : model.bufferSpecs(Shapes.dropFirst(train.x().shape()))) {
                constants.computeIfAbsent(b.path(), k -> Tensor.full(dt, b.initMean(), b.shape()));
            }
        }
        Params params = new Params(p, constants);
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        for (String b : config.optimizer().bufferNames()) {
            params.tensors().forEach((k, v) -> buffers.put(bufferName(b, k), Tensor.zeros(v.dtype(), v.shape())));
        }
        TrainState start = new TrainState(params, buffers, 0, 0, 0, 0, 0, List.of(), config.describe());
        try (Run run = new Run(model, start, train, test, config, listener)) {
            return run.run();
        }
    }

    /**
     * Continues a run from a checkpoint; with the same model, data and settings (the epochs count may be larger)
     * the result is bit for bit that of the uninterrupted run.
     *
     * @param model the network; it computes with the state's constants (its parameters' {@link Params#buffers},
     *     e.g. batch-norm running statistics) when they have any
     * @param state the checkpoint; copied, not changed, not closed
     * @param train the training examples, the same as the run's
     * @param test the test examples, or null
     * @param config the run's settings; {@link TrainConfig#describe()} must equal {@link TrainState#config()}
     * @param listener what gets the curves, checkpoints and progress
     * @return the final parameters and the curves (those of the checkpoint's history first)
     * @throws IllegalArgumentException if the settings differ from the checkpoint's, the checkpoint is past the
     *     config's last epoch, the state does not fit, or the run diverges
     * @throws IOException if the listener fails
     */
    public static TrainResult resume(Model model, TrainState state, Examples train, Examples test,
            TrainConfig config, Listener listener) throws IOException {
        // no run writes a negative position; one passed the check of step = epoch × steps per epoch + steps into
        // the epoch (epoch 1, step -1 into the next: a batch from index -batch) or trained an epoch 0 more
        if (state.epoch() < 0 || state.stepInEpoch() < 0 || state.step() < 0) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "--resume: the checkpoint's "
                    + "position is negative (epoch %d, %d steps into the next, step %d): not a state a run writes",
                    state.epoch(), state.stepInEpoch(), state.step()));
        }
        // a run cannot be shortened: it would end with the checkpoint's parameters, not those of the shorter run
        if (state.epoch() > config.epochs() || state.epoch() == config.epochs() && state.stepInEpoch() > 0) {
            String at = state.stepInEpoch() == 0 ? "the end of epoch " + state.epoch()
                    : "step " + state.stepInEpoch() + " of epoch " + (state.epoch() + 1);
            throw new IllegalArgumentException("--resume: the checkpoint is at " + at + ", past --epochs "
                    + config.epochs() + " (a resumed run may train longer, not shorter)");
        }
        if (!state.config().equals(config.describe())) {
            throw new IllegalArgumentException("--resume: the checkpoint was taken with "
                    + settingsDifference(state.config(), config.describe()));
        }
        for (String b : config.optimizer().bufferNames()) {
            for (Map.Entry<String, Tensor> p : state.params().tensors().entrySet()) {
                String name = bufferName(b, p.getKey());
                Tensor t = state.buffers().get(name);
                if (t == null) {
                    throw new IllegalArgumentException("--resume: the checkpoint has no " + name);
                }
                // the update runs over flat indices: a buffer of another shape (of the same size) went through
                if (!java.util.Arrays.equals(t.shape(), p.getValue().shape())) {
                    throw new IllegalArgumentException("--resume: the checkpoint's " + name + " has shape "
                            + Shapes.str(t.shape()) + ", its parameter " + p.getKey() + " "
                            + Shapes.str(p.getValue().shape()));
                }
                // the update reads a buffer as its parameter's dtype: another one failed in the first step with an
                // IllegalStateException (Checkpoints.load converts to the run's dtype; a library state need not)
                if (t.dtype() != p.getValue().dtype()) {
                    throw new IllegalArgumentException("--resume: the checkpoint's " + name + " is "
                            + t.dtype().shortName() + ", its parameter " + p.getKey() + " "
                            + p.getValue().dtype().shortName() + " (convert the buffers to the parameters' dtype)");
                }
                // a state this run would not have written (it stops on a non-finite buffer): refused, not trained on
                int bad = org.ntk4j.cpu.Reduce.firstNonFinite(t);
                if (bad >= 0) {
                    throw new IllegalArgumentException("--resume: the checkpoint's " + name + " holds "
                            + t.getFlat(bad) + " at flat index " + bad + ": the run had diverged by then; resume from "
                            + "an earlier checkpoint, or train again with a lower --lr");
                }
            }
        }
        try (Run run = new Run(model, state.copy(), train, test, config, listener)) {
            return run.run();
        }
    }

    /**
     * What differs between two {@link TrainConfig#describe()} lines, for the refusal of a resume: the differing
     * settings of each ({@code loss cross-entropy; this run has loss mse}), then all of the checkpoint's; the two
     * whole lines when they do not have as many settings (a cosine schedule adds the epochs).
     */
    static String settingsDifference(String checkpoint, String run) {
        List<String> was = topLevelItems(checkpoint);
        List<String> now = topLevelItems(run);
        // the batch norms' mode is named only when not the default (TrainConfig#describe): its absence is frozen
        int inWas = was.indexOf(TRAINING_BATCH_NORM);
        int inNow = now.indexOf(TRAINING_BATCH_NORM);
        if (inWas >= 0 && inNow < 0 && inWas <= now.size()) {
            now.add(inWas, "batch norm frozen");
        } else if (inNow >= 0 && inWas < 0 && inNow <= was.size()) {
            was.add(inNow, "batch norm frozen");
        }
        if (was.size() != now.size()) {
            return checkpoint + "; this run has " + run;
        }
        List<String> before = new ArrayList<>();
        List<String> after = new ArrayList<>();
        for (int i = 0; i < was.size(); i++) {
            String a = was.get(i);
            String b = now.get(i);
            if (!a.equals(b)) {
                before.add(a);
                after.add(b);
            }
        }
        return String.join(", ", before) + "; this run has " + String.join(", ", after) + " (the checkpoint's "
                + "settings: " + checkpoint + ")";
    }

    /** The item of {@link TrainConfig#describe()} of a run whose batch norms train in PyTorch's train() mode. */
    private static final String TRAINING_BATCH_NORM = "batch norm train";

    /** The comma-separated items of a settings line, commas inside parentheses kept. */
    private static List<String> topLevelItems(String line) {
        List<String> items = new ArrayList<>();
        int depth = 0;
        int from = 0;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
            if (ch == ',' && depth == 0) {
                items.add(line.substring(from, i).trim());
                from = i + 1;
            }
        }
        items.add(line.substring(from).trim());
        return items;
    }

    /**
     * The name {@link Listener#checkpoint} gets for a checkpoint at the end of an epoch (also for a step
     * checkpoint that falls there).
     *
     * @param epoch the completed epoch, from 0
     * @return {@code epoch-EEEE}, e.g. {@code epoch-0003}
     */
    public static String epochCheckpointName(int epoch) {
        return String.format(java.util.Locale.ROOT, "epoch-%04d", epoch);
    }

    /**
     * The name {@link Listener#checkpoint} gets for a checkpoint within an epoch.
     *
     * @param step the global steps done
     * @return {@code step-SSSSSS}, e.g. {@code step-000120}
     */
    public static String stepCheckpointName(long step) {
        return String.format(java.util.Locale.ROOT, "step-%06d", step);
    }

    /**
     * The name of an optimizer buffer in a {@link TrainState}.
     *
     * @param buffer {@code momentum}, {@code m} or {@code v}
     * @param path the parameter's path
     * @return {@code optimizer/BUFFER/PATH}
     */
    public static String bufferName(String buffer, String path) {
        return "optimizer/" + buffer + "/" + path;
    }

    /**
     * The order in which epoch {@code epoch} visits the examples: a Fisher-Yates shuffle by a
     * {@link SplittableRandom} seeded from (seed, epoch).
     *
     * @param seed the run's seed
     * @param epoch the epoch, from 1
     * @param n the number of examples
     * @return a permutation of 0..n-1
     */
    public static int[] permutation(long seed, int epoch, int n) {
        SplittableRandom r = new SplittableRandom(mix64(seed ^ mix64(0x5DEECE66DL + epoch)));
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /**
     * The graph of one training step's gradient: inputs (parameters in declaration order, x [n, in...],
     * targets y [n, classes], the cotangent [1] of the loss), outputs (the loss as a scalar, then one gradient
     * [1, shape] per parameter). The loss is that of {@link Loss} (a mean over the n × classes target entries).
     *
     * @param model the network
     * @param n the batch size
     * @param in the per-example input shape
     * @param dtype the dtype of the computation
     * @param loss the loss
     * @return the VJP graph
     * @throws IllegalArgumentException if the shapes do not fit or the output is not [n, classes]
     */
    public static Graph gradientGraph(Model model, int n, int[] in, DType dtype, Loss loss) {
        return gradientGraph(model, n, in, dtype, loss, null);
    }

    /**
     * The graph of {@link #gradientGraph(Model, int, int[], DType, Loss)}, with the inference-mode batch norms in
     * training mode where {@code statistics} is not null ({@link Model#traceTrainingInto}): its outputs are then the
     * loss, each batch norm's batch mean and biased variance [C] (in the order of {@code statistics}, which gets them),
     * then the gradients.
     */
    private static Graph gradientGraph(Model model, int n, int[] in, DType dtype, Loss loss,
            List<org.ntk4j.nn.BatchStatistics> statistics) {
        List<ParamSpec> specs = model.paramSpecs(in);
        int[] out = model.outputShape(in);
        if (out.length != 1) {
            throw new IllegalArgumentException("train: the model's output must be [n, classes], got [n, "
                    + Shapes.str(out) + "] per batch");
        }
        int classes = out[0];
        GraphBuilder b = new GraphBuilder();
        Map<String, Var> values = new LinkedHashMap<>();
        for (ParamSpec s : specs) {
            values.put(s.path(), b.input(dtype, s.shape()));
        }
        Var x = b.input(dtype, Shapes.prepend(n, in));
        Var y = b.input(dtype, n, classes);
        Var f = statistics == null ? model.traceInto(values, x) : model.traceTrainingInto(values, x, statistics);
        double inv = 1.0 / ((double) n * classes);
        Var l;
        if (loss == Loss.MSE) {
            l = f.sub(y).square().sum().mul(0.5 * inv);
        } else {
            Var m = f.reduceMax(1).expandDims(1).broadcastTo(n, classes);
            Var z = f.sub(m);
            Var lse = z.exp().sum(1).log().expandDims(1).broadcastTo(n, classes);
            // −Σ y (z − lse) / |y|
            l = y.mul(lse.sub(z)).sum().mul(inv);
        }
        Graph g = b.build(l);
        if (statistics != null) {
            List<Var> primals = new ArrayList<>();
            primals.add(l);
            for (org.ntk4j.nn.BatchStatistics s : statistics) {
                primals.add(s.mean());
                primals.add(s.variance());
            }
            return Vjp.cotangentsAt(g, 1, new ArrayList<>(values.values()), primals);
        }
        boolean[] wrt = new boolean[specs.size() + 2];
        java.util.Arrays.fill(wrt, 0, specs.size(), true);
        return Vjp.of(g, 1, wrt);
    }

    /**
     * The loss of a batch and its gradient with respect to every parameter, by the training step's graph.
     *
     * @param model the network
     * @param params the parameters; not closed; their {@link Params#buffers}, when they have any, replace the
     *     model's, as in {@link Model#apply}
     * @param x the batch [n, in...], of the parameters' dtype; not closed
     * @param y the targets [n, classes], of the parameters' dtype; not closed
     * @param loss the loss
     * @return the loss and the gradient (one tensor per parameter path, of its shape), which the caller closes
     * @throws IllegalArgumentException if the shapes or dtypes do not fit
     */
    public static LossGradient lossAndGradient(Model model, Params params, Tensor x, Tensor y, Loss loss) {
        int[] in = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(in);
        params.validate(specs, x.dtype(), "x");
        Tensor[] r;
        // the lease from before the network is taken: another thread may drop it from the model's derived ones
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            Graph g = gradientGraph(model.withBuffersOf(params, in, x.dtype()), x.dim(0), in, x.dtype(), loss);
            r = runGradient(g, specs, params, x, y);
        }
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            m.put(specs.get(i).path(), r[i + 1].reshapeMove(specs.get(i).shape()));
        }
        double l = r[0].getFlat(0);
        r[0].close();
        return new LossGradient(l, new Params(m));
    }

    private static Tensor[] runGradient(Graph g, List<ParamSpec> specs, Params params, Tensor x, Tensor y) {
        Tensor[] args = new Tensor[specs.size() + 3];
        for (int i = 0; i < specs.size(); i++) {
            args[i] = params.get(specs.get(i).path()).readView(); // read: its writes stay tracked
        }
        args[specs.size()] = x;
        args[specs.size() + 1] = y;
        try (Tensor ct = Tensor.full(x.dtype(), 1.0, 1)) {
            args[specs.size() + 2] = ct;
            return g.evaluate(args);
        }
    }

    /**
     * The loss and accuracy of parameters on examples, by batches.
     *
     * @param model the network
     * @param params the parameters; not closed; their {@link Params#buffers} (a checkpoint's batch-norm running
     *     statistics), when they have any, replace the model's, as in {@link Model#apply}
     * @param data the examples; converted to the parameters' dtype batch by batch; not closed
     * @param loss the loss
     * @param batchSize the evaluation batch size, at least 1
     * @return {loss (a mean over the N × classes entries), accuracy}
     * @throws IllegalArgumentException if the shapes do not fit
     */
    public static double[] evaluate(Model model, Params params, Examples data, Loss loss, int batchSize) {
        DType dtype = params.tensors().values().iterator().next().dtype();
        Model withConstants = params.buffers().isEmpty() ? model : model.withBuffers(params.buffers());
        Evaluation evaluation = new Evaluation(withConstants, dtype);
        try {
            return evaluation.run(params, data, loss, batchSize);
        } finally {
            evaluation.close();
            if (withConstants != model) {
                withConstants.releaseCaches();
            }
        }
    }

    /**
     * A batch's loss and gradient.
     *
     * @param loss the loss value
     * @param gradient the gradient by parameter path, owned by this object
     */
    public record LossGradient(double loss, Params gradient) implements AutoCloseable {
        /** Closes the gradient. */
        @Override
        public void close() {
            gradient.close();
        }
    }

    /**
     * Batched forward passes with one cached graph per batch size; the constants the traces allocate are closed by
     * {@link #close} (they were left to the collector: each evaluation or training run kept a few bytes of {@link
     * Tensor#liveBytes()} for good).
     */
    private static final class Evaluation {
        private final Model model;
        private final DType dtype;
        private final Map<Integer, Graph> graphs = new HashMap<>();
        private final CachedTensors constants = new CachedTensors();

        Evaluation(Model model, DType dtype) {
            this.model = model;
            this.dtype = dtype;
        }

        /** Closes the constants of the traced graphs (once no kernel call that may read them runs). */
        void close() {
            constants.retire();
        }

        double[] run(Params params, Examples data, Loss loss, int batchSize) {
            int n = data.size();
            int[] in = Shapes.dropFirst(data.x().shape());
            List<ParamSpec> specs = model.paramSpecs(in);
            params.validate(specs, dtype);
            int classes = data.classes();
            double lossSum = 0;
            long correct = 0;
            for (int from = 0; from < n; from += batchSize) {
                int b = Math.min(batchSize, n - from);
                Graph g = graphs.computeIfAbsent(b, k -> constants.build(() -> model.trace(k, in, dtype)));
                Tensor[] args = new Tensor[specs.size() + 1];
                for (int i = 0; i < specs.size(); i++) {
                    args[i] = params.get(specs.get(i).path()).readView(); // read: its writes stay tracked
                }
                try (Tensor rows = Layout.sliceAxis(data.x(), 0, from, from + b);
                     Tensor converted = rows.dtype() == dtype ? null : rows.to(dtype)) {
                    args[specs.size()] = converted == null ? rows : converted;
                    double[] f;
                    try (Tensor out = g.evaluate(args)[0]) {
                        if (out.size() != b * classes) {
                            throw new IllegalArgumentException("train: the model has " + out.size() / b
                                    + " outputs per example, the data " + classes + " classes");
                        }
                        f = out.toDoubleArray();
                    }
                    double[] y = new double[f.length];
                    for (int i = 0; i < b; i++) {
                        int label = data.labels()[from + i];
                        y[i * classes + label] = 1;
                        int best = 0;
                        for (int o = 1; o < classes; o++) {
                            if (f[i * classes + o] > f[i * classes + best]) {
                                best = o;
                            }
                        }
                        if (best == label) {
                            correct++;
                        }
                    }
                    lossSum += loss.value(f, y, classes) * f.length;
                }
            }
            return new double[] {lossSum / ((double) n * classes), (double) correct / n};
        }
    }

    /** One run: the state and the cached graphs. */
    private static final class Run implements AutoCloseable {
        private final Model model;
        private final Examples train;
        private final Examples test;
        private final TrainConfig c;
        private final Listener listener;
        private final Params params;
        private final Map<String, Tensor> buffers;
        private final List<ParamSpec> specs;
        private final int[] in;
        private final int row;
        private final int classes;
        private final DType dtype;
        private final Map<Integer, Graph> graphs = new HashMap<>();
        /** Per batch size, the batch norms' statistics its graph outputs after the loss (training mode only). */
        private final Map<Integer, List<org.ntk4j.nn.BatchStatistics>> graphStatistics = new HashMap<>();
        /** The constants of the traced graphs, closed with the run. */
        private final CachedTensors constants = new CachedTensors();
        /** The model given, of which {@link #model} may be a copy with the state's buffers. */
        private final Model base;
        private final Evaluation evaluation;
        private final List<EpochMetrics> history;
        private final String[] bufferNames;
        private int epoch;
        private long stepInEpoch;
        private long step;
        private double lossSum;
        private long lossCount;

        Run(Model model, TrainState s, Examples train, Examples test, TrainConfig c, Listener listener) {
            this.base = model;
            // the network computes with the state's constants (a checkpoint's batch-norm running statistics)
            this.model = s.params().buffers().isEmpty() ? model : model.withBuffers(s.params().buffers());
            this.train = train;
            this.test = test;
            this.c = c;
            this.listener = listener;
            this.params = s.params();
            this.buffers = new LinkedHashMap<>(s.buffers());
            this.dtype = params.tensors().values().iterator().next().dtype();
            // an empty training set trained nothing, with a train loss of NaN; an empty test set's loss was 0/0, taken
            // for outputs that overflow
            if (train.size() < 1) {
                throw new IllegalArgumentException("train: expected at least 1 training example, got 0");
            }
            if (test != null && test.size() < 1) {
                throw new IllegalArgumentException("train: expected at least 1 test example (or none given), got 0");
            }
            this.in = Shapes.dropFirst(train.x().shape());
            this.row = Shapes.size(in);
            this.specs = model.paramSpecs(in);
            params.validate(specs, dtype);
            int[] out = model.outputShape(in);
            this.classes = train.classes();
            if (out.length != 1 || out[0] != classes) {
                throw new IllegalArgumentException("train: the model's outputs " + Shapes.str(out)
                        + " per example do not match the data's " + classes + " classes");
            }
            if (test != null && !java.util.Arrays.equals(Shapes.dropFirst(test.x().shape()), in)) {
                throw new IllegalArgumentException("train: test examples " + Shapes.str(test.x().shape())
                        + " do not have the training examples' shape " + Shapes.str(train.x().shape()));
            }
            if (c.batchNormTraining()) {
                for (ParamSpec b : model.bufferSpecs(in)) {
                    if (!params.buffers().containsKey(b.path())) {
                        throw new IllegalArgumentException("train: batch norms in training mode update their running "
                                + "statistics, and the state has no " + b.path());
                    }
                }
            }
            this.evaluation = new Evaluation(this.model, dtype); // with the state's constants, as the steps
            this.history = new ArrayList<>(s.history());
            this.bufferNames = c.optimizer().bufferNames();
            this.epoch = s.epoch();
            this.stepInEpoch = s.stepInEpoch();
            this.step = s.step();
            this.lossSum = s.lossSum();
            this.lossCount = s.lossCount();
        }

        TrainResult run() throws IOException {
            int n = train.size();
            long stepsPerEpoch = (n + c.batchSize() - 1) / c.batchSize();
            long totalSteps = Math.max(1, stepsPerEpoch * c.epochs());
            // a resumed position the data do not give (other data than the run's): Adam's step count and the schedule
            // would go on out of step with the epochs
            if (step != epoch * stepsPerEpoch + stepInEpoch || stepInEpoch >= stepsPerEpoch) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "--resume: the checkpoint is "
                        + "at step %d, after epoch %d and %d steps of the next, which %d examples in batches of %d "
                        + "(%d steps per epoch) do not give: is this the run's training data?", step, epoch,
                        stepInEpoch, n, c.batchSize(), stepsPerEpoch));
            }
            if (c.batchNormTraining()) {
                requireBatchStatistics(n);
            }
            if (history.isEmpty()) {
                double[] t = evaluateTest(0, c.learningRate());
                EpochMetrics m0 = new EpochMetrics(0, 0, c.learningRate(), Double.NaN, t[0], t[1], Double.NaN, 0);
                history.add(m0);
                listener.epochDone(0, params, m0);
                // the initial parameters with zero optimizer buffers at step 0: a resume from it is the whole run
                if (c.checkpointAfterEpoch(0)) {
                    listener.checkpoint(state(), epochCheckpointName(0));
                }
            }
            Tensor xTrain = train.x().dtype() == dtype ? train.x() : train.x().to(dtype);
            try (Tensor ones = Tensor.full(dtype, 1.0, 1)) {
                while (epoch < c.epochs()) {
                    int e = epoch + 1;
                    int[] perm = permutation(c.seed(), e, n);
                    long nanos = 0;
                    long examples = 0;
                    double lr = c.learningRate();
                    boolean stepCheckpointDue = false;
                    for (long s = stepInEpoch; s < stepsPerEpoch; s++) {
                        long t0 = System.nanoTime();
                        int from = (int) (s * c.batchSize());
                        int b = Math.min(c.batchSize(), n - from);
                        lr = c.learningRate() * c.schedule().factor(step, stepsPerEpoch, totalSteps);
                        double l = step(xTrain, perm, from, b, lr, ones, e);
                        step++;
                        stepInEpoch = s + 1;
                        lossSum += l * b;
                        lossCount += b;
                        nanos += System.nanoTime() - t0;
                        examples += b;
                        listener.stepDone(e, stepInEpoch, stepsPerEpoch, lossSum / lossCount,
                                examples / (nanos * 1e-9));
                        if (c.checkpointEverySteps() > 0 && step % c.checkpointEverySteps() == 0) {
                            if (stepInEpoch < stepsPerEpoch) {
                                requireFiniteParameters(e, lr);
                                listener.checkpoint(state(), stepCheckpointName(step));
                            } else {
                                stepCheckpointDue = true;
                            }
                        }
                    }
                    requireFiniteParameters(e, lr);
                    double[] t = evaluateTest(e, lr);
                    EpochMetrics m = new EpochMetrics(e, step, lr, lossCount == 0 ? Double.NaN : lossSum / lossCount,
                            t[0], t[1], examples == 0 ? Double.NaN : examples / (nanos * 1e-9), nanos * 1e-9);
                    history.add(m);
                    epoch = e;
                    stepInEpoch = 0;
                    lossSum = 0;
                    lossCount = 0;
                    listener.epochDone(e, params, m);
                    if (c.checkpointAfterEpoch(e) || stepCheckpointDue) {
                        listener.checkpoint(state(), epochCheckpointName(e));
                    }
                }
            } finally {
                if (xTrain != train.x()) {
                    xTrain.close();
                }
            }
            listener.finished(state());
            // the model's constants (batch-norm running statistics) go with the result: as given, or as the steps
            // updated them under batchNormTraining
            return new TrainResult(params.copy(), List.copyOf(history));
        }

        private TrainState state() {
            return new TrainState(params, buffers, epoch, stepInEpoch, step, lossSum, lossCount, history,
                    c.describe());
        }

        /**
         * The test loss and accuracy after epoch {@code e}; a non-finite test loss (the outputs on the test examples
         * overflow the dtype, though the parameters and the training loss are finite) stops the run as a diverged
         * one does, before its figures or parameters reach the curves or a checkpoint.
         */
        private double[] evaluateTest(int e, double lr) {
            if (test == null) {
                return new double[] {Double.NaN, Double.NaN};
            }
            double[] t;
            if (c.batchNormTraining()) {
                // the steps changed the running statistics, which the cached graphs hold as constants: the network
                // evaluated (PyTorch's eval() mode) is traced with their current values
                Map<String, Tensor> now = Params.copies(params.buffers());
                Model current = base.withBuffers(now);
                Evaluation ev = new Evaluation(current, dtype);
                try {
                    t = ev.run(params, test, c.loss(), c.evalBatchSize());
                } finally {
                    ev.close();
                    current.releaseCaches();
                    now.values().forEach(Tensor::close);
                }
            } else {
                t = evaluation.run(params, test, c.loss(), c.evalBatchSize());
            }
            if (!Double.isFinite(t[0])) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "train: the loss on the "
                        + "test examples %s is %s: the network's outputs there overflow %s; %s", e == 0
                        ? "at the initial parameters" : "after epoch " + e, t[0], dtype.shortName(), e == 0
                        ? "check the test inputs' scale (--standardize)"
                        : "lower --lr (learning rate " + lr + "; the checkpoints written before are kept)"));
            }
            return t;
        }

        /**
         * Stops a run that diverged (a learning rate too large for the network) before its state reaches a
         * checkpoint, the curves or the caller: NaN or ±∞ in a parameter after the steps of epoch {@code e}, or in
         * an optimizer buffer. The buffers are checked too because Adam's second moment v = β2 v + (1 − β2) g²
         * overflows to +∞ for a finite gradient with (1 − β2) g² past the dtype's range (|g| > 5.8e20 in f32 at
         * β2 = 0.999) while the parameter stays finite (its step m / √v is 0, so it is frozen from then on): the
         * run went on and wrote v = ∞ into its checkpoints. One scan of the buffers per epoch and per step checkpoint.
         */
        private void requireFiniteParameters(int e, double lr) {
            for (ParamSpec s : specs) {
                Tensor t = params.get(s.path());
                int bad = org.ntk4j.cpu.Reduce.firstNonFiniteUnlessKnown(t);
                if (bad >= 0) {
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "train: the run diverged: "
                            + "after step %d (epoch %d) parameter '%s' holds %s at flat index %d (learning rate %s); "
                            + "lower --lr (the checkpoints written before are kept)", step, e, s.path(),
                            t.getFlat(bad), bad, lr));
                }
            }
            if (c.batchNormTraining()) {
                // a batch's variance past the dtype's range (its values' squares overflow) normalises to the shift with
                // a finite loss, while the running variance it updates becomes +∞: the evaluation's network is lost
                for (Map.Entry<String, Tensor> b : params.buffers().entrySet()) {
                    int bad = org.ntk4j.cpu.Reduce.firstNonFinite(b.getValue());
                    if (bad >= 0) {
                        throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "train: the run "
                                + "diverged: after step %d (epoch %d) the running statistic '%s' holds %s at flat "
                                + "index %d (a batch's values or their squares past %s's range; learning rate %s); "
                                + "lower --lr (the checkpoints written before are kept)", step, e, b.getKey(),
                                b.getValue().getFlat(bad), bad, dtype.shortName(), lr));
                    }
                }
            }
            for (Map.Entry<String, Tensor> b : buffers.entrySet()) {
                // written through their buffers, untracked: scanned whole each time
                int bad = org.ntk4j.cpu.Reduce.firstNonFinite(b.getValue());
                if (bad >= 0) {
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "train: the run diverged: "
                            + "after step %d (epoch %d) the optimizer's buffer '%s' holds %s at flat index %d (a "
                            + "gradient or its square past %s's range; learning rate %s); lower --lr (the checkpoints "
                            + "written before are kept)", step, e, b.getKey(), b.getValue().getFlat(bad), bad,
                            dtype.shortName(), lr));
                }
            }
        }

        /** The training step's graph for batches of {@code b}, traced once. */
        private Graph graph(int b) {
            return graphs.computeIfAbsent(b, k -> constants.build(() -> {
                List<org.ntk4j.nn.BatchStatistics> stats = c.batchNormTraining() ? new ArrayList<>() : null;
                Graph made = gradientGraph(model, k, in, dtype, c.loss(), stats);
                graphStatistics.put(k, stats == null ? List.of() : stats);
                return made;
            }));
        }

        /**
         * Refuses, before any step, a batch whose batch norm in training mode would see one value per channel (a last
         * batch of 1 example of a dense network): its variance is 0 and its output the shift, whatever the input;
         * PyTorch raises there too ("Expected more than 1 value per channel when training"). Refuses too a network
         * whose running statistics the steps would not update: one without any (an ONNX model's BatchNormalization
         * holds them as constants), or one whose batch norms do not trace in training mode (a linearised network's
         * are those of its expansion point, traced in eval() mode): it trained frozen while its settings said train.
         */
        private void requireBatchStatistics(int n) {
            int full = Math.min(c.batchSize(), n);
            int last = n % c.batchSize() == 0 ? full : n % c.batchSize();
            List<ParamSpec> declared = model.bufferSpecs(in);
            if (declared.isEmpty()) {
                throw new IllegalArgumentException("train: batch norms in training mode (--batch-norm train): "
                        + model.spec() + " has no batch norm with running statistics to train (an ONNX model's "
                        + "BatchNormalization holds them as constants)");
            }
            graph(full);
            java.util.Set<String> updated = new java.util.HashSet<>();
            for (org.ntk4j.nn.BatchStatistics s : graphStatistics.get(full)) {
                updated.add(s.meanPath());
                updated.add(s.varPath());
            }
            for (ParamSpec b : declared) {
                if (!updated.contains(b.path())) {
                    throw new IllegalArgumentException("train: batch norms in training mode (--batch-norm train): "
                            + model.spec() + " does not update its running statistic " + b.path() + " in training "
                            + "mode (a linearised network's batch norms are those of its expansion point); train its "
                            + "batch norms frozen");
                }
            }
            for (int b : new int[] {full, last}) {
                graph(b);
                for (org.ntk4j.nn.BatchStatistics s : graphStatistics.get(b)) {
                    if (s.count() < 2) {
                        throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "train: the batch norm "
                                + "%s in training mode needs more than 1 value per channel, a batch of %d examples "
                                + "gives it %d (%d examples in batches of %d); choose another --batch", s.meanPath()
                                .substring(0, s.meanPath().lastIndexOf('/')), b, s.count(), n, c.batchSize()));
                    }
                }
            }
        }

        private double step(Tensor xTrain, int[] perm, int from, int b, double lr, Tensor ones, int e) {
            Graph g = graph(b);
            List<org.ntk4j.nn.BatchStatistics> stats = graphStatistics.get(b);
            int grads = 1 + 2 * stats.size(); // the outputs before the gradients
            Tensor[] r;
            try (Tensor xb = Tensor.empty(dtype, Shapes.prepend(b, in)); Tensor yb = Tensor.zeros(dtype, b, classes)) {
                gather(xTrain, xb, perm, from, b);
                for (int i = 0; i < b; i++) {
                    yb.setFlat(i * classes + train.labels()[perm[from + i]], 1.0);
                }
                Tensor[] args = new Tensor[specs.size() + 3];
                for (int i = 0; i < specs.size(); i++) {
                    args[i] = params.get(specs.get(i).path()).readView(); // read: its writes stay tracked
                }
                args[specs.size()] = xb;
                args[specs.size() + 1] = yb;
                args[specs.size() + 2] = ones;
                r = g.evaluate(args);
            }
            try {
                double loss = r[0].getFlat(0);
                if (!Double.isFinite(loss)) {
                    // before the update: no step is taken from a non-finite loss (or the gradient it goes with)
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "train: the run "
                            + "diverged: the loss of step %d (epoch %d) is %s (learning rate %s); lower --lr (the "
                            + "checkpoints written before are kept)", step + 1, e, loss, lr));
                }
                long t = step + 1;
                for (int i = 0; i < specs.size(); i++) {
                    String path = specs.get(i).path();
                    update(params.get(path), r[i + grads], path, lr, t);
                }
                for (int i = 0; i < stats.size(); i++) {
                    updateRunning(stats.get(i), r[1 + 2 * i], r[2 + 2 * i]);
                }
                return loss;
            } finally {
                for (Tensor x : r) {
                    x.close();
                }
            }
        }

        /**
         * PyTorch's update of a batch norm's running statistics after a step in {@code train()} mode, momentum
         * {@link TrainConfig#BATCH_NORM_MOMENTUM}: running_mean ← (1 − m)·running_mean + m·mean and running_var ←
         * (1 − m)·running_var + m·var·count/(count − 1), the unbiased batch variance (the batch was normalised by the
         * biased one). Computed in double, rounded once to the buffer's dtype (PyTorch computes in the dtype: a
         * float32 run may differ from it in the last bit).
         */
        private void updateRunning(org.ntk4j.nn.BatchStatistics s, Tensor mean, Tensor var) {
            double m = TrainConfig.BATCH_NORM_MOMENTUM;
            double unbias = (double) s.count() / (s.count() - 1);
            Tensor rm = params.buffers().get(s.meanPath());
            Tensor rv = params.buffers().get(s.varPath());
            for (int i = 0; i < rm.size(); i++) {
                rm.setFlat(i, (1 - m) * rm.getFlat(i) + m * mean.getFlat(i));
                rv.setFlat(i, (1 - m) * rv.getFlat(i) + m * var.getFlat(i) * unbias);
            }
        }

        private void gather(Tensor src, Tensor dst, int[] perm, int from, int b) {
            if (dtype == DType.F32) {
                FloatBuffer s = src.floats();
                FloatBuffer d = dst.floats();
                for (int i = 0; i < b; i++) {
                    d.put(i * row, s, perm[from + i] * row, row);
                }
            } else {
                DoubleBuffer s = src.doubles();
                DoubleBuffer d = dst.doubles();
                for (int i = 0; i < b; i++) {
                    d.put(i * row, s, perm[from + i] * row, row);
                }
            }
        }

        /**
         * One optimiser step on a parameter, in place. Its storage is written through buffers taken here and dropped
         * here, so a parameter whose writes were tracked before the step is tracked again after it (validated once
         * by the next kernel call, its kept copies refilled, Tensor.keptCopy); one whose storage someone else took
         * before stays untracked, as their handle may still write.
         */
        private void update(Tensor theta, Tensor grad, String path, double lr, long t) {
            boolean tracked = theta.trackedWrites() >= 0;
            step(theta, grad, path, lr, t);
            if (tracked) {
                theta.trackWritesFromNow();
            }
        }

        private void step(Tensor theta, Tensor grad, String path, double lr, long t) {
            Optimizer o = c.optimizer();
            int n = theta.size();
            if (o.kind() == Optimizer.Kind.SGD) {
                Tensor buf = bufferNames.length == 0 ? null : buffers.get(bufferName("momentum", path));
                if (dtype == DType.F32) {
                    FloatBuffer th = theta.floats();
                    FloatBuffer gr = grad.floats();
                    FloatBuffer bu = buf == null ? null : buf.floats();
                    float eta = (float) lr;
                    float wd = (float) o.weightDecay();
                    float mu = (float) o.momentum();
                    Parallel.range(n, (lo, hi) -> {
                        for (int i = lo; i < hi; i++) {
                            float w = th.get(i);
                            float d = gr.get(i) + wd * w;
                            if (bu != null) {
                                d = mu * bu.get(i) + d;
                                bu.put(i, d);
                            }
                            th.put(i, w - eta * d);
                        }
                    });
                } else {
                    DoubleBuffer th = theta.doubles();
                    DoubleBuffer gr = grad.doubles();
                    DoubleBuffer bu = buf == null ? null : buf.doubles();
                    double wd = o.weightDecay();
                    double mu = o.momentum();
                    Parallel.range(n, (lo, hi) -> {
                        for (int i = lo; i < hi; i++) {
                            double w = th.get(i);
                            double d = gr.get(i) + wd * w;
                            if (bu != null) {
                                d = mu * bu.get(i) + d;
                                bu.put(i, d);
                            }
                            th.put(i, w - lr * d);
                        }
                    });
                }
                return;
            }
            Tensor m = buffers.get(bufferName("m", path));
            Tensor v = buffers.get(bufferName("v", path));
            double bc1 = 1 - Math.pow(o.beta1(), t);
            double bc2 = Math.sqrt(1 - Math.pow(o.beta2(), t));
            if (dtype == DType.F32) {
                FloatBuffer th = theta.floats();
                FloatBuffer gr = grad.floats();
                FloatBuffer mb = m.floats();
                FloatBuffer vb = v.floats();
                float wd = (float) o.weightDecay();
                float b1 = (float) o.beta1();
                float b2 = (float) o.beta2();
                float c1 = (float) (1 - o.beta1());
                float c2 = (float) (1 - o.beta2());
                float stepSize = (float) (lr / bc1);
                float sqrtBc2 = (float) bc2;
                float eps = (float) o.epsilon();
                Parallel.range(n, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        float w = th.get(i);
                        float d = gr.get(i) + wd * w;
                        float mi = b1 * mb.get(i) + c1 * d;
                        float vi = b2 * vb.get(i) + c2 * d * d;
                        mb.put(i, mi);
                        vb.put(i, vi);
                        th.put(i, w - stepSize * mi / ((float) Math.sqrt(vi) / sqrtBc2 + eps));
                    }
                });
            } else {
                DoubleBuffer th = theta.doubles();
                DoubleBuffer gr = grad.doubles();
                DoubleBuffer mb = m.doubles();
                DoubleBuffer vb = v.doubles();
                double wd = o.weightDecay();
                double b1 = o.beta1();
                double b2 = o.beta2();
                double stepSize = lr / bc1;
                double eps = o.epsilon();
                Parallel.range(n, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        double w = th.get(i);
                        double d = gr.get(i) + wd * w;
                        double mi = b1 * mb.get(i) + (1 - b1) * d;
                        double vi = b2 * vb.get(i) + (1 - b2) * d * d;
                        mb.put(i, mi);
                        vb.put(i, vi);
                        th.put(i, w - stepSize * mi / (Math.sqrt(vi) / bc2 + eps));
                    }
                });
            }
        }

        @Override
        public void close() {
            params.close();
            buffers.values().forEach(Tensor::close);
            constants.retire();
            evaluation.close();
            if (model != base) {
                model.releaseCaches(); // the model made for the state's buffers: its converted buffers
            }
        }
    }
}

package org.ntk4j.onnx;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.tensor.TensorScope;

/**
 * A network imported from an ONNX file: an ntk4j {@link Model} (so every kernel method, kind, tiling and Spark job
 * works on it) and its stored weights as {@link Params}.
 *
 * <p>The model takes the file's one input in the file's own layout (NCHW for PyTorch exports, NHWC for Keras and
 * JAX ones); axis 0 is the batch axis, the other axes must be static (from the file, or from
 * {@link Options#inputShape}). A file with several inputs (a text model's input_ids and attention_mask) takes them
 * packed into one, {@code [n, d1 + d2 + ...]}: per example, each input's values flattened (row-major) and
 * concatenated in the graph's order ({@link #inputNames}); {@link #pack} builds it from the inputs by name, and the
 * import slices it back inside the traced graph, so every kernel method, tiling and Spark job works on it as on one
 * input. An int64 or int32 input holds token ids ({@link #idInput}): they are taken as whole
 * numbers in the data's floating dtype, without derivative, and each Gather of a table by them is the exact one-hot
 * product, so an embedding table is a parameter like any weight ({@link #checkIds} checks data); a bool input (a
 * padding mask) is taken as 0 and 1, without derivative. Its parameters θ
 * are the floating-point initializers of rank at least 1 that the graph computes with (weights, biases, scales,
 * shifts), named as in the file, and in files not from PyTorch the floating Constant nodes of rank at least 1 (named
 * by their output). In PyTorch's files the floating initializers of rank 0 are parameters too (a learned
 * temperature, CLIP's {@code logit_scale}, or a scalar buffer: PyTorch writes its code's literals, an attention's
 * 1/sqrt(d), as Constant nodes, which stay constants); in other files (tf2onnx writes every literal as an
 * initializer) scalars are constants. Initializers used as shapes, axes, indices or scales, batch norms' running
 * statistics, masks
 * holding ±∞ (a causal mask buffer) and tensors the output depends on only through comparisons (a float mask buffer
 * compared with 0) are constants. Outside PyTorch's files, a tensor whose
 * values are all equal read by several inputs (tf2onnx merges equal constants) is one parameter per input. A Pow
 * exponent, a Clip bound or a ScatterND's data or updates is a parameter where any other initializer of its rank
 * would be (a learned exponent); a frozen exponent is the number it holds (x² at any sign of x).
 * {@link #freeze} and {@link #paramsOnly} choose otherwise by name. The whole graph is checked when the file is
 * loaded: an operator ntk4j does not import is reported then, with its node's name.
 *
 * <pre>{@code
 * OnnxModel onnx = OnnxModel.load(Path.of("net.onnx"));
 * try (Params params = onnx.params(DType.F32)) {
 *     Tensor k = EmpiricalNtk.of(onnx.model(), params).ntk(x, null);
 * }
 * }</pre>
 *
 * <p>Thread-safe: an imported model is immutable ({@link #freeze} and {@link #paramsOnly} return new ones); its
 * {@link #model()} and the {@link #params} made from it may be shared by threads computing kernels at once, as any
 * {@link Model} (the layer's constants are made once per dtype; {@code OnnxConcurrentKernelsTest}).
 */
public final class OnnxModel {
    /** The batch size of the import's dry run: one that rarely equals another axis's size. */
    private static final int DRY_RUN_BATCH = 13;
    /**
     * The batch size of the second dry run, which tells the sizes that depend on the examples from those that equal
     * {@link #DRY_RUN_BATCH} by chance (and, for a failed dry run, writes them in N).
     */
    private static final int CHECK_BATCH = 17;
    /** 2^24: float32 holds every integer of at most this magnitude exactly. */
    private static final double F32_EXACT = 1 << 24;

    private final OnnxGraph graph;
    /** Every weight initializer the graph computes with, in file order (the default parameters). */
    private final List<String> weights;
    private final List<String> params;
    private final int[] outputShape;
    private final boolean independent;
    /** Per input, the fewest rows of a table its ids index (0: none), and its name (see {@link #checkIds}). */
    private final int[] idRows;
    private final String[] idTable;
    /** The nodes that broadcast a parameter to the examples' count (Tracer#followingExamples). */
    private final java.util.Set<String> followingExamples;
    private final Model model;

    private OnnxModel(OnnxGraph graph, List<String> weights, List<String> params, int[] outputShape,
                      boolean independent, int[] idRows, String[] idTable, java.util.Set<String> followingExamples) {
        this.graph = graph;
        this.followingExamples = java.util.Set.copyOf(followingExamples);
        this.idRows = idRows.clone();
        this.idTable = idTable.clone();
        this.weights = List.copyOf(weights);
        this.params = List.copyOf(params);
        this.outputShape = outputShape.clone();
        this.independent = independent;
        this.model = new Model(new OnnxLayer(graph, params, outputShape, independent,
                this.followingExamples), "onnx:" + graph.file);
    }

    /** How to read a file: the per-example input shapes where the file's are dynamic, and the output to take. */
    public static final class Options {
        /** By input name; the key "" for the one input of a one-input model. */
        private final Map<String, int[]> inputShapes;
        private final String output;

        private Options(Map<String, int[]> inputShapes, String output) {
            this.inputShapes = inputShapes;
            this.output = output;
        }

        /**
         * The defaults: the input shape from the file, the file's only output.
         *
         * @return the default options
         */
        public static Options defaults() {
            return new Options(Map.of(), null);
        }

        /**
         * The per-example input shape (without the batch axis), for inputs whose axes the file leaves dynamic;
         * axes the file fixes must agree.
         *
         * @param perExample the sizes, in the model's layout (e.g. {@code 3, 32, 32} for NCHW images); copied
         * @return new options with this shape
         */
        public Options inputShape(int... perExample) {
            return inputShape("", perExample);
        }

        /**
         * The per-example shape (without the batch axis) of the input {@code name}, for a model with several
         * inputs whose axes the file leaves dynamic (a text model's sequence length); axes the file fixes must agree.
         *
         * @param name the graph input's name ({@code ""}: the only input of a one-input model)
         * @param perExample the sizes, in the model's layout; copied
         * @return new options with this shape (replacing one given before for the same input)
         */
        public Options inputShape(String name, int... perExample) {
            Map<String, int[]> m = new LinkedHashMap<>(inputShapes);
            m.put(name, perExample.clone());
            return new Options(m, output);
        }

        /**
         * The output to take, by name, for a model with several.
         *
         * @param name the graph output's name
         * @return new options with this output
         */
        public Options output(String name) {
            return new Options(inputShapes, name);
        }
    }

    /**
     * Reads an ONNX file with the default options.
     *
     * @param file the .onnx file; external data files are read relative to its folder
     * @return the imported model
     * @throws IllegalArgumentException if the file cannot be read, is not ONNX, has an unsupported opset or
     *     operator, a dynamic input axis, several outputs, or shapes that do not fit
     */
    public static OnnxModel load(Path file) {
        return load(file, Options.defaults());
    }

    /**
     * Reads an ONNX file and checks its whole graph (a dry run of the import).
     *
     * @param file the .onnx file; external data files are read relative to its folder
     * @param options the input shape and output to use
     * @return the imported model
     * @throws IllegalArgumentException if the file cannot be read, is not ONNX, has an unsupported opset or
     *     operator, a dynamic input axis the options do not fix, an output not named, or shapes that do not fit
     */
    public static OnnxModel load(Path file, Options options) {
        OnnxGraph g = OnnxGraph.read(file, options.output, options.inputShapes);
        DType dtype = g.doubleInput() ? DType.F64 : DType.F32;
        Map<String, Tensor> scratch = new HashMap<>();
        try {
            Tracer t = new Tracer(g, new GraphBuilder(), dtype, null, scratch, null);
            Tracer.Traced out;
            try {
                out = dryRun(t, DRY_RUN_BATCH);
            } catch (IllegalArgumentException e) {
                throw withExamplesAxis(e, g, dtype);
            }
            // The dry run decides from sizes: which broadcasts follow the examples (a target shape whose first size
            // is 13 and comes from x's shape) and where the examples' axis goes through reshapes of shapes read from
            // x. An axis that happens to be 13 long (a sequence of 13) can look like the examples' there. A second
            // dry run at another size settles both: a broadcast follows the examples only if it does at both sizes,
            // and the examples are independent only if they stay first in the output at both.
            boolean independentElsewhere;
            java.util.Set<String> followedAtBoth = t.followingExamples;
            try {
                Tracer other = new Tracer(g, new GraphBuilder(), dtype, null, scratch, t.followingExamples);
                independentElsewhere = dryRun(other, otherBatch(g)).batch == 0;
                followedAtBoth = java.util.Set.copyOf(other.followed);
            } catch (IllegalArgumentException e) {
                // the model runs at the dry run's batch size only (a file whose batch of 13 is written into its
                // shapes): no other size to compare, the dry run's decisions stand
                independentElsewhere = true;
            }
            if (!followedAtBoth.equals(t.followingExamples)) {
                // traced again with the broadcasts that follow the examples at both sizes (outside the try above:
                // a refusal here is the model's, reported as the first dry run's would be)
                t = new Tracer(g, new GraphBuilder(), dtype, null, scratch, followedAtBoth);
                try {
                    out = dryRun(t, DRY_RUN_BATCH);
                } catch (IllegalArgumentException e) {
                    throw withExamplesAxis(e, g, dtype);
                }
            }
            List<String> weights = new ArrayList<>();
            java.util.Set<String> differentiated = t.weightsDifferentiated(out.var());
            for (String name : g.initializers.keySet()) {
                if (differentiated.contains(name)) {
                    weights.add(name);
                }
            }
            return new OnnxModel(g, weights, weights, Shapes.dropFirst(out.var().shape()),
                    out.batch == 0 && independentElsewhere, t.idRows, t.idTable, t.followingExamples);
        } finally {
            for (Tensor c : scratch.values()) {
                c.close();
            }
        }
    }

    /**
     * Traces the graph on {@code batch} examples with {@code t}, whose constant cache the caller closes: the dry
     * run's graph is dropped.
     */
    private static Tracer.Traced dryRun(Tracer t, int batch) {
        Var x = t.builder.input(t.dtype, Shapes.prepend(batch, t.graph.inputShape));
        TensorScope dryRun = TensorScope.open();
        try {
            return t.run(x);
        } finally {
            dryRun.close();
        }
    }

    /** The batch size of the second dry run: {@link #CHECK_BATCH}, or another where the file fixes the batch at it. */
    private static int otherBatch(OnnxGraph g) {
        return g.fixedBatch == CHECK_BATCH ? CHECK_BATCH + 2 : CHECK_BATCH;
    }

    /**
     * The dry run's refusal as the user reads it: a primitive's message (dot_general, reshape, ...) gives sizes of
     * the dry run's own batch of {@link #DRY_RUN_BATCH} examples, which the user never chose. The graph is traced
     * again on another batch size; a size that differs between the two messages depends on the examples and is
     * written in N, the examples' count ({@link #examplesAxisAsN}). The refusal as it is when it has no such size, or
     * the second trace fails elsewhere or not at all.
     */
    private static IllegalArgumentException withExamplesAxis(IllegalArgumentException e, OnnxGraph g, DType dtype) {
        // another size than the file's fixed batch, at which the trace would not fail
        int other = otherBatch(g);
        Map<String, Tensor> scratch = new HashMap<>();
        try {
            dryRun(new Tracer(g, new GraphBuilder(), dtype, null, scratch, null), other);
        } catch (IllegalArgumentException again) {
            String m = examplesAxisAsN(e.getMessage(), DRY_RUN_BATCH, again.getMessage(), other);
            return m.equals(e.getMessage()) ? e : new IllegalArgumentException(m, e);
        } catch (RuntimeException unlike) {
            // failed otherwise at the other size: the first refusal stands as it is
            return e;
        } finally {
            for (Tensor c : scratch.values()) {
                c.close();
            }
        }
        return e;
    }

    /** A whole number in a message: not part of a decimal fraction such as 1.5. */
    private static final Pattern WHOLE_NUMBER = Pattern.compile("(?<![\\d.])\\d+(?!\\.?\\d)");

    /**
     * Message {@code m1} of a trace on {@code n1} examples with each whole number that is {@code m2}'s (on
     * {@code n2} examples) at another value written as the line a·N + b through both: 117 and 153 at 13 and 17
     * examples are 9·N. {@code m1} unchanged when the two differ elsewhere than in numbers, or a number's change is
     * not a whole multiple of n2 - n1.
     *
     * @param m1 the message at {@code n1} examples
     * @param n1 the first batch size
     * @param m2 the message at {@code n2} examples
     * @param n2 the second batch size, other than {@code n1}
     * @return {@code m1} with the examples' sizes in N
     */
    static String examplesAxisAsN(String m1, int n1, String m2, int n2) {
        if (m1 == null || m2 == null) {
            return m1;
        }
        java.util.regex.Matcher a = WHOLE_NUMBER.matcher(m1);
        java.util.regex.Matcher b = WHOLE_NUMBER.matcher(m2);
        StringBuilder r = new StringBuilder();
        int at1 = 0;
        int at2 = 0;
        while (a.find()) {
            if (!b.find() || !m1.substring(at1, a.start()).equals(m2.substring(at2, b.start()))) {
                return m1;
            }
            r.append(m1, at1, a.start());
            at1 = a.end();
            at2 = b.end();
            if (a.group().equals(b.group()) || a.group().length() > 15 || b.group().length() > 15) {
                // the same in both (a long one, as in a temporary folder's name, is not a size)
                r.append(a.group());
                continue;
            }
            long v1 = Long.parseLong(a.group());
            long v2 = Long.parseLong(b.group());
            long slope = (v2 - v1) / (n2 - n1);
            if (slope <= 0 || (v2 - v1) % (n2 - n1) != 0) {
                r.append(a.group());
                continue;
            }
            // v = slope·N + offset at both batch sizes
            long offset = v1 - slope * n1;
            r.append(slope == 1 ? "N" : slope + "·N").append(offset > 0 ? " + " + offset
                    : offset < 0 ? " - " + -offset : "");
        }
        if (b.find() || !m1.substring(at1).equals(m2.substring(at2))) {
            return m1;
        }
        return r.append(m1.substring(at1)).toString();
    }

    /**
     * The same network with the parameters whose initializer name matches {@code regex} (anywhere in the name,
     * as {@link java.util.regex.Matcher#find}) turned into constants.
     *
     * @param regex the pattern
     * @return a new model with fewer parameters
     * @throws IllegalArgumentException if the pattern matches no parameter, or every one
     */
    public OnnxModel freeze(Pattern regex) {
        return select(regex, false, "freeze");
    }

    /**
     * The same network with only the parameters whose initializer name matches {@code regex} (anywhere in the
     * name) kept as parameters; the others become constants.
     *
     * @param regex the pattern
     * @return a new model with these parameters
     * @throws IllegalArgumentException if the pattern matches no parameter
     */
    public OnnxModel paramsOnly(Pattern regex) {
        return select(regex, true, "params-only");
    }

    private OnnxModel select(Pattern regex, boolean keepMatches, String what) {
        List<String> kept = new ArrayList<>();
        boolean any = false;
        for (String p : params) {
            boolean m = regex.matcher(p).find();
            any |= m;
            if (m == keepMatches) {
                kept.add(p);
            }
        }
        if (!any) {
            throw new IllegalArgumentException(graph.file + ": " + what + " '" + regex + "' matches none of the "
                    + "parameters " + params);
        }
        if (kept.isEmpty()) {
            throw new IllegalArgumentException(graph.file + ": " + what + " '" + regex + "' leaves no parameter");
        }
        return new OnnxModel(graph, weights, kept, outputShape, independent, idRows, idTable, followingExamples);
    }

    /** The parsed file (package-private: tests inspect its nodes). */
    OnnxGraph graph() {
        return graph;
    }

    /**
     * The network as an ntk4j model: parameters by initializer name, input {@code [n, inputShape...]}.
     *
     * @return the model (the same object at every call)
     */
    public Model model() {
        return model;
    }

    /**
     * The stored values of the parameters, in {@code dtype}.
     *
     * @param dtype the dtype of the tensors (the file's float32 weights are widened exactly for F64)
     * @return new parameters, which the caller closes
     */
    public Params params(DType dtype) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String p : params) {
            m.put(p, graph.initializers.get(p).toTensor(dtype));
        }
        return new Params(m);
    }

    /**
     * The parameters' names (the file's initializer names), in file order.
     *
     * @return an unmodifiable list
     */
    public List<String> parameterNames() {
        return params;
    }

    /**
     * The initializers the graph computes with as weights, parameters or not (those {@link #freeze} and
     * {@link #paramsOnly} choose from), in file order.
     *
     * @return an unmodifiable list
     */
    public List<String> weightNames() {
        return weights;
    }

    /**
     * The number of scalar parameters.
     *
     * @return the sum of the parameters' sizes
     */
    public long parameterCount() {
        long n = 0;
        for (String p : params) {
            n += graph.initializers.get(p).size();
        }
        return n;
    }

    /**
     * The per-example shape of the model's input, in the model's layout: the file's one input's, or for a file with
     * several inputs the packed {@code [d1 + d2 + ...]} ({@link #pack}).
     *
     * @return a copy of the shape without the batch axis
     */
    public int[] inputShape() {
        return graph.inputShape.clone();
    }

    /**
     * The per-example shape of one graph input.
     *
     * @param name the input's name ({@link #inputNames})
     * @return a copy of the shape without the batch axis
     * @throws IllegalArgumentException if the model has no input of that name
     */
    public int[] inputShape(String name) {
        return input(name).shape().clone();
    }

    private OnnxGraph.Input input(String name) {
        for (OnnxGraph.Input in : graph.inputs) {
            if (in.name().equals(name)) {
                return in;
            }
        }
        throw new IllegalArgumentException(graph.file.getFileName() + ": no input '" + name + "'; the model's inputs "
                + "are " + inputNames());
    }

    /**
     * The graph inputs' names, in the graph's order (the order of the packed input, {@link #pack}).
     *
     * @return an unmodifiable list, of one name for a one-input model
     */
    public List<String> inputNames() {
        List<String> r = new ArrayList<>();
        for (OnnxGraph.Input in : graph.inputs) {
            r.add(in.name());
        }
        return List.copyOf(r);
    }

    /**
     * Whether the file has several inputs, which the model takes packed ({@link #pack}).
     *
     * @return true for two or more graph inputs
     */
    public boolean packedInputs() {
        return graph.packed();
    }

    /**
     * The model's input from the graph inputs by name: {@code [n, inputShape()...]}, for a file with several inputs
     * each example's values of every input (row-major) concatenated in the graph's order. Token ids are given as
     * whole numbers in any dtype (e.g. a tensor of the int64 ids' values); they are checked as {@link #checkIds}
     * does.
     *
     * <pre>{@code
     * Tensor x = onnx.pack(Map.of("input_ids", ids, "attention_mask", mask)); // each [n, 16] -> [n, 32]
     * }</pre>
     *
     * @param inputs one tensor {@code [n, inputShape(name)...]} per input name, all with the same n
     * @return a new tensor in the dtype of the first input given, which the caller closes
     * @throws IllegalArgumentException naming the input, the expected and the actual value, for a missing or
     *     unknown name, another number of examples or another per-example shape, NaN or ±∞, or bad ids
     */
    public Tensor pack(Map<String, Tensor> inputs) {
        String where = graph.file.getFileName() + ": ";
        for (String name : inputs.keySet()) {
            if (!inputNames().contains(name)) {
                throw new IllegalArgumentException(where + "'" + name + "' is not one of the model's inputs "
                        + inputNames());
            }
        }
        int n = -1;
        String first = null;
        for (OnnxGraph.Input in : graph.inputs) {
            Tensor t = inputs.get(in.name());
            if (t == null) {
                throw new IllegalArgumentException(where + "input '" + in.name() + "' is missing; the model's "
                        + "inputs are " + inputNames() + ", given " + inputs.keySet());
            }
            int[] per = t.rank() == 0 ? new int[0] : Shapes.dropFirst(t.shape());
            if (t.rank() == 0 || !java.util.Arrays.equals(per, in.shape())) {
                throw new IllegalArgumentException(where + "input '" + in.name() + "' takes examples of shape "
                        + Shapes.str(in.shape()) + ", got " + (t.rank() == 0 ? "a scalar" : Shapes.str(per)
                        + " (an array of shape " + Shapes.str(t.shape()) + ")"));
            }
            if (n >= 0 && t.dim(0) != n) {
                throw new IllegalArgumentException(where + "input '" + in.name() + "' has " + t.dim(0)
                        + " examples, input '" + first + "' has " + n + "; every input needs one row per example");
            }
            int bad = t.firstNonFinite();
            if (bad >= 0) {
                throw new IllegalArgumentException(where + "input '" + in.name() + "' holds " + t.getFlat(bad)
                        + " in example " + bad / Math.max(1, in.size()));
            }
            n = t.dim(0);
            first = first == null ? in.name() : first;
        }
        int width = graph.packed() ? graph.inputShape[0] : Shapes.size(graph.inputShape);
        DType dtype = inputs.get(graph.inputs.get(0).name()).dtype();
        Tensor x = Tensor.empty(dtype, Shapes.prepend(n, graph.inputShape));
        try {
            for (OnnxGraph.Input in : graph.inputs) {
                Tensor t = inputs.get(in.name());
                int size = in.size();
                for (int e = 0; e < n; e++) {
                    for (int j = 0; j < size; j++) {
                        x.setFlat(e * width + in.offset() + j, t.getFlat(e * size + j));
                    }
                }
            }
            checkIds("pack", x);
            return x;
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /**
     * The per-example output shape.
     *
     * @return a copy of the shape without the batch axis
     */
    public int[] outputShape() {
        return outputShape.clone();
    }

    /**
     * The graph input's name; for a file with several inputs, their names separated by {@code ", "} (see
     * {@link #inputNames}).
     *
     * @return the name in the file
     */
    public String inputName() {
        return graph.inputName;
    }

    /**
     * Whether an input holds integer ids (an int64 or int32 input, such as a language model's token ids). The
     * model then takes them as whole numbers in the data's floating dtype, with no derivative; each Gather of a
     * table by them picks the table's rows (the primitive {@code gather_rows}: the one-hot product without the
     * one-hot), differentiable in the table.
     *
     * @return true where some input is an integer input
     */
    public boolean idInput() {
        return graph.idInput();
    }

    /**
     * Checks data for the integer inputs ({@link #idInput}) and bool inputs: every value of an integer input a whole
     * number, within the range that the tables it indexes allow ({@code -V .. V-1} for the smallest table's V rows;
     * negative ids count from the end, as in ONNX) and, in float32, at most 2^24 in magnitude (float32 holds every
     * integer up to 2^24 only); every value of a bool input (a padding mask) 0 or 1. Each integer input of a file with
     * several (input_ids, token_type_ids, attention_mask) is checked against the tables its own ids index (an
     * attention mask indexes none: any whole number). Nothing to check for floating inputs. The model itself gives
     * NaN (which the kernel methods report) for an id out of range; this names it.
     *
     * @param what the data's name for messages (e.g. {@code --data})
     * @param x the data, laid out for the model ([n, inputShape...], packed for several inputs)
     * @throws IllegalArgumentException naming the input, the example, the id and the range, for the first bad id
     */
    public void checkIds(String what, Tensor x) {
        int per = Math.max(1, Shapes.size(Shapes.dropFirst(x.shape())));
        boolean f32 = x.dtype() == DType.F32;
        for (int k = 0; k < graph.inputs.size(); k++) {
            OnnxGraph.Input in = graph.inputs.get(k);
            if (!in.ids() && !in.mask()) {
                continue;
            }
            int size = graph.packed() ? in.size() : per;
            for (int e = 0; e < x.size() / per; e++) {
                for (int j = 0; j < size; j++) {
                    double v = x.getFlat(e * per + in.offset() + j);
                    // the message is built only for a bad value: this loop runs over every id of the data
                    if (!validId(in, idRows[k], v, f32)) {
                        throw badId(what, in, idRows[k], idTable[k], e, v, f32);
                    }
                }
            }
        }
    }

    private static boolean validId(OnnxGraph.Input in, int rows, double v, boolean f32) {
        if (in.mask()) {
            return v == 0 || v == 1;
        }
        return Double.isFinite(v) && v == Math.rint(v) && !(f32 && Math.abs(v) > F32_EXACT)
                && (rows == 0 || v < rows && v >= -rows);
    }

    private IllegalArgumentException badId(String what, OnnxGraph.Input in, int rows, String table, int example,
                                           double v, boolean f32) {
        String at = what + ": input '" + in.name() + "' of " + graph.file.getFileName() + " holds "
                + (in.mask() ? "a mask" : "token ids") + " (" + InitializerData.typeName(in.elemType()) + "); example "
                + example + " has ";
        if (in.mask()) {
            return new IllegalArgumentException(at + v + ", not 0 or 1 (false or true)");
        }
        if (!Double.isFinite(v) || v != Math.rint(v)) {
            return new IllegalArgumentException(at + v + ", not a whole number");
        }
        if (f32 && Math.abs(v) > F32_EXACT) {
            return new IllegalArgumentException(at + (long) v + ", beyond 2^24, the largest integer float32 "
                    + "holds exactly (ids near it may have been rounded); use float64 data (--dtype f64)");
        }
        return new IllegalArgumentException(at + "id " + (long) v + ", out of range for the " + rows
                + " rows of '" + table + "' (ids " + -rows + " to " + (rows - 1) + ")");
    }

    /**
     * The graph output taken.
     *
     * @return its name in the file
     */
    public String outputName() {
        return graph.outputName;
    }

    /**
     * The opset of the default domain the file declares.
     *
     * @return the opset version
     */
    public int opset() {
        return graph.opset;
    }

    /**
     * The producer named in the file (e.g. {@code pytorch 1.13.1}).
     *
     * @return the producer's name and version
     */
    public String producer() {
        return graph.producer;
    }

    /**
     * Whether the import could show that f(x)[n] depends on x[n] alone (which lets the kernel methods work per
     * example); false when an operation moved or merged the batch axis in a way the import does not follow.
     *
     * @return the model's {@link Model#independentExamples()}
     */
    public boolean independentExamples() {
        return independent;
    }

    /**
     * How this file's network differs from {@code reference}'s, in a phrase, or null where the two are one network
     * with other weights (checkpoints of one training run exported one by one): the same inputs (names, per-example
     * shapes, element types), output (name, shape), opset, nodes (operator, inputs, outputs and attributes, in
     * order; node names and doc strings aside), initializers (names, element types and shapes, and the values of
     * the integer ones, which are shapes, axes and indices, and of the floating constants: a scalar of a file not
     * from PyTorch, an exponent, a mask) and parameters (names and shapes). The values of the weights
     * ({@link #weightNames}, frozen or not, a PyTorch file's scalars among them) and of the batch norms' running
     * statistics, which training changes, may differ. PyTorch's
     * {@code Identity} copies of equal initializers are compared as the import reads them (a tensor of their own),
     * so that a bias equal to another at initialisation and not after is the same network.
     *
     * @param reference the model this one should be another checkpoint of
     * @return null when the same network, else the first difference found (e.g. "node 3 is Tanh here, Relu
     *     there")
     */
    public String differenceFrom(OnnxModel reference) {
        OnnxGraph a = graph;
        OnnxGraph b = reference.graph;
        if (a.opset != b.opset) {
            return "opset " + a.opset + " here, " + b.opset + " there";
        }
        if (a.inputs.size() != b.inputs.size()) {
            return a.inputs.size() + " inputs here, " + b.inputs.size() + " there";
        }
        for (int i = 0; i < a.inputs.size(); i++) {
            OnnxGraph.Input x = a.inputs.get(i);
            OnnxGraph.Input y = b.inputs.get(i);
            if (!x.name().equals(y.name()) || !java.util.Arrays.equals(x.shape(), y.shape())
                    || x.elemType() != y.elemType()) {
                return "input " + i + " is '" + x.name() + "' " + Shapes.str(x.shape()) + " "
                        + InitializerData.typeName(x.elemType()) + " here, '" + y.name() + "' " + Shapes.str(y.shape())
                        + " " + InitializerData.typeName(y.elemType()) + " there";
            }
        }
        if (!a.outputName.equals(b.outputName) || !java.util.Arrays.equals(outputShape, reference.outputShape)) {
            return "output '" + a.outputName + "' " + Shapes.str(outputShape) + " here, '" + b.outputName + "' "
                    + Shapes.str(reference.outputShape) + " there";
        }
        Map<String, int[]> mine = paramShapes();
        Map<String, int[]> theirs = reference.paramShapes();
        for (Map.Entry<String, int[]> e : theirs.entrySet()) {
            int[] s = mine.get(e.getKey());
            if (s == null) {
                return "no parameter '" + e.getKey() + "' here (its parameters are " + mine.keySet() + ")";
            }
            if (!java.util.Arrays.equals(s, e.getValue())) {
                return "parameter '" + e.getKey() + "' has shape " + Shapes.str(s) + " here, "
                        + Shapes.str(e.getValue()) + " there";
            }
        }
        for (String name : mine.keySet()) {
            if (!theirs.containsKey(name)) {
                return "a parameter '" + name + "' that is not there (its parameters are " + theirs.keySet() + ")";
            }
        }
        java.util.Set<String> trained = new java.util.HashSet<>(weights);
        trained.addAll(reference.weights);
        for (OnnxGraph g : List.of(a, b)) {
            for (org.ntk4j.onnx.proto.OnnxProtos.NodeProto n : g.nodes) {
                if (n.getOpType().equals("BatchNormalization") && n.getInputCount() == 5) {
                    trained.add(n.getInput(3));
                    trained.add(n.getInput(4));
                }
            }
        }
        // what the output is computed from (the weights of another output's head train too, and are not weights
        // here): the nodes are in topological order
        java.util.Set<String> read = new java.util.HashSet<>(List.of(a.outputName));
        for (int i = a.nodes.size() - 1; i >= 0; i--) {
            org.ntk4j.onnx.proto.OnnxProtos.NodeProto n = a.nodes.get(i);
            if (n.getOutputList().stream().anyMatch(read::contains)) {
                read.addAll(n.getInputList());
            }
        }
        for (Map.Entry<String, InitializerData> e : b.initializers.entrySet()) {
            InitializerData x = a.initializers.get(e.getKey());
            InitializerData y = e.getValue();
            if (x == null) {
                return "no initializer '" + e.getKey() + "' here";
            }
            if (x.elemType != y.elemType || !java.util.Arrays.equals(x.shape, y.shape)) {
                return "initializer '" + e.getKey() + "' is " + InitializerData.typeName(x.elemType) + " "
                        + Shapes.str(x.shape) + " here, " + InitializerData.typeName(y.elemType) + " "
                        + Shapes.str(y.shape) + " there";
            }
            if (x.ints != null && !java.util.Arrays.equals(x.ints, y.ints)) {
                return "initializer '" + e.getKey() + "' (integers: a shape, axes or indices) holds other values";
            }
            // a floating constant of the import (a scalar outside PyTorch's files, an exponent, a mask; a PyTorch
            // file's scalars are weights, which may change) is the network as an attribute is; only the weights and
            // the batch norms' running statistics are what training changes
            if (x.floating() && read.contains(e.getKey()) && !trained.contains(e.getKey())
                    && (!java.util.Arrays.equals(x.f32, y.f32)
                    || !java.util.Arrays.equals(x.f64, y.f64))) {
                return "initializer '" + e.getKey() + "' (a constant: neither a weight nor a batch norm's running "
                        + "statistic) holds other values";
            }
        }
        for (String name : a.initializers.keySet()) {
            if (!b.initializers.containsKey(name)) {
                return "an initializer '" + name + "' that is not there";
            }
        }
        if (a.nodes.size() != b.nodes.size()) {
            return a.nodes.size() + " nodes here, " + b.nodes.size() + " there";
        }
        for (int i = 0; i < a.nodes.size(); i++) {
            org.ntk4j.onnx.proto.OnnxProtos.NodeProto x = a.nodes.get(i);
            org.ntk4j.onnx.proto.OnnxProtos.NodeProto y = b.nodes.get(i);
            if (!x.getOpType().equals(y.getOpType()) || !x.getDomain().equals(y.getDomain())) {
                return "node " + i + " ('" + x.getName() + "') is " + x.getOpType() + " here, " + y.getOpType()
                        + " there";
            }
            if (!x.toBuilder().clearName().clearDocString().build()
                    .equals(y.toBuilder().clearName().clearDocString().build())) {
                return "node " + i + " ('" + x.getName() + "', " + x.getOpType() + ") has other inputs, outputs or "
                        + "attributes";
            }
        }
        return null;
    }

    /** Each parameter's shape, by name. */
    private Map<String, int[]> paramShapes() {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (String p : params) {
            m.put(p, graph.initializers.get(p).shape);
        }
        return m;
    }

    @Override
    public String toString() {
        return "onnx:" + graph.file + " (" + params.size() + " parameters, " + parameterCount() + " scalars)";
    }
}

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
 * {@link Options#inputShape}). An int64 or int32 input holds token ids ({@link #idInput}): they are taken as whole
 * numbers in the data's floating dtype, without derivative, and each Gather of a table by them is the exact one-hot
 * product, so an embedding table is a parameter like any weight ({@link #checkIds} checks data). Its parameters θ
 * are the floating-point initializers of rank at least 1 that the graph computes with (weights, biases, scales,
 * shifts), named as in the file, and in files not from PyTorch the floating Constant nodes of rank at least 1 (named
 * by their output); initializers used as shapes, axes or exponents, scalars, and batch norms' running statistics are
 * constants. Outside PyTorch's files, a tensor whose
 * values are all equal read by several inputs (tf2onnx merges equal constants) is one parameter per input.
 * {@link #freeze} and {@link #paramsOnly} choose otherwise by name. The whole graph is checked when the file is
 * loaded: an operator ntk4j does not import is reported then, with its node's name.
 *
 * <pre>{@code
 * OnnxModel onnx = OnnxModel.load(Path.of("net.onnx"));
 * try (Params params = onnx.params(DType.F32)) {
 *     Tensor k = EmpiricalNtk.of(onnx.model(), params).ntk(x, null);
 * }
 * }</pre>
 */
public final class OnnxModel {
    /** The batch size of the import's dry run: one that rarely equals another axis's size. */
    private static final int DRY_RUN_BATCH = 13;
    /** 2^24: float32 holds every integer of at most this magnitude exactly. */
    private static final double F32_EXACT = 1 << 24;

    private final OnnxGraph graph;
    /** Every weight initializer the graph computes with, in file order (the default parameters). */
    private final List<String> weights;
    private final List<String> params;
    private final int[] outputShape;
    private final boolean independent;
    /** The fewest rows of a table the input's ids index (0: none), and its name (see {@link #checkIds}). */
    private final int idRows;
    private final String idTable;
    private final Model model;

    private OnnxModel(OnnxGraph graph, List<String> weights, List<String> params, int[] outputShape,
                      boolean independent, int idRows, String idTable) {
        this.graph = graph;
        this.idRows = idRows;
        this.idTable = idTable;
        this.weights = List.copyOf(weights);
        this.params = List.copyOf(params);
        this.outputShape = outputShape.clone();
        this.independent = independent;
        this.model = new Model(new OnnxLayer(graph, params, outputShape, independent), "onnx:" + graph.file);
    }

    /** How to read a file: the per-example input shape where the file's is dynamic, and the output to take. */
    public static final class Options {
        private final int[] inputShape;
        private final String output;

        private Options(int[] inputShape, String output) {
            this.inputShape = inputShape;
            this.output = output;
        }

        /**
         * The defaults: the input shape from the file, the file's only output.
         *
         * @return the default options
         */
        public static Options defaults() {
            return new Options(null, null);
        }

        /**
         * The per-example input shape (without the batch axis), for inputs whose axes the file leaves dynamic;
         * axes the file fixes must agree.
         *
         * @param perExample the sizes, in the model's layout (e.g. {@code 3, 32, 32} for NCHW images); copied
         * @return new options with this shape
         */
        public Options inputShape(int... perExample) {
            return new Options(perExample.clone(), output);
        }

        /**
         * The output to take, by name, for a model with several.
         *
         * @param name the graph output's name
         * @return new options with this output
         */
        public Options output(String name) {
            return new Options(inputShape, name);
        }
    }

    /**
     * Reads an ONNX file with the default options.
     *
     * @param file the .onnx file; external data files are read relative to its folder
     * @return the imported model
     * @throws IllegalArgumentException if the file cannot be read, is not ONNX, has an unsupported opset or
     *     operator, a dynamic input axis, several inputs or outputs, or shapes that do not fit
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
        OnnxGraph g = OnnxGraph.read(file, options.output, options.inputShape);
        GraphBuilder b = new GraphBuilder();
        DType dtype = g.inputElemType == org.ntk4j.onnx.proto.OnnxProtos.TensorProto.DataType.DOUBLE_VALUE
                ? DType.F64 : DType.F32;
        Var x = b.input(dtype, Shapes.prepend(DRY_RUN_BATCH, g.inputShape));
        Map<String, Tensor> scratch = new HashMap<>();
        Tracer.Traced out;
        Tracer t = new Tracer(g, b, dtype, null, scratch);
        // the dry run's graph is dropped: the constants it computes are closed with this scope
        TensorScope dryRun = TensorScope.open();
        try {
            out = t.run(x);
        } finally {
            dryRun.close();
            for (Tensor c : scratch.values()) {
                c.close();
            }
        }
        List<String> weights = new ArrayList<>();
        for (String name : g.initializers.keySet()) {
            if (t.weightsUsed.contains(name)) {
                weights.add(name);
            }
        }
        return new OnnxModel(g, weights, weights, Shapes.dropFirst(out.var().shape()), out.batch == 0, t.idRows,
                t.idTable);
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
        return new OnnxModel(graph, weights, kept, outputShape, independent, idRows, idTable);
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
     * The per-example input shape, in the model's layout.
     *
     * @return a copy of the shape without the batch axis
     */
    public int[] inputShape() {
        return graph.inputShape.clone();
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
     * The graph input's name.
     *
     * @return the name in the file
     */
    public String inputName() {
        return graph.inputName;
    }

    /**
     * Whether the input holds integer ids (an int64 or int32 input, such as a language model's token ids). The
     * model then takes them as whole numbers in the data's floating dtype, with no derivative; each Gather of a
     * table by them is the exact one-hot product, differentiable in the table.
     *
     * @return true for an integer input
     */
    public boolean idInput() {
        return graph.idInput();
    }

    /**
     * Checks data for an integer input ({@link #idInput}): every value a whole number, within the range that the
     * tables it indexes allow ({@code -V .. V-1} for the smallest table's V rows; negative ids count from the end,
     * as in ONNX) and, in float32, at most 2^24 in magnitude (float32 holds every integer up to 2^24 only). Nothing
     * to check for a floating input. The model itself gives NaN (which the kernel methods report) for an id out of
     * range; this names it.
     *
     * @param what the data's name for messages (e.g. {@code --data})
     * @param x the data, laid out for the model ([n, inputShape...])
     * @throws IllegalArgumentException naming the input, the example, the id and the range, for the first bad id
     */
    public void checkIds(String what, Tensor x) {
        if (!graph.idInput()) {
            return;
        }
        int per = Math.max(1, Shapes.size(Shapes.dropFirst(x.shape())));
        for (int i = 0; i < x.size(); i++) {
            double v = x.getFlat(i);
            String at = what + ": input '" + graph.inputName + "' of " + graph.file.getFileName() + " holds token ids ("
                    + InitializerData.typeName(graph.inputElemType) + "); example " + i / per + " has ";
            if (!Double.isFinite(v) || v != Math.rint(v)) {
                throw new IllegalArgumentException(at + v + ", not a whole number");
            }
            if (x.dtype() == DType.F32 && Math.abs(v) > F32_EXACT) {
                throw new IllegalArgumentException(at + (long) v + ", beyond 2^24, the largest integer float32 "
                        + "holds exactly (ids near it may have been rounded); use float64 data (--dtype f64)");
            }
            if (idRows > 0 && (v >= idRows || v < -idRows)) {
                throw new IllegalArgumentException(at + "id " + (long) v + ", out of range for the " + idRows
                        + " rows of '" + idTable + "' (ids " + -idRows + " to " + (idRows - 1) + ")");
            }
        }
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

    @Override
    public String toString() {
        return "onnx:" + graph.file + " (" + params.size() + " parameters, " + parameterCount() + " scalars)";
    }
}

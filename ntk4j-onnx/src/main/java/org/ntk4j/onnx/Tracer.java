package org.ntk4j.onnx;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.tensor.TensorScope;

/**
 * Runs an ONNX graph on ntk4j {@link Var}s: each node's operator (see {@link Operators}) records ntk4j primitives,
 * while values known at import (initializers used as shapes or axes, Constant nodes, and the
 * Shape/Gather/Cast/ConstantOfShape arithmetic exporters leave) are computed here, in Java, as constants.
 *
 * <p>Each traced value carries where its example axis is ({@link Traced#batch}): an axis index, {@link #NONE}
 * when it does not depend on the examples, or {@link #MIXED} when an operation combined examples (a reduction
 * over the example axis, a reshape that merges it with another axis). The model treats examples independently
 * when the output's example axis is axis 0.
 */
final class Tracer {
    /** The value does not depend on the examples x. */
    static final int NONE = -1;
    /** The value mixes examples (or the import cannot tell where the example axis went). */
    static final int MIXED = -2;
    /** ONNX's control-flow operators, refused before any other node of the file. */
    private static final Set<String> CONTROL_FLOW = Set.of("If", "Loop", "Scan");
    private static final int BOOL = TensorProto.DataType.BOOL_VALUE;

    /** A value of the ONNX graph during a trace. */
    abstract static class Value {
        abstract int[] shape();
    }

    /** A value known at import. Integer types hold their values exactly up to 2^53. */
    static final class Const extends Value {
        /** ONNX element type number. */
        final int type;
        final int[] shape;
        private double[] values;
        /** The file's initializer this is, or null. */
        final InitializerData initializer;
        /** Whether this initializer may be a weight though a scalar (rank 0): in PyTorch's files. */
        private final boolean scalarWeight;

        Const(int type, int[] shape, double[] values) {
            this.type = type;
            this.shape = shape.clone();
            this.values = values;
            this.initializer = null;
            this.scalarWeight = false;
        }

        Const(InitializerData init, boolean scalarWeight) {
            this.type = init.elemType;
            this.shape = init.shape.clone();
            this.initializer = init;
            this.scalarWeight = scalarWeight;
        }

        double[] values() {
            if (values == null) {
                values = initializer.toDoubles();
            }
            return values;
        }

        boolean floating() {
            return InitializerData.isFloatType(type);
        }

        /**
         * A floating initializer of rank at least 1, or a scalar one in a PyTorch file ({@link #scalarWeight}): a
         * weight, bias, scale, shift or learned scalar (a temperature) if the graph computes with it; not one that
         * holds ±∞ ({@link InitializerData#infinite}: a mask, a constant).
         */
        boolean weightCandidate() {
            return initializer != null && floating() && (shape.length >= 1 || scalarWeight) && !initializer.infinite;
        }

        long[] longs() {
            double[] v = values();
            long[] r = new long[v.length];
            for (int i = 0; i < v.length; i++) {
                r[i] = v[i] >= 9.2e18 ? Long.MAX_VALUE : v[i] <= -9.2e18 ? Long.MIN_VALUE : (long) v[i];
            }
            return r;
        }

        @Override
        int[] shape() {
            return shape.clone();
        }
    }

    /**
     * A value computed by the graph under construction, possibly held in another layout than the file's (a view):
     * {@code T = transpose(phys, perm)} and {@code logical = reshape(T, shape())}, where logical axis i is the
     * product of {@code groups[i]} consecutive axes of T. Convolutions keep their output channels-last this way,
     * and the reshapes and transposes PyTorch's attention applies to [batch, positions, features] values keep the
     * batch axis first in {@code phys}, which the kernel methods' per-example paths and tiling need.
     * {@link #var()} gives the file's layout (recording the transpose and reshape at the first call).
     */
    static final class Traced extends Value {
        /** The value as held. */
        final Var phys;
        /** Axis i of T is axis perm[i] of phys; null for the identity. */
        final int[] perm;
        /** How many axes of T each logical axis spans; null for one each. */
        final int[] groups;
        /** The axis of T that is the example axis, or {@link #NONE}, or {@link #MIXED}. */
        final int tBatch;
        /**
         * The logical example axis, or {@link #NONE}, or {@link #MIXED} (also when the example axis is merged with
         * another axis of size above 1, which only view-aware operators follow).
         */
        final int batch;
        private Var logical;

        Traced(Var var, int batch) {
            this(var, null, null, batch);
        }

        Traced(Var phys, int[] perm, int batch) {
            this(phys, perm, null, batch);
        }

        Traced(Var phys, int[] perm, int[] groups, int tBatch) {
            this.phys = phys;
            this.perm = perm;
            this.groups = groups;
            this.tBatch = tBatch;
            this.batch = logicalBatch();
            this.logical = perm == null && groups == null ? phys : null;
        }

        private int logicalBatch() {
            if (groups == null || tBatch < 0) {
                return tBatch;
            }
            int[] t = tShape();
            int start = 0;
            for (int g = 0; g < groups.length; g++) {
                if (tBatch < start + groups[g]) {
                    for (int k = start; k < start + groups[g]; k++) {
                        if (k != tBatch && t[k] != 1) {
                            return MIXED;
                        }
                    }
                    return g;
                }
                start += groups[g];
            }
            return MIXED;
        }

        /** The same layout holding another variable of the same physical shape. */
        Traced withPhys(Var p, int newTBatch) {
            return new Traced(p, perm, groups, newTBatch);
        }

        boolean isView() {
            return perm != null || groups != null;
        }

        /** The shape of T. */
        int[] tShape() {
            return perm == null ? phys.shape() : Shapes.permute(phys.shape(), perm);
        }

        /** Index of the first axis of T in logical axis {@code g}. */
        int groupStart(int g) {
            if (groups == null) {
                return g;
            }
            int s = 0;
            for (int i = 0; i < g; i++) {
                s += groups[i];
            }
            return s;
        }

        int groupSize(int g) {
            return groups == null ? 1 : groups[g];
        }

        /** The phys axis of T axis {@code t}. */
        int physAxis(int t) {
            return perm == null ? t : perm[t];
        }

        /** The value in the file's layout. */
        Var var() {
            if (logical == null) {
                Var t = perm == null ? phys : phys.transpose(perm);
                logical = groups == null ? t : t.reshape(shape());
            }
            return logical;
        }

        int rank() {
            return groups == null ? phys.rank() : groups.length;
        }

        @Override
        int[] shape() {
            int[] t = tShape();
            if (groups == null) {
                return t;
            }
            int[] r = new int[groups.length];
            int k = 0;
            for (int g = 0; g < groups.length; g++) {
                r[g] = 1;
                for (int i = 0; i < groups[g]; i++) {
                    r[g] *= t[k++];
                }
            }
            return r;
        }
    }

    final OnnxGraph graph;
    final GraphBuilder builder;
    final DType dtype;
    /** Parameters by initializer name (null during the import's dry run, which finds them). */
    private final Map<String, Var> params;
    /** Constant tensors of frozen or non-weight initializers, cached by the layer per dtype. */
    private final Map<String, Tensor> constantCache;
    /**
     * Initializers the graph computes with as weights ({@link Const#weightCandidate}), in order of use: the default
     * parameters.
     */
    final Set<String> weightsUsed = new LinkedHashSet<>();
    private final Map<String, Value> values = new HashMap<>();
    private final Map<String, Var> lifted = new HashMap<>();
    /** Whether operators may hold values as views ({@link Views}); not for a batch of one example. */
    private boolean views;
    /**
     * The traced values that hold integer ids, each with the integer inputs (indices in {@link OnnxGraph#inputs})
     * they come from: an integer input, and what the operators that only move or copy values (Reshape, Unsqueeze,
     * Cast to an integer type, ...) make of it. They have no derivative (the NTK is with respect to the parameters)
     * and index tables through {@link Operators} Gather as row gathers ({@code gather_rows}).
     */
    private final Map<Value, java.util.BitSet> ids = new java.util.IdentityHashMap<>();
    /** The operators whose outputs hold ids when every traced input does. */
    private static final Set<String> ID_PRESERVING = Set.of("Reshape", "Unsqueeze", "Squeeze", "Flatten",
            "Transpose", "Identity", "Slice", "Split", "Concat", "Expand", "Gather");
    /**
     * The traced values without derivative with respect to the parameters: the graph inputs, the masks of comparisons
     * ({@link #MASKS}), and what any operator computes from them and constants (not from a weight).
     */
    private final Set<Value> noDerivative = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /**
     * Of those, the values known to hold whole numbers: integer and bool inputs, masks, and what the operators of
     * {@link #WHOLE_PRESERVING} make of them and of constants that are whole numbers. A Cast to an integer type keeps
     * them as they are ({@link Ctx#holdsWholeNumbers}).
     */
    private final Set<Value> wholes = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /**
     * Of the whole values, those of an integer ONNX type: integer inputs, casts to an integer type, and what the
     * operators of {@link #WHOLE_PRESERVING} make of them. ONNX's Div of integers truncates ({@link Ctx#integer}).
     */
    private final Set<Value> integers = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /**
     * The values known at import that are computed from the shape of a value that depends on the examples
     * ({@code Shape(x)}, and what Gather, Concat, Unsqueeze, ... make of it): they may hold the batch size, which
     * {@link Ctx#followExamples} needs to tell.
     */
    private final Set<Value> fromBatchShape = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /** The model's input of this trace, [N, ...] (packed for several inputs). */
    private Var examples;
    /**
     * The Expand and Tile nodes (by their first output's name, with {@code #b} for an inner axis b) that broadcast a
     * value of the parameters alone to the examples' count ({@link Ctx#followExamples}). The import's dry run finds
     * them, on a batch of 13 examples, and keeps those that a second dry run at another size follows too
     * ({@link #followed}): an axis that is 13 long at 13 examples but not as long as the batch at the other size (a
     * sequence of 13) is no examples' axis. Every later
     * trace follows the examples there at every batch size and nowhere else: a test of the sizes alone at the run's
     * N took a sequence axis as long as the batch for the examples' (a silently wrong kernel) and missed the class
     * token of a single example.
     */
    final Set<String> followingExamples;
    /** Of {@link #followingExamples}, the nodes that followed the examples in this trace. */
    final Set<String> followed = new LinkedHashSet<>();
    /** Whether this trace finds {@link #followingExamples} (the import's dry run) rather than reads them. */
    private final boolean findsFollowingExamples;
    /**
     * The operators whose outputs are whole numbers without derivative, whatever their inputs: masks of 0 and 1,
     * Sign's −1, 0 and 1, and Floor, Ceil and Round (of finite values).
     */
    private static final Set<String> MASKS = Set.of("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
            "Not", "Sign", "And", "Or", "Xor", "Floor", "Ceil", "Round");
    /**
     * The operators whose outputs hold whole numbers where every input does: they move or copy values, or add,
     * subtract, multiply, compare, clip or sum them (Cast: to any type but bool, which makes a mask).
     */
    private static final Set<String> WHOLE_PRESERVING = Set.of("Reshape", "Unsqueeze", "Squeeze", "Flatten",
            "Transpose", "Identity", "Slice", "Split", "Concat", "Expand", "Gather", "Pad", "Cast", "Add", "Sub", "Mul",
            "Neg", "Abs", "Relu", "Max", "Min", "Sum", "Clip", "Where", "ReduceSum", "ReduceMax",
            "ReduceProd", "CumSum", "DepthToSpace", "SpaceToDepth", "OneHot");
    /** Per input, the fewest rows of a table that its ids index (0: none does), and that table's name. */
    final int[] idRows;
    final String[] idTable;

    Tracer(OnnxGraph graph, GraphBuilder builder, DType dtype, Map<String, Var> params,
           Map<String, Tensor> constantCache, Set<String> followingExamples) {
        this.graph = graph;
        this.findsFollowingExamples = followingExamples == null;
        this.followingExamples = followingExamples == null ? new java.util.HashSet<>() : followingExamples;
        this.builder = builder;
        this.dtype = dtype;
        this.params = params;
        this.constantCache = constantCache;
        this.idRows = new int[graph.inputs.size()];
        this.idTable = new String[graph.inputs.size()];
    }

    /**
     * Traces the graph for the batch {@code x}; returns the output. For a model with several inputs, x is packed
     * ({@link OnnxGraph}): each input is its slice of x's axis 1, reshaped to {@code [n, shape...]}.
     */
    Traced run(Var x) {
        // PyTorch writes its forward code's literals (an attention's 1/sqrt(d), a LayerNorm's epsilon, an exponent)
        // as Constant nodes, never as initializers: its scalar initializers are the module's own rank-0 tensors
        // (an nn.Parameter such as CLIP's logit_scale, a buffer) or what constant folding computed from them
        // (onnx::Mul_20 = 2 * gain), so they are weights as the tensors of rank at least 1 are. Other exporters
        // (tf2onnx) store every literal as an initializer: their scalars stay constants.
        boolean scalarWeights = graph.fromPytorch();
        for (InitializerData init : graph.initializers.values()) {
            values.put(init.name, new Const(init, scalarWeights));
        }
        for (int i = 0; i < graph.inputs.size(); i++) {
            OnnxGraph.Input in = graph.inputs.get(i);
            Var v = !graph.packed() ? x : x.sliceInDim(1, in.offset(), in.offset() + in.size(), 1)
                    .reshape(Shapes.prepend(x.dim(0), in.shape()));
            Traced input = new Traced(v, 0);
            values.put(in.name(), input);
            noDerivative.add(input);
            if (in.ids() || in.mask()) {
                wholes.add(input);
            }
            if (in.ids()) {
                integers.add(input);
                java.util.BitSet from = new java.util.BitSet();
                from.set(i);
                ids.put(input, from);
            }
        }
        views = x.dim(0) > 1;
        examples = x;
        // control flow first: the nodes that feed a Loop (nn.EmbeddingBag's shape arithmetic) would otherwise be the
        // ones named, and supporting them would not import the file
        for (NodeProto node : graph.nodes) {
            if (node.getDomain().isEmpty() && CONTROL_FLOW.contains(node.getOpType())) {
                throw new IllegalArgumentException(graph.file + ": unsupported operator " + node.getOpType() + " in "
                        + new Ctx(node).where() + ": control flow (If, Loop, Scan) is not imported; "
                        + (node.getOpType().equals("If") ? "nn.LocalResponseNorm exports an If on its input's rank"
                        : "nn.EmbeddingBag exports its bags as a Loop: use nn.Embedding and a mean (or sum) over the "
                        + "positions"));
            }
        }
        for (NodeProto node : graph.nodes) {
            Operators.Op op = Operators.TABLE.get(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx")
                    ? node.getOpType() : node.getDomain() + "." + node.getOpType());
            Ctx c = new Ctx(node);
            if (op == null) {
                throw c.unsupported("");
            }
            Value[] out;
            try {
                out = op.apply(c);
            } catch (IllegalArgumentException e) {
                // a shape the primitives refuse: say where in the file, and the likely cause of a fixed batch
                String m = e.getMessage() == null ? e.toString() : e.getMessage();
                throw new IllegalArgumentException((m.startsWith(graph.file + ":") ? m : graph.file + ": "
                        + c.where() + ": " + m) + fixedBatchHint(x.dim(0), !m.contains(batchAxisFix())), e);
            }
            java.util.BitSet idsOut = holdsIds(c);
            boolean mask = MASKS.contains(c.op()) || c.op().equals("Cast") && c.attrInt("to", 1) == BOOL;
            boolean free = mask || computedWithoutWeights(c, false);
            boolean whole = mask || free && WHOLE_PRESERVING.contains(c.op()) && computedWithoutWeights(c, true);
            boolean integer = whole && !mask && (c.op().equals("Cast")
                    ? InitializerData.isIntegerType((int) c.attrInt("to", 1)) : anyInteger(c));
            boolean shapeOfExamples = fromBatchShape(c);
            for (int i = 0; i < out.length && i < node.getOutputCount(); i++) {
                if (!node.getOutput(i).isEmpty()) {
                    values.put(node.getOutput(i), out[i]);
                    if (idsOut != null && out[i] instanceof Traced) {
                        ids.put(out[i], idsOut);
                    }
                    if (free && out[i] instanceof Traced) {
                        noDerivative.add(out[i]);
                    }
                    if (whole && out[i] instanceof Traced) {
                        wholes.add(out[i]);
                    }
                    if (integer && out[i] instanceof Traced) {
                        integers.add(out[i]);
                    }
                    if (shapeOfExamples && out[i] instanceof Const) {
                        fromBatchShape.add(out[i]);
                    }
                }
            }
        }
        Value out = values.get(graph.outputName);
        if (!(out instanceof Traced t) || t.batch == NONE) {
            throw new IllegalArgumentException(graph.file + ": the output '" + graph.outputName
                    + "' does not depend on the input '" + graph.inputName + "'");
        }
        if (t.rank() == 0 || t.shape()[0] != x.dim(0)) {
            boolean unsure = batchAxisUnsure(x.dim(0));
            // the shape with the examples' axis as N where it has one of its own: the trace's batch size is the
            // import's choice (or a run's), not a figure of the file
            String what = t.rank() == 0 ? "is a scalar"
                    : t.batch >= 0 ? "has shape " + shapeText(t) + " for a batch of N examples"
                    : "merges the examples' axis with another" + (Shapes.size(t.shape()) % x.dim(0) == 0
                    ? " (" + Shapes.size(t.shape()) / x.dim(0) + " values per example, on no axis of their own)"
                    : "");
            throw new IllegalArgumentException(graph.file + ": the output '" + graph.outputName + "' " + what
                    + "; its first axis must be the examples'" + (unsure ? "" : " (" + batchAxisFix() + ")")
                    + fixedBatchHint(x.dim(0), unsure));
        }
        return t;
    }

    /**
     * Whether the node's outputs hold ids: it only moves, copies or (Cast) relabels the integer type of values, and
     * every input computed from x holds ids (Gather's data, not its indices, for a Gather). Returns the inputs the
     * ids come from, or null.
     */
    private java.util.BitSet holdsIds(Ctx c) {
        boolean cast = c.op().equals("Cast") && InitializerData.isIntegerType((int) c.attrInt("to", 1));
        if (!cast && !ID_PRESERVING.contains(c.op())) {
            return null;
        }
        java.util.BitSet from = null;
        for (int i = 0; i < c.inputs(); i++) {
            if (c.has(i) && c.in(i) instanceof Traced t) {
                if (!ids.containsKey(t) || c.op().equals("Gather") && i == 1) {
                    return null;
                }
                from = from == null ? new java.util.BitSet() : from;
                from.or(ids.get(t));
            }
        }
        return from;
    }

    /**
     * Whether every input of the node is a traced value without derivative or a constant that is not a weight; with
     * {@code whole}, whether each also holds whole numbers (a constant: finite values without fraction).
     */
    private boolean computedWithoutWeights(Ctx c, boolean whole) {
        for (int i = 0; i < c.inputs(); i++) {
            if (!c.has(i)) {
                continue;
            }
            Value v = c.in(i);
            boolean ok = v instanceof Traced t ? (whole ? wholes : noDerivative).contains(t)
                    : !((Const) v).weightCandidate() && (!whole || wholeNumbers((Const) v));
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether an input of the node is a traced value of an integer type (see {@link #integers}); for a Gather, its
     * data (the indices' type is not the output's). A Where is of its branches' type, which a branch of integer
     * constants tells (torch.where(ids > 4, 2, 1) selects int64 values by a mask). A OneHot is of its values'
     * type whatever its indices' (F.one_hot's int64 [0, 1] of float ids is integer, float [0, 1] of int64 ids is not).
     */
    private boolean anyInteger(Ctx c) {
        if (c.op().equals("OneHot")) {
            return c.in(2) instanceof Const k && InitializerData.isIntegerType(k.type);
        }
        for (int i = 0; i < c.inputs(); i++) {
            if (c.integer(i) && !(c.op().equals("Gather") && i == 1)) {
                return true;
            }
            if (c.op().equals("Where") && i > 0 && c.has(i) && c.in(i) instanceof Const k
                    && InitializerData.isIntegerType(k.type)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether the node computes from the shape of a value that depends on the examples: a Shape of one, or any
     * operator of a value known at import that is (see {@link #fromBatchShape}).
     */
    private boolean fromBatchShape(Ctx c) {
        if (c.op().equals("Shape")) {
            return c.in(0) instanceof Traced t && t.batch != NONE;
        }
        for (int i = 0; i < c.inputs(); i++) {
            if (c.has(i) && fromBatchShape.contains(c.in(i))) {
                return true;
            }
        }
        return false;
    }

    private static boolean wholeNumbers(Const k) {
        for (double v : k.values()) {
            if (!Double.isFinite(v) || v != Math.rint(v)) {
                return false;
            }
        }
        return true;
    }

    /**
     * For a file exported with a fixed batch size (which PyTorch writes into Reshape targets such as
     * {@code x.view(x.size(0), -1)}), traced here with another: the likely cause, and with {@code fix} the fix, as a
     * clause to append to an error; empty otherwise. An input of three axes with axis 0 fixed may be batch-first
     * ([N, L, E]) or sequence-first ([L, N, E], PyTorch's default for nn.Transformer*, nn.MultiheadAttention and the
     * RNNs): the file does not say which axis is the batch, and making axis 0 dynamic in a sequence-first module
     * would import its positions as the examples (another function's kernel, with no error). There the clause says
     * so and gives the fix for each case.
     */
    private String fixedBatchHint(int batch, boolean fix) {
        if (graph.fixedBatch <= 0 || graph.fixedBatch == batch) {
            return "";
        }
        if (batchAxisUnsure(batch)) {
            int[] full = new int[graph.inputShape.length + 1];
            full[0] = graph.fixedBatch;
            System.arraycopy(graph.inputShape, 0, full, 1, graph.inputShape.length);
            return "; the file fixes axis 0 of input '" + graph.inputName + "' (" + Shapes.str(full) + ") at "
                    + graph.fixedBatch + ", which ntk4j takes as the examples' axis, and ntk4j runs the model on "
                    + "batches of other sizes" + (fix ? "; the file does not say which axis is the batch: if axis 0, "
                    + batchAxisFix() + "; if axis 1 (a sequence-first module, such as "
                    + "nn.TransformerEncoderLayer with batch_first=False), export the module batch-first" : "");
        }
        return "; the file fixes the batch axis of input '" + graph.inputName + "' at " + graph.fixedBatch
                + (graph.fixedBatch == 1 ? " example" : " examples") + " and ntk4j runs the model on batches of "
                + "other sizes" + (fix ? ": " + batchAxisFix() : "");
    }

    /**
     * Whether a fixed axis 0 traced at another size may not be the batch: three axes, [N, L, E] or [L, N, E]; not in
     * a file from tf2onnx or keras2onnx, whose batch axis (Keras's, TensorFlow's) is always the first.
     */
    private boolean batchAxisUnsure(int batch) {
        return graph.fixedBatch > 0 && graph.fixedBatch != batch && graph.inputShape.length == 2 && !fromKeras();
    }

    /** Whether tf2onnx or keras2onnx wrote the file (Keras models, JAX through jax2tf). */
    private boolean fromKeras() {
        return graph.producer.startsWith("tf2onnx") || graph.producer.startsWith("keras2onnx");
    }

    /**
     * How to export the model with axis 0 of the input and output dynamic: for tf2onnx's and keras2onnx's files
     * (Keras, JAX through jax2tf) an input signature whose batch axis is None, else PyTorch's dynamic_axes with the
     * file's names.
     */
    private String batchAxisFix() {
        if (fromKeras()) {
            return "convert a model whose input signature leaves the batch axis None (keras.Input(shape=...) "
                    + "without batch_size, tf.TensorSpec((None, ...)))";
        }
        StringBuilder axes = new StringBuilder();
        for (OnnxGraph.Input in : graph.inputs) {
            axes.append("'").append(in.name()).append("': {0: 'batch'}, ");
        }
        return "export with dynamic_axes={" + axes + "'" + graph.outputName + "': {0: 'batch'}}";
    }

    /** One node being converted: its inputs, attributes, and helpers for the operators. */
    final class Ctx {
        final NodeProto node;
        private final Map<String, AttributeProto> attrs = new HashMap<>();

        Ctx(NodeProto node) {
            this.node = node;
            for (AttributeProto a : node.getAttributeList()) {
                attrs.put(a.getName(), a);
            }
        }

        String op() {
            return node.getOpType();
        }

        /** The node's description for messages: {@code node 'name' (OpType)}. */
        String where() {
            return "node '" + (node.getName().isEmpty() ? node.getOutput(0) : node.getName()) + "' (" + op() + ")";
        }

        int opset() {
            return graph.opset;
        }

        GraphBuilder builder() {
            return builder;
        }

        /** Whether input i is a traced value holding integer ids (see {@link Tracer#ids}). */
        boolean holdsIds(int i) {
            return has(i) && ids.containsKey(in(i));
        }

        /**
         * Whether input i is a traced value known to hold whole numbers without derivative (integer or bool inputs,
         * masks, and what moving, adding, subtracting or multiplying them makes; see {@link Tracer#wholes}).
         */
        boolean holdsWholeNumbers(int i) {
            return has(i) && wholes.contains(in(i));
        }

        /** Whether input i is a traced value of an integer ONNX type (see {@link Tracer#integers}). */
        boolean integer(int i) {
            return has(i) && integers.contains(in(i));
        }

        /** Whether input i is a traced value without derivative with respect to the parameters. */
        boolean withoutDerivative(int i) {
            return has(i) && noDerivative.contains(in(i));
        }

        /**
         * Input i of an arithmetic operator (Add, Sub, Mul, Max, ...) as a traced value: an integer constant is a
         * graph constant of its values where the node's other inputs hold whole numbers (integer arithmetic on masks
         * and ids, exact in floating point), but not for Div, whose integer form truncates; otherwise as
         * {@link #traced}.
         */
        Traced tracedArithmetic(int i) {
            if (in(i) instanceof Const k && !k.floating() && !op().equals("Div")) {
                boolean others = true;
                for (int j = 0; j < inputs(); j++) {
                    others &= !has(j) || in(j) instanceof Const || holdsWholeNumbers(j);
                }
                if (others) {
                    return tracedAnyType(i);
                }
            }
            return traced(i);
        }

        /**
         * Notes that the ids of input i index a table of {@code rows} rows, named {@code table}: the ids of every
         * graph input they come from must fit.
         */
        void noteIdRows(int i, int rows, String table) {
            java.util.BitSet from = ids.get(in(i));
            for (int k = from.nextSetBit(0); k >= 0; k = from.nextSetBit(k + 1)) {
                if (idRows[k] == 0 || rows < idRows[k]) {
                    idRows[k] = rows;
                    idTable[k] = table;
                }
            }
        }

        /**
         * {@code v}, a value that does not depend on the examples, broadcast to {@code out} as Expand does, where
         * input {@code shapeInput} holds the target shape. Where the shape comes from the examples' (PyTorch's
         * {@code cls_token.expand(x.shape[0], -1, -1)}: a class token repeated per example) and grows a first axis of
         * size 1 (or none) to the batch size N, the result is computed as zero(x) + v, with zero(x) = [x > x], 0 for
         * every value of x (NaN included) and without derivative, shaped [N, 1, ..., 1]: the same values, but
         * following the examples' axis like every value computed from x. A parameter broadcast to N rows without it
         * would be a value of the parameters alone with an axis of the batch's size, which the per-example paths of
         * the kernel methods (they take such values as shared by all examples) cannot split. Returns null where the
         * target shape is not the examples': the nodes of {@link #followingExamples}, found by the import's dry run.
         */
        Traced followExamples(Traced v, int shapeInput, int[] out) {
            int n = examples.dim(0);
            String name = node.getOutput(0);
            // the examples' axis: the first, or (an RNN's learned initial state h0.expand(-1, x.shape[0], -1), of
            // [layers, N, H]) the one inner axis of size N grown from 1, where the first is not N
            // (the dry run's choice, recorded as the name, or the name and '#b' for an inner axis, holds at any N,
            // the examples' count equal to another axis's size included)
            int b;
            if (findsFollowingExamples) {
                int[] s = v.shape();
                b = out.length == 0 ? -1 : out[0] == n && (s.length < out.length || s[0] == 1) ? 0
                        : innerExamplesAxis(s, out, n);
                if (v.batch != NONE || b < 0) {
                    return null;
                }
                boolean grows = n > 1 && (b == 0 ? s.length < out.length || s[0] == 1 : s[b] == 1);
                if (!grows || !fromBatchShape.contains(in(shapeInput))) {
                    return null;
                }
                followingExamples.add(b == 0 ? name : name + "#" + b);
            } else {
                b = followingExamples.contains(name) ? 0 : -1;
                for (int i = 1; i < out.length && b < 0; i++) {
                    b = followingExamples.contains(name + "#" + i) ? i : -1;
                }
                if (v.batch != NONE || b < 0 || out[b] != n) {
                    return null;
                }
            }
            followed.add(b == 0 ? name : name + "#" + b);
            int[] rest = out.clone();
            rest[b] = 1;
            int[] ones = new int[out.length];
            java.util.Arrays.fill(ones, 1);
            ones[0] = n;
            Var first = examples.reshape(n, Shapes.size(examples.shape()) / n).sliceInDim(1, 0, 1, 1);
            Var zero = first.greater(first).reshape(ones);
            if (b == 0) {
                return new Traced(zero.add(v.var().broadcastTo(rest)), 0);
            }
            // held with the examples first, [N, out without axis b], the file's layout a view of it
            int[] perm = new int[out.length];
            int[] toHeld = new int[out.length];
            toHeld[0] = b;
            for (int i = 0, j = 1; i < out.length; i++) {
                if (i != b) {
                    toHeld[j++] = i;
                }
            }
            for (int i = 0; i < out.length; i++) {
                perm[toHeld[i]] = i;
            }
            return new Traced(zero.add(v.var().broadcastTo(rest).transpose(toHeld)), perm, b);
        }

        /**
         * The one axis i > 0 that grows from the source's size 1 to out[i] = n (same rank), or -1. Only grown axes
         * count: an axis that is n long in the source too (a hidden size of 13 beside the examples' 13 in h0 [1, 1,
         * 13] expanded to [1, 13, 13]) is the source's own.
         */
        private int innerExamplesAxis(int[] s, int[] out, int n) {
            if (s.length != out.length) {
                return -1;
            }
            int b = -1;
            for (int i = 1; i < out.length; i++) {
                if (out[i] == n && s[i] == 1) {
                    if (b >= 0) {
                        return -1;
                    }
                    b = i;
                }
            }
            return b;
        }

        /**
         * For a Reshape whose constant target (input {@code shapeInput}, not computed from the examples' shape) gives
         * axis 0 a number while the file's batch axis is dynamic: the likely cause, a batch size that the module read
         * as a Python number at export ({@code len(x)}), as a clause to append to the error; empty otherwise.
         */
        String constantBatchHint(int shapeInput, long first) {
            if (graph.fixedBatch > 0 || !(in(0) instanceof Traced t) || t.batch != 0 || first <= 0
                    || fromBatchShape.contains(in(shapeInput))) {
                return "";
            }
            return "; the target shape is a constant of the file whose axis 0 is " + first + " while the batch axis "
                    + "of input '" + graph.inputName + "' is dynamic: a batch size that the module read as a Python "
                    + "number at export (len(x), int(x.size(0))) is written into the file as that number; reshape "
                    + "with x.size(0) or -1 on the batch axis (x.view(x.size(0), -1))";
        }

        /** Whether values may be held as views (see {@link Views}). */
        boolean views() {
            return views;
        }

        IllegalArgumentException unsupported(String detail) {
            return new IllegalArgumentException(graph.file + ": unsupported operator " + (node.getDomain().isEmpty()
                    ? "" : node.getDomain() + ".") + op() + (detail.isEmpty() ? "" : " with " + detail) + " in "
                    + where() + "; supported operators: " + String.join(", ", Operators.supported()));
        }

        IllegalArgumentException error(String message) {
            return new IllegalArgumentException(graph.file + ": " + where() + ": " + message);
        }

        int inputs() {
            return node.getInputCount();
        }

        boolean has(int i) {
            return i < node.getInputCount() && !node.getInput(i).isEmpty();
        }

        /**
         * Whether input i is an initializer that is a parameter in this trace: a weight candidate, not frozen
         * ({@link OnnxModel#freeze}, {@link OnnxModel#paramsOnly}); in the import's dry run, which finds the
         * parameters, every weight candidate is.
         */
        boolean parameter(int i) {
            return has(i) && in(i) instanceof Const k && k.weightCandidate()
                    && (params == null || params.containsKey(node.getInput(i)));
        }

        /** Whether every present input is known at import and none is a weight the graph must keep symbolic. */
        boolean allConst() {
            for (int i = 0; i < inputs(); i++) {
                if (has(i) && !(in(i) instanceof Const k && !k.weightCandidate())) {
                    return false;
                }
            }
            return true;
        }

        Value in(int i) {
            if (!has(i)) {
                throw error("input " + i + " is missing");
            }
            Value v = values.get(node.getInput(i));
            if (v == null) {
                throw error("input '" + node.getInput(i) + "' is not a graph input, an initializer or an output "
                        + "of an earlier node (or an output ntk4j does not compute)");
            }
            return v;
        }

        int[] shapeOf(int i) {
            return in(i).shape();
        }

        /** Input i as a traced value: constants become graph constants, weights become parameters. */
        Traced traced(int i) {
            return traced(i, true);
        }

        /**
         * Input i as a traced value where an initializer is always a graph constant, never a parameter (BatchNorm's
         * running mean and variance); a value the graph computes is returned as it is.
         */
        Traced tracedConstant(int i) {
            return traced(i, false);
        }

        private Traced traced(int i, boolean weightsAsParameters) {
            Value v = in(i);
            if (v instanceof Traced t) {
                return t;
            }
            Const k = (Const) v;
            if (!k.floating()) {
                throw error("input '" + node.getInput(i) + "' is " + InitializerData.typeName(k.type)
                        + "; the graph computes in floating point only");
            }
            return new Traced(lift(node.getInput(i), k, weightsAsParameters), NONE);
        }

        /**
         * Input i as a traced value, where a constant of any element type (a boolean condition, integers) becomes a
         * graph constant of its values in the trace's dtype; floating initializers are lifted as by {@link #traced}.
         */
        Traced tracedAnyType(int i) {
            Value v = in(i);
            if (v instanceof Const k && !k.floating()) {
                return new Traced(builder.constant(InitializerData.tensorOf(dtype, k.values(), k.shape)), NONE);
            }
            return traced(i);
        }

        /** Input i, which must be known at import (a shape, axes, an exponent). */
        Const constant(int i, String what) {
            Value v = in(i);
            if (v instanceof Const k) {
                return k;
            }
            throw error("input " + i + " (" + what + ") must be known at import, but '" + node.getInput(i)
                    + "' is computed from " + (((Traced) v).batch == NONE ? "the parameters" : "the input x"));
        }

        Traced out(Var v, int batch) {
            return new Traced(v, batch);
        }

        AttributeProto attr(String name) {
            return attrs.get(name);
        }

        long attrInt(String name, long dflt) {
            AttributeProto a = attrs.get(name);
            return a == null ? dflt : a.getI();
        }

        float attrFloat(String name, float dflt) {
            AttributeProto a = attrs.get(name);
            return a == null ? dflt : a.getF();
        }

        String attrString(String name, String dflt) {
            AttributeProto a = attrs.get(name);
            return a == null ? dflt : a.getS().toStringUtf8();
        }

        long[] attrInts(String name) {
            AttributeProto a = attrs.get(name);
            if (a == null) {
                return null;
            }
            long[] r = new long[a.getIntsCount()];
            for (int i = 0; i < r.length; i++) {
                r[i] = a.getInts(i);
            }
            return r;
        }

        /** The tensor attribute {@code name} as a constant. */
        Const attrTensor(String name) {
            AttributeProto a = attrs.get(name);
            TensorProto t = a.getT();
            return constOf(InitializerData.read(t, where() + " attribute " + name, graph.dir));
        }

        /** The axis {@code a} (negative counts from the end) for rank {@code rank}, checked. */
        int axis(long a, int rank) {
            long r = a < 0 ? a + rank : a;
            if (r < 0 || r >= rank) {
                throw error("axis " + a + " is out of range for rank " + rank);
            }
            return (int) r;
        }
    }

    private static Const constOf(InitializerData d) {
        return new Const(d.elemType, d.shape, d.toDoubles());
    }

    /**
     * Of the weights the trace used ({@link #weightsUsed}), those that {@code output} depends on through a path with
     * a derivative: not one read only through comparisons (nanoGPT's float causal buffer, compared with 0 for
     * masked_fill), whose derivative is zero everywhere. Such a tensor is a mask, a constant, not a parameter.
     */
    Set<String> weightsDifferentiated(Var output) {
        Set<Var> reached = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        java.util.ArrayDeque<Var> todo = new java.util.ArrayDeque<>();
        todo.push(output);
        reached.add(output);
        while (!todo.isEmpty()) {
            org.ntk4j.graph.Equation e = builder.producer(todo.pop());
            if (e == null || e.primitive() instanceof org.ntk4j.primitive.ComparisonPrimitive) {
                continue;
            }
            for (Var v : e.inputs()) {
                if (reached.add(v)) {
                    todo.push(v);
                }
            }
        }
        Set<String> r = new LinkedHashSet<>();
        for (String name : weightsUsed) {
            Var v = lifted.get("weight " + name);
            if (v != null && reached.contains(v)) {
                r.add(name);
            }
        }
        return r;
    }

    /** The graph variable of a constant: a parameter, or a graph constant in the trace's dtype. */
    private Var lift(String name, Const k, boolean weight) {
        if (k.initializer != null) {
            // a weight and a constant use of one initializer (BatchNormalization's running statistics) differ
            boolean asWeight = weight && k.weightCandidate();
            String key = (asWeight ? "weight " : "constant ") + name;
            Var v = lifted.get(key);
            if (v != null) {
                return v;
            }
            if (asWeight) {
                weightsUsed.add(name);
                if (params == null) {
                    // the import's dry run: a placeholder, no data
                    v = builder.input(dtype, k.shape);
                } else if (params.containsKey(name)) {
                    v = params.get(name);
                }
            }
            if (v == null) {
                // the layer's for its life (the same for every batch size): allocated outside the trace's owner,
                // which would close it with the plan that happened to trace first
                Tensor t = constantCache.computeIfAbsent(name,
                        n -> TensorScope.unscoped(() -> k.initializer.toTensor(dtype)));
                v = builder.constant(t);
            }
            lifted.put(key, v);
            return v;
        }
        // a value computed at import (a shape, an index list) may depend on the batch size: it belongs to this trace
        // (to the owner of the graph, org.ntk4j.tensor.CachedTensors), so a layer-wide cache of them grew with every
        // batch size traced, the second trace at N + 1 of each plan included
        return builder.constant(InitializerData.tensorOf(dtype, k.values(), k.shape));
    }

    /** Where the example axis of an elementwise result of rank {@code outRank} is. */
    static int broadcastBatch(int outRank, Traced... ins) {
        int r = NONE;
        for (Traced t : ins) {
            if (t.batch == MIXED) {
                return MIXED;
            }
            if (t.batch >= 0) {
                int aligned = t.batch + outRank - t.rank();
                if (r != NONE && r != aligned) {
                    return MIXED;
                }
                r = aligned;
            }
        }
        return r;
    }

    /** Where the example axis goes through a reshape from {@code in} to {@code out}, or MIXED. */
    static int reshapeBatch(int batch, int[] in, int[] out) {
        if (batch < 0) {
            return batch;
        }
        long before = 1;
        for (int i = 0; i < batch; i++) {
            before *= in[i];
        }
        long p = 1;
        for (int j = 0; j < out.length; j++) {
            if (p == before && out[j] == in[batch]
                    && Shapes.size(out, j + 1, out.length) == Shapes.size(in, batch + 1, in.length)) {
                return j;
            }
            p *= out[j];
        }
        return MIXED;
    }

    /** Where the example axis goes when {@code axes} (sorted, distinct) are removed. */
    static int removeAxesBatch(int batch, int[] axes) {
        if (batch < 0) {
            return batch;
        }
        int shift = 0;
        for (int a : axes) {
            if (a == batch) {
                return MIXED;
            }
            if (a < batch) {
                shift++;
            }
        }
        return batch - shift;
    }

    static int[] toInts(long[] v) {
        int[] r = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Math.toIntExact(v[i]);
        }
        return r;
    }

    /**
     * A value's shape as messages show it, the examples' axis written N ({@code [N, 2, 3]}, {@code [4, N, 8]}): the
     * import traces a batch of a size of its own choosing, which the user never gave, and a run traces the user's
     * N examples. An axis that merges the examples with another is shown as its size.
     */
    static String shapeText(Value v) {
        int[] s = v.shape();
        int batch = v instanceof Traced t ? t.batch : NONE;
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) {
            b.append(i == 0 ? "" : ", ").append(i == batch ? "N" : Integer.toString(s[i]));
        }
        return b.append(']').toString();
    }

    static String str(long[] a) {
        return Arrays.toString(a);
    }
}

package org.ntk4j.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.OperatorSetIdProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto;
import org.ntk4j.onnx.proto.OnnxProtos.ValueInfoProto;
import org.ntk4j.tensor.Shapes;

/**
 * An ONNX file read and checked: its inputs (each with a static per-example shape), its chosen output, initializers
 * and nodes.
 *
 * <p>A model with several inputs (a text model's input_ids and attention_mask) takes them packed into one: per
 * example, each input's values flattened and concatenated in the graph's order ({@link #inputShape} is then
 * {@code [d1 + d2 + ...]}); the {@link Tracer} slices and reshapes them back.
 */
final class OnnxGraph {
    /** The opsets of the default domain the import follows. */
    static final int MIN_OPSET = 11;
    static final int MAX_OPSET = 18;
    /** A PyTorch state_dict name of a weight or bias: {@code fc1.weight}, {@code 0.bias}, {@code l.0.conv.weight}. */
    private static final java.util.regex.Pattern PARAMETER_NAME = java.util.regex.Pattern.compile(
            "(?:[A-Za-z0-9_]+\\.)+(?:weight|bias)");

    /**
     * One graph input.
     *
     * @param name its name in the file
     * @param shape its per-example shape (without the batch axis)
     * @param elemType its ONNX element type
     * @param offset where its values start in a packed example
     */
    record Input(String name, int[] shape, int elemType, int offset) {
        /** The number of values per example. */
        int size() {
            return Shapes.size(shape);
        }

        /** Whether it holds integer ids (int64 or int32: token ids for embeddings), not floats. */
        boolean ids() {
            return isIdType(elemType);
        }

        /** Whether it is a bool input (a padding or attention mask): 0 and 1, without derivative. */
        boolean mask() {
            return elemType == TensorProto.DataType.BOOL_VALUE;
        }
    }

    final Path file;
    final Path dir;
    final int opset;
    final String producer;
    final Map<String, InitializerData> initializers;
    final List<NodeProto> nodes;
    /** The graph inputs that are not initializers, in the graph's order. */
    final List<Input> inputs;
    /** The one input's name, or the inputs' names separated by commas (for messages). */
    final String inputName;
    /** The per-example shape of the model's input: the one input's, or {@code [d1 + d2 + ...]} packed. */
    final int[] inputShape;
    final String outputName;
    /** The batch size the file writes on the inputs' first axis, or 0 where that axis is dynamic. */
    final int fixedBatch;

    private OnnxGraph(Path file, int opset, String producer, Map<String, InitializerData> initializers,
                      List<NodeProto> nodes, List<Input> inputs, String outputName, int fixedBatch) {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        this.dir = parent == null ? Path.of(".") : parent;
        this.opset = opset;
        this.producer = producer;
        this.initializers = initializers;
        this.nodes = nodes;
        this.inputs = List.copyOf(inputs);
        List<String> names = new ArrayList<>();
        int packed = 0;
        for (Input in : inputs) {
            names.add(in.name());
            packed += in.size();
        }
        this.inputName = String.join(", ", names);
        this.inputShape = inputs.size() == 1 ? inputs.get(0).shape().clone() : new int[] {packed};
        this.outputName = outputName;
        this.fixedBatch = fixedBatch;
    }

    /** Whether PyTorch's exporter wrote the file (its producer name, {@code pytorch}). */
    boolean fromPytorch() {
        return producer.startsWith("pytorch ");
    }

    /** Whether the model has several inputs, packed into one. */

    boolean packed() {
        return inputs.size() > 1;
    }

    /**
     * Reads and checks a file.
     *
     * @param inputShapes per-example shapes given for the inputs' dynamic axes, by input name; the key {@code ""}
     *     names the only input of a one-input model
     */
    static OnnxGraph read(Path file, String output, Map<String, int[]> inputShapes) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the ONNX file: " + e.getMessage(), e);
        }
        ModelProto m;
        try {
            m = ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(file + ": not a valid ONNX file (truncated, or another format): "
                    + e.getMessage(), e);
        }
        if (m.getIrVersion() < 3 || !m.hasGraph() || m.getOpsetImportCount() == 0
                || m.getGraph().getOutputCount() == 0) {
            throw new IllegalArgumentException(file + ": not an ONNX model (ir_version " + m.getIrVersion()
                    + ", " + (m.hasGraph() ? "a graph with " + m.getGraph().getOutputCount() + " outputs" : "no graph")
                    + ", " + m.getOpsetImportCount() + " opset imports); is the file truncated or of another format?");
        }
        int opset = -1;
        for (OperatorSetIdProto o : m.getOpsetImportList()) {
            if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
                opset = (int) o.getVersion();
            }
        }
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new IllegalArgumentException(file + ": opset " + (opset < 0 ? "(none for the default domain)"
                    : opset) + " is not supported; ntk4j imports opsets " + MIN_OPSET + " to " + MAX_OPSET
                    + " (export with an opset_version in that range: torch 1.13 writes up to 17; or convert the file "
                    + "with onnx.version_converter)");
        }
        GraphProto g = m.getGraph();
        Path dir = file.toAbsolutePath().getParent();
        Map<String, InitializerData> inits = new LinkedHashMap<>();
        for (TensorProto t : g.getInitializerList()) {
            inits.put(t.getName(), InitializerData.read(t, file + ": initializer '" + t.getName() + "'",
                    dir == null ? Path.of(".") : dir));
        }
        // PyTorch's exporter (1.13 on) stores equal initializers once and recreates the others with Identity
        // nodes (a fresh LayerNorm's zero bias, say, becomes Identity(out_proj.bias)). Each such Identity of an
        // initializer is a tensor of its own here, named by its output, so that the parameters are the module's.
        boolean pytorch = m.getProducerName().equals("pytorch");
        List<NodeProto> nodes = new ArrayList<>();
        for (NodeProto n : g.getNodeList()) {
            boolean standard = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
            if (standard && n.getOpType().equals("Identity") && n.getInputCount() == 1
                    && inits.containsKey(n.getInput(0)) && n.getOutputCount() == 1
                    && !inits.containsKey(n.getOutput(0))) {
                inits.put(n.getOutput(0), inits.get(n.getInput(0)).withName(n.getOutput(0)));
            } else if (!pytorch && standard && constantWeight(n) && !inits.containsKey(n.getOutput(0))) {
                // other exporters (jax2onnx, hand-built graphs) may hold weights in Constant nodes: a weight as an
                // initializer would be, named by the node's output. PyTorch's Constant nodes are the forward
                // code's literals (its weights are always initializers), and stay constants.
                TensorProto t = n.getAttribute(0).getT();
                inits.put(n.getOutput(0), InitializerData.read(t, file + ": Constant node '" + n.getOutput(0)
                        + "'", dir == null ? Path.of(".") : dir).withName(n.getOutput(0)));
            } else {
                nodes.add(n);
            }
        }
        if (!pytorch) {
            untieMergedConstants(inits, nodes);
        }
        List<NodeProto> ties = tieTransposedCopies(inits);
        nodes.addAll(0, ties);
        java.util.Set<String> tied = new java.util.HashSet<>();
        for (NodeProto t : ties) {
            tied.add(t.getOutput(0));
        }
        List<ValueInfoProto> inputs = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (!inits.containsKey(v.getName()) && !tied.contains(v.getName())) {
                inputs.add(v);
            }
        }
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException(file + ": the model has no input (every graph input is an "
                    + "initializer)");
        }
        checkWeightsStored(file, inputs, inits);
        checkShapesGiven(file, inputs, inputShapes);
        String outputName;
        if (output == null) {
            if (g.getOutputCount() != 1) {
                throw new IllegalArgumentException(file + ": the model has " + g.getOutputCount() + " outputs "
                        + names(g.getOutputList()) + "; choose one by name (OnnxModel.Options.output)");
            }
            outputName = g.getOutput(0).getName();
        } else {
            boolean found = false;
            for (ValueInfoProto v : g.getOutputList()) {
                found |= v.getName().equals(output);
            }
            if (!found) {
                throw new IllegalArgumentException(file + ": output '" + output + "' is not one of the model's outputs "
                        + names(g.getOutputList()));
            }
            outputName = output;
        }
        List<Input> read = new ArrayList<>();
        int fixedBatch = 0;
        int offset = 0;
        for (ValueInfoProto in : inputs) {
            if (!in.getType().hasTensorType()) {
                throw new IllegalArgumentException(file + ": input '" + in.getName() + "' is not a tensor");
            }
            int elem = in.getType().getTensorType().getElemType();
            if (!InitializerData.isFloatType(elem) && !isIdType(elem) && elem != TensorProto.DataType.BOOL_VALUE) {
                throw new IllegalArgumentException(file + ": input '" + in.getName() + "' is "
                        + InitializerData.typeName(elem) + "; ntk4j imports float or double inputs, int64 or int32 "
                        + "token ids, or bool masks");
            }
            int[] given = inputShapes.get(inputs.size() == 1 && inputShapes.containsKey("") ? "" : in.getName());
            int[] shape = inputShape(file, in, given, inputs.size() > 1);
            TensorShapeProto.Dimension batchAxis = in.getType().getTensorType().hasShape()
                    ? in.getType().getTensorType().getShape().getDim(0) : null;
            if (batchAxis != null && batchAxis.hasDimValue() && batchAxis.getDimValue() > 0) {
                fixedBatch = (int) Math.min(batchAxis.getDimValue(), Integer.MAX_VALUE);
            }
            read.add(new Input(in.getName(), shape, elem, offset));
            offset = Math.addExact(offset, Shapes.size(shape));
        }
        return new OnnxGraph(file, opset, m.getProducerName() + " " + m.getProducerVersion(), inits, nodes,
                read, outputName, fixedBatch);
    }

    /**
     * Refuses a file whose weights are graph inputs without values ({@code torch.onnx.export(...,
     * export_params=False)}): no floating initializer, and floating inputs whose every axis is fixed beside an input
     * whose axis 0 is dynamic, or, where every input is fixed (an export without {@code dynamic_axes}), floating
     * inputs named as a module's parameters ({@code fc.weight}, {@code 0.bias}). Before 2026-12-07 (late night) they
     * were read as inputs of the examples: the import failed at the first product, advising a dynamic batch axis for
     * every weight, or, with every input fixed, succeeded with no parameter (a zero kernel).
     */
    private static void checkWeightsStored(Path file, List<ValueInfoProto> inputs,
                                           Map<String, InitializerData> inits) {
        if (inputs.size() < 2 || inits.values().stream().anyMatch(i -> InitializerData.isFloatType(i.elemType))) {
            return;
        }
        List<String> fixed = new ArrayList<>();
        String dynamic = null;
        for (ValueInfoProto v : inputs) {
            if (!v.getType().hasTensorType() || !v.getType().getTensorType().hasShape()
                    || v.getType().getTensorType().getShape().getDimCount() == 0) {
                continue;
            }
            List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
            if (!(dims.get(0).hasDimValue() && dims.get(0).getDimValue() > 0)) {
                dynamic = dynamic == null ? v.getName() : dynamic;
            } else if (InitializerData.isFloatType(v.getType().getTensorType().getElemType())
                    && dims.stream().allMatch(d -> d.hasDimValue() && d.getDimValue() > 0)) {
                fixed.add(v.getName());
            }
        }
        String why = null;
        if (dynamic != null && !fixed.isEmpty()) {
            why = "inputs " + fixed + " have fixed shapes beside input '" + dynamic + "', whose batch axis is dynamic";
        } else if (dynamic == null) {
            // every input fixed: shapes cannot tell the weights from x, PyTorch's state_dict names can (a legitimate
            // input so named would give a model without parameters, whose kernel is zero, anyway)
            List<String> named = new ArrayList<>();
            for (ValueInfoProto v : inputs) {
                if (v.getType().hasTensorType()
                        && InitializerData.isFloatType(v.getType().getTensorType().getElemType())
                        && PARAMETER_NAME.matcher(v.getName()).matches()) {
                    named.add(v.getName());
                }
            }
            if (!named.isEmpty()) {
                why = "inputs " + named + " are named as a module's parameters";
            }
        }
        if (why != null) {
            throw new IllegalArgumentException(file + ": the file stores no weights, and " + why + ": they look like "
                    + "the module's parameters written as graph inputs without their values (torch.onnx.export(..., "
                    + "export_params=False)); ntk4j reads the weights from the file: export with export_params=True "
                    + "(the default)");
        }
    }

    /** Refuses shapes given for inputs the model does not have, and an unnamed shape for a model with several. */
    private static void checkShapesGiven(Path file, List<ValueInfoProto> inputs, Map<String, int[]> given) {
        for (String name : given.keySet()) {
            boolean found = false;
            for (ValueInfoProto v : inputs) {
                found |= v.getName().equals(name);
            }
            if (name.isEmpty() && inputs.size() > 1) {
                throw new IllegalArgumentException(file + ": the model has " + inputs.size() + " inputs "
                        + names(inputs) + "; give each input's shape by name (OnnxModel.Options.inputShape)");
            }
            if (!found && !name.isEmpty()) {
                throw new IllegalArgumentException(file + (inputs.size() == 1 ? ": the model's input is '"
                        + inputs.get(0).getName() + "', not '" + name + "'" : ": an input shape is given for '" + name
                        + "', which is not one of the model's inputs " + names(inputs)));
            }
        }
        if (given.containsKey("") && given.size() > 1) {
            throw new IllegalArgumentException(file + ": an input shape is given twice, with and without the "
                    + "input's name");
        }
    }

    /** Whether an input holds integer ids (int64 or int32: token ids for embeddings), not floats. */
    boolean idInput() {
        for (Input in : inputs) {
            if (in.ids()) {
                return true;
            }
        }
        return false;
    }

    /** Whether an input is double: the import's dry run then computes in float64. */
    boolean doubleInput() {
        for (Input in : inputs) {
            if (in.elemType() == TensorProto.DataType.DOUBLE_VALUE) {
                return true;
            }
        }
        return false;
    }

    private static boolean isIdType(int elem) {
        return elem == TensorProto.DataType.INT64_VALUE || elem == TensorProto.DataType.INT32_VALUE;
    }

    /**
     * PyTorch's constant folding (its default) stores the transpose that a MatMul applies to a Linear's weight as
     * an initializer of its own (named like {@code onnx::MatMul_13}); where the module uses the same weight again
     * (in a Gemm, say), the file then holds it twice, and each copy would be a parameter of its own: a shared
     * weight untied, a different NTK. Every floating matrix initializer that is exactly the transpose of another
     * is therefore removed from {@code inits} and recomputed by a Transpose node of that other (returned, to run
     * first), so that both uses read one parameter. The one kept is the one whose name is not the exporter's
     * ({@code ::} in it), else the first in the file. A matrix with fewer than two distinct values (all zeros, say)
     * is no evidence of a copy and is left alone, as equal initializers are (see the Identity nodes above).
     */
    static List<NodeProto> tieTransposedCopies(Map<String, InitializerData> inits) {
        List<InitializerData> matrices = new ArrayList<>();
        for (InitializerData d : inits.values()) {
            if (d.floating() && d.shape.length == 2 && !constantValued(d)) {
                matrices.add(d);
            }
        }
        List<NodeProto> transposes = new ArrayList<>();
        java.util.Set<String> copies = new java.util.HashSet<>();
        for (int i = 0; i < matrices.size(); i++) {
            InitializerData a = matrices.get(i);
            for (int j = i + 1; j < matrices.size() && !copies.contains(a.name); j++) {
                InitializerData b = matrices.get(j);
                if (copies.contains(b.name) || !transposesOfEachOther(a, b)) {
                    continue;
                }
                boolean keepB = a.name.contains("::") && !b.name.contains("::");
                InitializerData kept = keepB ? b : a;
                InitializerData copy = keepB ? a : b;
                copies.add(copy.name);
                inits.remove(copy.name);
                transposes.add(NodeProto.newBuilder().setOpType("Transpose").setName("ntk4j: " + copy.name
                                + " = transpose of " + kept.name).addInput(kept.name).addOutput(copy.name)
                        .addAttribute(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.newBuilder().setName("perm")
                                .setType(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.AttributeType.INTS)
                                .addInts(1).addInts(0))
                        .build());
            }
        }
        return transposes;
    }

    /** A Constant node whose one attribute, value, holds a floating tensor of rank at least 1. */
    private static boolean constantWeight(NodeProto n) {
        if (!n.getOpType().equals("Constant") || n.getOutputCount() != 1 || n.getAttributeCount() != 1
                || !n.getAttribute(0).getName().equals("value") || !n.getAttribute(0).hasT()) {
            return false;
        }
        TensorProto t = n.getAttribute(0).getT();
        return InitializerData.isFloatType(t.getDataType()) && t.getDimsCount() >= 1;
    }

    /**
     * tf2onnx (Keras, jax2tf) merges constants of equal values into one initializer (its duplicated-nodes
     * optimizer): in a freshly initialised model, the zero biases of layers of one width, a batch norm's zero shift
     * and zero running mean, its unit scale and unit running variance become one tensor each. Read as they are,
     * they would be one parameter per tensor (a tie the network does not have; a running statistic would move with
     * the shift it shares). So each further input that reads a floating initializer of rank at least 1 with fewer
     * than two distinct values gets a copy of its own, named {@code <name>@<node>:<input index>}. Not for
     * PyTorch's files, where the exporter already recreates equal initializers (see the Identity nodes) and one
     * initializer read twice is a weight the module shares.
     */
    static void untieMergedConstants(Map<String, InitializerData> inits, List<NodeProto> nodes) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int k = 0; k < nodes.size(); k++) {
            NodeProto n = nodes.get(k);
            NodeProto.Builder changed = null;
            for (int i = 0; i < n.getInputCount(); i++) {
                InitializerData d = inits.get(n.getInput(i));
                if (d == null || !d.floating() || d.shape.length == 0 || !constantValued(d) || seen.add(d.name)) {
                    continue;
                }
                String copy = d.name + "@" + (n.getName().isEmpty() ? n.getOutput(0) : n.getName()) + ":" + i;
                inits.put(copy, d.withName(copy));
                changed = changed == null ? n.toBuilder() : changed;
                changed.setInput(i, copy);
            }
            if (changed != null) {
                nodes.set(k, changed.build());
            }
        }
    }

    private static boolean constantValued(InitializerData d) {
        double first = d.get(0);
        for (int i = 1; i < d.size(); i++) {
            if (Double.compare(d.get(i), first) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Whether b is a's transpose, element for element (bit for bit, in the same element type). */
    private static boolean transposesOfEachOther(InitializerData a, InitializerData b) {
        int rows = a.shape[0];
        int cols = a.shape[1];
        if (a.elemType != b.elemType || b.shape[0] != cols || b.shape[1] != rows) {
            return false;
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                if (Double.compare(a.get(r * cols + c), b.get(c * rows + r)) != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    private static int[] inputShape(Path file, ValueInfoProto in, int[] given, boolean several) {
        String fix = "give the per-example input shape explicitly (OnnxModel.Options.inputShape, without the batch "
                + "axis" + (several ? ", by the input's name" : "") + "), or export with a fixed shape";
        if (!in.getType().getTensorType().hasShape()) {
            if (given == null) {
                throw new IllegalArgumentException(file + ": input '" + in.getName() + "' has no shape in the file; "
                        + fix);
            }
            return given.clone();
        }
        TensorShapeProto s = in.getType().getTensorType().getShape();
        if (s.getDimCount() == 0) {
            throw new IllegalArgumentException(file + ": input '" + in.getName() + "' is a scalar; ntk4j needs a "
                    + "batch axis first");
        }
        int rank = s.getDimCount() - 1;
        if (given != null && given.length != rank) {
            throw new IllegalArgumentException(file + ": input '" + in.getName() + "' has " + rank
                    + " axes after the batch axis, the input shape given has " + given.length + " ("
                    + Shapes.str(given) + ")");
        }
        int[] r = new int[rank];
        for (int i = 0; i < rank; i++) {
            TensorShapeProto.Dimension d = s.getDim(i + 1);
            if (d.hasDimValue() && d.getDimValue() > 0) {
                if (given != null && given[i] != d.getDimValue()) {
                    throw new IllegalArgumentException(file + ": input '" + in.getName() + "' axis " + (i + 1)
                            + " has size " + d.getDimValue() + " in the file, the input shape given says " + given[i]);
                }
                r[i] = Math.toIntExact(d.getDimValue());
            } else if (given != null) {
                if (given[i] < 1) {
                    throw new IllegalArgumentException(file + ": the input shape given has size " + given[i]
                            + " on axis " + (i + 1));
                }
                r[i] = given[i];
            } else {
                String what = "input '" + in.getName() + "' axis " + (i + 1) + " is "
                        + (d.hasDimParam() ? "dynamic ('" + d.getDimParam() + "')" : "of unknown size");
                TensorShapeProto.Dimension first = s.getDim(0);
                if (first.hasDimValue() && first.getDimValue() > 0) {
                    // axis 0 fixed and another dynamic: likely the exporter's batch axis is this one (a
                    // sequence-first transformer); taking axis 0 as the examples would be another kernel
                    throw new IllegalArgumentException(file + ": " + what + " while axis 0, which ntk4j takes as "
                            + "the examples' axis, is fixed at " + first.getDimValue() + "; if axis " + (i + 1)
                            + " is the batch (a sequence-first module, such as nn.TransformerEncoderLayer with "
                            + "batch_first=False), export the module batch-first; otherwise " + fix);
                }
                throw new IllegalArgumentException(file + ": " + what + " and the import needs static shapes; "
                        + fix);
            }
        }
        return r;
    }

    private static String names(List<ValueInfoProto> vs) {
        List<String> r = new ArrayList<>();
        for (ValueInfoProto v : vs) {
            r.add(v.getName());
        }
        return r.toString();
    }
}

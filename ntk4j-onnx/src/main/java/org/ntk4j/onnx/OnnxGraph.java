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
 * An ONNX file read and checked: its one input (with a static per-example shape), its chosen output, initializers
 * and nodes.
 */
final class OnnxGraph {
    /** The opsets of the default domain the import follows. */
    static final int MIN_OPSET = 11;
    static final int MAX_OPSET = 18;

    final Path file;
    final Path dir;
    final int opset;
    final String producer;
    final Map<String, InitializerData> initializers;
    final List<NodeProto> nodes;
    final String inputName;
    /** The per-example input shape (without the batch axis). */
    final int[] inputShape;
    final int inputElemType;
    final String outputName;

    private OnnxGraph(Path file, int opset, String producer, Map<String, InitializerData> initializers,
                      List<NodeProto> nodes, String inputName, int[] inputShape, int inputElemType,
                      String outputName) {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        this.dir = parent == null ? Path.of(".") : parent;
        this.opset = opset;
        this.producer = producer;
        this.initializers = initializers;
        this.nodes = nodes;
        this.inputName = inputName;
        this.inputShape = inputShape;
        this.inputElemType = inputElemType;
        this.outputName = outputName;
    }

    static OnnxGraph read(Path file, String output, int[] inputShape) {
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
                    + " (export with opset_version=" + MAX_OPSET + ", or convert with onnx.version_converter)");
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
        List<NodeProto> nodes = new ArrayList<>();
        for (NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("Identity") && (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx"))
                    && n.getInputCount() == 1 && inits.containsKey(n.getInput(0)) && n.getOutputCount() == 1
                    && !inits.containsKey(n.getOutput(0))) {
                inits.put(n.getOutput(0), inits.get(n.getInput(0)).withName(n.getOutput(0)));
            } else {
                nodes.add(n);
            }
        }
        List<ValueInfoProto> inputs = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (!inits.containsKey(v.getName())) {
                inputs.add(v);
            }
        }
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(file + ": the model has " + inputs.size() + " inputs "
                    + names(inputs) + "; ntk4j imports models with exactly one input");
        }
        ValueInfoProto in = inputs.get(0);
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
        if (!in.getType().hasTensorType()) {
            throw new IllegalArgumentException(file + ": input '" + in.getName() + "' is not a tensor");
        }
        int elem = in.getType().getTensorType().getElemType();
        if (!InitializerData.isFloatType(elem)) {
            throw new IllegalArgumentException(file + ": input '" + in.getName() + "' is "
                    + InitializerData.typeName(elem) + "; ntk4j differentiates with respect to float or double inputs");
        }
        int[] shape = inputShape(file, in, inputShape);
        return new OnnxGraph(file, opset, m.getProducerName() + " " + m.getProducerVersion(), inits, nodes,
                in.getName(), shape, elem, outputName);
    }

    private static int[] inputShape(Path file, ValueInfoProto in, int[] given) {
        String fix = "give the per-example input shape explicitly (OnnxModel.Options.inputShape, without the batch "
                + "axis), or export with a fixed shape";
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
                throw new IllegalArgumentException(file + ": input '" + in.getName() + "' axis " + (i + 1) + " is "
                        + (d.hasDimParam() ? "dynamic ('" + d.getDimParam() + "')" : "of unknown size")
                        + " and the import needs static shapes; " + fix);
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

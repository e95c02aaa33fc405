package org.ntk4j.onnx;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.OperatorSetIdProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto;
import org.ntk4j.onnx.proto.OnnxProtos.TypeProto;
import org.ntk4j.onnx.proto.OnnxProtos.ValueInfoProto;

/** Builds small ONNX files with the generated protobuf classes, for tests that need no exporter. */
final class Onnx {
    private Onnx() {
    }

    static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    static final int DOUBLE = TensorProto.DataType.DOUBLE_VALUE;

    /** A tensor value-info; a dimension given as a String is symbolic (dim_param). */
    static ValueInfoProto info(String name, int elem, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder b = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String p) {
                b.setDimParam(p);
            } else {
                b.setDimValue((Integer) d);
            }
            s.addDim(b);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elem).setShape(s))).build();
    }

    /** A float64 initializer in double_data. */
    static TensorProto doubles(String name, double[] v, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(DOUBLE);
        for (long d : dims) {
            t.addDims(d);
        }
        for (double x : v) {
            t.addDoubleData(x);
        }
        return t.build();
    }

    /** A float32 initializer in raw_data (little-endian). */
    static TensorProto floatsRaw(String name, float[] v, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(FLOAT)
                .setRawData(ByteString.copyFrom(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    /** An int64 initializer in int64_data. */
    static TensorProto int64s(String name, long[] v, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE);
        for (long d : dims) {
            t.addDims(d);
        }
        for (long x : v) {
            t.addInt64Data(x);
        }
        return t.build();
    }

    /** A float32 initializer in float_data. */
    static TensorProto floats(String name, float[] v, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(FLOAT);
        for (long d : dims) {
            t.addDims(d);
        }
        for (float x : v) {
            t.addFloatData(x);
        }
        return t.build();
    }

    static NodeProto node(String op, String name, String[] in, String[] out, AttributeProto... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name);
        for (String s : in) {
            n.addInput(s);
        }
        for (String s : out) {
            n.addOutput(s);
        }
        for (AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        return n.build();
    }

    static AttributeProto attr(String name, long i) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(i).build();
    }

    static AttributeProto string(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    static AttributeProto ints(String name, long... v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    static ModelProto model(int opset, GraphProto graph) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("ntk4j-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(graph)
                .build();
    }

    static Path write(Path file, ModelProto m) throws IOException {
        Files.write(file, m.toByteArray());
        return file;
    }
}

package org.ntk4j.onnx;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.ntk4j.onnx.proto.OnnxProtos.StringStringEntryProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The value of an ONNX tensor (an initializer, a Constant node's value): its element type, shape, and elements
 * held on the heap as float32, float64 or int64. Read from the typed fields or from {@code raw_data}
 * (little-endian), or from an external data file named relative to the model's folder.
 */
final class InitializerData {
    final String name;
    /** ONNX TensorProto.DataType number. */
    final int elemType;
    final int[] shape;
    final float[] f32;
    final double[] f64;
    final long[] ints;
    /**
     * Whether the (floating) elements include +∞ or −∞ and no NaN: a mask added to attention scores (a causal mask
     * of −∞ above the diagonal), which the import keeps a constant, never a parameter (no trainable weight is
     * infinite).
     */
    final boolean infinite;

    private InitializerData(String name, int elemType, int[] shape, float[] f32, double[] f64, long[] ints) {
        this.name = name;
        this.elemType = elemType;
        this.shape = shape;
        this.f32 = f32;
        this.f64 = f64;
        this.ints = ints;
        boolean inf = false;
        boolean nan = false;
        for (int i = 0; (f32 != null || f64 != null) && i < size(); i++) {
            double v = get(i);
            inf |= Double.isInfinite(v);
            nan |= Double.isNaN(v);
        }
        this.infinite = inf && !nan;
    }

    /** The same elements under another name (shared, not copied). */
    InitializerData withName(String newName) {
        return new InitializerData(newName, elemType, shape, f32, f64, ints);
    }

    boolean floating() {
        return f32 != null || f64 != null;
    }

    int size() {
        return Shapes.size(shape);
    }

    double get(int i) {
        if (f32 != null) {
            return f32[i];
        }
        return f64 != null ? f64[i] : ints[i];
    }

    double[] toDoubles() {
        double[] r = new double[size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = get(i);
        }
        return r;
    }

    /**
     * A new tensor of {@code dtype} holding these (floating) elements; the caller owns it. Float64 elements beyond
     * float32's range saturate in float32 ({@link #tensorOf}).
     */
    Tensor toTensor(DType dtype) {
        if (f32 != null && dtype == DType.F32) {
            return Tensor.of(f32, shape);
        }
        return tensorOf(dtype, toDoubles(), shape);
    }

    /**
     * A new tensor of {@code dtype} holding {@code values}; the caller owns it. In float32, a finite value beyond
     * float32's range becomes ±{@link Float#MAX_VALUE}, the nearest finite float32, not the ±∞ that rounding gives.
     * A float64 export writes {@code torch.finfo(torch.float64).min} (−1.797e308) where the model means "the most
     * negative finite number": Hugging Face's mask {@code (1 - mask) * finfo.min}, {@code torch.where(causal, scores,
     * finfo.min)}. Rounded to −∞, a kept position gives 0 · −∞ = NaN where float64 gives 0, and a row masked entirely
     * gives NaN where float64's softmax of finite values is uniform; saturated, float32 computes what float64 does,
     * within float32's precision. A genuine ±∞ (a causal mask of −∞) stays ±∞.
     *
     * @param dtype the tensor's dtype
     * @param values the elements, row-major (not modified)
     * @param shape the shape
     * @return a new tensor
     */
    static Tensor tensorOf(DType dtype, double[] values, int[] shape) {
        double[] v = values;
        for (int i = 0; dtype == DType.F32 && i < values.length; i++) {
            if (Double.isFinite(values[i]) && Math.abs(values[i]) > Float.MAX_VALUE) {
                v = v == values ? values.clone() : v;
                v[i] = Math.copySign(Float.MAX_VALUE, values[i]);
            }
        }
        return Tensor.of(dtype, v, shape);
    }

    static String typeName(int t) {
        String[] names = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool",
            "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16"};
        return t >= 0 && t < names.length ? names[t] : "type " + t;
    }

    static boolean isFloatType(int t) {
        return t == TensorProto.DataType.FLOAT_VALUE || t == TensorProto.DataType.DOUBLE_VALUE;
    }

    /** Whether ONNX element type {@code t} is a signed or unsigned integer type (not BOOL). */
    static boolean isIntegerType(int t) {
        return t == TensorProto.DataType.INT8_VALUE || t == TensorProto.DataType.INT16_VALUE
                || t == TensorProto.DataType.INT32_VALUE || t == TensorProto.DataType.INT64_VALUE
                || t == TensorProto.DataType.UINT8_VALUE || t == TensorProto.DataType.UINT16_VALUE
                || t == TensorProto.DataType.UINT32_VALUE || t == TensorProto.DataType.UINT64_VALUE;
    }

    /**
     * Reads a TensorProto's elements.
     *
     * @param t the tensor
     * @param what what the tensor is, for messages ("initializer 'fc.weight'")
     * @param modelDir the folder that external data locations are relative to
     */
    static InitializerData read(TensorProto t, String what, Path modelDir) {
        int[] shape = new int[t.getDimsCount()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            long d = t.getDims(i);
            if (d < 0 || d > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(what + ": dimension " + i + " is " + d);
            }
            shape[i] = (int) d;
            count *= d;
        }
        if (count > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + ": " + count + " elements, more than ntk4j's tensors hold ("
                    + Integer.MAX_VALUE + ")");
        }
        int n = (int) count;
        int type = t.getDataType();
        int width;
        switch (type) {
            case TensorProto.DataType.FLOAT_VALUE, TensorProto.DataType.INT32_VALUE -> width = 4;
            case TensorProto.DataType.DOUBLE_VALUE, TensorProto.DataType.INT64_VALUE -> width = 8;
            case TensorProto.DataType.BOOL_VALUE, TensorProto.DataType.INT8_VALUE,
                 TensorProto.DataType.UINT8_VALUE -> width = 1;
            default -> throw new IllegalArgumentException(what + ": element type " + typeName(type)
                    + " is not supported (float, double, int64, int32, int8, uint8 and bool are)");
        }
        ByteBuffer raw = null;
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            raw = external(t, what, modelDir, (long) n * width);
        } else if (t.hasRawData()) {
            ByteString b = t.getRawData();
            if (b.size() != (long) n * width) {
                throw new IllegalArgumentException(what + ": raw_data holds " + b.size() + " bytes, expected " + n
                        + " elements of " + width + " bytes (" + typeName(type) + ", shape " + Shapes.str(shape)
                        + ")");
            }
            raw = b.asReadOnlyByteBuffer();
        }
        if (raw != null) {
            raw.order(ByteOrder.LITTLE_ENDIAN);
        }
        float[] f32 = null;
        double[] f64 = null;
        long[] ints = null;
        switch (type) {
            case TensorProto.DataType.FLOAT_VALUE -> {
                f32 = new float[n];
                if (raw != null) {
                    raw.asFloatBuffer().get(f32);
                } else {
                    checkCount(what, t.getFloatDataCount(), n, "float_data");
                    for (int i = 0; i < n; i++) {
                        f32[i] = t.getFloatData(i);
                    }
                }
            }
            case TensorProto.DataType.DOUBLE_VALUE -> {
                f64 = new double[n];
                if (raw != null) {
                    raw.asDoubleBuffer().get(f64);
                } else {
                    checkCount(what, t.getDoubleDataCount(), n, "double_data");
                    for (int i = 0; i < n; i++) {
                        f64[i] = t.getDoubleData(i);
                    }
                }
            }
            case TensorProto.DataType.INT64_VALUE -> {
                ints = new long[n];
                if (raw != null) {
                    raw.asLongBuffer().get(ints);
                } else {
                    checkCount(what, t.getInt64DataCount(), n, "int64_data");
                    for (int i = 0; i < n; i++) {
                        ints[i] = t.getInt64Data(i);
                    }
                }
            }
            default -> {
                // int32, int8, uint8, bool: typed values live in int32_data
                ints = new long[n];
                if (raw != null) {
                    for (int i = 0; i < n; i++) {
                        ints[i] = width == 4 ? raw.getInt(i * 4)
                                : type == TensorProto.DataType.INT8_VALUE ? raw.get(i) : raw.get(i) & 0xff;
                    }
                } else {
                    checkCount(what, t.getInt32DataCount(), n, "int32_data");
                    for (int i = 0; i < n; i++) {
                        ints[i] = t.getInt32Data(i);
                    }
                }
            }
        }
        return new InitializerData(t.getName(), type, shape, f32, f64, ints);
    }

    private static void checkCount(String what, int have, int n, String field) {
        if (have != n) {
            throw new IllegalArgumentException(what + ": " + field + " holds " + have + " values, the shape needs " + n
                    + " (no raw_data either)");
        }
    }

    private static ByteBuffer external(TensorProto t, String what, Path modelDir, long bytes) {
        String location = null;
        long offset = 0;
        long length = -1;
        for (StringStringEntryProto e : t.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = parseLong(what, e);
                case "length" -> length = parseLong(what, e);
                default -> {
                    // "checksum" and others: not needed to read the bytes
                }
            }
        }
        if (location == null || location.isEmpty()) {
            throw new IllegalArgumentException(what + ": data_location is EXTERNAL but external_data has no "
                    + "'location'");
        }
        Path file = modelDir.resolve(location).normalize();
        if (length >= 0 && length != bytes) {
            throw new IllegalArgumentException(what + ": external data length " + length + " bytes, the shape "
                    + Arrays.toString(t.getDimsList().toArray()) + " needs " + bytes);
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(what + ": external data file " + file + " does not exist (locations "
                    + "are relative to the model's folder)");
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            if (offset < 0 || offset + bytes > f.length()) {
                throw new IllegalArgumentException(what + ": external data file " + file + " has " + f.length()
                        + " bytes, too few for " + bytes + " bytes at offset " + offset);
            }
            byte[] b = new byte[Math.toIntExact(bytes)];
            f.seek(offset);
            f.readFully(b);
            return ByteBuffer.wrap(b);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + ": cannot read external data file " + file + ": "
                    + e.getMessage(), e);
        }
    }

    private static long parseLong(String what, StringStringEntryProto e) {
        try {
            return Long.parseLong(e.getValue().trim());
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException(what + ": external_data '" + e.getKey() + "' is not a number: '"
                    + e.getValue() + "'");
        }
    }
}
